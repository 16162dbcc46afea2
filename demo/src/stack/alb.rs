//! The Application Load Balancer stand-in of `--origin alb`.
//!
//! ## What it reproduces
//!
//! An ALB forwards the request line (method, path and query) and the body as received,
//! and the headers, adding or changing only its own (Elastic Load Balancing guide,
//! "HTTP headers and Application Load Balancers"): `X-Forwarded-For` (appended, the
//! default `routing.http.xff_header_processing.mode=append`), `X-Forwarded-Proto`,
//! `X-Forwarded-Port`, and `X-Amzn-Trace-Id`. By default it rewrites `Host` to carry the
//! listener port (`Host: www.amazon.com` → `www.amazon.com:8443`), unless the load
//! balancer attribute `routing.http.preserve_host_header.enabled` is true (AWS launch
//! announcement "New ALB enhancements provide options to specify how to process Host
//! header and X-Forwarded-For header", re:Post). The stand-in does both, by setting.
//! With a listener on 443 the appended `:443` is the default port, which `@authority`
//! drops (RFC 9421 §2.2.3), so the signature still verifies; a listener on another port
//! changes `@authority` and needs `preserve_host_header` (tested below). The demo's
//! load balancer preserves the Host: its loopback port is not the 443 CloudFront
//! connects to.
//!
//! No evidence was found on whether an ALB normalizes the path (dot segments, escapes)
//! before forwarding; the stand-in forwards it byte for byte, and the `raw` profile
//! would turn any rewriting into a `bad_signature` deny, never into a pass.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;
use http_body_util::Full;

use crate::stack::http::{Body, HttpClient, WholeRequest, text};

/// The load balancer's DNS name: the distribution's origin domain.
pub const ALB_DOMAIN: &str = "internal-edgeseal-demo-1234567890.us-east-1.elb.amazonaws.com";

/// The load-balancer stand-in: forwards every request to one target, unchanged but for
/// the headers an ALB sets (see the module docs).
pub struct LoadBalancer {
    target: SocketAddr,
    client: HttpClient,
    /// The listener port an ALB writes into `Host` when it does not preserve it.
    listener_port: u16,
    /// `routing.http.preserve_host_header.enabled`.
    preserve_host_header: bool,
    traces: AtomicU64,
}

impl LoadBalancer {
    /// A load balancer with a listener on `listener_port`, forwarding to `target`.
    pub fn new(target: SocketAddr, listener_port: u16, preserve_host_header: bool) -> Self {
        Self {
            target,
            client: crate::stack::http::client(),
            listener_port,
            preserve_host_header,
            traces: AtomicU64::new(0),
        }
    }

    /// The request the target receives for `req`.
    pub fn forwarded(&self, req: &WholeRequest) -> Result<http::Request<Body>, http::Error> {
        let path_and_query = req
            .parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut builder = http::Request::builder()
            .method(req.parts.method.clone())
            .uri(format!("http://{}{path_and_query}", self.target));
        let mut forwarded_for = None;
        for (name, value) in &req.parts.headers {
            match name.as_str() {
                // Hop-by-hop and framing: the forwarded request has its own.
                "host" | "connection" | "keep-alive" | "transfer-encoding" | "content-length" => {}
                "x-forwarded-for" => forwarded_for = value.to_str().ok().map(str::to_owned),
                _ => builder = builder.header(name, value),
            }
        }
        let host = req
            .parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let host = if self.preserve_host_header {
            host.to_owned()
        } else {
            let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
            format!("{name}:{}", self.listener_port)
        };
        let client_ip = "127.0.0.1";
        let n = self.traces.fetch_add(1, Ordering::Relaxed);
        builder
            .header(http::header::HOST, host)
            .header(
                "x-forwarded-for",
                forwarded_for.map_or_else(|| client_ip.to_owned(), |f| format!("{f}, {client_ip}")),
            )
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-port", self.listener_port.to_string())
            .header("x-amzn-trace-id", format!("Root=1-6752b2a0-{n:024x}"))
            .body(Full::new(req.body.clone()))
    }

    /// Serve one request.
    pub async fn handle(&self, req: WholeRequest) -> http::Response<Body> {
        let Ok(outgoing) = self.forwarded(&req) else {
            return text(StatusCode::BAD_REQUEST, "");
        };
        match self.client.request(outgoing).await {
            Ok(response) => crate::stack::http::whole(response).await,
            // An ALB answers 502 when the target fails.
            Err(_) => text(StatusCode::BAD_GATEWAY, "502 Bad Gateway"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use bytes::Bytes;
    use edgeseal::{KeyId, KeySet, RequestView, Signer, SigningKey, UnixTime, Verifier};
    use http_body_util::BodyExt as _;

    use super::*;

    fn incoming(
        method: &str,
        host: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> WholeRequest {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("host", host)
            .header("x-forwarded-for", "203.0.113.7");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        WholeRequest {
            parts,
            body: Bytes::from_static(b"{\"n\":1}"),
        }
    }

    fn target() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9))
    }

    #[tokio::test]
    async fn forwards_the_request_line_and_body_unchanged_and_adds_its_headers() {
        let lb = LoadBalancer::new(target(), 443, true);
        let raw = "/prod/a%2Fb/caf%c3%a9/./x?b=2&a=1+1&a=%7E&flag";
        let out = lb
            .forwarded(&incoming(
                "POST",
                ALB_DOMAIN,
                raw,
                &[("signature", "edgeseal=:AAAA:")],
            ))
            .unwrap();
        assert_eq!(out.uri().path_and_query().map(|p| p.as_str()), Some(raw));
        assert_eq!(out.method(), "POST");
        let header = |name: &str| out.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("host"), ALB_DOMAIN);
        assert_eq!(header("signature"), "edgeseal=:AAAA:");
        assert_eq!(header("x-forwarded-for"), "203.0.113.7, 127.0.0.1");
        assert_eq!(header("x-forwarded-proto"), "https");
        assert!(header("x-amzn-trace-id").starts_with("Root=1-"));
        let body = out.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{\"n\":1}");
    }

    /// ALB's default Host processing: the listener port is appended. On 443 the raw
    /// signature still verifies (RFC 9421 §2.2.3 drops the default port); on 8443 it
    /// does not, and `preserve_host_header` is the fix.
    #[test]
    fn the_listener_port_in_host_matters_only_off_443() {
        let key = SigningKey::from_bytes(&[4; 64]).unwrap();
        let keyid = KeyId::new("v1").unwrap();
        let now = UnixTime::from_secs(1_767_225_600);
        let signed = Signer::new("edgeseal", keyid.clone(), key.clone())
            .unwrap()
            .sign_at(now, &RequestView::raw("GET", ALB_DOMAIN, "/prod/x", ""))
            .unwrap();
        let mut keys = KeySet::new();
        keys.insert_current(keyid, key);
        let verdict = |lb: LoadBalancer| {
            let out = lb
                .forwarded(&incoming(
                    "GET",
                    ALB_DOMAIN,
                    "/prod/x",
                    &[
                        ("signature-input", signed.signature_input()),
                        ("signature", signed.signature()),
                    ],
                ))
                .unwrap();
            let host = out.headers()["host"].to_str().unwrap().to_owned();
            let mut view = RequestView::raw("GET", &host, out.uri().path(), "");
            for name in ["signature-input", "signature"] {
                view.push_header(name, out.headers()[name].to_str().unwrap());
            }
            (
                host,
                Verifier::default().verify_at(now, &view, &keys).map(|_| ()),
            )
        };
        let (host, ok) = verdict(LoadBalancer::new(target(), 443, false));
        assert_eq!(host, format!("{ALB_DOMAIN}:443"));
        assert_eq!(ok, Ok(()));
        let (host, bad) = verdict(LoadBalancer::new(target(), 8443, false));
        assert_eq!(host, format!("{ALB_DOMAIN}:8443"));
        assert_eq!(bad, Err(edgeseal::Rejection::BadSignature));
        assert_eq!(verdict(LoadBalancer::new(target(), 8443, true)).1, Ok(()));
    }
}

//! The origin test: one request straight to the origin, signed with (or carrying) a
//! given key, with a hard timeout.
//!
//! The prior art sent it without a timeout (a silent origin hung the rotation until
//! the Lambda died) and without the URL's query string; here the whole exchange is
//! bounded and the URL is sent exactly as configured.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgeseal::{KeyId, RequestView, Signer, SigningKey, StaticHeaderValue, UnixTime};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::settings::OriginTest;

/// What the test request presents to the origin.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// An RFC 9421 signature, as the edge would make it.
    Signed {
        /// Signature label.
        label: &'a str,
        /// The key's id (its Secrets Manager version id).
        keyid: &'a KeyId,
        /// The key.
        key: &'a SigningKey,
    },
    /// A static header (static-header mode, or a legacy current value while migrating).
    Header {
        /// Header name.
        name: &'a str,
        /// Header value.
        value: &'a StaticHeaderValue,
    },
}

/// Why an origin test failed. Never carries a key or header value.
///
/// The probe goes from the rotator Lambda straight to `ORIGIN_URL`, not through
/// CloudFront, so an origin locked to CloudFront by the *source* of a request refuses it
/// whatever key it carries: a security group on the `cloudfront.origin-facing` prefix
/// list (connection dropped: a timeout), a WAF IP-set or IP-reputation rule (403 or a
/// timeout), an API resource policy on `aws:SourceIp`/`aws:SourceVpce` (403), a disabled
/// `execute-api` endpoint (403). Each message names those causes next to the verifier's
/// own refusal, and the way out: let the probe reach the origin, or `PROBE=off` with
/// `SETTLE_SECS` (docs/deployment.md, "The rotator's probe").
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// No complete response within the configured timeout.
    #[error(
        "no response within {0:?} (ORIGIN_URL unreachable from the rotator? an origin only CloudFront can reach drops it: a security group on the cloudfront.origin-facing prefix list, a WAF rule that blocks by IP; {how})",
        how = HOW_OUT
    )]
    Timeout(Duration),
    /// Connection or protocol failure.
    #[error(
        "request failed: {0} (check ORIGIN_URL's host and that the rotator's network reaches it; an origin only CloudFront can reach refuses it; {how})",
        how = HOW_OUT
    )]
    Transport(String),
    /// The origin answered with another status than expected.
    #[error(
        "origin answered {0}, which is not the expected status (401/403: the verifier refused the key, or a rule that judges the source refused the rotator: WAF IP-set or IP-reputation rules, an API resource policy, a disabled execute-api endpoint; {how})",
        how = HOW_OUT
    )]
    UnexpectedStatus(u16),
    /// The request could not be signed or built (bad method/URL for the profile).
    #[error("cannot build the test request: {0}")]
    Request(String),
}

/// The end of every probe failure's message: what to do when the probe cannot reach the
/// origin as CloudFront does.
const HOW_OUT: &str = "the probe must reach the origin and be judged by the rule that judges CloudFront's requests, or set PROBE=off and SETTLE_SECS: docs/deployment.md, \"The rotator's probe\"";

/// The client of the rotator's test requests (the origin test, the AppSync target's
/// GraphQL query): HTTP/1 over http or https, trusting the platform's root certificates.
/// No pooling: every test is a fresh connection, like CloudFront's first request after a
/// deployment, and nothing lingers between invocations.
pub(crate) fn test_client<B>() -> Client<hyper_rustls::HttpsConnector<HttpConnector>, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(Arc::clone(&provider))
    {
        Ok(builder) => builder,
        // No usable system roots (a bare test machine): https origins then fail at the
        // handshake with a clear error, http origins still work.
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_or_else(
                    |_| {
                        rustls::ClientConfig::builder()
                            .with_root_certificates(rustls::RootCertStore::empty())
                            .with_no_client_auth()
                    },
                    |b| {
                        b.with_root_certificates(rustls::RootCertStore::empty())
                            .with_no_client_auth()
                    },
                ),
        ),
    };
    let connector = builder.https_or_http().enable_http1().build();
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector)
}

/// Sends origin tests. Built once at cold start (TLS roots loaded once).
#[derive(Clone)]
pub struct OriginProbe {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    test: OriginTest,
}

impl std::fmt::Debug for OriginProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginProbe")
            .field("test", &self.test)
            .finish()
    }
}

impl OriginProbe {
    /// A probe for `test`, trusting the platform's root certificates.
    pub fn new(test: OriginTest) -> Self {
        Self {
            client: test_client(),
            test,
        }
    }

    /// The configured test.
    pub fn test(&self) -> &OriginTest {
        &self.test
    }

    /// Send the test request with `credential`; `Ok(status)` if the origin answered the
    /// expected status within the timeout.
    pub async fn probe(&self, credential: Credential<'_>) -> Result<u16, ProbeError> {
        let request = self.request(credential, UnixTime::now())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| ProbeError::Transport(error_chain(&e)))?;
            Ok::<u16, ProbeError>(response.status().as_u16())
        };
        let status = tokio::time::timeout(self.test.timeout, exchange)
            .await
            .map_err(|_| ProbeError::Timeout(self.test.timeout))??;
        if self.test.expected.accepts(status) {
            Ok(status)
        } else {
            Err(ProbeError::UnexpectedStatus(status))
        }
    }

    fn request(
        &self,
        credential: Credential<'_>,
        now: UnixTime,
    ) -> Result<http::Request<Empty<Bytes>>, ProbeError> {
        let url = &self.test.url;
        let authority = url
            .authority()
            .ok_or_else(|| ProbeError::Request("URL has no host".into()))?
            .as_str();
        let mut builder = http::Request::builder()
            .method(self.test.method.clone())
            .uri(url.clone())
            .header(http::header::HOST, authority)
            .header(http::header::USER_AGENT, "edgeseal-rotator/origin-test");
        match credential {
            Credential::Signed { label, keyid, key } => {
                // In the origin's profile: for `raw`, the path and query exactly as
                // this request sends them (the URI's own bytes).
                let view = RequestView::in_profile(
                    self.test.profile,
                    self.test.method.as_str(),
                    authority,
                    url.path(),
                    url.query().unwrap_or(""),
                );
                let signer = Signer::new(label, keyid.clone(), key.clone())
                    .map_err(|e| ProbeError::Request(e.to_string()))?;
                let fields = signer
                    .sign_at(now, &view)
                    .map_err(|e| ProbeError::Request(e.to_string()))?;
                builder = builder
                    .header("signature-input", fields.signature_input())
                    .header("signature", fields.signature());
            }
            Credential::Header { name, value } => {
                let mut header = http::HeaderValue::from_str(value.expose())
                    .map_err(|_| ProbeError::Request("header value is not valid".into()))?;
                header.set_sensitive(true);
                builder = builder.header(name, header);
            }
        }
        builder
            .body(Empty::new())
            .map_err(|e| ProbeError::Request(e.to_string()))
    }
}

/// The error and its sources on one line: hyper's top-level message alone ("client
/// error (Connect)") does not say what went wrong.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use edgeseal::{KeySet, Profile, Rejection, Verifier};

    use super::*;
    use crate::settings::ExpectedStatus;

    /// What an origin that receives the request unchanged verifies: the request line's
    /// own path and query, byte for byte, in the profile the origin expects.
    fn verify_as_origin(
        request: &http::Request<Empty<Bytes>>,
        profile: Profile,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<edgeseal::Verified, Rejection> {
        let uri = request.uri();
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let mut view = RequestView::in_profile(
            profile,
            request.method().as_str(),
            host,
            uri.path(),
            uri.query().unwrap_or(""),
        );
        for (name, value) in request.headers() {
            view.push_header(name.as_str(), value.to_str().unwrap_or_default());
        }
        Verifier::default().verify_at(now, &view, keys)
    }

    #[test]
    fn a_raw_origin_probe_signs_the_bytes_it_sends() {
        let keyid = KeyId::new("v2").unwrap_or_else(|_| unreachable!());
        let key = SigningKey::from_bytes(&[5; 64]).unwrap_or_else(|_| unreachable!());
        let mut keys = KeySet::new();
        keys.insert_pending(keyid.clone(), key.clone());
        let now = UnixTime::from_secs(1_767_225_600);
        let credential = Credential::Signed {
            label: "edgeseal",
            keyid: &keyid,
            key: &key,
        };
        let probe_in = |profile| {
            OriginProbe::new(OriginTest {
                url: "https://alb.example.com/health/a%2Fb?b=2&a=1"
                    .parse()
                    .unwrap_or_else(|_| unreachable!()),
                method: http::Method::GET,
                expected: ExpectedStatus::Success,
                timeout: Duration::from_secs(1),
                profile,
            })
        };
        let raw = probe_in(Profile::Raw)
            .request(credential, now)
            .unwrap_or_else(|_| unreachable!());
        assert!(verify_as_origin(&raw, Profile::Raw, &keys, now).is_ok());
        // The old probe (apigateway only) fails at a raw origin, and the other way round.
        let api = probe_in(Profile::ApiGateway)
            .request(credential, now)
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(
            verify_as_origin(&api, Profile::Raw, &keys, now).err(),
            Some(Rejection::WrongProfile)
        );
        assert_eq!(
            verify_as_origin(&raw, Profile::ApiGateway, &keys, now).err(),
            Some(Rejection::WrongProfile)
        );
    }
}

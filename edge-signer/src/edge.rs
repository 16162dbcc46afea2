//! What the edge does to one origin request, independent of how the bytes reach it.
//!
//! The WASM boundary ([`crate::wasm`] on `wasm32`) only moves bytes in and out of linear
//! memory; everything here is ordinary safe Rust, tested natively.

use base64::Engine as _;
use edgeseal::{Profile, RequestView, SignError, Signer, UnixTime};

use crate::config::{EdgeConfig, EdgeConfigError, OriginProfiles};

/// The parts of a CloudFront origin-request event that the signature depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginRequest<'a> {
    /// `request.method`.
    pub method: &'a str,
    /// The Host header CloudFront will send: the request's `host` header, else the
    /// custom origin's `domainName`.
    pub host: &'a str,
    /// `request.origin.custom.domainName`: which origin, so which signing profile.
    pub origin_domain: &'a str,
    /// `request.origin.custom.path` (empty when none).
    pub origin_path: &'a str,
    /// `request.uri`: the viewer path, without the origin path.
    pub uri: &'a str,
    /// `request.querystring`, without `?`.
    pub querystring: &'a str,
    /// `Signature-Input` as it arrived (several lines joined with `, `), if any.
    pub signature_input: Option<&'a str>,
    /// `Signature` as it arrived (several lines joined with `, `), if any.
    pub signature: Option<&'a str>,
    /// `request.body.data` (base64) when the behavior includes the body and CloudFront
    /// did not truncate it (`inputTruncated` false); `None` otherwise. Bound to the
    /// signature (`Content-Digest`) for `raw` origins only.
    pub body: Option<&'a str>,
}

/// The two header values to set on the origin request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The new `Signature-Input`: foreign members kept, ours last.
    pub signature_input: String,
    /// The new `Signature`: foreign members kept, ours last.
    pub signature: String,
    /// The `Content-Digest` to set (replacing any the viewer sent) when the signature
    /// binds the body.
    pub content_digest: Option<String>,
}

/// A configured signer: built once per execution environment from `config.json`.
#[derive(Clone, Debug)]
pub struct EdgeSigner {
    signer: Signer,
    profiles: OriginProfiles,
}

impl EdgeSigner {
    /// A signer for `config`.
    pub fn new(config: &EdgeConfig) -> Result<Self, EdgeConfigError> {
        let mut signer = Signer::new(&config.label, config.keyid.clone(), config.key.clone())
            .map_err(|_| EdgeConfigError::InvalidLabel)?;
        if config.max_age_secs > 0 {
            signer = signer.with_expires_after(config.max_age_secs);
        }
        Ok(Self {
            signer,
            profiles: config.profiles.clone(),
        })
    }

    /// Sign `request` as of `now` in its origin's profile: remove any member under our
    /// label that the viewer sent, keep members under other labels, add ours. A `raw`
    /// origin's request that comes with its body also gets `Content-Digest`, covered.
    pub fn sign_at(
        &self,
        now: UnixTime,
        request: &OriginRequest<'_>,
    ) -> Result<SignedHeaders, SignError> {
        // Joined as `canonical::origin_path` joins them, but left raw: `RequestView::new`
        // canonicalizes it, and once is enough (a third of the per-request time here is
        // percent-decoding and encoding).
        let prefix = request.origin_path.trim_end_matches('/');
        let mut path = String::with_capacity(prefix.len() + request.uri.len() + 1);
        path.push_str(prefix);
        if !request.uri.starts_with('/') {
            path.push('/');
        }
        path.push_str(request.uri);
        let profile = self.profiles.for_origin(request.origin_domain);
        let view = RequestView::in_profile(
            profile,
            request.method,
            request.host,
            &path,
            request.querystring,
        );
        let fields = match (profile, request.body) {
            (Profile::Raw, Some(encoded)) => {
                let body = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| SignError::ComponentUnavailable)?;
                self.signer.sign_body_at(now, &view, &body)?
            }
            _ => self.signer.sign_at(now, &view)?,
        };
        let (signature_input, signature) = fields.merge_into(
            self.signer.label(),
            request.signature_input,
            request.signature,
        );
        Ok(SignedHeaders {
            signature_input,
            signature,
            content_digest: fields.content_digest().map(str::to_owned),
        })
    }
}

/// The byte layout exchanged with the handler through WASM linear memory.
///
/// Request: nine little-endian `u32` lengths, then the nine UTF-8 strings back to back
/// in this order: method, host, origin domain name, origin path, uri, query string,
/// `Signature-Input`, `Signature`, body (base64). A length of `u32::MAX` marks an absent
/// value (the last three only).
///
/// Response: three little-endian `u32` lengths, then the new `Signature-Input`,
/// `Signature` and `Content-Digest` values (ASCII); `Content-Digest`'s length is
/// `u32::MAX` when there is none.
///
/// A fixed binary layout rather than JSON: the handler writes strings straight into
/// linear memory with `Buffer.write`, and nothing is parsed twice.
pub mod wire {
    use super::{OriginRequest, SignedHeaders};

    /// Number of strings in a request.
    pub const REQUEST_FIELDS: usize = 9;
    /// Bytes before the strings of a request.
    pub const REQUEST_HEADER_BYTES: usize = REQUEST_FIELDS * 4;
    /// Length marking an absent header.
    pub const ABSENT: u32 = u32::MAX;

    /// Why request bytes could not be read.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
    pub enum WireError {
        /// The lengths do not add up to the bytes given.
        #[error("request lengths do not match the bytes given")]
        Framing,
        /// A string is not UTF-8.
        #[error("request string is not UTF-8")]
        NotUtf8,
        /// A required string is marked absent.
        #[error("a required request field is marked absent")]
        MissingField,
    }

    /// Read a request.
    pub fn decode_request(bytes: &[u8]) -> Result<OriginRequest<'_>, WireError> {
        let (header, mut rest) = bytes
            .split_at_checked(REQUEST_HEADER_BYTES)
            .ok_or(WireError::Framing)?;
        let mut fields: [Option<&str>; REQUEST_FIELDS] = [None; REQUEST_FIELDS];
        for (slot, len) in fields.iter_mut().zip(header.chunks_exact(4)) {
            let len = u32::from_le_bytes(len.try_into().map_err(|_| WireError::Framing)?);
            if len == ABSENT {
                continue;
            }
            let len = usize::try_from(len).map_err(|_| WireError::Framing)?;
            let (s, tail) = rest.split_at_checked(len).ok_or(WireError::Framing)?;
            *slot = Some(std::str::from_utf8(s).map_err(|_| WireError::NotUtf8)?);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(WireError::Framing);
        }
        let [
            Some(method),
            Some(host),
            Some(origin_domain),
            Some(origin_path),
            Some(uri),
            Some(querystring),
            signature_input,
            signature,
            body,
        ] = fields
        else {
            return Err(WireError::MissingField);
        };
        Ok(OriginRequest {
            method,
            host,
            origin_domain,
            origin_path,
            uri,
            querystring,
            signature_input,
            signature,
            body,
        })
    }

    /// Write a request (what the handler does in JavaScript; used by tests).
    pub fn encode_request(request: &OriginRequest<'_>) -> Vec<u8> {
        let fields = [
            Some(request.method),
            Some(request.host),
            Some(request.origin_domain),
            Some(request.origin_path),
            Some(request.uri),
            Some(request.querystring),
            request.signature_input,
            request.signature,
            request.body,
        ];
        let mut out = Vec::new();
        for field in fields {
            let len = field.map_or(ABSENT, |f| u32::try_from(f.len()).unwrap_or(ABSENT));
            out.extend_from_slice(&len.to_le_bytes());
        }
        for field in fields.into_iter().flatten() {
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    /// Write a response into `out` (cleared first), reusing its allocation.
    pub fn encode_response(headers: &SignedHeaders, out: &mut Vec<u8>) -> Result<(), WireError> {
        out.clear();
        let values = [
            Some(&headers.signature_input),
            Some(&headers.signature),
            headers.content_digest.as_ref(),
        ];
        for value in values {
            let len = match value {
                Some(value) => u32::try_from(value.len())
                    .ok()
                    .filter(|&len| len != ABSENT)
                    .ok_or(WireError::Framing)?,
                None => ABSENT,
            };
            out.extend_from_slice(&len.to_le_bytes());
        }
        for value in values.into_iter().flatten() {
            out.extend_from_slice(value.as_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use edgeseal::{KeyId, KeySet, SigningKey, Verifier};

    use super::*;

    fn config(max_age_secs: u64) -> EdgeConfig {
        EdgeConfig {
            label: "edgeseal".into(),
            keyid: KeyId::new("k1").unwrap(),
            key: SigningKey::from_bytes(&[3; 32]).unwrap(),
            max_age_secs,
            profiles: OriginProfiles::default(),
        }
    }

    fn request() -> OriginRequest<'static> {
        OriginRequest {
            method: "GET",
            host: "abc.execute-api.us-east-1.amazonaws.com",
            origin_domain: "abc.execute-api.us-east-1.amazonaws.com",
            origin_path: "/prod",
            uri: "/orders/42",
            querystring: "b=2&a=1",
            signature_input: Some(r#"edgeseal=("@method");created=1, other=("@path");created=2"#),
            signature: Some("edgeseal=:AAAA:, other=:BBBB:"),
            body: None,
        }
    }

    #[test]
    fn each_origin_signs_in_its_own_profile() {
        let mut c = config(300);
        c.profiles = OriginProfiles::parse("alb.example.com=raw").unwrap();
        let signer = EdgeSigner::new(&c).unwrap();
        let now = UnixTime::from_secs(1_767_225_600);
        let mut keys = KeySet::new();
        keys.insert_current(c.keyid.clone(), c.key.clone());
        let alb = OriginRequest {
            host: "alb.example.com",
            origin_domain: "alb.example.com",
            origin_path: "",
            uri: "/a%2fb",
            querystring: "b=2&a=1",
            signature_input: None,
            signature: None,
            ..request()
        };
        let signed = signer.sign_at(now, &alb).unwrap();
        assert!(signed.signature_input.contains(r#"tag="edgeseal-raw""#));
        assert_eq!(signed.content_digest, None);
        let arriving = RequestView::raw("GET", "alb.example.com", "/a%2fb", "b=2&a=1")
            .with_header("signature-input", &signed.signature_input)
            .with_header("signature", &signed.signature);
        assert!(Verifier::default().verify_at(now, &arriving, &keys).is_ok());
        // The API Gateway origin of the same distribution stays apigateway.
        let api = signer.sign_at(now, &request()).unwrap();
        assert!(api.signature_input.ends_with(r#"tag="edgeseal""#));

        // With the body: Content-Digest, covered; ignored for apigateway origins.
        let body = OriginRequest {
            body: Some("eyJuIjoxfQ=="),
            ..alb
        };
        let signed = signer.sign_at(now, &body).unwrap();
        let digest = signed.content_digest.clone().unwrap();
        assert_eq!(digest, edgeseal::content_digest(b"{\"n\":1}"));
        let arriving = RequestView::raw("GET", "alb.example.com", "/a%2fb", "b=2&a=1")
            .with_header("content-digest", &digest)
            .with_header("signature-input", &signed.signature_input)
            .with_header("signature", &signed.signature);
        let verified = Verifier::default()
            .with_body_required(true)
            .verify_at(now, &arriving, &keys)
            .unwrap();
        assert_eq!(verified.check_body(&arriving, b"{\"n\":1}"), Ok(()));
        let api_body = signer
            .sign_at(
                now,
                &OriginRequest {
                    body: Some("eyJuIjoxfQ=="),
                    ..request()
                },
            )
            .unwrap();
        assert_eq!(api_body.content_digest, None);
        assert_eq!(
            signer.sign_at(
                now,
                &OriginRequest {
                    body: Some("!!"),
                    ..alb
                }
            ),
            Err(SignError::ComponentUnavailable)
        );
    }

    #[test]
    fn signs_what_the_origin_sees_and_keeps_foreign_members() {
        let c = config(300);
        let now = UnixTime::from_secs(1_767_225_600);
        let signed = EdgeSigner::new(&c)
            .unwrap()
            .sign_at(now, &request())
            .unwrap();
        assert!(signed.signature_input.starts_with(r#"other=("@path");created=2, edgeseal=("@method" "@authority" "@path" "@query");created=1767225600;expires=1767225900;"#), "{}", signed.signature_input);
        assert!(signed.signature.starts_with("other=:BBBB:, edgeseal=:"));

        let arriving = RequestView::new(
            "GET",
            "abc.execute-api.us-east-1.amazonaws.com",
            "/prod/orders/42",
            "a=1&b=2",
        )
        .with_header("signature-input", &signed.signature_input)
        .with_header("signature", &signed.signature);
        let mut keys = KeySet::new();
        keys.insert_current(c.keyid.clone(), c.key.clone());
        let verified = Verifier::default()
            .verify_at(now.plus_secs(1), &arriving, &keys)
            .unwrap();
        assert_eq!(verified.age_secs(), 1);
    }

    #[test]
    fn path_is_joined_as_cloudfront_forwards_it() {
        let signer = EdgeSigner::new(&config(0)).unwrap();
        let now = UnixTime::from_secs(1);
        for (origin_path, uri) in [
            ("", "/"),
            ("", ""),
            ("/prod", "/a%2fb"),
            ("/prod/", "/x"),
            ("/v1//", "rel"),
            ("/p%41", "/%7e%zz"),
        ] {
            let ours = signer
                .sign_at(
                    now,
                    &OriginRequest {
                        origin_path,
                        uri,
                        ..request()
                    },
                )
                .unwrap();
            let view = RequestView::new(
                "GET",
                request().host,
                &edgeseal::canonical::origin_path(origin_path, uri),
                request().querystring,
            );
            let (input, signature) = signer.signer.sign_at(now, &view).unwrap().merge_into(
                "edgeseal",
                request().signature_input,
                request().signature,
            );
            assert_eq!(
                (ours.signature_input, ours.signature),
                (input, signature),
                "{origin_path:?} {uri:?}"
            );
        }
    }

    #[test]
    fn zero_max_age_writes_no_expires() {
        let signed = EdgeSigner::new(&config(0))
            .unwrap()
            .sign_at(UnixTime::from_secs(5), &request())
            .unwrap();
        assert!(!signed.signature_input.contains("expires"));
    }

    #[test]
    fn wire_round_trip_and_malformed_frames() {
        let r = request();
        let bytes = wire::encode_request(&r);
        assert_eq!(wire::decode_request(&bytes), Ok(r));
        let absent = OriginRequest {
            signature_input: None,
            signature: None,
            ..r
        };
        assert_eq!(
            wire::decode_request(&wire::encode_request(&absent)),
            Ok(absent)
        );

        assert_eq!(
            wire::decode_request(&bytes[..bytes.len() - 1]),
            Err(wire::WireError::Framing)
        );
        let mut longer = bytes.clone();
        longer.push(b'x');
        assert_eq!(wire::decode_request(&longer), Err(wire::WireError::Framing));
        assert_eq!(wire::decode_request(&[0; 3]), Err(wire::WireError::Framing));
        let mut bad_utf8 = wire::encode_request(&OriginRequest {
            method: "G",
            ..absent
        });
        bad_utf8[wire::REQUEST_HEADER_BYTES] = 0xff;
        assert_eq!(
            wire::decode_request(&bad_utf8),
            Err(wire::WireError::NotUtf8)
        );
        let mut no_method = bytes;
        no_method[..4].copy_from_slice(&wire::ABSENT.to_le_bytes());
        assert!(wire::decode_request(&no_method).is_err());
    }

    #[test]
    fn response_layout() {
        let h = SignedHeaders {
            signature_input: "ab".into(),
            signature: "cde".into(),
            content_digest: None,
        };
        let mut out = vec![9; 100];
        wire::encode_response(&h, &mut out).unwrap();
        assert_eq!(
            out,
            [
                2, 0, 0, 0, 3, 0, 0, 0, 255, 255, 255, 255, b'a', b'b', b'c', b'd', b'e'
            ]
        );
        let h = SignedHeaders {
            content_digest: Some("f".into()),
            ..h
        };
        wire::encode_response(&h, &mut out).unwrap();
        assert_eq!(
            out,
            [
                2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', b'f'
            ]
        );
    }
}

//! What the edge does to one origin request, independent of how the bytes reach it.
//!
//! The WASM boundary ([`crate::wasm`] on `wasm32`) only moves bytes in and out of linear
//! memory; everything here is ordinary safe Rust, tested natively.

use edgeseal::{RequestView, SignError, Signer, UnixTime};

use crate::config::{EdgeConfig, EdgeConfigError};

/// The parts of a CloudFront origin-request event that the signature depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginRequest<'a> {
    /// `request.method`.
    pub method: &'a str,
    /// The Host header CloudFront will send: the request's `host` header, else the
    /// custom origin's `domainName`.
    pub host: &'a str,
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
}

/// The two header values to set on the origin request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The new `Signature-Input`: foreign members kept, ours last.
    pub signature_input: String,
    /// The new `Signature`: foreign members kept, ours last.
    pub signature: String,
}

/// A configured signer: built once per execution environment from `config.json`.
#[derive(Clone, Debug)]
pub struct EdgeSigner {
    signer: Signer,
}

impl EdgeSigner {
    /// A signer for `config`.
    pub fn new(config: &EdgeConfig) -> Result<Self, EdgeConfigError> {
        let mut signer = Signer::new(&config.label, config.keyid.clone(), config.key.clone())
            .map_err(|_| EdgeConfigError::InvalidLabel)?;
        if config.max_age_secs > 0 {
            signer = signer.with_expires_after(config.max_age_secs);
        }
        Ok(Self { signer })
    }

    /// Sign `request` as of `now`: remove any member under our label that the viewer
    /// sent, keep members under other labels, add ours.
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
        let view = RequestView::new(request.method, request.host, &path, request.querystring);
        let fields = self.signer.sign_at(now, &view)?;
        let (signature_input, signature) = fields.merge_into(
            self.signer.label(),
            request.signature_input,
            request.signature,
        );
        Ok(SignedHeaders {
            signature_input,
            signature,
        })
    }
}

/// The byte layout exchanged with the handler through WASM linear memory.
///
/// Request: seven little-endian `u32` lengths, then the seven UTF-8 strings back to back
/// in this order: method, host, origin path, uri, query string, `Signature-Input`,
/// `Signature`. A length of `u32::MAX` marks an absent header (the last two only).
///
/// Response: two little-endian `u32` lengths, then the new `Signature-Input` and
/// `Signature` values (ASCII).
///
/// A fixed binary layout rather than JSON: the handler writes strings straight into
/// linear memory with `Buffer.write`, and nothing is parsed twice.
pub mod wire {
    use super::{OriginRequest, SignedHeaders};

    /// Number of strings in a request.
    pub const REQUEST_FIELDS: usize = 7;
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
            Some(origin_path),
            Some(uri),
            Some(querystring),
            signature_input,
            signature,
        ] = fields
        else {
            return Err(WireError::MissingField);
        };
        Ok(OriginRequest {
            method,
            host,
            origin_path,
            uri,
            querystring,
            signature_input,
            signature,
        })
    }

    /// Write a request (what the handler does in JavaScript; used by tests).
    pub fn encode_request(request: &OriginRequest<'_>) -> Vec<u8> {
        let fields = [
            Some(request.method),
            Some(request.host),
            Some(request.origin_path),
            Some(request.uri),
            Some(request.querystring),
            request.signature_input,
            request.signature,
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
        for value in [&headers.signature_input, &headers.signature] {
            let len = u32::try_from(value.len()).map_err(|_| WireError::Framing)?;
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(headers.signature_input.as_bytes());
        out.extend_from_slice(headers.signature.as_bytes());
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
        }
    }

    fn request() -> OriginRequest<'static> {
        OriginRequest {
            method: "GET",
            host: "abc.execute-api.us-east-1.amazonaws.com",
            origin_path: "/prod",
            uri: "/orders/42",
            querystring: "b=2&a=1",
            signature_input: Some(r#"edgeseal=("@method");created=1, other=("@path");created=2"#),
            signature: Some("edgeseal=:AAAA:, other=:BBBB:"),
        }
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
        };
        let mut out = vec![9; 100];
        wire::encode_response(&h, &mut out).unwrap();
        assert_eq!(out, [2, 0, 0, 0, 3, 0, 0, 0, b'a', b'b', b'c', b'd', b'e']);
    }
}

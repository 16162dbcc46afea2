//! The crate's error types: one per boundary, each variant precise, none carrying key
//! material.

use core::fmt;

/// Why a request's signature was not accepted.
///
/// Every variant has a stable [`code`](Rejection::code) for logs and metrics; the codes
/// are part of edgeseal's documented interface and do not change between versions.
/// Nothing here carries key material or signature bytes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// No `Signature-Input` / `Signature` member under our label.
    Missing,
    /// A member under our label is in one of the two fields but not the other.
    Unpaired,
    /// A signature field is longer than the configured limit.
    FieldTooLarge,
    /// A signature field has more members, components or parameters than allowed.
    TooManyMembers,
    /// A signature field is not a valid RFC 8941 dictionary, or our member has the wrong
    /// shape (not an inner list of strings / not a byte sequence / a parameter of the
    /// wrong type).
    Malformed,
    /// A dictionary key, parameter or covered component appears twice.
    DuplicateMember,
    /// `alg` is present and is not `hmac-sha256`.
    WrongAlgorithm,
    /// `tag` is absent or is not the configured application tag.
    WrongTag,
    /// `created` or `keyid` is absent.
    MissingParameter,
    /// A component the profile requires (`@method`, `@authority`, `@path`, `@query`) is
    /// not covered.
    MissingComponent,
    /// A covered component is not one this profile can reproduce (unknown derived
    /// component, or component parameters such as `;sf`, `;bs`, `;req`).
    UnsupportedComponent,
    /// A covered header is not present on the request.
    ComponentUnavailable,
    /// `created` is later than now plus the allowed clock skew.
    FromFuture,
    /// `created` is older than the maximum signature age.
    TooOld,
    /// `expires` has passed.
    Expired,
    /// No usable key has the signature's `keyid`.
    UnknownKey,
    /// The key is the previous one and its grace period after rotation is over.
    PreviousKeyRetired,
    /// The key set is empty: fail closed.
    NoKeys,
    /// The MAC does not match.
    BadSignature,
    /// The edge signed a path that an HTTP API cannot show its authorizer as sent (its
    /// once-decoded form holds a `?`, where an HTTP API cuts the path, or a `%`, which
    /// it decodes a second time), and the signature's own record of that path
    /// (`edgeseal-path`) verifies. Not an attack: API Gateway changed the request.
    PathNotRepresentable,
    /// The signature's `tag` states another signing profile than the one this origin
    /// verifies (e.g. an `apigateway` signature at a `raw` origin): the edge's
    /// configuration and the origin's disagree.
    WrongProfile,
    /// The verifier requires body binding and the signature does not cover
    /// `Content-Digest` (the edge did not see the body, or it was truncated).
    BodyNotSigned,
    /// The `Content-Digest` the signature covers does not match the body received (or
    /// is not a `sha-256` digest).
    BodyDigestMismatch,
}

impl Rejection {
    /// Every rejection, in declaration order (for metrics dimensions and docs).
    pub const ALL: [Rejection; 23] = [
        Rejection::Missing,
        Rejection::Unpaired,
        Rejection::FieldTooLarge,
        Rejection::TooManyMembers,
        Rejection::Malformed,
        Rejection::DuplicateMember,
        Rejection::WrongAlgorithm,
        Rejection::WrongTag,
        Rejection::MissingParameter,
        Rejection::MissingComponent,
        Rejection::UnsupportedComponent,
        Rejection::ComponentUnavailable,
        Rejection::FromFuture,
        Rejection::TooOld,
        Rejection::Expired,
        Rejection::UnknownKey,
        Rejection::PreviousKeyRetired,
        Rejection::NoKeys,
        Rejection::BadSignature,
        Rejection::PathNotRepresentable,
        Rejection::WrongProfile,
        Rejection::BodyNotSigned,
        Rejection::BodyDigestMismatch,
    ];

    /// The stable reason code, `snake_case`.
    pub const fn code(self) -> &'static str {
        match self {
            Rejection::Missing => "missing",
            Rejection::Unpaired => "unpaired",
            Rejection::FieldTooLarge => "field_too_large",
            Rejection::TooManyMembers => "too_many_members",
            Rejection::Malformed => "malformed",
            Rejection::DuplicateMember => "duplicate_member",
            Rejection::WrongAlgorithm => "wrong_alg",
            Rejection::WrongTag => "wrong_tag",
            Rejection::MissingParameter => "missing_parameter",
            Rejection::MissingComponent => "missing_component",
            Rejection::UnsupportedComponent => "unsupported_component",
            Rejection::ComponentUnavailable => "component_unavailable",
            Rejection::FromFuture => "from_future",
            Rejection::TooOld => "too_old",
            Rejection::Expired => "expired",
            Rejection::UnknownKey => "unknown_key",
            Rejection::PreviousKeyRetired => "previous_key_retired",
            Rejection::NoKeys => "no_keys",
            Rejection::BadSignature => "bad_signature",
            Rejection::PathNotRepresentable => "path_not_representable",
            Rejection::WrongProfile => "wrong_profile",
            Rejection::BodyNotSigned => "body_not_signed",
            Rejection::BodyDigestMismatch => "body_digest_mismatch",
        }
    }

    /// True when the request carried no signature of ours at all. REST API authorizers
    /// answer these with `Unauthorized` (401) rather than a Deny (403).
    pub const fn is_missing(self) -> bool {
        matches!(self, Rejection::Missing)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Rejection::Missing => "no signature under our label",
            Rejection::Unpaired => "signature-input and signature members do not pair up",
            Rejection::FieldTooLarge => "signature field too large",
            Rejection::TooManyMembers => "too many members, components or parameters",
            Rejection::Malformed => "malformed signature field",
            Rejection::DuplicateMember => "duplicate member, parameter or component",
            Rejection::WrongAlgorithm => "algorithm is not hmac-sha256",
            Rejection::WrongTag => "missing or unexpected tag",
            Rejection::MissingParameter => "created or keyid parameter missing",
            Rejection::MissingComponent => "a required component is not covered",
            Rejection::UnsupportedComponent => "unsupported covered component",
            Rejection::ComponentUnavailable => "a covered header is absent from the request",
            Rejection::FromFuture => "created is in the future",
            Rejection::TooOld => "signature older than the maximum age",
            Rejection::Expired => "signature expired",
            Rejection::UnknownKey => "no usable key with this keyid",
            Rejection::PreviousKeyRetired => "previous key is past its grace period",
            Rejection::NoKeys => "no keys loaded",
            Rejection::BadSignature => "signature does not match",
            Rejection::PathNotRepresentable => {
                "signed path cannot be delivered unchanged by an HTTP API (decoded ? or %)"
            }
            Rejection::WrongProfile => "signature states another signing profile",
            Rejection::BodyNotSigned => "body binding required but content-digest not covered",
            Rejection::BodyDigestMismatch => "content-digest does not match the body",
        };
        write!(f, "{text} ({})", self.code())
    }
}

impl std::error::Error for Rejection {}

/// Why a request could not be signed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The method is not an HTTP token.
    #[error("request method is not a valid HTTP token")]
    InvalidMethod,
    /// The authority (Host) is empty or not a valid `host[:port]`.
    #[error("request authority (Host) is empty or invalid")]
    InvalidAuthority,
    /// A key id, tag or nonce cannot be written as an RFC 8941 string.
    #[error("a parameter value cannot be written as an RFC 8941 string")]
    InvalidParameter,
    /// A covered component is absent from the request (a header), or its value cannot
    /// appear in a signature base (a control character).
    #[error("a covered component is absent or cannot be signed")]
    ComponentUnavailable,
    /// The label is not an RFC 8941 key.
    #[error("signature label must be an RFC 8941 key")]
    InvalidLabel,
    /// `created` or `expires` does not fit an RFC 8941 integer.
    #[error("timestamp out of range")]
    TimeOutOfRange,
    /// A `raw` signature states its profile in its tag, and the signer has none.
    #[error("the raw profile needs an application tag to state it")]
    UntaggedProfile,
    /// Body binding (`Content-Digest`) is for the `raw` profile only: API Gateway does
    /// not show a Lambda authorizer the body.
    #[error("body binding needs the raw profile")]
    BodyNeedsRawProfile,
}

/// A configuration value that the protocol cannot work with.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Labels are RFC 8941 keys: lowercase letter or `*` first, then `a-z 0-9 _ - . *`.
    #[error("signature label must be an RFC 8941 key (lowercase letters, digits, _ - . *)")]
    InvalidLabel,
    /// Key ids are printable ASCII without `"` or `\`, 1 to 128 bytes.
    #[error("key id must be 1-128 printable ASCII characters without quotes or backslashes")]
    InvalidKeyId,
    /// Tags follow the same rules as key ids.
    #[error("tag must be 1-128 printable ASCII characters without quotes or backslashes")]
    InvalidTag,
    /// A header name to cover is not a lowercase HTTP token.
    #[error("covered header names must be lowercase HTTP tokens")]
    InvalidHeaderName,
}

/// Why a Secrets Manager secret value could not be read as an edgeseal key. The value
/// itself is never part of the error.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    /// The secret string is not a JSON object.
    #[error("secret value is not a JSON object")]
    NotJsonObject,
    /// The JSON object has neither the edgeseal fields nor the configured legacy key.
    #[error("secret value has neither an edgeseal key nor the configured static-header field")]
    UnknownShape,
    /// The `alg` field names something other than `hmac-sha256`.
    #[error("secret's alg is not hmac-sha256")]
    WrongAlgorithm,
    /// The `key` field is not standard base64.
    #[error("secret's key is not valid base64")]
    KeyEncoding,
    /// The decoded key is too short or too long.
    #[error("secret's key has {len} bytes; expected 16 to 128")]
    KeyLength {
        /// How many bytes it had.
        len: usize,
    },
    /// A static header value is empty.
    #[error("static header value is empty")]
    EmptyValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in Rejection::ALL {
            assert!(seen.insert(r.code()), "duplicate code {}", r.code());
            assert!(
                r.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            assert!(r.to_string().contains(r.code()));
        }
    }
}

//! Body binding: the `Content-Digest` field (RFC 9530) with `sha-256`.
//!
//! In the `raw` profile, when the edge sees the request body (the behavior's "include
//! body" option), it writes `Content-Digest: sha-256=:<base64>:` and covers that field
//! in the signature ([`Signer::sign_body_at`](crate::Signer::sign_body_at)). The
//! signature then vouches for the digest, and the origin checks the digest against the
//! body it received ([`check_content_digest`]): a captured request replayed with another
//! body fails there.

use base64::Engine as _;
use sfv::{BareItem, Dictionary, ListEntry, Parser};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::Rejection;

/// The header the digest travels in (lowercase, as a covered component).
pub const CONTENT_DIGEST: &str = "content-digest";

/// The RFC 9530 algorithm key edgeseal writes and checks.
const SHA_256: &str = "sha-256";

/// The `Content-Digest` value for `body`: `sha-256=:<base64 of SHA-256(body)>:`.
///
/// ```
/// // RFC 9530 Appendix B.1's example body and value.
/// assert_eq!(
///     edgeseal::content_digest(b"{\"hello\": \"world\"}\n"),
///     "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
/// );
/// ```
pub fn content_digest(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!(
        "{SHA_256}=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Check a received `Content-Digest` field against the body received with it.
///
/// The field is an RFC 8941 dictionary (RFC 9530 §2); its `sha-256` member must be the
/// SHA-256 of `body` (compared in constant time). Members for other algorithms are
/// ignored. A field that does not parse, has no `sha-256` member, or whose digest
/// differs is [`Rejection::BodyDigestMismatch`].
pub fn check_content_digest(field: &str, body: &[u8]) -> Result<(), Rejection> {
    let dict: Dictionary = Parser::new(field)
        .parse()
        .map_err(|_| Rejection::BodyDigestMismatch)?;
    let Some(ListEntry::Item(item)) = dict.get(SHA_256) else {
        return Err(Rejection::BodyDigestMismatch);
    };
    let BareItem::ByteSequence(presented) = &item.bare_item else {
        return Err(Rejection::BodyDigestMismatch);
    };
    let actual = Sha256::digest(body);
    if bool::from(actual.as_slice().ct_eq(presented.as_slice())) {
        Ok(())
    } else {
        Err(Rejection::BodyDigestMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_checks_against_its_own_body_only() {
        let body = b"{\"order\": 42}";
        let field = content_digest(body);
        assert_eq!(check_content_digest(&field, body), Ok(()));
        assert_eq!(
            check_content_digest(&field, b"{\"order\": 43}"),
            Err(Rejection::BodyDigestMismatch)
        );
        // Other algorithms alongside are ignored; sha-256 alone decides.
        let both = format!("sha-512=:AAAA:, {field}");
        assert_eq!(check_content_digest(&both, body), Ok(()));
        let empty = content_digest(b"");
        assert_eq!(check_content_digest(&empty, b""), Ok(()));
    }

    #[test]
    fn malformed_or_foreign_digests_are_mismatches() {
        let body = b"x";
        for field in [
            "",
            "sha-256=:not base64!:",
            "sha-256=\"text\"",
            "sha-512=:AAAA:",
            "sha-256=:AAAA:",
            "sha-256=(:AAAA:)",
        ] {
            assert_eq!(
                check_content_digest(field, body),
                Err(Rejection::BodyDigestMismatch),
                "{field}"
            );
        }
    }
}

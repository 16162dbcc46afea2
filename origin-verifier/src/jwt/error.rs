//! Why a bearer token was refused: one variant per check, each with a stable code.

/// A refused bearer token. [`code`](JwtRejection::code) is what logs, metrics and the deny
/// context carry; [`claim`](JwtRejection::claim) names the claim or header field that
/// failed (for `edgeseal explain`). Neither ever contains the token.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwtRejection {
    /// No `Authorization` header, or an empty one.
    Missing,
    /// Not `[Bearer ]<header>.<payload>.<signature>` with base64url JSON parts.
    Malformed,
    /// `alg` is `none`, an HMAC algorithm, one this authorizer does not accept, or not
    /// the algorithm of the key the `kid` names.
    BadAlgorithm,
    /// No `kid` in the header, or one the issuer's JWKS does not have (after a refresh).
    UnknownKid,
    /// The signature does not verify with the key the `kid` names.
    BadSignature,
    /// `iss` is absent or not one of the configured issuers.
    WrongIssuer,
    /// Neither `aud` nor (without `aud`) `client_id` names a configured audience.
    WrongAudience,
    /// `exp` is absent or passed (beyond the clock skew).
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    IssuedInFuture,
    /// Cognito `token_use` is not the configured one.
    WrongTokenUse,
    /// The route requires scopes and the token has none of them.
    InsufficientScope,
    /// No key set is held for the issuer (never loaded, or stale beyond its bound).
    NoKeys,
}

impl JwtRejection {
    /// Every rejection (tests, docs).
    pub const ALL: [JwtRejection; 13] = [
        JwtRejection::Missing,
        JwtRejection::Malformed,
        JwtRejection::BadAlgorithm,
        JwtRejection::UnknownKid,
        JwtRejection::BadSignature,
        JwtRejection::WrongIssuer,
        JwtRejection::WrongAudience,
        JwtRejection::Expired,
        JwtRejection::NotYetValid,
        JwtRejection::IssuedInFuture,
        JwtRejection::WrongTokenUse,
        JwtRejection::InsufficientScope,
        JwtRejection::NoKeys,
    ];

    /// The stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            JwtRejection::Missing => "jwt_missing",
            JwtRejection::Malformed => "jwt_malformed",
            JwtRejection::BadAlgorithm => "jwt_bad_algorithm",
            JwtRejection::UnknownKid => "jwt_unknown_kid",
            JwtRejection::BadSignature => "jwt_bad_signature",
            JwtRejection::WrongIssuer => "jwt_wrong_issuer",
            JwtRejection::WrongAudience => "jwt_wrong_audience",
            JwtRejection::Expired => "jwt_expired",
            JwtRejection::NotYetValid => "jwt_not_yet_valid",
            JwtRejection::IssuedInFuture => "jwt_issued_in_future",
            JwtRejection::WrongTokenUse => "jwt_wrong_token_use",
            JwtRejection::InsufficientScope => "jwt_insufficient_scope",
            JwtRejection::NoKeys => "jwt_no_keys",
        }
    }

    /// The claim or header field the check read, if one.
    pub const fn claim(self) -> Option<&'static str> {
        match self {
            JwtRejection::BadAlgorithm => Some("alg"),
            JwtRejection::UnknownKid => Some("kid"),
            JwtRejection::WrongIssuer => Some("iss"),
            JwtRejection::WrongAudience => Some("aud"),
            JwtRejection::Expired => Some("exp"),
            JwtRejection::NotYetValid => Some("nbf"),
            JwtRejection::IssuedInFuture => Some("iat"),
            JwtRejection::WrongTokenUse => Some("token_use"),
            JwtRejection::InsufficientScope => Some("scope"),
            JwtRejection::Missing
            | JwtRejection::Malformed
            | JwtRejection::BadSignature
            | JwtRejection::NoKeys => None,
        }
    }

    /// Whether HTTP API's built-in JWT authorizer answers this with 401 (an invalid or
    /// missing token) rather than 403 (a valid token without the route's scopes).
    pub const fn is_unauthorized(self) -> bool {
        !matches!(self, JwtRejection::InsufficientScope)
    }
}

impl core::fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let codes: HashSet<_> = JwtRejection::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), JwtRejection::ALL.len());
        assert!(codes.iter().all(|c| c.starts_with("jwt_")));
    }
}

//! The checks on one token, in the order of HTTP API's built-in JWT authorizer ("Control
//! access to HTTP APIs with JWT authorizers", API Gateway Developer Guide: decode, check
//! the algorithm and signature with the issuer key the `kid` names, then `iss`, `aud` or
//! `client_id`, `exp`, `nbf`, `iat`, and `scope` or `scp`), plus Cognito's `token_use`.
//! `jsonwebtoken` checks the signature; the claims are checked here against an injected
//! clock, each with its own rejection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edgeseal::UnixTime;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::jwt::config::{JwtConfig, TokenUse};
use crate::jwt::error::JwtRejection;
use crate::jwt::jwks::PublicKey;

/// A token split and decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified {
    /// The header's `alg`, one of the accepted ones.
    pub alg: Algorithm,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The payload.
    pub claims: Map<String, Value>,
}

impl Unverified {
    /// `iss`, if a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

/// The token from an `Authorization` value: the token alone or after `Bearer ` (the
/// identity source "can include only the token, or the token prefixed with Bearer").
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, JwtRejection> {
    let value = authorization.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(JwtRejection::Missing);
    }
    // The auth-scheme is case-insensitive (RFC 7235 §2.1); `Bearer` alone is no token.
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    if token.is_empty() {
        return Err(JwtRejection::Missing);
    }
    Ok(token)
}

/// Split and decode; refuse `alg` values outside `allowed` (so `none` and every HMAC
/// algorithm) before any key is looked at.
pub fn parse(token: &str, allowed: &[Algorithm]) -> Result<Unverified, JwtRejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtRejection::Malformed);
    };
    let header = decode_object(header)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtRejection::Malformed)?;
    let alg = alg
        .parse::<Algorithm>()
        .ok()
        .filter(|a| allowed.contains(a))
        .ok_or(JwtRejection::BadAlgorithm)?;
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    let claims = decode_object(payload)?;
    Ok(Unverified { alg, kid, claims })
}

fn decode_object(part: &str) -> Result<Map<String, Value>, JwtRejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtRejection::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtRejection::Malformed),
    }
}

/// The signature, by `jsonwebtoken`, with `key` (whose algorithm must be the header's).
pub fn check_signature(
    token: &str,
    unverified: &Unverified,
    key: &PublicKey,
) -> Result<(), JwtRejection> {
    if !key.accepts(unverified.alg) {
        return Err(JwtRejection::BadAlgorithm);
    }
    let mut validation = Validation::new(unverified.alg);
    // Claims are checked by `check_claims` against the injected clock.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    match jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &key.key, &validation) {
        Ok(_) => Ok(()),
        Err(err) => Err(match err.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                JwtRejection::BadAlgorithm
            }
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) => {
                JwtRejection::Malformed
            }
            _ => JwtRejection::BadSignature,
        }),
    }
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, JwtRejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or(JwtRejection::Malformed),
    }
}

/// `exp` (required), `nbf` and `iat` (when present) within the skew; the audience;
/// Cognito's `token_use`. Returns `exp`.
pub fn check_claims(
    claims: &Map<String, Value>,
    now: UnixTime,
    config: &JwtConfig,
) -> Result<u64, JwtRejection> {
    let now = now.as_secs();
    let skew = config.clock_skew_secs;
    let audience_ok = match claims.get("aud") {
        // "API Gateway validates client_id only if aud is not present" (API Gateway
        // Developer Guide, "Troubleshooting issues with HTTP API JWT authorizers").
        Some(Value::String(aud)) => config.audiences.iter().any(|a| a == aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| config.audiences.iter().any(|a| a == aud)),
        Some(_) => false,
        None => claims
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(|id| config.audiences.iter().any(|a| a == id)),
    };
    if !audience_ok {
        return Err(JwtRejection::WrongAudience);
    }
    let exp = numeric_date(claims, "exp")?.ok_or(JwtRejection::Expired)?;
    if now >= exp.saturating_add(skew) {
        return Err(JwtRejection::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err(JwtRejection::NotYetValid);
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| iat > now.saturating_add(skew)) {
        return Err(JwtRejection::IssuedInFuture);
    }
    let wanted = match config.token_use {
        TokenUse::Any => None,
        TokenUse::Access => Some("access"),
        TokenUse::Id => Some("id"),
    };
    if let Some(wanted) = wanted
        && claims.get("token_use").and_then(Value::as_str) != Some(wanted)
    {
        return Err(JwtRejection::WrongTokenUse);
    }
    Ok(exp)
}

/// The token's scopes: `scope` (space-separated, RFC 8693 §4.2) or `scp` (a string or
/// a list, as Okta and Entra ID write it).
pub fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let split = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => split(s),
        (_, Some(Value::String(s))) => split(s),
        (_, Some(Value::Array(list))) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// At least one of `required` (none required: any token passes).
pub fn check_scopes(held: &[String], required: &[String]) -> Result<(), JwtRejection> {
    if required.is_empty() || required.iter().any(|r| held.contains(r)) {
        Ok(())
    } else {
        Err(JwtRejection::InsufficientScope)
    }
}

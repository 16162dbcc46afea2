//! `jwt-issuer`: the issuer's discovery document and key set load from where doctor runs,
//! through the authorizer's own fetch and parsing (`origin_verifier::jwt`), so a pass means
//! the authorizer, on the same network path, finds keys to verify the app's tokens with.
//! (The authorizer needs that path too: a VPC authorizer without NAT or internet access
//! cannot reach a public issuer.)

use std::time::Duration;

use origin_verifier::jwt::{Fetcher, KeySet, discovery_url};
use serde_json::Value;

use crate::doctor::{Finding, Verdict};

const PROVES: &str =
    "the issuer's discovery document names it and its key set has usable signing keys";

/// Check `issuer` (its key set at `jwks_url` when given, else through discovery).
pub async fn check(issuer: &str, jwks_url: Option<&str>, timeout: Duration) -> Finding {
    let mut finding = Finding::new("jwt-issuer", PROVES);
    let fetcher = Fetcher::new(timeout);
    let fail = |mut finding: Finding, detail: String, cause: &str, fix: &str| {
        finding.verdict = Verdict::Fail;
        finding.detail = detail;
        finding.cause = Some(cause.to_owned());
        finding.fix = Some(fix.to_owned());
        finding
    };
    let url = match jwks_url {
        Some(url) => url.to_owned(),
        None => {
            let discovery = discovery_url(issuer);
            let document = match fetcher.get(&discovery).await {
                Ok(bytes) => serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                Err(err) => {
                    return fail(
                        finding,
                        format!("GET {discovery}: {err}"),
                        "the issuer URL is wrong, or this network cannot reach it",
                        "check JWT_ISSUERS (exactly the tokens' iss); or set JWKS_URLS if the issuer has no discovery document",
                    );
                }
            };
            let named = document.get("issuer").and_then(Value::as_str);
            if named != Some(issuer) {
                return fail(
                    finding,
                    format!("{discovery} names issuer {named:?}"),
                    "the configured issuer differs from the one the document names (a trailing slash, another tenant or region)",
                    "set JWT_ISSUERS to the document's issuer, exactly as the tokens' iss",
                );
            }
            match document.get("jwks_uri").and_then(Value::as_str) {
                Some(uri) => uri.to_owned(),
                None => {
                    return fail(
                        finding,
                        format!("{discovery} has no jwks_uri"),
                        "the document is not an OpenID Connect discovery document",
                        "set JWKS_URLS=ISSUER=URL of the key set",
                    );
                }
            }
        }
    };
    match fetcher.get(&url).await.and_then(|b| KeySet::parse(&b)) {
        Ok(keys) => {
            finding.detail = format!(
                "{issuer}: key set {url}: {} signing key(s): {}",
                keys.len(),
                keys.kids().join(", ")
            );
            finding
        }
        Err(err) => fail(
            finding,
            format!("GET {url}: {err}"),
            "the key set is unreachable, or holds no RS/PS/ES/EdDSA key with a kid",
            "check the issuer's jwks_uri from the authorizer's network; HMAC (oct) keys are never used",
        ),
    }
}

//! The bearer-token half of `edgeseal explain`: the authorizer's own JWT verifier
//! (`origin_verifier::jwt`), configured from the same variables it reads (`--jwt-issuers`
//! and friends), fetching the issuer's keys from where the CLI runs. Prints the verdict,
//! the reason code and the claim that failed with its value; never the token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edgeseal::{RequestView, UnixTime};
use origin_verifier::jwt::{JwtConfig, JwtVerifier};
use serde_json::{Map, Value, json};

use crate::args::JwtCheckArgs;
use crate::error::CliError;

/// What the token check found: the lines to print and the JSON to report; `Ok(true)`
/// when it passed (or the route is public).
pub struct JwtExplained {
    /// Text lines.
    pub text: String,
    /// `jwt` member of the JSON report.
    pub report: Value,
    /// The token passed.
    pub allowed: bool,
}

fn config(args: &JwtCheckArgs) -> Result<Option<JwtConfig>, CliError> {
    let vars = [
        ("JWT_ISSUERS", args.jwt_issuers.clone()),
        ("JWT_AUDIENCES", args.jwt_audiences.clone()),
        ("JWT_SCOPES", args.jwt_scopes.clone()),
        ("JWT_PUBLIC_ROUTES", args.jwt_public_routes.clone()),
        ("JWT_TOKEN_USE", args.jwt_token_use.clone()),
        ("JWKS_URLS", args.jwks_urls.clone()),
        (
            "JWT_CLOCK_SKEW_SECS",
            args.jwt_clock_skew_secs.map(|s| s.to_string()),
        ),
    ];
    JwtConfig::from_lookup(&|name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.clone())
    })
    .map_err(|err| CliError::Usage(format!("JWT settings: {err}")))
}

/// The payload, unverified, for showing the failing claim's value.
fn payload(token: &str) -> Option<Map<String, Value>> {
    let part = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Check the bearer token of `view` as the authorizer would; `None` when no JWT
/// settings were given.
pub async fn explain(
    args: &JwtCheckArgs,
    view: &RequestView,
    at: UnixTime,
) -> Result<Option<JwtExplained>, CliError> {
    let Some(config) = config(args)? else {
        return Ok(None);
    };
    let verifier = JwtVerifier::new(&config);
    verifier.jwks().load_all_at(at).await;
    let authorization = view.header("authorization");
    let verdict = verifier
        .verify_at(at, authorization.as_deref(), view.method(), view.path())
        .await;
    let mut text = String::from("bearer token (checked only once the signature verifies):\n");
    let mut report = Map::new();
    let allowed = match verdict {
        Ok(None) => {
            text.push_str("  route is in JWT_PUBLIC_ROUTES: no token needed\n");
            report.insert("verdict".into(), json!("public_route"));
            true
        }
        Ok(Some(grant)) => {
            text.push_str(&format!(
                "  verdict: allow (issuer {}, kid {}, scopes {})\n",
                grant.issuer,
                grant.kid,
                grant.scopes.join(" ")
            ));
            report.insert("verdict".into(), json!("allow"));
            report.insert("issuer".into(), json!(grant.issuer));
            report.insert("kid".into(), json!(grant.kid));
            report.insert("scopes".into(), json!(grant.scopes.to_vec()));
            true
        }
        Err(denial) => {
            let rejection = denial.rejection;
            text.push_str(&format!("  verdict: deny ({})\n", rejection.code()));
            report.insert("verdict".into(), json!("deny"));
            report.insert("reason".into(), json!(rejection.code()));
            if let Some(kid) = &denial.kid {
                report.insert("kid".into(), json!(kid));
                text.push_str(&format!("  kid: {kid}\n"));
            }
            if let Some(claim) = rejection.claim() {
                let claims = authorization
                    .as_deref()
                    .map(|a| a.trim().trim_start_matches("Bearer ").trim())
                    .and_then(payload);
                let value = claims
                    .as_ref()
                    .and_then(|c| {
                        c.get(if claim == "aud" && !c.contains_key("aud") {
                            "client_id"
                        } else {
                            claim
                        })
                    })
                    .cloned()
                    .unwrap_or(Value::Null);
                let detail = match (claim, value.as_u64()) {
                    ("exp" | "nbf" | "iat", Some(t)) => {
                        format!(
                            "{t} (now {}, {:+} s)",
                            at.as_secs(),
                            i128::from(t) - i128::from(at.as_secs())
                        )
                    }
                    _ => value.to_string(),
                };
                text.push_str(&format!("  failed claim: {claim} = {detail}\n"));
                report.insert("claim".into(), json!(claim));
                report.insert("claim_value".into(), value);
            }
            if rejection.code() == "jwt_insufficient_scope" {
                text.push_str(&format!(
                    "  the route {} {} requires one of: {}\n",
                    view.method(),
                    view.path(),
                    config.scopes.required(view.method(), view.path()).join(" ")
                ));
            }
            false
        }
    };
    Ok(Some(JwtExplained {
        text,
        report: Value::Object(report),
        allowed,
    }))
}

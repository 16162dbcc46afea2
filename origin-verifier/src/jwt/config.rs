//! The bearer-token settings (`JWT_*`, `JWKS_*`), read once at cold start with the rest
//! of [`Config`](crate::Config). Unset `JWT_ISSUERS` turns the check off; every other
//! variable then must be unset too, so a half-configured check fails the cold start
//! instead of silently letting tokens through.

use edgeseal::env::whole_number;
use jsonwebtoken::Algorithm;

use crate::config::ConfigError;
use crate::jwt::scopes::ScopeRules;

/// Which Cognito `token_use` is accepted (`JWT_TOKEN_USE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// Not checked (HTTP API's built-in JWT authorizer checks none).
    Any,
    /// `token_use` must be `access`.
    Access,
    /// `token_use` must be `id`.
    Id,
}

/// Which claims go to the backend (`JWT_CLAIMS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardClaims {
    /// Every top-level claim (`*`, the default; as the built-in authorizer).
    All,
    /// Only these (an empty list forwards none).
    Only(Vec<String>),
}

/// One trusted issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The `iss` value, exactly as the issuer writes it (`JWT_ISSUERS`).
    pub issuer: String,
    /// Where its key set is; `None` reads `jwks_uri` from its discovery document
    /// (`JWKS_URLS`).
    pub jwks_url: Option<String>,
}

/// Every bearer-token setting. See origin-verifier/README.md for each variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtConfig {
    /// Trusted issuers (`JWT_ISSUERS`, comma-separated).
    pub issuers: Vec<IssuerConfig>,
    /// Accepted audiences, matched against `aud`, else `client_id` (`JWT_AUDIENCES`).
    pub audiences: Vec<String>,
    /// Required scopes per route (`JWT_SCOPES`).
    pub scopes: ScopeRules,
    /// Routes that need no token, only the edge signature (`JWT_PUBLIC_ROUTES`).
    pub public_routes: ScopeRules,
    /// Cognito `token_use` (`JWT_TOKEN_USE`).
    pub token_use: TokenUse,
    /// Accepted clock difference for `exp`, `nbf`, `iat` (`JWT_CLOCK_SKEW_SECS`).
    pub clock_skew_secs: u64,
    /// Accepted signature algorithms (`JWT_ALGORITHMS`); never `none` or HMAC.
    pub algorithms: Vec<Algorithm>,
    /// Claims forwarded in the authorizer context (`JWT_CLAIMS`).
    pub forward_claims: ForwardClaims,
    /// Time between key-set refreshes (`JWKS_CACHE_TTL_SECS`).
    pub jwks_ttl_secs: u64,
    /// How long past its TTL a key set keeps serving while its issuer fails
    /// (`JWKS_MAX_STALE_SECS`).
    pub jwks_max_stale_secs: u64,
    /// Wait after a failed fetch before the next (`JWKS_REFRESH_RETRY_SECS`).
    pub jwks_retry_secs: u64,
    /// Minimum interval between refreshes caused by an unknown `kid`
    /// (`JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS`).
    pub unknown_kid_min_interval_secs: u64,
    /// Timeout of one discovery or JWKS fetch, in milliseconds (`JWKS_TIMEOUT_MS`).
    pub jwks_timeout_ms: u64,
    /// Verified tokens remembered until they expire (`JWT_CACHE_MAX_ENTRIES`; 0: none).
    pub memo_max_entries: usize,
    /// How long a token naming an unknown `kid` may wait for the rate limit to allow a
    /// refresh, in milliseconds (`JWKS_UNKNOWN_KID_MAX_WAIT_MS`; 0: deny at once).
    pub unknown_kid_max_wait_ms: u64,
}

impl JwtConfig {
    /// Default `JWT_CLOCK_SKEW_SECS`, as the signature's `CLOCK_SKEW_SECS`.
    pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 10;
    /// Default `JWKS_CACHE_TTL_SECS`: an hour (API Gateway's built-in authorizer caches
    /// an issuer's public keys for up to two hours; the unknown-`kid` refresh picks up a
    /// key the issuer adds sooner).
    pub const DEFAULT_JWKS_TTL_SECS: u64 = 3600;
    /// Default `JWKS_MAX_STALE_SECS`: a day of issuer outage before failing closed.
    pub const DEFAULT_JWKS_MAX_STALE_SECS: u64 = 86_400;
    /// Default `JWKS_REFRESH_RETRY_SECS`.
    pub const DEFAULT_JWKS_RETRY_SECS: u64 = 10;
    /// Default `JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS`, as `UNKNOWN_KEY_MIN_INTERVAL_SECS`.
    pub const DEFAULT_UNKNOWN_KID_MIN_INTERVAL_SECS: u64 = 10;
    /// Default `JWKS_TIMEOUT_MS`.
    pub const DEFAULT_JWKS_TIMEOUT_MS: u64 = 2000;
    /// Default `JWT_CACHE_MAX_ENTRIES`.
    pub const DEFAULT_MEMO_MAX_ENTRIES: usize = 10_000;
    /// Every variable this reads (a set one without `JWT_ISSUERS` is an error).
    pub const VARIABLES: [&'static str; 16] = [
        "JWT_ISSUERS",
        "JWT_AUDIENCES",
        "JWT_SCOPES",
        "JWT_PUBLIC_ROUTES",
        "JWKS_TIMEOUT_MS",
        "JWKS_UNKNOWN_KID_MAX_WAIT_MS",
        "JWT_TOKEN_USE",
        "JWT_CLOCK_SKEW_SECS",
        "JWT_ALGORITHMS",
        "JWT_CLAIMS",
        "JWT_CACHE_MAX_ENTRIES",
        "JWKS_URLS",
        "JWKS_CACHE_TTL_SECS",
        "JWKS_MAX_STALE_SECS",
        "JWKS_REFRESH_RETRY_SECS",
        "JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS",
    ];
    const ASYMMETRIC: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The settings through `lookup`; `Ok(None)` when `JWT_ISSUERS` is unset.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(issuers) = get("JWT_ISSUERS") else {
            let stray = Self::VARIABLES.iter().find(|v| get(v).is_some());
            return match stray {
                Some(var) => Err(invalid(
                    var,
                    "is set but JWT_ISSUERS is not: set JWT_ISSUERS to check bearer tokens".into(),
                )),
                None => Ok(None),
            };
        };
        let mut issuers: Vec<IssuerConfig> = list(&issuers)
            .map(|issuer| {
                check_issuer(issuer).map(|()| IssuerConfig {
                    issuer: issuer.to_owned(),
                    jwks_url: None,
                })
            })
            .collect::<Result<_, _>>()?;
        if let Some(urls) = get("JWKS_URLS") {
            for pair in list(&urls) {
                let (issuer, url) = pair.split_once('=').ok_or_else(|| {
                    invalid(
                        "JWKS_URLS",
                        format!("expected ISSUER=URL pairs, got {pair:?}"),
                    )
                })?;
                check_url(url.trim()).map_err(|reason| invalid("JWKS_URLS", reason))?;
                let entry = issuers
                    .iter_mut()
                    .find(|i| i.issuer == issuer.trim())
                    .ok_or_else(|| {
                        invalid("JWKS_URLS", format!("{issuer:?} is not in JWT_ISSUERS"))
                    })?;
                entry.jwks_url = Some(url.trim().to_owned());
            }
        }
        let audiences: Vec<String> = get("JWT_AUDIENCES")
            .map(|a| list(&a).map(str::to_owned).collect())
            .unwrap_or_default();
        if audiences.is_empty() {
            return Err(ConfigError::Missing("JWT_AUDIENCES"));
        }
        let scopes = match get("JWT_SCOPES") {
            None => ScopeRules::default(),
            Some(rules) => {
                ScopeRules::parse(&rules).map_err(|reason| invalid("JWT_SCOPES", reason))?
            }
        };
        let public_routes = match get("JWT_PUBLIC_ROUTES") {
            None => ScopeRules::default(),
            Some(routes) => ScopeRules::parse_routes(&routes)
                .map_err(|reason| invalid("JWT_PUBLIC_ROUTES", reason))?,
        };
        let token_use = match get("JWT_TOKEN_USE").as_deref().map(str::trim) {
            None | Some("any") => TokenUse::Any,
            Some("access") => TokenUse::Access,
            Some("id") => TokenUse::Id,
            Some(other) => {
                return Err(invalid(
                    "JWT_TOKEN_USE",
                    format!("expected access, id or any, got {other:?}"),
                ));
            }
        };
        let algorithms = match get("JWT_ALGORITHMS") {
            None => Self::ASYMMETRIC.to_vec(),
            Some(names) => list(&names)
                .map(|name| {
                    name.parse::<Algorithm>()
                        .ok()
                        .filter(|alg| Self::ASYMMETRIC.contains(alg))
                        .ok_or_else(|| {
                            invalid(
                                "JWT_ALGORITHMS",
                                format!(
                                    "{name:?} is not an accepted algorithm (asymmetric only: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"
                                ),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let forward_claims = match lookup("JWT_CLAIMS") {
            None => ForwardClaims::All,
            Some(v) if v.trim() == "*" => ForwardClaims::All,
            Some(v) => ForwardClaims::Only(list(&v).map(str::to_owned).collect()),
        };
        let secs = |var: &'static str, default: u64| whole_number(&get, var, default);
        let jwks_timeout_ms = secs("JWKS_TIMEOUT_MS", Self::DEFAULT_JWKS_TIMEOUT_MS)?;
        if jwks_timeout_ms == 0 {
            return Err(invalid("JWKS_TIMEOUT_MS", "must be at least 1".into()));
        }
        let jwks_ttl_secs = secs("JWKS_CACHE_TTL_SECS", Self::DEFAULT_JWKS_TTL_SECS)?;
        if jwks_ttl_secs == 0 {
            return Err(invalid("JWKS_CACHE_TTL_SECS", "must be at least 1".into()));
        }
        let memo = secs(
            "JWT_CACHE_MAX_ENTRIES",
            Self::DEFAULT_MEMO_MAX_ENTRIES as u64,
        )?;
        Ok(Some(Self {
            issuers,
            audiences,
            scopes,
            public_routes,
            token_use,
            clock_skew_secs: secs("JWT_CLOCK_SKEW_SECS", Self::DEFAULT_CLOCK_SKEW_SECS)?,
            algorithms,
            forward_claims,
            jwks_ttl_secs,
            jwks_max_stale_secs: secs("JWKS_MAX_STALE_SECS", Self::DEFAULT_JWKS_MAX_STALE_SECS)?,
            jwks_retry_secs: secs("JWKS_REFRESH_RETRY_SECS", Self::DEFAULT_JWKS_RETRY_SECS)?,
            unknown_kid_min_interval_secs: secs(
                "JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS",
                Self::DEFAULT_UNKNOWN_KID_MIN_INTERVAL_SECS,
            )?,
            jwks_timeout_ms,
            memo_max_entries: usize::try_from(memo).unwrap_or(usize::MAX),
            unknown_kid_max_wait_ms: secs("JWKS_UNKNOWN_KID_MAX_WAIT_MS", 0)?,
        }))
    }
}

fn invalid(var: &'static str, reason: String) -> ConfigError {
    ConfigError::invalid(var, reason)
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `https://` (or `http://` to a loopback host: tests and the demo), a host, no query
/// or fragment.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| {
            url.strip_prefix("http://").filter(|r| {
                ["127.0.0.1", "localhost", "[::1]"]
                    .iter()
                    .any(|h| r.starts_with(h))
            })
        })
        .ok_or_else(|| format!("{url:?} must be an https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || url.contains(['?', '#', ' ']) {
        return Err(format!("{url:?} is not a URL without query or fragment"));
    }
    Ok(())
}

/// An OIDC issuer URL; a Cognito user pool's must have the documented shape
/// `https://cognito-idp.<region>.amazonaws.com/<region>_<id>` (Amazon Cognito Developer
/// Guide, "Verifying a JSON Web Token": the `iss` claim).
fn check_issuer(issuer: &str) -> Result<(), ConfigError> {
    check_url(issuer).map_err(|reason| invalid("JWT_ISSUERS", reason))?;
    let rest = issuer.trim_start_matches("https://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some(region) = host
        .strip_prefix("cognito-idp.")
        .and_then(|h| h.strip_suffix(".amazonaws.com"))
    {
        let pool = path.strip_prefix(region).and_then(|p| p.strip_prefix('_'));
        let shaped =
            pool.is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !shaped {
            return Err(invalid(
                "JWT_ISSUERS",
                format!(
                    "{issuer:?}: a Cognito issuer is https://cognito-idp.<region>.amazonaws.com/<user pool id>, the pool id starting with the region (no trailing slash)"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Option<JwtConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        JwtConfig::from_lookup(&|name: &str| map.get(name).cloned())
    }

    const ISSUER: (&str, &str) = ("JWT_ISSUERS", "https://idp.example.com");
    const AUDIENCE: (&str, &str) = ("JWT_AUDIENCES", "api");

    #[test]
    fn off_unless_issuers_are_set() {
        assert_eq!(from(&[]).unwrap(), None);
        let err = from(&[AUDIENCE]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_AUDIENCES"), "{err}");
    }

    #[test]
    fn defaults_and_cognito() {
        let c = from(&[
            (
                "JWT_ISSUERS",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123, https://idp.example.com",
            ),
            ("JWT_AUDIENCES", "api, 5kek0i61pgkokoob4fsm9fo9it"),
            ("JWKS_URLS", "https://idp.example.com=https://idp.example.com/keys"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.issuers.len(), 2);
        assert_eq!(c.issuers[0].jwks_url, None);
        assert_eq!(
            c.issuers[1].jwks_url.as_deref(),
            Some("https://idp.example.com/keys")
        );
        assert_eq!(c.audiences, ["api", "5kek0i61pgkokoob4fsm9fo9it"]);
        assert_eq!(c.token_use, TokenUse::Any);
        assert_eq!(c.clock_skew_secs, 10);
        assert_eq!(c.forward_claims, ForwardClaims::All);
        assert!(!c.algorithms.contains(&Algorithm::HS256));
    }

    #[test]
    fn each_malformed_variable_is_named() {
        let cases = [
            ("JWT_ISSUERS", "http://idp.example.com"),
            (
                "JWT_ISSUERS",
                "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_x",
            ),
            (
                "JWT_ISSUERS",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x/",
            ),
            ("JWT_AUDIENCES", " , "),
            ("JWT_SCOPES", "GET orders=read"),
            ("JWT_PUBLIC_ROUTES", "GET /health=x"),
            ("JWKS_UNKNOWN_KID_MAX_WAIT_MS", "soon"),
            ("JWT_TOKEN_USE", "refresh"),
            ("JWT_ALGORITHMS", "HS256"),
            ("JWT_ALGORITHMS", "none"),
            ("JWT_CLOCK_SKEW_SECS", "-1"),
            ("JWKS_URLS", "https://other.example.com=https://x/keys"),
            ("JWKS_URLS", "https://idp.example.com"),
            ("JWKS_CACHE_TTL_SECS", "0"),
            ("JWKS_TIMEOUT_MS", "0"),
            ("JWT_CACHE_MAX_ENTRIES", "many"),
        ];
        for (var, value) in cases {
            let mut pairs = vec![ISSUER, AUDIENCE];
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            let err = from(&pairs).unwrap_err();
            let named = err.var();
            assert_eq!(named, var, "{var}={value}: {err}");
        }
    }
}

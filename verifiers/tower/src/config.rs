//! The layer's settings: the authorizer's own (`origin_verifier::Config`, same variable
//! names and defaults), plus the three only an origin that sees the whole request has.

use edgeseal::{Profile, Verifier};
use origin_verifier::{AuthMode, CacheSettings, Config as AuthorizerConfig};

/// Why the configuration could not be read: a variable missing or invalid, always named
/// (`edgeseal::env::EnvVarError`, the authorizer's error for the settings it shares).
pub use edgeseal::env::EnvVarError as ConfigError;

/// Everything the layer needs, read once at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerConfig {
    /// The authorizer's settings: `SECRET_ID`, `SIGNATURE_LABEL`, `SIGNATURE_TAG`,
    /// `MAX_AGE_SECS`, `CLOCK_SKEW_SECS`, `PREVIOUS_KEY_GRACE_SECS`, `CACHE_TTL_SECS`,
    /// `MAX_STALE_SECS`, `REFRESH_RETRY_SECS`, `UNKNOWN_KEY_MIN_INTERVAL_SECS`,
    /// `SECRETS_MANAGER_TIMEOUT_MS`, `METRICS_NAMESPACE`.
    pub authorizer: AuthorizerConfig,
    /// `SIGNING_PROFILE`, default `raw`: the profile the edge signs this origin in
    /// (its `EDGE_ORIGIN_PROFILES` entry). `apigateway` serves an edge that has not
    /// been told this origin is `raw` yet: the request arrives unchanged, so its
    /// canonical form is the one the edge signed.
    pub profile: Profile,
    /// `REQUIRE_CONTENT_DIGEST`, default `false`: deny signatures that do not bind the
    /// body (`body_not_signed`). Only for behaviors whose edge association includes the
    /// body, and for bodies CloudFront does not truncate (1 MB at origin request).
    pub require_content_digest: bool,
    /// `MAX_BODY_BYTES`, default 1,048,576: the most body the layer buffers to check a
    /// covered `Content-Digest`. The edge binds only bodies it sees whole, at most 1 MB
    /// (Lambda@Edge origin request with "include body"), so a longer body cannot match
    /// and is denied (`body_digest_mismatch`) without reading further.
    pub max_body_bytes: usize,
}

impl LayerConfig {
    /// Default [`max_body_bytes`](Self::max_body_bytes): CloudFront's 1 MB body limit for
    /// origin-request functions.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1_048_576;

    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (trimmed; empty counts as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let authorizer = AuthorizerConfig::from_lookup(&lookup)?;
        if authorizer.auth_mode != AuthMode::Signature {
            return Err(ConfigError::invalid(
                "AUTH_MODE",
                "the layer verifies signatures only: `signature` (the default)",
            ));
        }
        let profile = match get("SIGNING_PROFILE") {
            None => Profile::Raw,
            Some(name) => name.parse().map_err(|_| {
                ConfigError::invalid(
                    "SIGNING_PROFILE",
                    "expected `raw` (the default) or `apigateway`",
                )
            })?,
        };
        let require_content_digest = match get("REQUIRE_CONTENT_DIGEST").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError::invalid(
                    "REQUIRE_CONTENT_DIGEST",
                    "expected `true` or `false`",
                ));
            }
        };
        let max_body_bytes = match get("MAX_BODY_BYTES") {
            None => Self::DEFAULT_MAX_BODY_BYTES,
            Some(v) => v.parse().map_err(|_| {
                ConfigError::invalid("MAX_BODY_BYTES", "expected a whole number of bytes")
            })?,
        };
        Ok(Self {
            authorizer,
            profile,
            require_content_digest,
            max_body_bytes,
        })
    }

    /// Every default, for `secret_id` (tests, benchmarks).
    pub fn with_secret_id(secret_id: &str) -> Self {
        Self {
            authorizer: AuthorizerConfig::with_secret_id(secret_id),
            profile: Profile::Raw,
            require_content_digest: false,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The verifier these settings describe.
    pub fn verifier(&self) -> Result<Verifier, ConfigError> {
        Ok(self
            .authorizer
            .verifier()?
            .with_body_required(self.require_content_digest))
    }

    /// The key cache's settings (the authorizer's).
    pub fn cache_settings(&self) -> CacheSettings {
        CacheSettings::from_config(&self.authorizer)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<LayerConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LayerConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_only_the_secret_and_errors_name_the_variable() {
        let c = from(&[("SECRET_ID", "s")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c, LayerConfig::with_secret_id("s"));
        let cases = [
            ("SIGNING_PROFILE", "fast", "SIGNING_PROFILE"),
            ("REQUIRE_CONTENT_DIGEST", "yes", "REQUIRE_CONTENT_DIGEST"),
            ("MAX_BODY_BYTES", "-1", "MAX_BODY_BYTES"),
            ("AUTH_MODE", "migration", "AUTH_MODE"),
            ("MAX_AGE_SECS", "x", "MAX_AGE_SECS"),
        ];
        for (var, value, named) in cases {
            let err = from(&[("SECRET_ID", "s"), (var, value)]).unwrap_err();
            assert!(err.to_string().contains(named), "{var}: {err}");
        }
        assert!(matches!(from(&[]), Err(ConfigError::Missing("SECRET_ID"))));
        let c = from(&[
            ("SECRET_ID", "s"),
            ("SIGNING_PROFILE", "apigateway"),
            ("REQUIRE_CONTENT_DIGEST", "true"),
            ("MAX_BODY_BYTES", "10"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.profile, Profile::ApiGateway);
        assert!(c.require_content_digest);
        assert!(
            c.verifier()
                .unwrap_or_else(|e| panic!("{e}"))
                .body_required()
        );
        assert_eq!(c.max_body_bytes, 10);
    }
}

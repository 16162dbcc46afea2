//! The layer's settings: the authorizer's own (`origin_verifier::Config`, same variable
//! names and defaults), plus the three only an origin that sees the whole request has.

use edgeseal::Verifier;
use edgeseal::env::OriginSettings;
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
    /// `SIGNING_PROFILE`, `REQUIRE_CONTENT_DIGEST` and `MAX_BODY_BYTES`: the settings
    /// only an origin that sees the whole request has (names, defaults and meaning in
    /// [`OriginSettings`]).
    pub origin: OriginSettings,
}

impl LayerConfig {
    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (trimmed; empty counts as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let authorizer = AuthorizerConfig::from_lookup(&lookup)?;
        if authorizer.auth_mode != AuthMode::Signature {
            return Err(ConfigError::invalid(
                "AUTH_MODE",
                "the layer verifies signatures only: `signature` (the default)",
            ));
        }
        let origin =
            OriginSettings::from_lookup(&|name| lookup(name).filter(|v| !v.trim().is_empty()))?;
        Ok(Self { authorizer, origin })
    }

    /// Every default, for `secret_id` (tests, benchmarks).
    pub fn with_secret_id(secret_id: &str) -> Self {
        Self {
            authorizer: AuthorizerConfig::with_secret_id(secret_id),
            origin: OriginSettings::default(),
        }
    }

    /// The verifier these settings describe.
    pub fn verifier(&self) -> Result<Verifier, ConfigError> {
        Ok(self
            .authorizer
            .verifier()?
            .with_body_required(self.origin.require_content_digest))
    }

    /// The most body the layer buffers: `MAX_BODY_BYTES`, or all this machine addresses
    /// when that is less.
    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.origin.max_body_bytes).unwrap_or(usize::MAX)
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
        assert_eq!(c.origin.profile, edgeseal::Profile::ApiGateway);
        assert!(c.origin.require_content_digest);
        assert!(
            c.verifier()
                .unwrap_or_else(|e| panic!("{e}"))
                .body_required()
        );
        assert_eq!(c.max_body_bytes(), 10);
    }
}

//! Configuration: read once from the environment at cold start.

use core::fmt;

use edgeseal::env::whole_number;
use edgeseal::{DEFAULT_LABEL, DEFAULT_TAG, Verifier};

use crate::base_path::BasePathMap;
use crate::jwt::JwtConfig;

/// What the authorizer accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// RFC 9421 signatures from the edge (the default).
    Signature,
    /// A static header compared with the secret's value, like the static-header
    /// authorizers edgeseal replaces.
    StaticHeader,
    /// Either a valid signature or a valid static header: the bridge for moving from a
    /// static header to signatures without downtime.
    Migration,
}

impl AuthMode {
    /// Whether signatures are checked.
    pub fn accepts_signature(self) -> bool {
        matches!(self, AuthMode::Signature | AuthMode::Migration)
    }

    /// Whether the static header is checked.
    pub fn accepts_static_header(self) -> bool {
        matches!(self, AuthMode::StaticHeader | AuthMode::Migration)
    }
}

/// How HTTP API (payload 2.0) verdicts are written. REST APIs always get a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// `{"isAuthorized": bool, "context": {...}}` (authorizer with simple responses enabled).
    Simple,
    /// An IAM policy document (simple responses disabled).
    Iam,
}

/// Why the configuration could not be read: a variable missing or invalid, always named
/// (`edgeseal::env::EnvVarError`, shared with the verifiers and the rotator).
pub use edgeseal::env::EnvVarError as ConfigError;

/// The authorizer's settings. See the crate README for each variable and its default.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Secrets Manager secret id, name or ARN (`SECRET_ID`, or `SECRET_NAME`).
    pub secret_id: String,
    /// Signature label (`SIGNATURE_LABEL`).
    pub label: String,
    /// Required application tag; `None` accepts any (`SIGNATURE_TAG`, empty for none).
    pub tag: Option<String>,
    /// Oldest accepted signature (`MAX_AGE_SECS`).
    pub max_age_secs: u64,
    /// Accepted clock difference for `created` in the future (`CLOCK_SKEW_SECS`).
    pub clock_skew_secs: u64,
    /// How long AWSPREVIOUS stays accepted after the rotation that demoted it
    /// (`PREVIOUS_KEY_GRACE_SECS`).
    pub previous_key_grace_secs: u64,
    /// Time between key refreshes (`CACHE_TTL_SECS`).
    pub cache_ttl_secs: u64,
    /// How long past its TTL a cache keeps serving while Secrets Manager fails
    /// (`MAX_STALE_SECS`).
    pub max_stale_secs: u64,
    /// Wait after a failed refresh before the next attempt (`REFRESH_RETRY_SECS`).
    pub refresh_retry_secs: u64,
    /// Minimum interval between refreshes caused by an unknown `keyid`
    /// (`UNKNOWN_KEY_MIN_INTERVAL_SECS`).
    pub unknown_key_min_interval_secs: u64,
    /// HTTP API response format (`RESPONSE_MODE`).
    pub response_mode: ResponseMode,
    /// How the path API Gateway reports becomes the path the edge signed
    /// (`BASE_PATH_MAP`, or `PATH_PREFIX` for a prefix to add).
    pub base_path_map: BasePathMap,
    /// What is accepted (`AUTH_MODE`).
    pub auth_mode: AuthMode,
    /// The static header's name, lowercase (`HEADER_NAME`).
    pub header_name: String,
    /// The static header secret's JSON field (`SECRET_KEY_NAME`); `None` tries
    /// `HTTP_API_KEY` then `HEADERVALUE`.
    pub secret_key_name: Option<String>,
    /// Timeout for one Secrets Manager call, in milliseconds
    /// (`SECRETS_MANAGER_TIMEOUT_MS`).
    pub secrets_manager_timeout_ms: u64,
    /// CloudWatch namespace of the embedded metrics (`METRICS_NAMESPACE`).
    pub metrics_namespace: String,
    /// The bearer-token check after the signature; `None` unless `JWT_ISSUERS` is set.
    pub jwt: Option<JwtConfig>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nothing here is secret, but spell the fields out so adding one is a decision.
        f.debug_struct("Config")
            .field("secret_id", &self.secret_id)
            .field("label", &self.label)
            .field("tag", &self.tag)
            .field("max_age_secs", &self.max_age_secs)
            .field("clock_skew_secs", &self.clock_skew_secs)
            .field("previous_key_grace_secs", &self.previous_key_grace_secs)
            .field("cache_ttl_secs", &self.cache_ttl_secs)
            .field("max_stale_secs", &self.max_stale_secs)
            .field("refresh_retry_secs", &self.refresh_retry_secs)
            .field(
                "unknown_key_min_interval_secs",
                &self.unknown_key_min_interval_secs,
            )
            .field("response_mode", &self.response_mode)
            .field("base_path_map", &self.base_path_map.to_string())
            .field("auth_mode", &self.auth_mode)
            .field("header_name", &self.header_name)
            .field("secret_key_name", &self.secret_key_name)
            .field(
                "secrets_manager_timeout_ms",
                &self.secrets_manager_timeout_ms,
            )
            .field("metrics_namespace", &self.metrics_namespace)
            .field("jwt", &self.jwt)
            .finish()
    }
}

impl Config {
    /// Default `PREVIOUS_KEY_GRACE_SECS`: 60 minutes. The rotator finishes without
    /// waiting for CloudFront to deploy, so the previous key must outlive every request
    /// an edge still running the old version signs: the worst propagation reported
    /// (45 minutes; AWS's own waiter allows 35), plus the signature's maximum age (300 s)
    /// for origin retries, plus the rotation's own duration, which a cold start's
    /// estimate of the demotion time eats into (four steps of at most 60 s each; see the
    /// README). 45 + 5 + 4 = 54 minutes, rounded up to an hour for margin. A later
    /// warm-cache notice of the demotion only extends it, by at most one cache TTL.
    pub const DEFAULT_PREVIOUS_KEY_GRACE_SECS: u64 = 3600;
    /// Default `CACHE_TTL_SECS`: 5 minutes; an unknown `keyid` refreshes sooner.
    pub const DEFAULT_CACHE_TTL_SECS: u64 = 300;
    /// Default `MAX_STALE_SECS`: 24 hours of Secrets Manager outage before failing
    /// closed. While Secrets Manager is unreachable nobody can rotate or revoke a key
    /// through it either, so the held keys are still the secret's keys; the previous
    /// key's grace still ends on time (its deadline is in the snapshot). What a long
    /// window gives up is in docs/security.md ("Secrets Manager outage").
    pub const DEFAULT_MAX_STALE_SECS: u64 = 86_400;
    /// Default `REFRESH_RETRY_SECS`.
    pub const DEFAULT_REFRESH_RETRY_SECS: u64 = 10;
    /// Default `UNKNOWN_KEY_MIN_INTERVAL_SECS`.
    pub const DEFAULT_UNKNOWN_KEY_MIN_INTERVAL_SECS: u64 = 10;
    /// Default `HEADER_NAME`, as in the static-header authorizers.
    pub const DEFAULT_HEADER_NAME: &'static str = "x-origin-verify";
    /// Default `SECRETS_MANAGER_TIMEOUT_MS`.
    pub const DEFAULT_SECRETS_MANAGER_TIMEOUT_MS: u64 = 2000;
    /// Default `METRICS_NAMESPACE`.
    pub const DEFAULT_METRICS_NAMESPACE: &'static str = "edgeseal";

    /// Read the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let secret_id = get("SECRET_ID")
            .or_else(|| get("SECRET_NAME"))
            .ok_or(ConfigError::Missing("SECRET_ID"))?
            .trim()
            .to_owned();

        let label = get("SIGNATURE_LABEL").unwrap_or_else(|| DEFAULT_LABEL.to_owned());
        let tag = match lookup("SIGNATURE_TAG") {
            None => Some(DEFAULT_TAG.to_owned()),
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.trim().to_owned()),
        };
        Verifier::new(&label)
            .map_err(|e| ConfigError::invalid("SIGNATURE_LABEL", e.to_string()))?;
        Verifier::default()
            .with_tag(tag.as_deref())
            .map_err(|e| ConfigError::invalid("SIGNATURE_TAG", e.to_string()))?;

        let secs = |var: &'static str, default: u64| whole_number(&get, var, default);
        let max_age_secs = secs("MAX_AGE_SECS", Verifier::DEFAULT_MAX_AGE_SECS)?;
        let clock_skew_secs = secs("CLOCK_SKEW_SECS", Verifier::DEFAULT_SKEW_SECS)?;
        let previous_key_grace_secs = secs(
            "PREVIOUS_KEY_GRACE_SECS",
            Self::DEFAULT_PREVIOUS_KEY_GRACE_SECS,
        )?;
        let cache_ttl_secs = secs("CACHE_TTL_SECS", Self::DEFAULT_CACHE_TTL_SECS)?;
        let max_stale_secs = secs("MAX_STALE_SECS", Self::DEFAULT_MAX_STALE_SECS)?;
        let refresh_retry_secs = secs("REFRESH_RETRY_SECS", Self::DEFAULT_REFRESH_RETRY_SECS)?;
        let unknown_key_min_interval_secs = secs(
            "UNKNOWN_KEY_MIN_INTERVAL_SECS",
            Self::DEFAULT_UNKNOWN_KEY_MIN_INTERVAL_SECS,
        )?;
        let secrets_manager_timeout_ms = secs(
            "SECRETS_MANAGER_TIMEOUT_MS",
            Self::DEFAULT_SECRETS_MANAGER_TIMEOUT_MS,
        )?;
        if max_age_secs == 0 {
            return Err(ConfigError::invalid("MAX_AGE_SECS", "must be at least 1"));
        }
        if secrets_manager_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "SECRETS_MANAGER_TIMEOUT_MS",
                "must be at least 1",
            ));
        }

        let response_mode = match get("RESPONSE_MODE").as_deref().map(str::trim) {
            None | Some("simple") => ResponseMode::Simple,
            Some("iam") => ResponseMode::Iam,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "RESPONSE_MODE",
                    format!("expected simple or iam, got {other:?}"),
                ));
            }
        };
        let auth_mode = match get("AUTH_MODE").as_deref().map(str::trim) {
            None | Some("signature") => AuthMode::Signature,
            Some("static-header") => AuthMode::StaticHeader,
            Some("migration") => AuthMode::Migration,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "AUTH_MODE",
                    format!("expected signature, static-header or migration, got {other:?}"),
                ));
            }
        };

        let base_path_map = match (get("BASE_PATH_MAP"), get("PATH_PREFIX")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "BASE_PATH_MAP",
                    "set either BASE_PATH_MAP or PATH_PREFIX, not both (PATH_PREFIX=/v1 is BASE_PATH_MAP==/v1)",
                ));
            }
            (Some(map), None) => BasePathMap::parse(&map)
                .map_err(|e| ConfigError::invalid("BASE_PATH_MAP", e.to_string()))?,
            (None, Some(prefix)) => BasePathMap::prefix(prefix.trim())
                .map_err(|e| ConfigError::invalid("PATH_PREFIX", e.to_string()))?,
            (None, None) => BasePathMap::default(),
        };

        let header_name = get("HEADER_NAME")
            .map(|h| h.trim().to_ascii_lowercase())
            .unwrap_or_else(|| Self::DEFAULT_HEADER_NAME.to_owned());
        if !header_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(ConfigError::invalid(
                "HEADER_NAME",
                "expected an HTTP header name",
            ));
        }
        let secret_key_name = get("SECRET_KEY_NAME").map(|s| s.trim().to_owned());
        let metrics_namespace = get("METRICS_NAMESPACE")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| Self::DEFAULT_METRICS_NAMESPACE.to_owned());
        let jwt = JwtConfig::from_lookup(&lookup)?;

        Ok(Self {
            secret_id,
            label,
            tag,
            max_age_secs,
            clock_skew_secs,
            previous_key_grace_secs,
            cache_ttl_secs,
            max_stale_secs,
            refresh_retry_secs,
            unknown_key_min_interval_secs,
            response_mode,
            base_path_map,
            auth_mode,
            header_name,
            secret_key_name,
            secrets_manager_timeout_ms,
            metrics_namespace,
            jwt,
        })
    }

    /// A configuration with every default, for `secret_id` (tests, benchmarks).
    pub fn with_secret_id(secret_id: &str) -> Self {
        let lookup = |name: &str| (name == "SECRET_ID").then(|| secret_id.to_owned());
        // The defaults are valid by construction; the fallback keeps this total.
        Self::from_lookup(lookup).unwrap_or_else(|_| Self {
            secret_id: secret_id.to_owned(),
            label: DEFAULT_LABEL.to_owned(),
            tag: Some(DEFAULT_TAG.to_owned()),
            max_age_secs: Verifier::DEFAULT_MAX_AGE_SECS,
            clock_skew_secs: Verifier::DEFAULT_SKEW_SECS,
            previous_key_grace_secs: Self::DEFAULT_PREVIOUS_KEY_GRACE_SECS,
            cache_ttl_secs: Self::DEFAULT_CACHE_TTL_SECS,
            max_stale_secs: Self::DEFAULT_MAX_STALE_SECS,
            refresh_retry_secs: Self::DEFAULT_REFRESH_RETRY_SECS,
            unknown_key_min_interval_secs: Self::DEFAULT_UNKNOWN_KEY_MIN_INTERVAL_SECS,
            response_mode: ResponseMode::Simple,
            base_path_map: BasePathMap::default(),
            auth_mode: AuthMode::Signature,
            header_name: Self::DEFAULT_HEADER_NAME.to_owned(),
            secret_key_name: None,
            secrets_manager_timeout_ms: Self::DEFAULT_SECRETS_MANAGER_TIMEOUT_MS,
            metrics_namespace: Self::DEFAULT_METRICS_NAMESPACE.to_owned(),
            jwt: None,
        })
    }

    /// The signature verifier these settings describe.
    pub fn verifier(&self) -> Result<Verifier, ConfigError> {
        Verifier::new(&self.label)
            .map_err(|e| ConfigError::invalid("SIGNATURE_LABEL", e.to_string()))?
            .with_tag(self.tag.as_deref())
            .map_err(|e| ConfigError::invalid("SIGNATURE_TAG", e.to_string()))
            .map(|v| {
                v.with_max_age_secs(self.max_age_secs)
                    .with_skew_secs(self.clock_skew_secs)
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_only_the_secret() {
        let c = from(&[("SECRET_ID", "edgeseal/key")]).unwrap();
        assert_eq!(c, Config::with_secret_id("edgeseal/key"));
        assert_eq!(c.label, "edgeseal");
        assert_eq!(c.tag.as_deref(), Some("edgeseal"));
        assert_eq!(c.max_age_secs, 300);
        assert_eq!(c.clock_skew_secs, 10);
        assert_eq!(c.previous_key_grace_secs, 3600);
        assert_eq!(c.cache_ttl_secs, 300);
        assert_eq!(c.response_mode, ResponseMode::Simple);
        assert_eq!(c.auth_mode, AuthMode::Signature);
        assert_eq!(c.header_name, "x-origin-verify");
        assert!(c.base_path_map.is_empty());
        assert_eq!(c.secret_key_name, None);
    }

    #[test]
    fn missing_secret_names_the_variable() {
        let err = from(&[]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("SECRET_ID"));
        assert_eq!(err.to_string(), "SECRET_ID is required but not set");
        assert!(from(&[("SECRET_ID", "  ")]).is_err());
    }

    #[test]
    fn secret_name_is_accepted_as_the_static_header_authorizers_name() {
        let c = from(&[("SECRET_NAME", "legacy")]).unwrap();
        assert_eq!(c.secret_id, "legacy");
        let c = from(&[("SECRET_NAME", "legacy"), ("SECRET_ID", "new")]).unwrap();
        assert_eq!(c.secret_id, "new");
    }

    #[test]
    fn each_malformed_variable_is_named() {
        let cases = [
            ("MAX_AGE_SECS", "five"),
            ("MAX_AGE_SECS", "0"),
            ("CLOCK_SKEW_SECS", "-1"),
            ("PREVIOUS_KEY_GRACE_SECS", "1.5"),
            ("CACHE_TTL_SECS", "x"),
            ("MAX_STALE_SECS", "x"),
            ("REFRESH_RETRY_SECS", "x"),
            ("UNKNOWN_KEY_MIN_INTERVAL_SECS", "x"),
            ("SECRETS_MANAGER_TIMEOUT_MS", "0"),
            ("RESPONSE_MODE", "policy"),
            ("AUTH_MODE", "header"),
            ("PATH_PREFIX", "/v1?x"),
            ("BASE_PATH_MAP", "/prod"),
            ("BASE_PATH_MAP", "/prod=/v 1"),
            ("HEADER_NAME", "x origin"),
            ("SIGNATURE_LABEL", "Upper"),
            ("SIGNATURE_TAG", "a\"b"),
        ];
        for (var, value) in cases {
            let err = from(&[("SECRET_ID", "s"), (var, value)]).unwrap_err();
            match &err {
                ConfigError::Invalid { var: named, .. } => assert_eq!(*named, var, "{err}"),
                other => panic!("{var}: {other:?}"),
            }
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn modes_prefix_and_header_parse() {
        let c = from(&[
            ("SECRET_ID", "s"),
            ("RESPONSE_MODE", "iam"),
            ("AUTH_MODE", "migration"),
            ("PATH_PREFIX", "v1/"),
            ("HEADER_NAME", "X-Origin-Verify"),
            ("SECRET_KEY_NAME", "my_key"),
            ("SIGNATURE_TAG", ""),
        ])
        .unwrap();
        assert_eq!(c.response_mode, ResponseMode::Iam);
        assert_eq!(c.auth_mode, AuthMode::Migration);
        assert_eq!(c.base_path_map.apply("/orders"), "/v1/orders");
        assert_eq!(c.header_name, "x-origin-verify");
        assert_eq!(c.secret_key_name.as_deref(), Some("my_key"));
        assert_eq!(c.tag, None);
        assert!(
            from(&[("SECRET_ID", "s"), ("PATH_PREFIX", "/")])
                .unwrap()
                .base_path_map
                .is_empty()
        );
        let mapped = from(&[("SECRET_ID", "s"), ("BASE_PATH_MAP", "/prod=/v1")]).unwrap();
        assert_eq!(mapped.base_path_map.apply("/prod/x"), "/v1/x");
        let both = from(&[
            ("SECRET_ID", "s"),
            ("BASE_PATH_MAP", "/prod=/v1"),
            ("PATH_PREFIX", "/v1"),
        ])
        .unwrap_err();
        assert!(both.to_string().starts_with("BASE_PATH_MAP"), "{both}");
        assert_eq!(
            from(&[("SECRET_ID", "s"), ("AUTH_MODE", "static-header")])
                .unwrap()
                .auth_mode,
            AuthMode::StaticHeader
        );
    }
}

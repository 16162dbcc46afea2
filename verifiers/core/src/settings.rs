//! Settings, read once with the authorizer's variable names (origin-verifier/README.md).

use edgeseal::accepted::KeyRules;
use edgeseal::env::{OriginSettings, whole_number};
use edgeseal::{DEFAULT_LABEL, DEFAULT_TAG, Verifier};

/// Why the settings could not be read: a variable missing or invalid, always named
/// (`edgeseal::env::EnvVarError`, shared with the authorizer and the rotator).
pub use edgeseal::env::EnvVarError as SettingsError;

/// A verifier's settings. Names and defaults are the authorizer's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `SECRET_ID` (or `SECRET_NAME`): secret id, name or ARN.
    pub secret_id: String,
    /// `SIGNATURE_LABEL`.
    pub label: String,
    /// `SIGNATURE_TAG` (empty: any).
    pub tag: Option<String>,
    /// `MAX_AGE_SECS`.
    pub max_age_secs: u64,
    /// `CLOCK_SKEW_SECS`.
    pub clock_skew_secs: u64,
    /// `CACHE_TTL_SECS`, `MAX_STALE_SECS`, `REFRESH_RETRY_SECS`,
    /// `UNKNOWN_KEY_MIN_INTERVAL_SECS`, `PREVIOUS_KEY_GRACE_SECS`, `SECRET_KEY_NAME`.
    pub key_rules: KeyRules,
    /// `SECRETS_MANAGER_TIMEOUT_MS`: per-call timeout the host gives its SDK.
    pub secrets_manager_timeout_ms: u64,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `SIGNING_PROFILE`, `REQUIRE_CONTENT_DIGEST` and `MAX_BODY_BYTES`, the tower
    /// layer's names and defaults ([`OriginSettings`]).
    pub origin: OriginSettings,
}

/// Every variable read, for hosts that map their option names onto these.
pub const VARIABLES: [&str; 17] = [
    "SECRET_ID",
    "SECRET_NAME",
    "SIGNATURE_LABEL",
    "SIGNATURE_TAG",
    "MAX_AGE_SECS",
    "CLOCK_SKEW_SECS",
    "PREVIOUS_KEY_GRACE_SECS",
    "CACHE_TTL_SECS",
    "MAX_STALE_SECS",
    "REFRESH_RETRY_SECS",
    "UNKNOWN_KEY_MIN_INTERVAL_SECS",
    "SECRETS_MANAGER_TIMEOUT_MS",
    "SECRET_KEY_NAME",
    "METRICS_NAMESPACE",
    "SIGNING_PROFILE",
    "REQUIRE_CONTENT_DIGEST",
    "MAX_BODY_BYTES",
];

impl Settings {
    /// Read settings through `lookup` (the environment merged with the host's options).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secret_id = get("SECRET_ID")
            .or_else(|| get("SECRET_NAME"))
            .ok_or(SettingsError::Missing("SECRET_ID"))?
            .trim()
            .to_owned();
        let label = get("SIGNATURE_LABEL").map_or_else(|| DEFAULT_LABEL.to_owned(), trimmed);
        let tag = match lookup("SIGNATURE_TAG") {
            None => Some(DEFAULT_TAG.to_owned()),
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(trimmed(v)),
        };
        let secs = |var: &'static str, default: u64| whole_number(&get, var, default);
        let defaults = KeyRules::default();
        let settings = Self {
            secret_id,
            label,
            tag,
            max_age_secs: secs("MAX_AGE_SECS", Verifier::DEFAULT_MAX_AGE_SECS)?,
            clock_skew_secs: secs("CLOCK_SKEW_SECS", Verifier::DEFAULT_SKEW_SECS)?,
            key_rules: KeyRules {
                ttl_secs: secs("CACHE_TTL_SECS", defaults.ttl_secs)?,
                max_stale_secs: secs("MAX_STALE_SECS", defaults.max_stale_secs)?,
                retry_secs: secs("REFRESH_RETRY_SECS", defaults.retry_secs)?,
                unknown_key_min_interval_secs: secs(
                    "UNKNOWN_KEY_MIN_INTERVAL_SECS",
                    defaults.unknown_key_min_interval_secs,
                )?,
                previous_grace_secs: secs("PREVIOUS_KEY_GRACE_SECS", defaults.previous_grace_secs)?,
                secret_key_name: get("SECRET_KEY_NAME").map(trimmed),
            },
            secrets_manager_timeout_ms: secs("SECRETS_MANAGER_TIMEOUT_MS", 2000)?,
            metrics_namespace: get("METRICS_NAMESPACE")
                .map_or_else(|| "edgeseal".to_owned(), trimmed),
            origin: OriginSettings::from_lookup(&get)?,
        };
        for (var, value) in [
            ("MAX_AGE_SECS", settings.max_age_secs),
            (
                "SECRETS_MANAGER_TIMEOUT_MS",
                settings.secrets_manager_timeout_ms,
            ),
        ] {
            if value == 0 {
                return Err(SettingsError::invalid(var, "must be at least 1"));
            }
        }
        settings.verifier()?;
        Ok(settings)
    }

    /// The signature verifier these settings describe.
    pub fn verifier(&self) -> Result<Verifier, SettingsError> {
        Ok(Verifier::new(&self.label)
            .map_err(|e| SettingsError::invalid("SIGNATURE_LABEL", e.to_string()))?
            .with_tag(self.tag.as_deref())
            .map_err(|e| SettingsError::invalid("SIGNATURE_TAG", e.to_string()))?
            .with_max_age_secs(self.max_age_secs)
            .with_skew_secs(self.clock_skew_secs)
            .with_body_required(self.origin.require_content_digest))
    }
}

fn trimmed(value: String) -> String {
    value.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_are_the_authorizers() {
        let s = read(&[("SECRET_ID", "arn:aws:secretsmanager:us-east-1:1:secret:x")]).unwrap();
        assert_eq!(s.key_rules, KeyRules::default());
        assert_eq!(s.max_age_secs, 300);
        assert_eq!(s.clock_skew_secs, 10);
        assert_eq!(s.tag.as_deref(), Some("edgeseal"));
        assert_eq!(s.metrics_namespace, "edgeseal");
        assert_eq!(s.origin, OriginSettings::default());
        assert_eq!(read(&[("SECRET_NAME", "n")]).unwrap().secret_id, "n");
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(read(&[]).unwrap_err(), SettingsError::Missing("SECRET_ID"));
        let err = read(&[("SECRET_ID", "s"), ("CACHE_TTL_SECS", "5m")]).unwrap_err();
        assert!(
            err.to_string().starts_with("CACHE_TTL_SECS is invalid"),
            "{err}"
        );
        let err = read(&[("SECRET_ID", "s"), ("SIGNATURE_LABEL", "Bad Label")]).unwrap_err();
        assert!(err.to_string().starts_with("SIGNATURE_LABEL"), "{err}");
        let err = read(&[("SECRET_ID", "s"), ("SIGNING_PROFILE", "fast")]).unwrap_err();
        assert!(
            err.to_string().starts_with("SIGNING_PROFILE is invalid"),
            "{err}"
        );
        let p = read(&[("SECRET_ID", "s"), ("SIGNING_PROFILE", "apigateway")]).unwrap();
        assert_eq!(p.origin.profile, edgeseal::Profile::ApiGateway);
        for (var, value) in [("REQUIRE_CONTENT_DIGEST", "yes"), ("MAX_BODY_BYTES", "-1")] {
            let err = read(&[("SECRET_ID", "s"), (var, value)]).unwrap_err();
            assert!(
                err.to_string().starts_with(&format!("{var} is invalid")),
                "{err}"
            );
        }
        let body = read(&[
            ("SECRET_ID", "s"),
            ("REQUIRE_CONTENT_DIGEST", "true"),
            ("MAX_BODY_BYTES", "10"),
        ])
        .unwrap();
        assert!(body.origin.require_content_digest && body.verifier().unwrap().body_required());
        assert_eq!(body.origin.max_body_bytes, 10);
        let err = read(&[("SECRET_ID", "s"), ("MAX_AGE_SECS", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("MAX_AGE_SECS"), "{err}");
    }

    #[test]
    fn an_empty_tag_accepts_any() {
        let s = read(&[("SECRET_ID", "s"), ("SIGNATURE_TAG", "")]).unwrap();
        assert_eq!(s.tag, None);
    }
}

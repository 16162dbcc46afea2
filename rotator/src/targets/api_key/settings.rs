//! Settings of the `api-gateway-api-key` target, read once at cold start.
//!
//! Names follow the prior art where it has one: the API Gateway + WAF blog (part 2) sends
//! the key as `x-api-key` and names its keys `CloudFront-<timestamp>`; the static-header
//! rotators call the generated value's length `SECRET_KEY_LENGTH`; the authorizer calls
//! the previous key's overlap `PREVIOUS_KEY_GRACE_SECS`.

use std::time::Duration;

use crate::env::ConfigError;

/// API Gateway's bounds on an API key value: 20 to 128 characters (developer guide,
/// "Usage plans and API keys for REST APIs": an alphanumeric string of 20 to 128
/// characters; `CreateApiKey` refuses shorter values).
pub(crate) const VALUE_LENGTHS: std::ops::RangeInclusive<usize> = 20..=128;

/// Settings of the `api-gateway-api-key` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// `USAGE_PLAN_ID` (required): the usage plan(s) of the REST API stage(s) the
    /// distributions reach, comma-separated. Adopted, never created.
    pub usage_plans: Vec<String>,
    /// `API_KEY_HEADER_NAME`, default `x-api-key` (what API Gateway reads when the API's
    /// key source is `HEADER`): the origin custom header CloudFront sends, lowercase.
    pub header_name: String,
    /// `API_KEY_NAME_PREFIX`, default `CloudFront-` (the blog's names): a key made for
    /// secret version `V` is named `<prefix>V`.
    pub name_prefix: String,
    /// `SECRET_KEY_LENGTH`, default 40 (the length of the values API Gateway generates
    /// itself), 20 to 128.
    pub value_length: usize,
    /// `PREVIOUS_KEY_GRACE_SECS`, default 3600: how long the AWSPREVIOUS key stays in the
    /// usage plans after the rotation that demoted it (counted from AWSCURRENT's
    /// creation, as the authorizer counts it).
    pub previous_grace: Duration,
    /// `API_KEY_PROPAGATION_SECS`, default 10: how long after a key is linked before
    /// CloudFront may send it (API Gateway nodes learn of a new key seconds late; the one
    /// published workaround waits 10 s, moduspwnens/boa-chat#1), on top of the origin
    /// accepting it in a row. 0 to 300.
    pub propagation: Duration,
    /// `API_KEY_PROBE_INTERVAL_MS`, default 1000 (10 to 10,000): the pause between the
    /// origin probes that must accept a new key in a row (as `WAF_PROBE_INTERVAL_MS`).
    pub probe_interval: Duration,
}

impl ApiKeySettings {
    /// `API_KEY_HEADER_NAME`'s default.
    pub const DEFAULT_HEADER_NAME: &'static str = "x-api-key";
    /// `API_KEY_NAME_PREFIX`'s default.
    pub const DEFAULT_NAME_PREFIX: &'static str = "CloudFront-";
    /// `SECRET_KEY_LENGTH`'s default for this target.
    pub const DEFAULT_VALUE_LENGTH: usize = 40;
    /// `PREVIOUS_KEY_GRACE_SECS`' default: the authorizer's, for the same reasons (the
    /// worst CloudFront propagation reported, plus the rotation's own duration).
    pub const DEFAULT_PREVIOUS_GRACE_SECS: u64 = 3600;
    /// `API_KEY_PROPAGATION_SECS`' default.
    pub const DEFAULT_PROPAGATION_SECS: u64 = 10;
    /// `API_KEY_PROBE_INTERVAL_MS`' default.
    pub const DEFAULT_PROBE_INTERVAL_MS: u64 = 1_000;

    /// Read the settings through `lookup` (the environment, or a map in tests). Empty
    /// values count as unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let usage_plans: Vec<String> = get("USAGE_PLAN_ID")
            .ok_or(ConfigError::Missing("USAGE_PLAN_ID"))?
            .split(',')
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .collect();
        if usage_plans.is_empty() {
            return Err(ConfigError::Missing("USAGE_PLAN_ID"));
        }
        if usage_plans
            .iter()
            .any(|id| !id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(invalid(
                "USAGE_PLAN_ID",
                "usage plan ids are alphanumeric, separated by commas",
            ));
        }

        let header_name = get("API_KEY_HEADER_NAME")
            .unwrap_or_else(|| Self::DEFAULT_HEADER_NAME.to_owned())
            .to_ascii_lowercase();
        if http::HeaderName::from_bytes(header_name.as_bytes()).is_err() {
            return Err(invalid(
                "API_KEY_HEADER_NAME",
                "not a valid HTTP header name",
            ));
        }

        let name_prefix =
            get("API_KEY_NAME_PREFIX").unwrap_or_else(|| Self::DEFAULT_NAME_PREFIX.to_owned());
        // Names are up to 1024 characters; a version id (up to 64) follows the prefix.
        if name_prefix.len() > 256 || !name_prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "API_KEY_NAME_PREFIX",
                "at most 256 printable ASCII characters without spaces",
            ));
        }

        let value_length = match get("SECRET_KEY_LENGTH") {
            None => Self::DEFAULT_VALUE_LENGTH,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if VALUE_LENGTHS.contains(&n) => n,
                Ok(_) => {
                    return Err(invalid(
                        "SECRET_KEY_LENGTH",
                        "API Gateway API keys are 20 to 128 characters",
                    ));
                }
                Err(_) => return Err(invalid("SECRET_KEY_LENGTH", "not a whole number")),
            },
        };

        let previous_grace = match get("PREVIOUS_KEY_GRACE_SECS") {
            None => Duration::from_secs(Self::DEFAULT_PREVIOUS_GRACE_SECS),
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n <= 30 * 24 * 3600 => Duration::from_secs(n),
                Ok(_) => return Err(invalid("PREVIOUS_KEY_GRACE_SECS", "at most 30 days")),
                Err(_) => return Err(invalid("PREVIOUS_KEY_GRACE_SECS", "not a whole number")),
            },
        };

        let propagation = match get("API_KEY_PROPAGATION_SECS") {
            None => Duration::from_secs(Self::DEFAULT_PROPAGATION_SECS),
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n <= 300 => Duration::from_secs(n),
                Ok(_) => return Err(invalid("API_KEY_PROPAGATION_SECS", "at most 300")),
                Err(_) => return Err(invalid("API_KEY_PROPAGATION_SECS", "not a whole number")),
            },
        };

        let probe_interval = Duration::from_millis(crate::env::number(
            &get,
            "API_KEY_PROBE_INTERVAL_MS",
            Self::DEFAULT_PROBE_INTERVAL_MS,
            10,
            10_000,
        )?);

        Ok(Self {
            usage_plans,
            header_name,
            name_prefix,
            value_length,
            previous_grace,
            propagation,
            probe_interval,
        })
    }
}

fn invalid(var: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::invalid(var, reason)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<ApiKeySettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ApiKeySettings::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_blog_and_api_gateway() {
        let s = settings(&[("USAGE_PLAN_ID", "abc123")]).unwrap();
        assert_eq!(s.usage_plans, ["abc123"]);
        assert_eq!(s.header_name, "x-api-key");
        assert_eq!(s.name_prefix, "CloudFront-");
        assert_eq!(s.value_length, 40);
        assert_eq!(s.previous_grace, Duration::from_secs(3600));
        assert_eq!(s.propagation, Duration::from_secs(10));
        assert_eq!(s.probe_interval, Duration::from_secs(1));
    }

    #[test]
    fn several_plans_and_overrides_are_read() {
        let s = settings(&[
            ("USAGE_PLAN_ID", " p1, p2 ,"),
            ("API_KEY_HEADER_NAME", "X-Api-Key"),
            ("API_KEY_NAME_PREFIX", "edge-"),
            ("SECRET_KEY_LENGTH", "128"),
            ("PREVIOUS_KEY_GRACE_SECS", "0"),
            ("API_KEY_PROPAGATION_SECS", "2"),
            ("API_KEY_PROBE_INTERVAL_MS", "250"),
        ])
        .unwrap();
        assert_eq!(s.usage_plans, ["p1", "p2"]);
        assert_eq!(s.header_name, "x-api-key");
        assert_eq!(s.name_prefix, "edge-");
        assert_eq!(s.value_length, 128);
        assert_eq!(s.previous_grace, Duration::ZERO);
        assert_eq!(s.propagation, Duration::from_secs(2));
        assert_eq!(s.probe_interval, Duration::from_millis(250));
    }

    #[test]
    fn a_missing_usage_plan_is_named() {
        assert_eq!(
            settings(&[]).unwrap_err(),
            ConfigError::Missing("USAGE_PLAN_ID")
        );
        assert_eq!(
            settings(&[("USAGE_PLAN_ID", " , ")]).unwrap_err(),
            ConfigError::Missing("USAGE_PLAN_ID")
        );
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases = [
            ("USAGE_PLAN_ID", "abc 123"),
            ("API_KEY_HEADER_NAME", "x api key"),
            ("API_KEY_NAME_PREFIX", "has space"),
            ("SECRET_KEY_LENGTH", "19"),
            ("SECRET_KEY_LENGTH", "129"),
            ("SECRET_KEY_LENGTH", "forty"),
            ("PREVIOUS_KEY_GRACE_SECS", "-1"),
            ("PREVIOUS_KEY_GRACE_SECS", "99999999"),
            ("API_KEY_PROPAGATION_SECS", "301"),
            ("API_KEY_PROBE_INTERVAL_MS", "9"),
            ("API_KEY_PROBE_INTERVAL_MS", "10001"),
        ];
        for (var, value) in cases {
            let mut vars = vec![("USAGE_PLAN_ID", "plan1")];
            vars.retain(|(k, _)| *k != var);
            vars.push((var, value));
            let err = settings(&vars).unwrap_err();
            assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
        }
    }
}

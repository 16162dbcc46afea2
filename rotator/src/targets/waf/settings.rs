//! Settings of the WAF header rule, read once at cold start.
//!
//! The web ACL keeps the variable names of AWS's "CloudFront origin security with WAF and
//! Secrets Manager" solution (`WAFACLNAME`, `WAFACLID`), whose rotation function updates
//! the same kind of rule. Its `WAFRULEPRI` (the rule found by priority and rewritten
//! whole) becomes `WAF_RULE_NAME`: the rule is found by name and only its statement
//! changes; `STACKNAME` only built that name (`<stack>XOriginVerify`). The header is the
//! static-header target's `HEADER_NAME`.

use std::time::Duration;

use super::api::WebAclRef;
use super::statement::{MAX_HEADER_NAME_BYTES, MAX_SEARCH_STRING_BYTES};
use crate::env::{ConfigError, invalid, number};

/// Where the header rule is and how its changes are proven applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WafSettings {
    /// `WAFACLNAME` and `WAFACLID`: the regional web ACL in front of the origin.
    pub web_acl: WebAclRef,
    /// `WAF_REGION`, default the rotator's own region: where the web ACL lives.
    pub region: Option<String>,
    /// `WAF_RULE_NAME`: the rule whose statement holds the accepted header values.
    pub rule_name: String,
    /// `WAF_SETTLE_SECS`, default 30: after a change, how long every probe with the
    /// new value must pass before CloudFront is made to send it.
    pub settle: Duration,
    /// `WAF_PROBE_INTERVAL_MS`, default 1000: the pause between those probes.
    pub probe_interval: Duration,
    /// `WAF_UPDATE_ATTEMPTS`, default 5: tries of GetWebACL + UpdateWebACL when another
    /// writer changed the web ACL in between (`WAFOptimisticLockException`).
    pub update_attempts: u32,
}

impl WafSettings {
    /// Default `WAF_SETTLE_SECS`.
    pub const DEFAULT_SETTLE_SECS: u64 = 30;
    /// Default `WAF_PROBE_INTERVAL_MS`.
    pub const DEFAULT_PROBE_INTERVAL_MS: u64 = 1_000;
    /// Default `WAF_UPDATE_ATTEMPTS`.
    pub const DEFAULT_UPDATE_ATTEMPTS: u32 = 5;

    /// The variables that configure the web ACL: setting one selects the `waf` target
    /// when `ROTATION_TARGET` is unset, and is refused with another target.
    pub const VARIABLES: [&'static str; 3] = ["WAFACLID", "WAFACLNAME", "WAF_RULE_NAME"];

    /// Read the settings through `get` (trimmed; empty counts as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (name, id, rule_name) = (get("WAFACLNAME"), get("WAFACLID"), get("WAF_RULE_NAME"));
        let name = name.ok_or(ConfigError::Missing("WAFACLNAME"))?;
        if !entity_name(&name) {
            return Err(invalid(
                "WAFACLNAME",
                "a web ACL name is 1-128 letters, digits, `-` or `_`",
            ));
        }
        let id = id.ok_or(ConfigError::Missing("WAFACLID"))?;
        if id.len() > 36 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid(
                "WAFACLID",
                "a web ACL id is up to 36 letters, digits and `-` (the id in its ARN)",
            ));
        }
        let rule_name = rule_name.ok_or(ConfigError::Missing("WAF_RULE_NAME"))?;
        if !entity_name(&rule_name) {
            return Err(invalid(
                "WAF_RULE_NAME",
                "a rule name is 1-128 letters, digits, `-` or `_`",
            ));
        }
        let region = get("WAF_REGION");
        if region.as_deref().is_some_and(|r| {
            !r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }) {
            return Err(invalid("WAF_REGION", "not a region name (e.g. eu-west-1)"));
        }
        Ok(Self {
            web_acl: WebAclRef { name, id },
            region,
            rule_name,
            settle: Duration::from_secs(number(
                get,
                "WAF_SETTLE_SECS",
                Self::DEFAULT_SETTLE_SECS,
                0,
                840,
            )?),
            probe_interval: Duration::from_millis(number(
                get,
                "WAF_PROBE_INTERVAL_MS",
                Self::DEFAULT_PROBE_INTERVAL_MS,
                10,
                60_000,
            )?),
            update_attempts: u32::try_from(number(
                get,
                "WAF_UPDATE_ATTEMPTS",
                u64::from(Self::DEFAULT_UPDATE_ATTEMPTS),
                1,
                50,
            )?)
            .map_err(|_| invalid("WAF_UPDATE_ATTEMPTS", "too large"))?,
        })
    }

    /// What must hold between these settings and the rest of the configuration: WAF's
    /// limits on what the rule can hold, and a settle time that fits in a step.
    pub fn check_with(
        &self,
        header_name: &str,
        value_length: usize,
        max_step: Duration,
    ) -> Result<(), ConfigError> {
        if header_name.len() > MAX_HEADER_NAME_BYTES {
            return Err(invalid(
                "HEADER_NAME",
                "WAF inspects header names of at most 64 bytes",
            ));
        }
        if value_length > MAX_SEARCH_STRING_BYTES {
            return Err(invalid(
                "SECRET_KEY_LENGTH",
                "WAF search strings hold at most 200 bytes",
            ));
        }
        if self.settle + self.probe_interval >= max_step {
            return Err(invalid(
                "WAF_SETTLE_SECS",
                "must leave room in the step: below MAX_STEP_SECS minus one probe interval",
            ));
        }
        Ok(())
    }
}

/// WAF's `EntityName`: `^[\w\-]+$`, 1-128 characters.
fn entity_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<WafSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WafSettings::from_lookup(&|name| map.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 3] = [
        ("WAFACLNAME", "origin-acl"),
        ("WAFACLID", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"),
        ("WAF_RULE_NAME", "StackXOriginVerify"),
    ];

    #[test]
    fn the_prior_arts_names_are_read_with_documented_defaults() {
        let s = settings(&MINIMAL).unwrap();
        assert_eq!(s.web_acl.name, "origin-acl");
        assert_eq!(s.web_acl.id, "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111");
        assert_eq!(s.rule_name, "StackXOriginVerify");
        assert_eq!(s.region, None);
        assert_eq!(s.settle, Duration::from_secs(30));
        assert_eq!(s.probe_interval, Duration::from_secs(1));
        assert_eq!(s.update_attempts, 5);
        assert!(
            s.check_with("x-origin-verify", 32, Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn each_missing_variable_is_named() {
        for missing in ["WAFACLNAME", "WAFACLID", "WAF_RULE_NAME"] {
            let vars: Vec<_> = MINIMAL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            assert_eq!(settings(&vars).unwrap_err(), ConfigError::Missing(missing));
        }
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases = [
            ("WAFACLNAME", "has space"),
            ("WAFACLID", "not/an/id"),
            ("WAF_RULE_NAME", "rule:1"),
            ("WAF_REGION", "EU WEST"),
            ("WAF_SETTLE_SECS", "841"),
            ("WAF_SETTLE_SECS", "soon"),
            ("WAF_PROBE_INTERVAL_MS", "5"),
            ("WAF_UPDATE_ATTEMPTS", "0"),
        ];
        for (var, value) in cases {
            let mut vars: Vec<_> = MINIMAL.iter().copied().filter(|(k, _)| *k != var).collect();
            vars.push((var, value));
            let err = settings(&vars).unwrap_err();
            assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn waf_limits_and_the_step_budget_name_the_variable_to_change() {
        let s = settings(&MINIMAL).unwrap();
        let step = Duration::from_secs(60);
        let err = s.check_with(&"h".repeat(65), 32, step).unwrap_err();
        assert!(err.to_string().starts_with("HEADER_NAME"), "{err}");
        let err = s.check_with("x-origin-verify", 201, step).unwrap_err();
        assert!(err.to_string().starts_with("SECRET_KEY_LENGTH"), "{err}");
        assert!(s.check_with("x-origin-verify", 200, step).is_ok());
        let err = s
            .check_with("x-origin-verify", 32, Duration::from_secs(30))
            .unwrap_err();
        assert!(err.to_string().starts_with("WAF_SETTLE_SECS"), "{err}");
    }
}

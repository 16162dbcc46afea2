//! Configuration, read once from the environment at cold start.
//!
//! Every setting has a documented default where one makes sense; a missing or malformed
//! variable fails the cold start with an error naming it, never a rotation step.
//! The static-header variables keep the names and defaults of the rotators edgeseal
//! replaces (`CLOUDFRONT_DISTRIBUTION_ID`, `HEADER_NAME`, `ORIGIN_URL`, `SECRET_KEY_NAME`,
//! `SECRET_KEY_LENGTH`), so those deployments can swap the code and keep their settings.

use std::path::PathBuf;
use std::time::Duration;

use edgeseal::{DEFAULT_LABEL, Verifier};

/// What the rotation rotates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An edgeseal signing key: republish the Lambda@Edge signer carrying it.
    Signed,
    /// A static origin custom header (the `x-origin-verify` setups edgeseal replaces).
    StaticHeader,
}

impl Mode {
    /// The value of `ROTATION_MODE` naming this mode.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Signed => "signed",
            Mode::StaticHeader => "static-header",
        }
    }
}

/// Which status the origin test expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedStatus {
    /// Any 2xx.
    Success,
    /// Exactly this status.
    Exactly(u16),
}

impl ExpectedStatus {
    /// Whether `status` is what was expected.
    pub fn accepts(self, status: u16) -> bool {
        match self {
            ExpectedStatus::Success => (200..300).contains(&status),
            ExpectedStatus::Exactly(expected) => status == expected,
        }
    }
}

/// The request testSecret (and setSecret's pre-flight) sends straight to the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginTest {
    /// Full URL, query string included (`ORIGIN_URL`, path replaced by `ORIGIN_TEST_PATH`).
    pub url: http::Uri,
    /// `ORIGIN_TEST_METHOD`, default `GET`.
    pub method: http::Method,
    /// `ORIGIN_TEST_EXPECTED_STATUS`, default any 2xx.
    pub expected: ExpectedStatus,
    /// `ORIGIN_TEST_TIMEOUT_MS`, default 5000: the whole request, connect to last byte.
    pub timeout: Duration,
}

/// Settings of the signed mode: the edge function and how to package it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeSettings {
    /// `EDGE_FUNCTION_NAME`: name or ARN of the Lambda@Edge function (in us-east-1).
    pub function: String,
    /// `EDGE_ASSETS_DIR`, default `$LAMBDA_TASK_ROOT/edge-assets`.
    pub assets_dir: PathBuf,
    /// `SIGNATURE_LABEL`, default `edgeseal`.
    pub label: String,
    /// `SIGNATURE_MAX_AGE_SECS`, default 300 (what the edge writes into its config).
    pub max_age_secs: u64,
    /// `EDGE_KEEP_VERSIONS`, default 3: edgeseal-published versions kept by finishSecret.
    pub keep_versions: usize,
}

/// Settings of the static-header mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticHeaderSettings {
    /// `SECRET_KEY_LENGTH`, default 32: length of a generated header value.
    pub value_length: usize,
}

/// The rotator's whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `ROTATION_MODE` (`signed` / `static-header`); default `signed` when
    /// `EDGE_FUNCTION_NAME` is set, else `static-header` (the drop-in case).
    pub mode: Mode,
    /// `CLOUDFRONT_DISTRIBUTION_ID`: one id or several, comma-separated.
    pub distributions: Vec<String>,
    /// The origin test request.
    pub origin_test: OriginTest,
    /// `HEADER_NAME`, default `x-origin-verify`: the origin custom header (static-header
    /// mode), and how the origin test presents a legacy static current value.
    pub header_name: String,
    /// `SECRET_KEY_NAME`, default `HTTP_API_KEY`: the JSON field of static-header secrets.
    pub secret_key_name: String,
    /// Signed mode only.
    pub edge: Option<EdgeSettings>,
    /// Static-header mode only.
    pub static_header: Option<StaticHeaderSettings>,
    /// `WAIT_FOR_DEPLOYED`, default `false`: testSecret waits for every distribution to
    /// be `Deployed` (bounded by the step's deadline) and fails if one is not. Only for
    /// verifiers without a previous-key grace (the static-header authorizers edgeseal
    /// replaces); edgeseal's verifier keeps AWSPREVIOUS for the propagation (see the
    /// README's timing model).
    pub wait_for_deployed: bool,
    /// `MAX_STEP_SECS`, default 60: no step runs longer than this, whatever the Lambda's
    /// timeout and CloudFront's propagation time.
    pub max_step: Duration,
    /// `DEPLOY_POLL_INTERVAL_MS`, default 10000.
    pub deploy_poll_interval: Duration,
    /// `DEADLINE_MARGIN_MS`, default 5000: time left unused before the Lambda deadline,
    /// so a step reports its own error instead of being killed.
    pub deadline_margin: Duration,
    /// `DISTRIBUTION_UPDATE_ATTEMPTS`, default 5: tries of GetDistributionConfig +
    /// UpdateDistribution when the ETag goes stale in between.
    pub update_attempts: u32,
}

/// A variable that is missing or cannot be used. Always names the variable; never
/// echoes a value (none of these carries a secret, but the rule is simpler kept whole).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn invalid(var: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { var, reason }
}

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the configuration through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let edge_function = get("EDGE_FUNCTION_NAME");
        let mode = match get("ROTATION_MODE").as_deref() {
            Some("signed") => Mode::Signed,
            Some("static-header") => Mode::StaticHeader,
            Some(_) => {
                return Err(invalid(
                    "ROTATION_MODE",
                    "expected `signed` or `static-header`",
                ));
            }
            None if edge_function.is_some() => Mode::Signed,
            None => Mode::StaticHeader,
        };

        let distributions: Vec<String> = get("CLOUDFRONT_DISTRIBUTION_ID")
            .ok_or(ConfigError::Missing("CLOUDFRONT_DISTRIBUTION_ID"))?
            .split(',')
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .collect();
        if distributions.is_empty() {
            return Err(ConfigError::Missing("CLOUDFRONT_DISTRIBUTION_ID"));
        }
        if distributions
            .iter()
            .any(|id| !id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(invalid(
                "CLOUDFRONT_DISTRIBUTION_ID",
                "distribution ids are alphanumeric, separated by commas",
            ));
        }

        let origin_test = OriginTest {
            url: origin_url(
                &get("ORIGIN_URL").ok_or(ConfigError::Missing("ORIGIN_URL"))?,
                get("ORIGIN_TEST_PATH").as_deref(),
            )?,
            method: match get("ORIGIN_TEST_METHOD") {
                None => http::Method::GET,
                Some(m) if edgeseal::canonical::is_method(&m) => {
                    http::Method::from_bytes(m.as_bytes())
                        .map_err(|_| invalid("ORIGIN_TEST_METHOD", "not an HTTP method token"))?
                }
                Some(_) => return Err(invalid("ORIGIN_TEST_METHOD", "not an HTTP method token")),
            },
            expected: match get("ORIGIN_TEST_EXPECTED_STATUS").as_deref() {
                None | Some("2xx") => ExpectedStatus::Success,
                Some(s) => match s.parse::<u16>() {
                    Ok(code) if (100..=599).contains(&code) => ExpectedStatus::Exactly(code),
                    _ => {
                        return Err(invalid(
                            "ORIGIN_TEST_EXPECTED_STATUS",
                            "expected `2xx` or a status code 100-599",
                        ));
                    }
                },
            },
            timeout: Duration::from_millis(number(
                &get,
                "ORIGIN_TEST_TIMEOUT_MS",
                5_000,
                1,
                600_000,
            )?),
        };

        let header_name = get("HEADER_NAME").unwrap_or_else(|| "x-origin-verify".to_owned());
        if http::HeaderName::from_bytes(header_name.as_bytes()).is_err() {
            return Err(invalid("HEADER_NAME", "not a valid HTTP header name"));
        }
        let secret_key_name = get("SECRET_KEY_NAME").unwrap_or_else(|| "HTTP_API_KEY".to_owned());

        let (edge, static_header) = match mode {
            Mode::Signed => {
                let function = edge_function.ok_or(ConfigError::Missing("EDGE_FUNCTION_NAME"))?;
                // The rotator updates $LATEST and publishes versions: a version-qualified
                // ARN (`...:function:name:7`) or an alias cannot be updated.
                if function.starts_with("arn:") && function.split(':').count() != 7 {
                    return Err(invalid(
                        "EDGE_FUNCTION_NAME",
                        "give the function name or its unqualified ARN (no version or alias)",
                    ));
                }
                let assets_dir = match get("EDGE_ASSETS_DIR") {
                    Some(dir) => PathBuf::from(dir),
                    None => PathBuf::from(get("LAMBDA_TASK_ROOT").ok_or(invalid(
                        "EDGE_ASSETS_DIR",
                        "not set, and LAMBDA_TASK_ROOT (its default's base) is not set either",
                    ))?)
                    .join("edge-assets"),
                };
                let label = get("SIGNATURE_LABEL").unwrap_or_else(|| DEFAULT_LABEL.to_owned());
                if Verifier::new(&label).is_err() {
                    return Err(invalid(
                        "SIGNATURE_LABEL",
                        "not a valid signature label (lowercase RFC 8941 key)",
                    ));
                }
                let settings = EdgeSettings {
                    function,
                    assets_dir,
                    label,
                    max_age_secs: number(
                        &get,
                        "SIGNATURE_MAX_AGE_SECS",
                        Verifier::DEFAULT_MAX_AGE_SECS,
                        1,
                        edgeseal_edge_signer::MAX_MAX_AGE_SECS,
                    )?,
                    keep_versions: usize::try_from(number(
                        &get,
                        "EDGE_KEEP_VERSIONS",
                        3,
                        2,
                        1_000,
                    )?)
                    .map_err(|_| invalid("EDGE_KEEP_VERSIONS", "too large"))?,
                };
                (Some(settings), None)
            }
            Mode::StaticHeader => {
                let value_length = number(&get, "SECRET_KEY_LENGTH", 32, 16, 4_096)?;
                let value_length = usize::try_from(value_length)
                    .map_err(|_| invalid("SECRET_KEY_LENGTH", "too large"))?;
                (None, Some(StaticHeaderSettings { value_length }))
            }
        };

        Ok(Config {
            mode,
            distributions,
            origin_test,
            header_name: header_name.to_ascii_lowercase(),
            secret_key_name,
            edge,
            static_header,
            wait_for_deployed: boolean(&get, "WAIT_FOR_DEPLOYED", false)?,
            max_step: Duration::from_secs(number(&get, "MAX_STEP_SECS", 60, 1, 900)?),
            deploy_poll_interval: Duration::from_millis(number(
                &get,
                "DEPLOY_POLL_INTERVAL_MS",
                10_000,
                1,
                300_000,
            )?),
            deadline_margin: Duration::from_millis(number(
                &get,
                "DEADLINE_MARGIN_MS",
                5_000,
                0,
                600_000,
            )?),
            update_attempts: u32::try_from(number(&get, "DISTRIBUTION_UPDATE_ATTEMPTS", 5, 1, 50)?)
                .map_err(|_| invalid("DISTRIBUTION_UPDATE_ATTEMPTS", "too large"))?,
        })
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) => Err(invalid(var, "out of range (see the README for bounds)")),
            Err(_) => Err(invalid(var, "not a whole number")),
        },
    }
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(invalid(var, "expected true or false")),
    }
}

/// `ORIGIN_URL`, with its path and query replaced by `ORIGIN_TEST_PATH` when given.
/// The query string is kept: the prior art dropped it and so tested another request
/// than the one configured.
fn origin_url(url: &str, test_path: Option<&str>) -> Result<http::Uri, ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| invalid("ORIGIN_URL", "not a valid absolute URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
    if !scheme_ok || uri.authority().is_none() {
        return Err(invalid(
            "ORIGIN_URL",
            "must be an absolute http(s) URL with a host",
        ));
    }
    let Some(path) = test_path else {
        return Ok(uri);
    };
    if !path.starts_with('/') {
        return Err(invalid("ORIGIN_TEST_PATH", "must start with `/`"));
    }
    let mut parts = uri.into_parts();
    parts.path_and_query = Some(
        path.parse()
            .map_err(|_| invalid("ORIGIN_TEST_PATH", "not a valid path and query"))?,
    );
    http::Uri::from_parts(parts)
        .map_err(|_| invalid("ORIGIN_TEST_PATH", "not a valid path and query"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const STATIC_MINIMAL: [(&str, &str); 2] = [
        ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC"),
        ("ORIGIN_URL", "https://api.example.com/prod/health?probe=1"),
    ];

    #[test]
    fn static_header_drop_in_defaults_match_the_prior_art() {
        let c = config(&STATIC_MINIMAL).unwrap();
        assert_eq!(c.mode, Mode::StaticHeader);
        assert_eq!(c.distributions, ["E123ABC"]);
        assert_eq!(c.header_name, "x-origin-verify");
        assert_eq!(c.secret_key_name, "HTTP_API_KEY");
        assert_eq!(
            c.static_header,
            Some(StaticHeaderSettings { value_length: 32 })
        );
        assert_eq!(c.origin_test.url.query(), Some("probe=1"));
        assert_eq!(c.origin_test.method, http::Method::GET);
        assert_eq!(c.origin_test.expected, ExpectedStatus::Success);
        assert_eq!(c.origin_test.timeout, Duration::from_secs(5));
        assert!(!c.wait_for_deployed);
        assert_eq!(c.max_step, Duration::from_secs(60));
        assert!(c.edge.is_none());
    }

    #[test]
    fn signed_mode_is_chosen_by_the_edge_function_and_defaults_assets_to_the_task_root() {
        let mut vars = STATIC_MINIMAL.to_vec();
        vars.extend([
            ("EDGE_FUNCTION_NAME", "edge-signer"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
        ]);
        let c = config(&vars).unwrap();
        assert_eq!(c.mode, Mode::Signed);
        let edge = c.edge.unwrap();
        assert_eq!(edge.assets_dir, PathBuf::from("/var/task/edge-assets"));
        assert_eq!(edge.label, "edgeseal");
        assert_eq!(edge.max_age_secs, 300);
        assert_eq!(edge.keep_versions, 3);
    }

    #[test]
    fn each_missing_required_variable_is_named() {
        assert_eq!(
            config(&[("ORIGIN_URL", "https://x.example/")]).unwrap_err(),
            ConfigError::Missing("CLOUDFRONT_DISTRIBUTION_ID")
        );
        assert_eq!(
            config(&[("CLOUDFRONT_DISTRIBUTION_ID", "E1")]).unwrap_err(),
            ConfigError::Missing("ORIGIN_URL")
        );
        let mut vars = STATIC_MINIMAL.to_vec();
        vars.push(("ROTATION_MODE", "signed"));
        assert_eq!(
            config(&vars).unwrap_err(),
            ConfigError::Missing("EDGE_FUNCTION_NAME")
        );
        vars.push(("EDGE_FUNCTION_NAME", "f"));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("EDGE_ASSETS_DIR"), "{err}");
        vars.push(("EDGE_ASSETS_DIR", "/opt/assets"));
        vars.retain(|(k, _)| *k != "EDGE_FUNCTION_NAME");
        vars.push((
            "EDGE_FUNCTION_NAME",
            "arn:aws:lambda:us-east-1:123456789012:function:edge:7",
        ));
        let err = config(&vars).unwrap_err();
        assert!(
            err.to_string().starts_with("EDGE_FUNCTION_NAME is invalid"),
            "{err}"
        );
        vars.pop();
        vars.push((
            "EDGE_FUNCTION_NAME",
            "arn:aws:lambda:us-east-1:123456789012:function:edge",
        ));
        assert_eq!(
            config(&vars).unwrap().edge.unwrap().function,
            "arn:aws:lambda:us-east-1:123456789012:function:edge"
        );
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases: [(&str, &str); 13] = [
            ("MAX_STEP_SECS", "901"),
            ("ROTATION_MODE", "rotate"),
            ("ORIGIN_URL", "not a url"),
            ("ORIGIN_URL", "ftp://x.example/"),
            ("ORIGIN_TEST_PATH", "no-slash"),
            ("ORIGIN_TEST_METHOD", "GE T"),
            ("ORIGIN_TEST_EXPECTED_STATUS", "700"),
            ("ORIGIN_TEST_TIMEOUT_MS", "soon"),
            ("SECRET_KEY_LENGTH", "8"),
            ("HEADER_NAME", "bad header"),
            ("WAIT_FOR_DEPLOYED", "maybe"),
            ("CLOUDFRONT_DISTRIBUTION_ID", "E1,E 2"),
            ("DISTRIBUTION_UPDATE_ATTEMPTS", "0"),
        ];
        for (var, value) in cases {
            let mut vars: Vec<(&str, &str)> = STATIC_MINIMAL
                .iter()
                .copied()
                .filter(|(k, _)| *k != var)
                .collect();
            vars.push((var, value));
            let err = config(&vars).unwrap_err();
            assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn test_path_replaces_path_and_query_and_several_distributions_are_listed() {
        let c = config(&[
            ("CLOUDFRONT_DISTRIBUTION_ID", "E1, E2 ,"),
            ("ORIGIN_URL", "https://api.example.com/prod"),
            ("ORIGIN_TEST_PATH", "/prod/ping?b=2&a=1"),
            ("ORIGIN_TEST_METHOD", "HEAD"),
            ("ORIGIN_TEST_EXPECTED_STATUS", "204"),
        ])
        .unwrap();
        assert_eq!(c.distributions, ["E1", "E2"]);
        assert_eq!(
            c.origin_test.url.to_string(),
            "https://api.example.com/prod/ping?b=2&a=1"
        );
        assert_eq!(c.origin_test.method, http::Method::HEAD);
        assert!(c.origin_test.expected.accepts(204));
        assert!(!c.origin_test.expected.accepts(200));
    }
}

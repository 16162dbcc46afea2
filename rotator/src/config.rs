//! Configuration, read once from the environment at cold start.
//!
//! Every setting has a documented default where one makes sense; a missing or malformed
//! variable fails the cold start with an error naming it, never a rotation step.
//! The static-header variables keep the names and defaults of the rotators edgeseal
//! replaces (`CLOUDFRONT_DISTRIBUTION_ID`, `HEADER_NAME`, `ORIGIN_URL`, `SECRET_KEY_NAME`,
//! `SECRET_KEY_LENGTH`), so those deployments can swap the code and keep their settings.

use std::time::Duration;

pub use crate::targets::api_key::ApiKeySettings;
pub use crate::targets::appsync::AppSyncSettings;
pub use crate::targets::signed::EdgeSettings;
pub use crate::targets::static_header::StaticHeaderSettings;
pub use crate::targets::waf::WafSettings;

/// What the rotation rotates: the value of `ROTATION_TARGET`. A new target adds a
/// variant here, one in [`TargetSettings`], and its module in [`crate::targets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// `signed`: an edgeseal signing key; republish the Lambda@Edge signer carrying it.
    Signed,
    /// `static-header`: a static origin custom header (the `x-origin-verify` setups
    /// edgeseal replaces).
    StaticHeader,
    /// `api-gateway-api-key`: a REST API's usage-plan API key, sent by CloudFront as
    /// `x-api-key` (the API Gateway + WAF blog's setup).
    ApiKey,
    /// `waf`: the static header, and the regional WAF rule that matches it.
    Waf,
    /// `appsync-api-key`: an AppSync API key that clients read from the secret (the AWS
    /// blog's AppSync rotation function).
    AppSyncApiKey,
}

impl TargetKind {
    /// Every target, in the order the error for an unknown name lists them.
    pub const ALL: [TargetKind; 5] = [
        TargetKind::Signed,
        TargetKind::StaticHeader,
        TargetKind::ApiKey,
        TargetKind::Waf,
        TargetKind::AppSyncApiKey,
    ];

    /// What an unknown `ROTATION_TARGET` is told (every [`Self::ALL`] name).
    const EXPECTED: &'static str =
        "expected `signed`, `static-header`, `api-gateway-api-key`, `waf` or `appsync-api-key`";

    /// The `ROTATION_TARGET` value naming this target.
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetKind::Signed => "signed",
            TargetKind::StaticHeader => "static-header",
            TargetKind::ApiKey => "api-gateway-api-key",
            TargetKind::Waf => "waf",
            TargetKind::AppSyncApiKey => "appsync-api-key",
        }
    }

    /// The target a `ROTATION_TARGET` value names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// The selected target's own settings, each parsed by its `from_lookup` (the hook a new
/// target adds an arm to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSettings {
    /// [`TargetKind::Signed`].
    Signed(EdgeSettings),
    /// [`TargetKind::StaticHeader`].
    StaticHeader(StaticHeaderSettings),
    /// [`TargetKind::ApiKey`].
    ApiKey(ApiKeySettings),
    /// [`TargetKind::Waf`]: the static header's settings and the web ACL's.
    Waf(StaticHeaderSettings, WafSettings),
    /// [`TargetKind::AppSyncApiKey`].
    AppSync(AppSyncSettings),
}

impl TargetSettings {
    /// Which target these settings are for.
    pub const fn kind(&self) -> TargetKind {
        match self {
            TargetSettings::Signed(_) => TargetKind::Signed,
            TargetSettings::StaticHeader(_) => TargetKind::StaticHeader,
            TargetSettings::ApiKey(_) => TargetKind::ApiKey,
            TargetSettings::Waf(..) => TargetKind::Waf,
            TargetSettings::AppSync(_) => TargetKind::AppSyncApiKey,
        }
    }

    /// Parse the settings of `kind` through `get`.
    fn from_lookup(
        kind: TargetKind,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(match kind {
            TargetKind::Signed => TargetSettings::Signed(EdgeSettings::from_lookup(get)?),
            TargetKind::StaticHeader => {
                TargetSettings::StaticHeader(StaticHeaderSettings::from_lookup(get)?)
            }
            TargetKind::ApiKey => TargetSettings::ApiKey(ApiKeySettings::from_lookup(get)?),
            TargetKind::Waf => TargetSettings::Waf(
                StaticHeaderSettings::from_lookup(get)?,
                WafSettings::from_lookup(get)?,
            ),
            TargetKind::AppSyncApiKey => {
                TargetSettings::AppSync(AppSyncSettings::from_lookup(get)?)
            }
        })
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
    /// The signing profile of a signed test (`ORIGIN_TEST_PROFILE`, `apigateway` or
    /// `raw`); default: the profile `EDGE_ORIGIN_PROFILES` gives the URL's host, as the
    /// edge would sign a request to that origin.
    pub profile: edgeseal::Profile,
}

/// The rotator's whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `ROTATION_TARGET` (see [`TargetKind`]) and that target's settings. Default
    /// `signed` when `EDGE_FUNCTION_NAME` is set, else `static-header` (the drop-in
    /// case). `ROTATION_MODE` is its older name, read when `ROTATION_TARGET` is unset.
    pub target: TargetSettings,
    /// `CLOUDFRONT_DISTRIBUTION_ID`: one id or several, comma-separated; for the AppSync
    /// target optional (empty: no distribution sends its key).
    pub distributions: Vec<String>,
    /// The origin test request; `None` for the AppSync target (no origin: its test is a
    /// GraphQL query to AppSync) and with `PROBE=off`.
    pub origin_test: Option<OriginTest>,
    /// `PROBE=off` (signed and static-header targets, for an origin only CloudFront can
    /// reach): no origin test; testSecret waits `SETTLE_SECS` instead and proves nothing
    /// about the origin (see [`probe_off`]). `None` with `PROBE=origin`, the default.
    pub settle_without_probe: Option<Duration>,
    /// `HEADER_NAME`, default `x-origin-verify`: the origin custom header (static-header
    /// mode), and how the origin test presents a legacy static current value. For the
    /// AppSync target always `x-api-key`, the one header AppSync reads a key from.
    pub header_name: String,
    /// `SECRET_KEY_NAME`, default `HTTP_API_KEY`: the JSON field of static-header secrets.
    pub secret_key_name: String,
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
    /// `API_REGION`, default the rotator's own region: the region of the API whose keys
    /// the `api-gateway-api-key` and `appsync-api-key` targets rotate. Usage plans,
    /// their keys and AppSync APIs live in their API's region, and the rotator lives in
    /// us-east-1 with the edge function, so their clients are built in this region.
    pub api_region: Option<String>,
}

/// The header AppSync reads an API key from (AppSync developer guide, authorization:
/// "API_KEY authorization": the key is sent in the `x-api-key` header).
pub const APPSYNC_KEY_HEADER: &str = "x-api-key";

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

pub(crate) fn invalid(var: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { var, reason }
}

impl Config {
    /// Which target is rotated.
    pub const fn kind(&self) -> TargetKind {
        self.target.kind()
    }

    /// The signed target's settings, if it is the one rotated.
    pub fn edge(&self) -> Option<&EdgeSettings> {
        match &self.target {
            TargetSettings::Signed(settings) => Some(settings),
            TargetSettings::StaticHeader(_)
            | TargetSettings::ApiKey(_)
            | TargetSettings::Waf(..)
            | TargetSettings::AppSync(_) => None,
        }
    }

    /// The AppSync target's settings, if it is the one rotated.
    pub fn appsync(&self) -> Option<&AppSyncSettings> {
        match &self.target {
            TargetSettings::AppSync(settings) => Some(settings),
            TargetSettings::Signed(_)
            | TargetSettings::StaticHeader(_)
            | TargetSettings::ApiKey(_)
            | TargetSettings::Waf(..) => None,
        }
    }

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

        let kind = match (get("ROTATION_TARGET"), get("ROTATION_MODE")) {
            (Some(name), _) => TargetKind::from_name(&name)
                .ok_or(invalid("ROTATION_TARGET", TargetKind::EXPECTED))?,
            (None, Some(mode)) => match mode.as_str() {
                "signed" => TargetKind::Signed,
                "static-header" => TargetKind::StaticHeader,
                _ => {
                    return Err(invalid(
                        "ROTATION_MODE",
                        "expected `signed` or `static-header` (or set ROTATION_TARGET)",
                    ));
                }
            },
            (None, None) if get("EDGE_FUNCTION_NAME").is_some() => TargetKind::Signed,
            (None, None) if get("WAFACLID").is_some() => TargetKind::Waf,
            (None, None) => TargetKind::StaticHeader,
        };
        // A web ACL configured for a target that would not update it: CloudFront would
        // send values its rule refuses.
        if kind != TargetKind::Waf
            && let Some(var) = WafSettings::VARIABLES
                .into_iter()
                .find(|var| get(var).is_some())
        {
            return Err(invalid(
                var,
                "set, but only ROTATION_TARGET=waf updates the WAF rule (CloudFront would send values it refuses)",
            ));
        }

        // The AppSync target has no origin to probe (its test is a GraphQL query to
        // AppSync). Its distributions are optional: set when AppSync sits behind
        // CloudFront, which then sends the key as the origin custom header `x-api-key`.
        let (distributions, origin_test) = if kind == TargetKind::AppSyncApiKey {
            if get("ORIGIN_URL").is_some() {
                return Err(invalid(
                    "ORIGIN_URL",
                    "not used by ROTATION_TARGET=appsync-api-key (its test query goes to APPSYNC_GRAPHQL_URL)",
                ));
            }
            let distributions = match get("CLOUDFRONT_DISTRIBUTION_ID") {
                Some(_) => distributions(&get)?,
                None => Vec::new(),
            };
            if let Some(var) = ["PROBE", "SETTLE_SECS"]
                .into_iter()
                .find(|v| get(v).is_some())
            {
                return Err(invalid(
                    var,
                    "not used by ROTATION_TARGET=appsync-api-key (its test is a GraphQL query to AppSync)",
                ));
            }
            (distributions, None)
        } else {
            (distributions(&get)?, origin_test_unless_off(kind, &get)?)
        };
        let settle_without_probe = probe_off(kind, &get)?;

        let header_name = match (kind, get("HEADER_NAME")) {
            (TargetKind::AppSyncApiKey, None) => APPSYNC_KEY_HEADER.to_owned(),
            (TargetKind::AppSyncApiKey, Some(name))
                if !name.eq_ignore_ascii_case(APPSYNC_KEY_HEADER) =>
            {
                return Err(invalid(
                    "HEADER_NAME",
                    "AppSync reads an API key from the x-api-key header only (leave HEADER_NAME unset)",
                ));
            }
            (_, name) => name.unwrap_or_else(|| "x-origin-verify".to_owned()),
        };
        if http::HeaderName::from_bytes(header_name.as_bytes()).is_err() {
            return Err(invalid("HEADER_NAME", "not a valid HTTP header name"));
        }
        // The field of the secrets each target replaces: the static-header rotator's, or
        // the AWS blog's AppSync rotation function's.
        let secret_key_name = get("SECRET_KEY_NAME").unwrap_or_else(|| {
            match kind {
                TargetKind::AppSyncApiKey => "APIKEY",
                TargetKind::Signed
                | TargetKind::StaticHeader
                | TargetKind::ApiKey
                | TargetKind::Waf => "HTTP_API_KEY",
            }
            .to_owned()
        });

        let target = TargetSettings::from_lookup(kind, &get)?;
        let max_step = Duration::from_secs(number(&get, "MAX_STEP_SECS", 60, 1, 900)?);
        if let TargetSettings::Waf(header, waf) = &target {
            waf.check_with(&header_name, header.value_length, max_step)?;
        }
        if settle_without_probe.is_some_and(|settle| settle >= max_step) {
            return Err(invalid(
                "SETTLE_SECS",
                "must be shorter than MAX_STEP_SECS (testSecret waits it within one step)",
            ));
        }

        Ok(Config {
            target,
            distributions,
            origin_test,
            settle_without_probe,
            header_name: header_name.to_ascii_lowercase(),
            secret_key_name,
            wait_for_deployed: boolean(&get, "WAIT_FOR_DEPLOYED", false)?,
            max_step,
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
            api_region: api_region(&get, kind)?,
        })
    }
}

/// `API_REGION`: a region name, and only for the targets whose API it locates (set for
/// another target it would be silently ignored).
fn api_region(
    get: &dyn Fn(&str) -> Option<String>,
    kind: TargetKind,
) -> Result<Option<String>, ConfigError> {
    let Some(region) = get("API_REGION") else {
        return Ok(None);
    };
    if !matches!(kind, TargetKind::ApiKey | TargetKind::AppSyncApiKey) {
        return Err(invalid(
            "API_REGION",
            "set, but only ROTATION_TARGET=api-gateway-api-key or appsync-api-key reads it (the WAF target has WAF_REGION)",
        ));
    }
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid("API_REGION", "not a region name (e.g. eu-west-1)"));
    }
    Ok(Some(region))
}

/// `CLOUDFRONT_DISTRIBUTION_ID`: one id or several, comma-separated.
fn distributions(get: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
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
    Ok(distributions)
}

/// The variables of the origin test, all refused with `PROBE=off`.
const ORIGIN_TEST_VARIABLES: [&str; 5] = [
    "ORIGIN_URL",
    "ORIGIN_TEST_PATH",
    "ORIGIN_TEST_METHOD",
    "ORIGIN_TEST_EXPECTED_STATUS",
    "ORIGIN_TEST_TIMEOUT_MS",
];

/// `PROBE` and `SETTLE_SECS`: `None` with `PROBE=origin` (the default: the rotator
/// proves the origin accepts each key by sending it a request); with `PROBE=off`, the
/// time testSecret waits instead. `PROBE=off` is the weaker guarantee (nothing shows the
/// origin accepts the new key before CloudFront sends it and the old one is demoted),
/// for origins only CloudFront can reach; it takes the signed and static-header targets
/// only (the others prove their rule or key change by probing), no origin-test variable
/// (which would be silently unused) and a `SETTLE_SECS`.
fn probe_off(
    kind: TargetKind,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, ConfigError> {
    match get("PROBE").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("origin") => {
            if get("SETTLE_SECS").is_some() {
                return Err(invalid(
                    "SETTLE_SECS",
                    "only used with PROBE=off (with PROBE=origin the probe proves acceptance)",
                ));
            }
            Ok(None)
        }
        Some("off") => {
            if !matches!(kind, TargetKind::Signed | TargetKind::StaticHeader) {
                return Err(invalid(
                    "PROBE",
                    "off is for ROTATION_TARGET=signed or static-header; this target proves its change reached the origin by probing it",
                ));
            }
            if let Some(var) = ORIGIN_TEST_VARIABLES.into_iter().find(|v| get(v).is_some()) {
                return Err(invalid(
                    var,
                    "set together with PROBE=off (no origin test is sent): unset it, or unset PROBE to probe the origin",
                ));
            }
            if get("SETTLE_SECS").is_none() {
                return Err(ConfigError::Missing("SETTLE_SECS"));
            }
            Ok(Some(Duration::from_secs(number(
                get,
                "SETTLE_SECS",
                0,
                1,
                900,
            )?)))
        }
        Some(_) => Err(invalid("PROBE", "expected `origin` or `off`")),
    }
}

/// The origin test, unless `PROBE=off` (then [`probe_off`] checks the rest).
fn origin_test_unless_off(
    kind: TargetKind,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<OriginTest>, ConfigError> {
    if probe_off(kind, get)?.is_some() {
        return Ok(None);
    }
    origin_test(get).map(Some)
}

/// The origin test request (`ORIGIN_URL`, `ORIGIN_TEST_*`).
fn origin_test(get: &dyn Fn(&str) -> Option<String>) -> Result<OriginTest, ConfigError> {
    let url = origin_url(
        &get("ORIGIN_URL").ok_or(ConfigError::Missing("ORIGIN_URL"))?,
        get("ORIGIN_TEST_PATH").as_deref(),
    )?;
    let profile = match get("ORIGIN_TEST_PROFILE") {
        Some(name) => name
            .parse()
            .map_err(|_| invalid("ORIGIN_TEST_PROFILE", "expected `apigateway` or `raw`"))?,
        None => edgeseal_edge_signer::OriginProfiles::parse(
            &get("EDGE_ORIGIN_PROFILES").unwrap_or_default(),
        )
        .map(|profiles| profiles.for_origin(url.host().unwrap_or_default()))
        .unwrap_or_default(),
    };
    Ok(OriginTest {
        url,
        profile,
        method: match get("ORIGIN_TEST_METHOD") {
            None => http::Method::GET,
            Some(m) if edgeseal::canonical::is_method(&m) => http::Method::from_bytes(m.as_bytes())
                .map_err(|_| invalid("ORIGIN_TEST_METHOD", "not an HTTP method token"))?,
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
        timeout: Duration::from_millis(number(&get, "ORIGIN_TEST_TIMEOUT_MS", 5_000, 1, 600_000)?),
    })
}

pub(crate) fn number(
    get: &dyn Fn(&str) -> Option<String>,
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
    get: &dyn Fn(&str) -> Option<String>,
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
    use std::path::PathBuf;

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
        assert_eq!(c.kind(), TargetKind::StaticHeader);
        assert_eq!(c.distributions, ["E123ABC"]);
        assert_eq!(c.header_name, "x-origin-verify");
        assert_eq!(c.secret_key_name, "HTTP_API_KEY");
        assert_eq!(
            c.target,
            TargetSettings::StaticHeader(StaticHeaderSettings { value_length: 32 })
        );
        assert_eq!(c.origin_test.as_ref().unwrap().url.query(), Some("probe=1"));
        assert_eq!(c.origin_test.as_ref().unwrap().method, http::Method::GET);
        assert_eq!(
            c.origin_test.as_ref().unwrap().expected,
            ExpectedStatus::Success
        );
        assert_eq!(
            c.origin_test.as_ref().unwrap().timeout,
            Duration::from_secs(5)
        );
        assert!(!c.wait_for_deployed);
        assert_eq!(c.max_step, Duration::from_secs(60));
        assert!(c.edge().is_none());
    }

    #[test]
    fn signed_mode_is_chosen_by_the_edge_function_and_defaults_assets_to_the_task_root() {
        let mut vars = STATIC_MINIMAL.to_vec();
        vars.extend([
            ("EDGE_FUNCTION_NAME", "edge-signer"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
        ]);
        let c = config(&vars).unwrap();
        assert_eq!(c.kind(), TargetKind::Signed);
        let edge = c.edge().unwrap();
        assert_eq!(edge.assets_dir, PathBuf::from("/var/task/edge-assets"));
        assert_eq!(edge.label, "edgeseal");
        assert_eq!(edge.max_age_secs, 300);
        assert_eq!(edge.keep_versions, 3);
    }

    #[test]
    fn rotation_target_names_the_target_and_wins_over_the_older_rotation_mode() {
        let mut vars = STATIC_MINIMAL.to_vec();
        vars.extend([
            ("EDGE_FUNCTION_NAME", "edge-signer"),
            ("EDGE_ASSETS_DIR", "/opt/assets"),
        ]);
        assert_eq!(config(&vars).unwrap().kind(), TargetKind::Signed);
        vars.push(("ROTATION_MODE", "signed"));
        vars.push(("ROTATION_TARGET", "static-header"));
        assert_eq!(config(&vars).unwrap().kind(), TargetKind::StaticHeader);
        for kind in TargetKind::ALL {
            assert_eq!(TargetKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(TargetKind::from_name("WAF"), None);
    }

    const WAF: [(&str, &str); 3] = [
        ("WAFACLNAME", "origin-acl"),
        ("WAFACLID", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"),
        ("WAF_RULE_NAME", "StackXOriginVerify"),
    ];

    #[test]
    fn a_web_acl_selects_the_waf_target_and_another_target_refuses_it() {
        let mut vars = STATIC_MINIMAL.to_vec();
        vars.extend(WAF);
        let c = config(&vars).unwrap();
        assert_eq!(c.kind(), TargetKind::Waf);
        let TargetSettings::Waf(header, waf) = &c.target else {
            panic!("{:?}", c.target)
        };
        assert_eq!(header.value_length, 32);
        assert_eq!(waf.rule_name, "StackXOriginVerify");
        // The web ACL set but a target that would not update it: refused, named.
        vars.push(("ROTATION_TARGET", "static-header"));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().starts_with("WAFACLID is invalid"), "{err}");
        // ROTATION_TARGET=waf without the web ACL: the missing variable is named.
        let mut bare = STATIC_MINIMAL.to_vec();
        bare.push(("ROTATION_TARGET", "waf"));
        assert_eq!(
            config(&bare).unwrap_err(),
            ConfigError::Missing("WAFACLNAME")
        );
    }

    #[test]
    fn the_waf_targets_limits_name_the_variable_to_change() {
        let cases = [
            ("SECRET_KEY_LENGTH", "201"),
            (
                "HEADER_NAME",
                "x-a-very-long-header-name-that-waf-will-not-inspect-because-it-is-over-64",
            ),
            ("MAX_STEP_SECS", "30"),
        ];
        for (var, value) in cases {
            let mut vars = STATIC_MINIMAL.to_vec();
            vars.extend(WAF);
            vars.push((var, value));
            let err = config(&vars).unwrap_err();
            let named = if var == "MAX_STEP_SECS" {
                "WAF_SETTLE_SECS"
            } else {
                var
            };
            assert!(err.to_string().starts_with(named), "{var}={value}: {err}");
        }
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
            config(&vars).unwrap().edge().unwrap().function,
            "arn:aws:lambda:us-east-1:123456789012:function:edge"
        );
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases: [(&str, &str); 14] = [
            ("MAX_STEP_SECS", "901"),
            ("ROTATION_MODE", "rotate"),
            ("ROTATION_TARGET", "rotate"),
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
            c.origin_test.as_ref().unwrap().url.to_string(),
            "https://api.example.com/prod/ping?b=2&a=1"
        );
        assert_eq!(c.origin_test.as_ref().unwrap().method, http::Method::HEAD);
        assert!(c.origin_test.as_ref().unwrap().expected.accepts(204));
        assert!(!c.origin_test.as_ref().unwrap().expected.accepts(200));
    }

    #[test]
    fn the_appsync_target_needs_its_api_no_origin_and_optionally_distributions() {
        let c = config(&[
            ("ROTATION_TARGET", "appsync-api-key"),
            ("AppSyncApiId", "abcdefghijklmnopqrstuvwxyz"),
        ])
        .unwrap();
        assert_eq!(c.kind(), TargetKind::AppSyncApiKey);
        assert_eq!(c.appsync().unwrap().api_id, "abcdefghijklmnopqrstuvwxyz");
        assert!(c.distributions.is_empty(), "AppSync called directly");
        assert_eq!(c.origin_test, None);
        assert_eq!(c.secret_key_name, "APIKEY", "the AWS blog's field");
        assert!(c.edge().is_none());

        assert_eq!(
            config(&[("ROTATION_TARGET", "appsync-api-key")]).unwrap_err(),
            ConfigError::Missing("APPSYNC_API_ID")
        );
        let err = config(&[
            ("ROTATION_TARGET", "appsync-api-key"),
            ("APPSYNC_API_ID", "abc"),
            ("ORIGIN_URL", "https://example.com/"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("ORIGIN_URL"), "{err}");

        // Behind CloudFront: the distributions send the key in x-api-key, the one header
        // AppSync reads; any other HEADER_NAME is refused.
        let behind = config(&[
            ("ROTATION_TARGET", "appsync-api-key"),
            ("APPSYNC_API_ID", "abc"),
            ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC,E456DEF"),
        ])
        .unwrap();
        assert_eq!(behind.distributions, ["E123ABC", "E456DEF"]);
        assert_eq!(behind.header_name, "x-api-key");
        let same = [
            ("ROTATION_TARGET", "appsync-api-key"),
            ("APPSYNC_API_ID", "abc"),
            ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC"),
            ("HEADER_NAME", "X-Api-Key"),
        ];
        assert_eq!(config(&same).unwrap().header_name, "x-api-key");
        let err = config(&[
            ("ROTATION_TARGET", "appsync-api-key"),
            ("APPSYNC_API_ID", "abc"),
            ("CLOUDFRONT_DISTRIBUTION_ID", "E123ABC"),
            ("HEADER_NAME", "x-origin-verify"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("HEADER_NAME"), "{err}");
        let err = config(&[
            ("ROTATION_TARGET", "appsync-api-key"),
            ("APPSYNC_API_ID", "abc"),
            ("CLOUDFRONT_DISTRIBUTION_ID", "E1 23"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().starts_with("CLOUDFRONT_DISTRIBUTION_ID"),
            "{err}"
        );
        let err = config(&[("ROTATION_TARGET", "appsync")]).unwrap_err();
        assert!(err.to_string().contains("appsync-api-key"), "{err}");
    }

    #[test]
    fn the_api_region_is_read_for_the_api_key_targets_only() {
        let appsync = [
            ("ROTATION_TARGET", "appsync-api-key"),
            ("APPSYNC_API_ID", "abc"),
        ];
        assert_eq!(
            config(&appsync).unwrap().api_region,
            None,
            "default: own region"
        );
        let mut there = appsync.to_vec();
        there.push(("API_REGION", "eu-west-1"));
        assert_eq!(
            config(&there).unwrap().api_region.as_deref(),
            Some("eu-west-1")
        );
        let mut bad = appsync.to_vec();
        bad.push(("API_REGION", "EU WEST"));
        let err = config(&bad).unwrap_err();
        assert!(err.to_string().starts_with("API_REGION"), "{err}");
        let mut signed = STATIC_MINIMAL.to_vec();
        signed.push(("API_REGION", "eu-west-1"));
        let err = config(&signed).unwrap_err();
        assert!(err.to_string().starts_with("API_REGION"), "{err}");
    }
}

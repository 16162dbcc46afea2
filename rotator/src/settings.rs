//! Configuration, read once from the environment at cold start.
//!
//! Every setting has a documented default where one makes sense; a missing or malformed
//! variable fails the cold start with an error naming it, never a rotation step.
//! The static-header variables keep the names and defaults of the rotators edgeseal
//! replaces (`CLOUDFRONT_DISTRIBUTION_ID`, `HEADER_NAME`, `ORIGIN_URL`, `SECRET_KEY_NAME`,
//! `SECRET_KEY_LENGTH`), so those deployments can swap the code and keep their settings.

mod origin_test;

use std::time::Duration;

pub use self::origin_test::{ExpectedStatus, OriginTest};
use self::origin_test::{origin_test_unless_off, probe_off};
use crate::env::{ConfigError, boolean, invalid, number};
// Each target's settings parse in a leaf file beside the target, through `crate::env`.
pub use crate::targets::api_key::settings::ApiKeySettings;
pub use crate::targets::appsync::settings::AppSyncSettings;
pub use crate::targets::signed::settings::EdgeSettings;
pub use crate::targets::static_header::settings::StaticHeaderSettings;
pub use crate::targets::waf::settings::WafSettings;

/// What the rotation rotates: the value of `ROTATION_TARGET`. A new target adds a
/// variant here, one in [`TargetSettings`], and its module in `targets/`.
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
    /// about the origin (see `probe_off`). `None` with `PROBE=origin`, the default.
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

#[cfg(test)]
mod tests;

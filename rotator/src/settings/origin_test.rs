//! The origin test request (`ORIGIN_URL`, `ORIGIN_TEST_*`) and `PROBE`/`SETTLE_SECS`,
//! which replace it for an origin only CloudFront can reach.

use std::time::Duration;

use super::TargetKind;
use crate::env::{ConfigError, invalid, number};

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
pub(super) fn probe_off(
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
pub(super) fn origin_test_unless_off(
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

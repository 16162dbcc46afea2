//! What the demo runs with: the user's options ([`Settings`]) and everything the demo
//! sets on top of `deploy/template.yaml`, in one place, each with its reason: the
//! parameter values its options give ([`DEMO_PARAMETERS`]) and the differences between a
//! function's environment in the demo and the one the template gives it
//! ([`LOCAL_OVERRIDES`]). [`crate::stack::template::Rendered::apply_override`] refuses
//! an override not listed here, one that replaces a variable the template no longer
//! sets, and one that adds a variable the template now sets itself.

use std::path::PathBuf;
use std::time::Duration;

use edgeseal_rotator::TargetKind;

use crate::DemoError;
use crate::run::rotation::FirstRotation;
use crate::scenarios::chaos::ChaosSettings;
use crate::stack::template;

/// What to run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// moto server, e.g. `http://127.0.0.1:5000`.
    pub moto_url: String,
    /// The authorizer's `bootstrap` binary (`target/release/origin-verifier`).
    pub authorizer_bin: PathBuf,
    /// The built edge assets (`target/edge-assets`: `index.mjs`, `signer.wasm`).
    pub edge_assets_dir: PathBuf,
    /// Where logs, unpacked edge versions and the chart go.
    pub out_dir: PathBuf,
    /// How long traffic runs.
    pub duration: Duration,
    /// How many rotations happen during the traffic.
    pub rotations: usize,
    /// Legitimate requests per second through CloudFront.
    pub rate: u32,
    /// Attack requests per second straight to the origin.
    pub attack_rate: u32,
    /// How long a distribution change takes to reach every edge.
    pub propagation: Duration,
    /// The authorizer's and the edge's maximum signature age.
    pub max_age_secs: u64,
    /// How long AWSPREVIOUS verifies after a rotation (raised to cover the propagation,
    /// see `previous_grace_secs`).
    pub previous_grace_secs: u64,
    /// Authorizer execution environments (processes).
    pub authorizer_processes: usize,
    /// Print a live progress line to stderr.
    pub progress: bool,
    /// Run under failures (`--chaos`; see `chaos`).
    pub chaos: Option<ChaosSettings>,
    /// The rotator Lambda's timeout: the deadline of each step (`--rotator-timeout-secs`).
    pub rotator_timeout: Duration,
    /// `signed` or `static-header` (`--mode`).
    pub mode: TargetKind,
    /// How the stack starts rotating (`--first-rotation`).
    pub first_rotation: FirstRotation,
    /// More authorizer environment (`--jwt`: the bearer-token settings; its `JWT_*`
    /// become the template's `Jwt*` parameters).
    pub authorizer_env: Vec<(String, String)>,
    /// The template the stack is built from, and the path whose parameters are the base
    /// (default: this checkout's `deploy/template.yaml`, new-stack).
    pub template: template::TemplateSource,
}

impl Settings {
    /// Defaults for `settings.moto_url` etc. given; a one-minute run with three rotations.
    pub fn new(
        moto_url: String,
        authorizer_bin: PathBuf,
        edge_assets_dir: PathBuf,
        out_dir: PathBuf,
    ) -> Self {
        Self {
            moto_url,
            authorizer_bin,
            edge_assets_dir,
            out_dir,
            duration: Duration::from_secs(60),
            rotations: 3,
            rate: 100,
            attack_rate: 10,
            propagation: Duration::from_secs(4),
            max_age_secs: 5,
            previous_grace_secs: 30,
            authorizer_processes: 2,
            progress: true,
            chaos: None,
            rotator_timeout: Duration::from_secs(120),
            mode: TargetKind::Signed,
            first_rotation: FirstRotation::Immediate,
            authorizer_env: Vec::new(),
            template: template::TemplateSource::default(),
        }
    }
}

/// The verifier's previous-key grace, scaled as in production (see the rotator README's
/// timing model): at least the propagation plus the max age plus time for the
/// rotation itself, so `--propagation-secs` beyond the default grace stays safe.
pub(crate) fn previous_grace_secs(settings: &Settings) -> u64 {
    let rotation_secs = 4 * settings.rotator_timeout.as_secs().min(10);
    settings
        .previous_grace_secs
        .max(settings.propagation.as_secs() + settings.max_age_secs + rotation_secs)
}

/// The demo's options as template parameters: (parameter, why the demo sets it). The
/// path's parameter file gives the rest; [`parameter`] refuses a name not listed here.
pub const DEMO_PARAMETERS: &[(&str, &str)] = &[
    (
        "MaxAgeSecs",
        "a one-minute run shows replayed signatures refused once expired: 5 s (the authorizer's MAX_AGE_SECS and the rotator's SIGNATURE_MAX_AGE_SECS)",
    ),
    (
        "PreviousKeyGraceSecs",
        "rotations seconds apart: the grace covers --propagation-secs plus the max age plus the rotation, not an hour",
    ),
    (
        "RotatorTestPath",
        "the demo's API serves a named stage, prod (the distribution's origin path): /prod/health",
    ),
    ("RotateImmediately", "--first-rotation (config-test: false)"),
    (
        "AuthMode",
        "--target static-header|waf|api-gateway-api-key: static-header",
    ),
    (
        "SecretKeyName",
        "the static-header targets: the prior art's field, HTTP_API_KEY",
    ),
    (
        "WafWebAclName",
        "--target waf: the web ACL the demo creates on moto",
    ),
    ("WafWebAclId", "--target waf: its id"),
    ("WafRuleName", "--target waf: its rule"),
    (
        "OriginUrl",
        "--target waf|api-gateway-api-key: the API behind the web ACL or usage plan",
    ),
    (
        "ExistingDistributionId",
        "--target waf|api-gateway-api-key: the distribution the demo creates (the template's Rules require it)",
    ),
    (
        "ApiKeyUsagePlanId",
        "--target api-gateway-api-key: the usage plan the demo creates",
    ),
    (
        "ExistingSecretArn",
        "--target api-gateway-api-key: the secret holding the key (the template's Rules require it)",
    ),
    ("JwtIssuers", "--jwt: the demo's OIDC issuer"),
    ("JwtAudiences", "--jwt: its client"),
    ("JwtScopes", "--jwt: the scoped route"),
    ("JwtPublicRoutes", "--jwt: the health route"),
    ("JwtTokenUse", "--jwt: access tokens"),
];

/// One parameter value the demo sets; `name` must be in [`DEMO_PARAMETERS`].
pub fn parameter(name: &str, value: impl Into<String>) -> Result<(String, String), DemoError> {
    if !DEMO_PARAMETERS.iter().any(|(n, _)| *n == name) {
        return Err(DemoError::Config(format!(
            "template parameter {name} is not among the demo's (settings::DEMO_PARAMETERS)"
        )));
    }
    Ok((name.to_owned(), value.into()))
}

/// The template's parameter for an authorizer variable `--jwt` sets, if there is one.
pub fn jwt_parameter(variable: &str) -> Option<&'static str> {
    match variable {
        "JWT_ISSUERS" => Some("JwtIssuers"),
        "JWT_AUDIENCES" => Some("JwtAudiences"),
        "JWT_SCOPES" => Some("JwtScopes"),
        "JWT_PUBLIC_ROUTES" => Some("JwtPublicRoutes"),
        "JWT_TOKEN_USE" => Some("JwtTokenUse"),
        _ => None,
    }
}

/// The function an override applies to (the template's logical id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `AuthorizerFunction`.
    Authorizer,
    /// `RotatorFunction`.
    Rotator,
}

impl Function {
    /// The template's logical id.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::Authorizer => "AuthorizerFunction",
            Function::Rotator => "RotatorFunction",
        }
    }
}

/// Whether an override replaces a variable the template sets, or adds one it does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The template must set it (a template that drops it is refused).
    Replace,
    /// Lambda or the local stack provides it; the template does not set it.
    Add,
    /// A variable `--chaos` / `--jwt` sets, with or without a template value.
    Either,
}

/// Every difference between a function's environment in the demo and the one the
/// template gives it: (function, variable, kind, why).
pub const LOCAL_OVERRIDES: &[(Function, &str, Kind, &str)] = &[
    (
        Function::Authorizer,
        "AWS_ENDPOINT_URL",
        Kind::Add,
        "Secrets Manager is moto on loopback (or --chaos's outage proxy in front of it)",
    ),
    (
        Function::Authorizer,
        "AWS_REGION",
        Kind::Add,
        "Lambda defines it for every function (the stack's region, us-east-1)",
    ),
    (
        Function::Authorizer,
        "AWS_ACCESS_KEY_ID",
        Kind::Add,
        "Lambda gives the function its role's credentials; moto takes any",
    ),
    (
        Function::Authorizer,
        "AWS_SECRET_ACCESS_KEY",
        Kind::Add,
        "Lambda gives the function its role's credentials; moto takes any",
    ),
    (
        Function::Authorizer,
        "UNKNOWN_KEY_MIN_INTERVAL_SECS",
        Kind::Add,
        "rotations seconds apart, not days: an unknown key id may refresh every second, not every ten",
    ),
    (
        Function::Authorizer,
        "RUST_LOG",
        Kind::Add,
        "the demo counts verdicts from the authorizer's log lines",
    ),
    (
        Function::Authorizer,
        "CACHE_TTL_SECS",
        Kind::Either,
        "--chaos: a Secrets Manager outage of seconds, so the cache refreshes every second",
    ),
    (
        Function::Authorizer,
        "MAX_STALE_SECS",
        Kind::Either,
        "--chaos: the stale window runs out within the run",
    ),
    (
        Function::Authorizer,
        "REFRESH_RETRY_SECS",
        Kind::Either,
        "--chaos: retries within the outage",
    ),
    (
        Function::Authorizer,
        "SECRETS_MANAGER_TIMEOUT_MS",
        Kind::Either,
        "--chaos: the outage proxy holds calls; time out quickly",
    ),
    (
        Function::Authorizer,
        "JWKS_CACHE_TTL_SECS",
        Kind::Either,
        "--jwt: the issuer rotates its keys within the run",
    ),
    (
        Function::Authorizer,
        "JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS",
        Kind::Either,
        "--jwt: the issuer rotates its keys within the run",
    ),
    (
        Function::Authorizer,
        "JWKS_UNKNOWN_KID_MAX_WAIT_MS",
        Kind::Either,
        "--jwt: the issuer rotates its keys within the run",
    ),
    (
        Function::Rotator,
        "EDGE_ASSETS_DIR",
        Kind::Replace,
        "the zip's /var/task/edge-assets is the built assets directory here (scripts/build-edge)",
    ),
    (
        Function::Rotator,
        "ORIGIN_URL",
        Kind::Replace,
        "the template's URL (the API's execute-api host) is served on loopback, plain HTTP: same API, local address",
    ),
    (
        Function::Rotator,
        "DEADLINE_MARGIN_MS",
        Kind::Add,
        "no Lambda runtime reports after the step: each step's deadline is --rotator-timeout-secs itself",
    ),
    (
        Function::Rotator,
        "WAF_SETTLE_SECS",
        Kind::Add,
        "--target waf: the WAF stand-in's areas apply a change within 2 s, not AWS's minute",
    ),
    (
        Function::Rotator,
        "WAF_PROBE_INTERVAL_MS",
        Kind::Add,
        "--target waf: probe the stand-in every 100 ms",
    ),
    (
        Function::Rotator,
        "API_KEY_HEADER_NAME",
        Kind::Add,
        "--target api-gateway-api-key: the header the demo's distribution sends (x-api-key)",
    ),
    (
        Function::Rotator,
        "API_KEY_NAME_PREFIX",
        Kind::Add,
        "--target api-gateway-api-key: the demo's key names",
    ),
    (
        Function::Rotator,
        "API_KEY_PROPAGATION_SECS",
        Kind::Add,
        "--target api-gateway-api-key: the key stand-in's propagation, seconds not minutes",
    ),
    (
        Function::Rotator,
        "PREVIOUS_KEY_GRACE_SECS",
        Kind::Add,
        "--target api-gateway-api-key: rotations seconds apart (the template sets it for AppSync only)",
    ),
];

/// The kind of a listed override, if `name` is one for `function`.
pub fn is_listed(function: Function, name: &str) -> Option<Kind> {
    LOCAL_OVERRIDES
        .iter()
        .find(|(f, n, _, _)| *f == function && *n == name)
        .map(|(_, _, k, _)| *k)
}

/// What else differs from the stack the template describes (no function variable):
/// (what, why). Printed by nothing; read with the code (and demo/README.md).
#[allow(dead_code)] // Documentation kept beside the overrides it completes.
pub const OTHER_DIFFERENCES: &[(&str, &str)] = &[
    (
        "names (secret, edge function, role)",
        "unique per run: one moto serves several runs (the demo's tests); CloudFormation names them per stack",
    ),
    (
        "the first edge version",
        "signs with the secret's first key, so traffic flows from the start; the template's bootstrap version signs with a throwaway key, replaced by the rotation RotateImmediately starts at once",
    ),
    (
        "the rotator's Timeout",
        "each step's deadline is --rotator-timeout-secs (default 120 s), not the template's 90 s: the demo runs the rotator in-process",
    ),
    (
        "the rotation schedule",
        "the demo rotates --rotations times in --seconds instead of on SecretRotation's ScheduleExpression (shown in the summary)",
    ),
    (
        "CloudFront's propagation",
        "--propagation-secs (default 4 s) instead of minutes; the template has no such setting",
    ),
    (
        "the distribution",
        "built by the demo (one origin, the API's stage prod as origin path, the template's managed cache and origin request policies); the static-header targets add the origin custom header of the setups they replace",
    ),
];

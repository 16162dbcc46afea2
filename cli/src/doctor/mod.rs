//! `edgeseal doctor`: the first real test of a deployment, run in the user's account
//! right after `sam deploy` and after any change.
//!
//! Two kinds of checks, each saying what it proves and, when it fails, the likely cause
//! and the fix:
//! - live requests ([`probes`]): through the distribution (must be allowed), and straight
//!   to the origin signed with the current key (allowed), unsigned (401), forged (403),
//!   and replayed after the maximum age (403);
//! - the app's token issuers, with `--jwt-issuer` ([`jwt_issuer`]): discovery document
//!   and key set load from here;
//! - configuration ([`config`]): associations, query-string forwarding, edge versions
//!   Active and carrying an accepted key, rotation enabled and not stuck, the previous
//!   key's grace against the distribution's last change, and the API's authorizer cache;
//! - operations ([`ops`]): the RotationFailed rule and the alarms on it, on the rotator's
//!   errors and on the authorizer's denials by reason, their state and whom they notify.
//!
//! Everything the checks read or send goes through [`Environment`], so the same code
//! runs against AWS (the CLI's SDK implementation) and against the demo's local stack
//! (`cli/tests/doctor.rs`).

pub mod authorizer_cache;
pub mod config;
pub mod edge_code;
pub mod jwt_issuer;
pub mod ops;
pub mod probes;
pub mod sdk;
pub mod targets;

use std::future::Future;

use aws_sdk_cloudfront::types::DistributionConfig;
use edgeseal::{SigningKey, UnixTime};

/// What doctor needs from AWS and the network.
pub trait Environment: Sync {
    /// The distribution: `GetDistribution`.
    fn distribution(&self, id: &str) -> impl Future<Output = Result<Distribution, String>> + Send;
    /// Whether a policy forwards every query string to the origin, for policy ids
    /// [`edgeseal_rotator::managed`] does not know (`GetCachePolicy` /
    /// `GetOriginRequestPolicy`).
    fn policy_forwards_all_query_strings(
        &self,
        policy: &PolicyRef,
    ) -> impl Future<Output = Result<bool, String>> + Send;
    /// The secret's rotation state and staged versions, with their keys.
    fn secret(&self, id: &str) -> impl Future<Output = Result<Secret, String>> + Send;
    /// A published edge function version: `GetFunctionConfiguration` with its qualifier.
    fn edge_version(&self, arn: &str) -> impl Future<Output = Result<EdgeVersion, String>> + Send;
    /// Every published version of a function (`ListVersionsByFunction`, all pages).
    fn published_versions(
        &self,
        function_arn: &str,
    ) -> impl Future<Output = Result<Vec<edge_code::PublishedVersion>, String>> + Send;
    /// The authorizers of the API behind `origin_domain`.
    fn authorizers(
        &self,
        origin_domain: &str,
    ) -> impl Future<Output = Result<Vec<Authorizer>, String>> + Send;
    /// Send one request; the status code.
    fn send(&self, request: &Request) -> impl Future<Output = Result<u16, String>> + Send;
}

/// A cache or origin request policy of a behavior (the rotator's, which decides).
pub use edgeseal_rotator::PolicyRef;

/// A distribution as `GetDistribution` shows it.
#[derive(Clone, Debug)]
pub struct Distribution {
    /// `d111111abcdef8.cloudfront.net`.
    pub domain_name: String,
    /// `Deployed` or `InProgress`.
    pub status: String,
    /// When its config last changed.
    pub last_modified: Option<UnixTime>,
    /// The config.
    pub config: DistributionConfig,
}

/// The secret's state.
#[derive(Debug, Default)]
pub struct Secret {
    /// `RotationEnabled`.
    pub rotation_enabled: bool,
    /// `LastRotatedDate`.
    pub last_rotated: Option<UnixTime>,
    /// Every staged version.
    pub versions: Vec<SecretVersion>,
}

/// One staged version of the secret.
#[derive(Debug)]
pub struct SecretVersion {
    /// The VersionId (the signature's keyid).
    pub id: String,
    /// Its staging labels.
    pub stages: Vec<String>,
    /// `CreatedDate`.
    pub created: Option<UnixTime>,
    /// The key, when the value is an edgeseal key (never printed).
    pub key: Option<SigningKey>,
}

impl Secret {
    /// The version carrying `stage`.
    pub fn with_stage(&self, stage: &str) -> Option<&SecretVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }
}

/// A published edge version.
#[derive(Clone, Debug)]
pub struct EdgeVersion {
    /// Lambda's `State` (`Active`, `Pending`, `Inactive`, `Failed`).
    pub state: String,
    /// The version's description; the rotator writes `edgeseal keyid=<keyid>`.
    pub description: String,
    /// `LastModified` of the version: when it was published.
    pub published: Option<UnixTime>,
    /// Base64 SHA-256 of the code the version runs.
    pub code_sha256: String,
}

/// Where the rotator records the keyid of the key a version carries.
pub const KEYID_PREFIX: &str = edgeseal_rotator::VERSION_DESCRIPTION_PREFIX;

impl EdgeVersion {
    /// The keyid the version signs with, when the rotator published it.
    pub fn keyid(&self) -> Option<&str> {
        self.description.strip_prefix(KEYID_PREFIX)
    }
}

/// Which kind of API Gateway authorizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizerKind {
    /// HTTP API Lambda authorizer (caching off unless a TTL is set).
    HttpRequest,
    /// REST API `REQUEST` authorizer (caches 300 s unless told otherwise).
    RestRequest,
    /// REST API `TOKEN` authorizer (one header only: cannot key on both fields).
    RestToken,
}

/// An API Gateway Lambda authorizer's caching settings, as `GetAuthorizers` of either
/// API flavour reports them.
#[derive(Clone, Debug)]
pub struct Authorizer {
    /// The API's id (REST API or HTTP API).
    pub api_id: String,
    /// The authorizer's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: AuthorizerKind,
    /// `AuthorizerResultTtlInSeconds`, `None` when unset (the service default).
    pub ttl_secs: Option<u32>,
    /// Identity sources, as API Gateway writes them (`$request.header.signature`,
    /// `method.request.header.Signature`).
    pub identity_sources: Vec<String>,
}

/// A request a probe sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// `https` or not.
    pub https: bool,
    /// Host (and port), also the Host header.
    pub authority: String,
    /// Raw path.
    pub path: String,
    /// Raw query, without `?`.
    pub query: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body, when the request has one (AppSync's GraphQL query).
    pub body: Option<String>,
}

/// Which status a request must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Any 2xx.
    Success,
    /// Exactly this status.
    Status(u16),
}

impl Expect {
    /// Whether `status` is what was expected.
    pub fn accepts(self, status: u16) -> bool {
        match self {
            Expect::Success => (200..300).contains(&status),
            Expect::Status(s) => s == status,
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Success => f.write_str("2xx"),
            Expect::Status(s) => write!(f, "{s}"),
        }
    }
}

/// What to check.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The distribution.
    pub distribution_id: String,
    /// The secret.
    pub secret_id: String,
    /// Path (and query) to request, `/`-led; on the origin it follows the origin path.
    pub path: String,
    /// Method of the allowed probes.
    pub method: String,
    /// What the allowed probes must get.
    pub expect: Expect,
    /// The signature label (`SIGNATURE_LABEL`).
    pub label: String,
    /// The signature tag (`SIGNATURE_TAG`), `None` for none.
    pub tag: Option<String>,
    /// The authorizer's `MAX_AGE_SECS`.
    pub max_age_secs: u64,
    /// The authorizer's `PREVIOUS_KEY_GRACE_SECS`.
    pub previous_grace_secs: u64,
    /// Now.
    pub now: UnixTime,
}

/// A check's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not.
    Fail,
    /// It could not be checked (said why); not a failure.
    Skip,
}

impl Verdict {
    /// `PASS`, `FAIL`, `SKIP`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One check's finding.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Stable id (`through-distribution`, `edge-key`, ...).
    pub id: &'static str,
    /// What a pass proves.
    pub proves: &'static str,
    /// The result.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// On failure: the likely cause.
    pub cause: Option<String>,
    /// On failure: the fix.
    pub fix: Option<String>,
}

impl Finding {
    fn new(id: &'static str, proves: &'static str) -> Self {
        Self {
            id,
            proves,
            verdict: Verdict::Pass,
            detail: String::new(),
            cause: None,
            fix: None,
        }
    }

    fn pass(mut self, detail: impl Into<String>) -> Self {
        self.verdict = Verdict::Pass;
        self.detail = detail.into();
        self
    }

    fn skip(mut self, detail: impl Into<String>) -> Self {
        self.verdict = Verdict::Skip;
        self.detail = detail.into();
        self
    }

    /// A skip that says what to deploy or grant for the check to run.
    fn skip_with_fix(mut self, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        self.verdict = Verdict::Skip;
        self.detail = detail.into();
        self.fix = Some(fix.into());
        self
    }

    fn fail(
        mut self,
        detail: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        self.verdict = Verdict::Fail;
        self.detail = detail.into();
        self.cause = Some(cause.into());
        self.fix = Some(fix.into());
        self
    }
}

/// Every finding, in the order checked.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.verdict != Verdict::Fail)
    }

    /// The finding `id`, if it ran.
    pub fn get(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }
}

/// Run every check. Errors reading the distribution or the secret end the run early
/// with a failed finding (nothing else can be checked without them).
pub async fn run<E: Environment>(env: &E, settings: &Settings) -> Report {
    let mut report = Report::default();
    let distribution = match env.distribution(&settings.distribution_id).await {
        Ok(d) => d,
        Err(e) => {
            report.findings.push(
                Finding::new("distribution", "the distribution can be read").fail(
                    e,
                    "wrong --distribution-id, region, or missing cloudfront:GetDistribution",
                    "pass the DistributionId output of the stack; grant cloudfront:GetDistribution",
                ),
            );
            return report;
        }
    };
    let secret = match env.secret(&settings.secret_id).await {
        Ok(s) => s,
        Err(e) => {
            report.findings.push(secret_unreadable(e));
            return report;
        }
    };
    report
        .findings
        .extend(probes::run(env, settings, &distribution, &secret).await);
    report
        .findings
        .extend(config::run(env, settings, &distribution, &secret).await);
    report
}

/// The `secret` check's failure: the secret (or what doctor reads of it) cannot be read.
/// Every check depends on it, so it is reported alone.
fn secret_unreadable(seen: String) -> Finding {
    Finding::new("secret", "the secret can be read").fail(
        seen,
        "wrong --secret-id, or missing secretsmanager:DescribeSecret/ListSecretVersionIds/GetSecretValue (and kms:Decrypt for a customer-managed key)",
        "pass the SecretArn output of the stack; grant those actions",
    )
}

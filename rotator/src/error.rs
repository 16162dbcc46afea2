//! Why a rotation step failed, and why a rotator could not be built.

use edgeseal_edge_signer::PackageError;

use crate::aws::ApiError;
use crate::origin::ProbeError;
use crate::targets::appsync::steps::AppSyncStepError;

/// Why a step failed. Secrets Manager will retry the rotation; the variants say what an
/// operator would need to fix when retries keep failing. Never carries key material.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Rotation is turned off for the secret.
    #[error("rotation is not enabled for the secret")]
    RotationDisabled,
    /// The token names no version of the secret.
    #[error("secret version {0} does not exist")]
    UnknownVersion(String),
    /// The token's version is not staged AWSPENDING.
    #[error("secret version {0} is not staged AWSPENDING")]
    NotPending(String),
    /// The secret has no AWSCURRENT value.
    #[error("the secret has no AWSCURRENT value")]
    NoCurrent,
    /// The AWSPENDING version has no value (createSecret has not run).
    #[error("secret version {0} has no value yet")]
    NoPendingValue(String),
    /// A secret value is not in a format this mode can use.
    #[error("the {stage} secret value is unusable: {reason}")]
    BadSecret {
        /// `AWSCURRENT` or `AWSPENDING`.
        stage: &'static str,
        /// What is wrong (never the value).
        reason: String,
    },
    /// The token cannot be a signature `keyid`.
    #[error("secret version id {0:?} cannot be used as a signature keyid")]
    BadKeyId(String),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed")]
    Random,
    /// An AWS call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The edge zip could not be built.
    #[error("cannot package the edge function")]
    Package(#[source] PackageError),
    /// Lambda could not apply the code update.
    #[error("edge function code update failed: {0}")]
    EdgeUpdateFailed(String),
    /// Lambda did not finish the code update before the deadline.
    #[error("edge function code update did not finish in time")]
    EdgeUpdateTimeout,
    /// Lambda holds other code than the package built for the key.
    #[error("edge function {0}: code hash differs from the package built for the key")]
    CodeMismatch(String),
    /// An edge version does not hold the package built for the key it should carry: a
    /// version number that names other code (a concurrent publish, an operator's manual
    /// association, an emulator that reuses numbers), so pointing at it, or trusting that
    /// a distribution naming it sends the key, would be wrong.
    #[error(
        "edge version {version}{at} has CodeSha256 {found}, not {expected} of the package built for key {keyid}"
    )]
    EdgeVersionMismatch {
        /// The qualified ARN of the version.
        version: String,
        /// `" (named by distribution X)"` when a distribution's association named it.
        at: String,
        /// The key's id (its secret version id; never the key).
        keyid: String,
        /// The code hash of the package built for the key.
        expected: String,
        /// The code hash Lambda reports for the version.
        found: String,
    },
    /// A distribution has no origin-request association naming the edge function.
    #[error("distribution {distribution} has no origin-request association for {function}")]
    NoAssociation {
        /// The distribution.
        distribution: String,
        /// The function (unqualified ARN).
        function: String,
    },
    /// A distribution has no origin with the custom header.
    #[error("distribution {distribution} has no origin with custom header {header}")]
    NoHeader {
        /// The distribution.
        distribution: String,
        /// The header name.
        header: String,
    },
    /// The distribution config kept changing under us.
    #[error("distribution {distribution}: ETag stale {attempts} times in a row")]
    StaleEtag {
        /// The distribution.
        distribution: String,
        /// How many tries.
        attempts: u32,
    },
    /// The origin did not accept a test request.
    #[error("origin test with the {stage} key failed: {source}")]
    Origin {
        /// `AWSPENDING` or `AWSCURRENT`.
        stage: &'static str,
        /// Why.
        #[source]
        source: ProbeError,
    },
    /// `PROBE=off`: the step's deadline comes before `SETTLE_SECS` has passed.
    #[error(
        "SETTLE_SECS ({0:?}) does not fit in what is left of testSecret: lower SETTLE_SECS or raise the Lambda timeout and MAX_STEP_SECS"
    )]
    SettleTooLong(std::time::Duration),
    /// A distribution does not send the pending key (setSecret has not completed).
    #[error("distribution {0} does not send the pending key")]
    NotPointed(String),
    /// A signing key met in static-header mode (or the reverse) where no conversion exists.
    #[error("this needs signed mode (EDGE_FUNCTION_NAME and the edge assets)")]
    NotSignedMode,
    /// A distribution was still `InProgress` when time ran out.
    #[error("distribution {0} is not Deployed yet (status {1}); retry later")]
    NotDeployed(String, String),
    /// The published edge version did not become `Active` before the step's deadline.
    #[error(
        "edge version {version} is still {state}; CloudFront associates only Active versions, so the rotation will retry"
    )]
    VersionNotActive {
        /// The version number.
        version: String,
        /// Its state.
        state: String,
    },
    /// Lambda could not make the published edge version `Active`.
    #[error("edge version {version} failed to become Active: {reason}")]
    VersionFailed {
        /// The version number.
        version: String,
        /// Lambda's `StateReason`.
        reason: String,
    },
    /// A distribution is still deploying an earlier change while an older key is
    /// AWSPREVIOUS: pointing it at a new key now could retire a key edges still sign with.
    #[error(
        "distribution {0} is still InProgress with an earlier change (maybe the previous rotation); a new key now could retire a key edges still run: retry once it is Deployed"
    )]
    PreviousRotationPropagating(String),
    /// Behaviors that run the signer do not forward all query strings to the origin.
    #[error(
        "distribution {distribution}: cache behavior(s) {} run the edge signer but do not forward all query strings (cache or origin request policy with QueryStringBehavior all), so every signed request with a query string would be denied",
        path_patterns.join(", ")
    )]
    QueryStringsHidden {
        /// The distribution.
        distribution: String,
        /// The behaviors' path patterns (`*` = the default behavior).
        path_patterns: Vec<String>,
    },
    /// A distribution's continuous deployment policy names a staging distribution the
    /// rotator is not configured to re-point.
    #[error(
        "distribution {distribution} has a continuous deployment policy whose staging distribution {staging_domain} is not in CLOUDFRONT_DISTRIBUTION_ID: add its id, or staging traffic keeps an old key and a promote copies it back onto the primary"
    )]
    StagingNotRotated {
        /// The primary distribution.
        distribution: String,
        /// The staging distribution's domain name.
        staging_domain: String,
    },
    /// The configuration test (testSecret without a pending key of ours) failed.
    #[error("configuration test failed: {0}")]
    ConfigurationTest(Box<RotationError>),
    /// The `api-gateway-api-key` target could not put the API key in place.
    #[error(transparent)]
    ApiKey(#[from] crate::targets::api_key::keys::ApiKeyError),
    /// The WAF header rule could not be changed or proven applied (`waf` target).
    #[error(transparent)]
    Waf(#[from] crate::targets::waf::rollout::WafError),
    /// The AppSync target's own failure (its AWS calls fail as [`RotationError::Api`]).
    #[error(transparent)]
    AppSync(AppSyncStepError),
}

impl RotationError {
    /// The stable `errorType` of the rotator's Lambda error reply for it (see
    /// `diagnostic.rs`): one name per kind of failure, for alarms and log queries.
    pub const fn error_type(&self) -> &'static str {
        match self {
            RotationError::RotationDisabled => "RotationDisabled",
            RotationError::UnknownVersion(_) => "UnknownVersion",
            RotationError::NotPending(_) => "NotPending",
            RotationError::NoCurrent => "NoCurrent",
            RotationError::NoPendingValue(_) => "NoPendingValue",
            RotationError::BadSecret { .. } => "BadSecret",
            RotationError::BadKeyId(_) => "BadKeyId",
            RotationError::Random => "RandomFailed",
            RotationError::Api(e) => e.error_type(),
            RotationError::Package(_) => "PackageFailed",
            RotationError::EdgeUpdateFailed(_) => "EdgeUpdateFailed",
            RotationError::EdgeUpdateTimeout => "EdgeUpdateTimeout",
            RotationError::CodeMismatch(_) => "CodeMismatch",
            RotationError::EdgeVersionMismatch { .. } => "EdgeVersionMismatch",
            RotationError::NoAssociation { .. } => "NoAssociation",
            RotationError::NoHeader { .. } => "NoHeader",
            RotationError::StaleEtag { .. } => "StaleEtag",
            RotationError::Origin { .. } => "OriginRejected",
            RotationError::NotPointed(_) => "NotPointed",
            RotationError::SettleTooLong(_) => "SettleTooLong",
            RotationError::NotSignedMode => "NotSignedMode",
            RotationError::NotDeployed(..) => "NotDeployed",
            RotationError::VersionNotActive { .. } => "VersionNotActive",
            RotationError::VersionFailed { .. } => "VersionFailed",
            RotationError::PreviousRotationPropagating(_) => "PreviousRotationPropagating",
            RotationError::QueryStringsHidden { .. } => "QueryStringsHidden",
            RotationError::StagingNotRotated { .. } => "StagingNotRotated",
            RotationError::ConfigurationTest(_) => "ConfigurationTestFailed",
            RotationError::ApiKey(e) => e.error_type(),
            RotationError::Waf(e) => e.error_type(),
            RotationError::AppSync(e) => e.error_type(),
        }
    }
}

impl From<AppSyncStepError> for RotationError {
    fn from(err: AppSyncStepError) -> Self {
        match err {
            AppSyncStepError::Api(e) => RotationError::Api(e),
            other => RotationError::AppSync(other),
        }
    }
}

/// Misconfiguration found when building a [`crate::Rotator`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Signed mode without edge assets.
    #[error("signed mode needs the edge assets (EDGE_ASSETS_DIR)")]
    MissingAssets,
    /// The assets cannot be packaged (checked once at start-up).
    #[error("edge assets are unusable")]
    Assets(#[source] PackageError),
    /// A target's `from_config` was given a configuration that selects another target.
    #[error("ROTATION_TARGET selects `{configured}`, not the `{built}` target being built")]
    OtherTarget {
        /// The `ROTATION_TARGET` the configuration selects.
        configured: &'static str,
        /// The target whose constructor was called.
        built: &'static str,
    },
}

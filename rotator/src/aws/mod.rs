//! The AWS calls the rotation makes, behind three small traits: Secrets Manager, the
//! edge function's Lambda API (us-east-1) and CloudFront distribution config.
//!
//! [`sdk`] implements them with the AWS SDK; `edgeseal-testkit` has a faithful
//! in-process CloudFront and a fault-injecting wrapper for all three.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_cloudfront::types::DistributionConfig;
use zeroize::Zeroizing;

pub(crate) mod sdk;

/// A policy a cache behavior names, by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyRef {
    /// `CachePolicyId`.
    Cache(String),
    /// `OriginRequestPolicyId`.
    OriginRequest(String),
}

/// Every AWS operation the rotator calls; used in errors, logs and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `secretsmanager:DescribeSecret`
    DescribeSecret,
    /// `secretsmanager:GetSecretValue`
    GetSecretValue,
    /// `secretsmanager:PutSecretValue`
    PutSecretValue,
    /// `secretsmanager:UpdateSecretVersionStage`
    UpdateSecretVersionStage,
    /// `lambda:UpdateFunctionCode`
    UpdateFunctionCode,
    /// `lambda:GetFunctionConfiguration`
    GetFunctionConfiguration,
    /// `lambda:PublishVersion`
    PublishVersion,
    /// `lambda:ListVersionsByFunction`
    ListVersionsByFunction,
    /// `lambda:DeleteFunction` (of one version)
    DeleteFunctionVersion,
    /// `cloudfront:GetDistributionConfig`
    GetDistributionConfig,
    /// `cloudfront:UpdateDistribution`
    UpdateDistribution,
    /// `cloudfront:GetDistribution`
    GetDistribution,
    /// `cloudfront:GetCachePolicy`
    GetCachePolicy,
    /// `cloudfront:GetOriginRequestPolicy`
    GetOriginRequestPolicy,
    /// `cloudfront:GetContinuousDeploymentPolicy`
    GetContinuousDeploymentPolicy,
    /// `apigateway:GET /usageplans/{id}` (GetUsagePlan)
    GetUsagePlan,
    /// `apigateway:GET /usageplans/{id}/keys` (GetUsagePlanKeys)
    GetUsagePlanKeys,
    /// `apigateway:POST /usageplans/{id}/keys` (CreateUsagePlanKey)
    CreateUsagePlanKey,
    /// `apigateway:DELETE /usageplans/{id}/keys/{keyId}` (DeleteUsagePlanKey)
    DeleteUsagePlanKey,
    /// `apigateway:GET /apikeys` (GetApiKeys)
    GetApiKeys,
    /// `apigateway:POST /apikeys` (CreateApiKey), or `appsync:CreateApiKey`: one
    /// target runs per rotator, so the name is unambiguous where it is used.
    CreateApiKey,
    /// `apigateway:PATCH /apikeys/{id}` (UpdateApiKey), or `appsync:UpdateApiKey`.
    UpdateApiKey,
    /// `apigateway:DELETE /apikeys/{id}` (DeleteApiKey), or `appsync:DeleteApiKey`.
    DeleteApiKey,
    /// `wafv2:GetWebACL`
    GetWebAcl,
    /// `wafv2:UpdateWebACL`
    UpdateWebAcl,
    /// `appsync:ListApiKeys`
    ListApiKeys,
    /// `appsync:GetGraphqlApi`
    GetGraphqlApi,
}

impl Op {
    /// The API action name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::DescribeSecret => "DescribeSecret",
            Op::GetSecretValue => "GetSecretValue",
            Op::PutSecretValue => "PutSecretValue",
            Op::UpdateSecretVersionStage => "UpdateSecretVersionStage",
            Op::UpdateFunctionCode => "UpdateFunctionCode",
            Op::GetFunctionConfiguration => "GetFunctionConfiguration",
            Op::PublishVersion => "PublishVersion",
            Op::ListVersionsByFunction => "ListVersionsByFunction",
            Op::DeleteFunctionVersion => "DeleteFunction",
            Op::GetDistributionConfig => "GetDistributionConfig",
            Op::UpdateDistribution => "UpdateDistribution",
            Op::GetDistribution => "GetDistribution",
            Op::GetCachePolicy => "GetCachePolicy",
            Op::GetOriginRequestPolicy => "GetOriginRequestPolicy",
            Op::GetContinuousDeploymentPolicy => "GetContinuousDeploymentPolicy",
            Op::GetUsagePlan => "GetUsagePlan",
            Op::GetUsagePlanKeys => "GetUsagePlanKeys",
            Op::CreateUsagePlanKey => "CreateUsagePlanKey",
            Op::DeleteUsagePlanKey => "DeleteUsagePlanKey",
            Op::GetApiKeys => "GetApiKeys",
            Op::CreateApiKey => "CreateApiKey",
            Op::UpdateApiKey => "UpdateApiKey",
            Op::DeleteApiKey => "DeleteApiKey",
            Op::GetWebAcl => "GetWebACL",
            Op::UpdateWebAcl => "UpdateWebACL",
            Op::ListApiKeys => "ListApiKeys",
            Op::GetGraphqlApi => "GetGraphqlApi",
        }
    }
}

impl Op {
    /// Whether the call changes state in AWS (a lost answer then matters).
    pub const fn mutates(self) -> bool {
        matches!(
            self,
            Op::PutSecretValue
                | Op::UpdateSecretVersionStage
                | Op::UpdateFunctionCode
                | Op::PublishVersion
                | Op::DeleteFunctionVersion
                | Op::UpdateDistribution
                | Op::CreateUsagePlanKey
                | Op::DeleteUsagePlanKey
                | Op::UpdateWebAcl
                | Op::CreateApiKey
                | Op::UpdateApiKey
                | Op::DeleteApiKey
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed AWS call. Messages come from the service and never contain secret values
/// (requests carrying them are never echoed).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `UpdateDistribution`'s `IfMatch` no longer names the current config.
    #[error("{0}: the ETag is stale (PreconditionFailed)")]
    PreconditionFailed(Op),
    /// `UpdateWebACL`'s `LockToken` no longer names the current web ACL
    /// (`WAFOptimisticLockException`: someone changed it since it was read).
    #[error("{0}: the web ACL changed since it was read (WAFOptimisticLockException)")]
    StaleLockToken(Op),
    /// The resource does not exist.
    #[error("{op}: not found: {message}")]
    NotFound {
        /// The call.
        op: Op,
        /// The service's message.
        message: String,
    },
    /// Any other service or transport error.
    #[error("{op} failed ({code}): {message}")]
    Service {
        /// The call.
        op: Op,
        /// The service's error code, or `transport` / `unknown`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The control plane refused the call for its rate (CloudFront answers `Throttling`,
    /// "Rate exceeded", after a few `UpdateDistribution` calls a minute per account:
    /// ansible-collections/community.aws#296, aws/aws-cdk#29183). Worth retrying later.
    #[error("{op}: throttled ({message})")]
    Throttled {
        /// The call.
        op: Op,
        /// The service's message.
        message: String,
    },
    /// The request conflicts with what exists (API Gateway's `ConflictException`, 409:
    /// an API key value that another key already has, a key already in a usage plan).
    #[error("{op}: conflict ({message})")]
    Conflict {
        /// The call.
        op: Op,
        /// The service's message.
        message: String,
    },
    /// The service answered without a field the rotator needs.
    #[error("{op}: response lacks {field}")]
    Incomplete {
        /// The call.
        op: Op,
        /// The missing field.
        field: &'static str,
    },
}

impl ApiError {
    /// The stable `errorType` of the rotator's Lambda error for it: throttling and a
    /// missing resource by name, every other failed call `AwsApiError`.
    pub const fn error_type(&self) -> &'static str {
        match self {
            ApiError::Throttled { .. } => "Throttled",
            ApiError::NotFound { .. } => "NotFound",
            _ => "AwsApiError",
        }
    }

    /// The same error with every occurrence of `secret` in the service's message replaced
    /// by `<redacted>`: for calls that carried a secret (an API key value), should the
    /// service ever echo it.
    #[must_use]
    pub fn redacting(self, secret: &str) -> Self {
        let scrub = |message: String| message.replace(secret, "<redacted>");
        match self {
            Self::Service { op, code, message } => Self::Service {
                op,
                code,
                message: scrub(message),
            },
            Self::Conflict { op, message } => Self::Conflict {
                op,
                message: scrub(message),
            },
            Self::NotFound { op, message } => Self::NotFound {
                op,
                message: scrub(message),
            },
            Self::Throttled { op, message } => Self::Throttled {
                op,
                message: scrub(message),
            },
            other => other,
        }
    }
}

/// A secret's rotation state: whether rotation is on and which labels each version has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretMetadata {
    /// `RotationEnabled`.
    pub rotation_enabled: bool,
    /// The time between scheduled rotations, from `RotationRules` ([`rotation_interval`]).
    pub rotation_interval: Option<std::time::Duration>,
    /// `VersionIdsToStages`.
    pub versions: BTreeMap<String, Vec<String>>,
}

/// The time between scheduled rotations from a secret's `RotationRules`:
/// `AutomaticallyAfterDays`, or a `rate(N days|hours)` `ScheduleExpression` (which
/// takes precedence); `None` for `cron(…)` schedules, whose gaps vary, and without a
/// schedule.
pub fn rotation_interval(
    automatically_after_days: Option<i64>,
    schedule_expression: Option<&str>,
) -> Option<std::time::Duration> {
    const HOUR: u64 = 3_600;
    const DAY: u64 = 86_400;
    if let Some(expression) = schedule_expression {
        let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
        let (count, unit) = inner.trim().split_once(' ')?;
        let count: u64 = count.parse().ok()?;
        let unit_secs = match unit.trim() {
            "day" | "days" => DAY,
            "hour" | "hours" => HOUR,
            _ => return None,
        };
        return Some(std::time::Duration::from_secs(
            count.checked_mul(unit_secs)?,
        ));
    }
    let days = u64::try_from(automatically_after_days?).ok()?;
    Some(std::time::Duration::from_secs(days.checked_mul(DAY)?))
}

impl SecretMetadata {
    /// The labels of `version_id`, if the version exists.
    pub fn stages_of(&self, version_id: &str) -> Option<&[String]> {
        self.versions.get(version_id).map(Vec::as_slice)
    }

    /// The version carrying `stage`, if any.
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }
}

/// Secrets Manager, as the rotation uses it.
pub trait SecretsApi: Send + Sync {
    /// `DescribeSecret`.
    fn describe_secret(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<SecretMetadata, ApiError>> + Send;

    /// `GetSecretValue` by version id and/or stage; `Ok(None)` when that version has no
    /// value (Secrets Manager answers `ResourceNotFoundException`).
    fn get_secret_string(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> impl Future<Output = Result<Option<Zeroizing<String>>, ApiError>> + Send;

    /// `PutSecretValue` of `token` with the `AWSPENDING` label.
    fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        secret_string: &str,
        rotation_token: Option<&str>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `UpdateSecretVersionStage`.
    fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: &str,
        remove_from: Option<&str>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// One published version of the edge function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionVersion {
    /// The version number (`"7"`); never `$LATEST` here.
    pub version: String,
    /// The qualified ARN, as CloudFront associations name it.
    pub arn: String,
    /// The version's description (edgeseal writes `edgeseal keyid=<keyid>`).
    pub description: String,
    /// Base64 SHA-256 of the deployment package.
    pub code_sha256: String,
}

/// Where an `UpdateFunctionCode` stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateStatus {
    /// Done: a version can be published.
    Successful,
    /// Still being applied.
    InProgress,
    /// Lambda could not apply it.
    Failed(String),
}

/// A published version's `State` (Lambda function states): a version starts `Pending`
/// and CloudFront refuses to associate it until it is `Active`
/// (aws-samples/cloudfront-authorization-at-edge#245).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionState {
    /// Ready to be associated.
    Active,
    /// Still being set up.
    Pending,
    /// Lambda could not set it up (with `StateReason`).
    Failed(String),
    /// Anything else Lambda reports (`Inactive`, ...).
    Other(String),
}

/// The edge function's Lambda API (a client for us-east-1).
pub trait EdgeFunctionApi: Send + Sync {
    /// `UpdateFunctionCode` of `$LATEST`; returns the new `CodeSha256`.
    fn update_code(
        &self,
        function: &str,
        zip: Vec<u8>,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;

    /// `GetFunctionConfiguration` of `$LATEST`: its `LastUpdateStatus`.
    fn update_status(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<UpdateStatus, ApiError>> + Send;

    /// `PublishVersion`, only if `$LATEST`'s code hash is still `code_sha256`.
    fn publish_version(
        &self,
        function: &str,
        description: &str,
        code_sha256: &str,
    ) -> impl Future<Output = Result<FunctionVersion, ApiError>> + Send;

    /// `GetFunctionConfiguration` of one published version: its `State`.
    fn version_state(
        &self,
        function: &str,
        version: &str,
    ) -> impl Future<Output = Result<VersionState, ApiError>> + Send;

    /// `GetFunctionConfiguration` of one published version: its `CodeSha256`, i.e. the
    /// code an association naming that version runs.
    fn version_code_sha256(
        &self,
        function: &str,
        version: &str,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;

    /// `ListVersionsByFunction`, all pages, without `$LATEST`.
    fn list_versions(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<Vec<FunctionVersion>, ApiError>> + Send;

    /// `DeleteFunction` of one version.
    fn delete_version(
        &self,
        function: &str,
        version: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// A distribution's rollout state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployStatus {
    /// Every edge runs the latest config.
    Deployed,
    /// Edges may run the latest or an earlier config.
    InProgress,
    /// Anything else CloudFront reports.
    Other(String),
}

/// CloudFront distribution configuration.
pub trait DistributionApi: Send + Sync {
    /// `GetDistributionConfig`: the config and its ETag.
    fn get_config(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(DistributionConfig, String), ApiError>> + Send;

    /// `UpdateDistribution` with `IfMatch = etag`; returns the new ETag.
    /// A stale ETag is [`ApiError::PreconditionFailed`].
    fn update_config(
        &self,
        id: &str,
        config: DistributionConfig,
        etag: &str,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;

    /// `GetDistribution`: its status.
    fn status(&self, id: &str) -> impl Future<Output = Result<DeployStatus, ApiError>> + Send;

    /// `GetDistribution`: its domain name (`dxxxx.cloudfront.net`).
    fn domain_name(&self, id: &str) -> impl Future<Output = Result<String, ApiError>> + Send;

    /// `GetCachePolicy` / `GetOriginRequestPolicy`: whether the policy forwards every
    /// query string (`QueryStringBehavior` `all`).
    fn policy_forwards_all_query_strings(
        &self,
        policy: &PolicyRef,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;

    /// `GetContinuousDeploymentPolicy`: the staging distributions' domain names
    /// (`StagingDistributionDnsNames`).
    fn staging_domain_names(
        &self,
        policy_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, ApiError>> + Send;
}

#[cfg(test)]
mod tests;

//! The three AWS APIs through the AWS SDK for Rust.

use std::future::Future;

use aws_sdk_cloudfront::types::DistributionConfig;
// `SdkError` is one type re-exported by every service crate; any of them can name it.
use aws_sdk_secretsmanager::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use zeroize::Zeroizing;

use super::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};

/// Lambda@Edge functions live in us-east-1, and CloudFront's API is served from there;
/// both clients are pinned to it whatever region the rotator runs in.
pub(crate) const EDGE_REGION: &str = "us-east-1";

/// Turn an SDK error into an [`ApiError`], keeping the service's code and message.
pub(crate) fn classify<E, R>(op: Op, err: &SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("unknown").to_owned();
            let message = e.message().unwrap_or_default().to_owned();
            match code.as_str() {
                "ResourceNotFoundException"
                | "NoSuchDistribution"
                | "NotFoundException"
                | "WAFNonexistentItemException" => ApiError::NotFound { op, message },
                "PreconditionFailed" => ApiError::PreconditionFailed(op),
                // API Gateway (409): a key value already taken, a key already in a plan.
                "ConflictException" => ApiError::Conflict { op, message },
                // UpdateWebACL with a LockToken someone else's update made stale.
                "WAFOptimisticLockException" => ApiError::StaleLockToken(op),
                // CloudFront: `Throttling` / "Rate exceeded" (community.aws#296); Lambda
                // and Secrets Manager name it `TooManyRequestsException` /
                // `ThrottlingException`; API Gateway answers 429 `TooManyRequestsException`
                // or `LimitExceededException` (API reference, CreateApiKey "Errors").
                // (The SDK's own retries come first.)
                "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "LimitExceededException" => ApiError::Throttled { op, message },
                _ => ApiError::Service { op, code, message },
            }
        }
        other => ApiError::Service {
            op,
            code: "transport".to_owned(),
            message: aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
        },
    }
}

/// An SDK request's `send()`, its error turned into an [`ApiError`] of `op`.
pub(crate) trait OrApiError<T> {
    fn or_api_error(self, op: Op) -> impl Future<Output = Result<T, ApiError>>;
}

impl<F, T, E, R> OrApiError<T> for F
where
    F: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    async fn or_api_error(self, op: Op) -> Result<T, ApiError> {
        // Boxed: an SDK request's future is tens of KiB in unoptimised builds, and every
        // future awaiting one inline grows by it (test threads' stacks overflowed).
        Box::pin(self).await.map_err(|e| classify(op, &e))
    }
}

/// A field the rotator needs from `op`'s response ([`ApiError::Incomplete`] if absent).
pub(crate) fn required<T>(op: Op, field: &'static str, value: Option<T>) -> Result<T, ApiError> {
    value.ok_or(ApiError::Incomplete { op, field })
}

/// Secrets Manager through the SDK.
#[derive(Clone, Debug)]
pub struct SdkSecrets(pub aws_sdk_secretsmanager::Client);

impl SdkSecrets {
    /// A client from the shared SDK configuration (the rotator's own region).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_secretsmanager::Client::new(config))
    }
}

impl SecretsApi for SdkSecrets {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretMetadata, ApiError> {
        let out = self
            .0
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .or_api_error(Op::DescribeSecret)
            .await?;
        let rules = out.rotation_rules();
        Ok(SecretMetadata {
            rotation_enabled: out.rotation_enabled().unwrap_or(false),
            rotation_interval: super::rotation_interval(
                rules.and_then(|r| r.automatically_after_days()),
                rules.and_then(|r| r.schedule_expression()),
            ),
            versions: out
                .version_ids_to_stages()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
    }

    async fn get_secret_string(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, ApiError> {
        let request = self
            .0
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_owned))
            .set_version_stage(stage.map(str::to_owned))
            .send();
        // Boxed, as in `or_api_error`.
        let result = Box::pin(request).await;
        match result {
            Ok(mut out) => Ok(out.secret_string.take().map(Zeroizing::new)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify(Op::GetSecretValue, &e)),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        secret_string: &str,
        rotation_token: Option<&str>,
    ) -> Result<(), ApiError> {
        self.0
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(secret_string)
            .version_stages(edgeseal::Stage::Pending.label())
            .set_rotation_token(rotation_token.map(str::to_owned))
            .send()
            .or_api_error(Op::PutSecretValue)
            .await?;
        Ok(())
    }

    async fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: &str,
        remove_from: Option<&str>,
    ) -> Result<(), ApiError> {
        self.0
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .move_to_version_id(move_to)
            .set_remove_from_version_id(remove_from.map(str::to_owned))
            .send()
            .or_api_error(Op::UpdateSecretVersionStage)
            .await?;
        Ok(())
    }
}

/// The edge function's Lambda API through the SDK, in us-east-1.
#[derive(Clone, Debug)]
pub struct SdkLambda(pub aws_sdk_lambda::Client);

impl SdkLambda {
    /// A us-east-1 client from the shared SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let conf = aws_sdk_lambda::config::Builder::from(config)
            .region(aws_sdk_lambda::config::Region::new(EDGE_REGION))
            .build();
        Self(aws_sdk_lambda::Client::from_conf(conf))
    }
}

fn function_version(
    op: Op,
    version: Option<&str>,
    arn: Option<&str>,
    description: Option<&str>,
    code_sha256: Option<&str>,
) -> Result<FunctionVersion, ApiError> {
    Ok(FunctionVersion {
        version: required(op, "Version", version)?.to_owned(),
        arn: required(op, "FunctionArn", arn)?.to_owned(),
        description: description.unwrap_or_default().to_owned(),
        code_sha256: code_sha256.unwrap_or_default().to_owned(),
    })
}

impl EdgeFunctionApi for SdkLambda {
    async fn update_code(&self, function: &str, zip: Vec<u8>) -> Result<String, ApiError> {
        let out = self
            .0
            .update_function_code()
            .function_name(function)
            .zip_file(aws_smithy_types::Blob::new(zip))
            .send()
            .or_api_error(Op::UpdateFunctionCode)
            .await?;
        Ok(required(Op::UpdateFunctionCode, "CodeSha256", out.code_sha256())?.to_owned())
    }

    async fn update_status(&self, function: &str) -> Result<UpdateStatus, ApiError> {
        use aws_sdk_lambda::types::LastUpdateStatus;
        let out = self
            .0
            .get_function_configuration()
            .function_name(function)
            .send()
            .or_api_error(Op::GetFunctionConfiguration)
            .await?;
        Ok(match out.last_update_status() {
            // Absent on functions that were never updated (and in some emulators).
            None | Some(LastUpdateStatus::Successful) => UpdateStatus::Successful,
            Some(LastUpdateStatus::InProgress) => UpdateStatus::InProgress,
            Some(other) => UpdateStatus::Failed(format!(
                "{}: {}",
                other.as_str(),
                out.last_update_status_reason().unwrap_or("no reason given")
            )),
        })
    }

    async fn publish_version(
        &self,
        function: &str,
        description: &str,
        code_sha256: &str,
    ) -> Result<FunctionVersion, ApiError> {
        let out = self
            .0
            .publish_version()
            .function_name(function)
            .description(description)
            .code_sha256(code_sha256)
            .send()
            .or_api_error(Op::PublishVersion)
            .await?;
        function_version(
            Op::PublishVersion,
            out.version(),
            out.function_arn(),
            out.description(),
            out.code_sha256(),
        )
    }

    async fn version_state(&self, function: &str, version: &str) -> Result<VersionState, ApiError> {
        use aws_sdk_lambda::types::State;
        let out = self
            .0
            .get_function_configuration()
            .function_name(function)
            .qualifier(version)
            .send()
            .or_api_error(Op::GetFunctionConfiguration)
            .await?;
        Ok(match out.state() {
            // Absent in emulators that do not model states (moto): nothing to wait for.
            None | Some(State::Active) => VersionState::Active,
            Some(State::Pending) => VersionState::Pending,
            Some(State::Failed) => {
                VersionState::Failed(out.state_reason().unwrap_or("no reason given").to_owned())
            }
            Some(other) => VersionState::Other(other.as_str().to_owned()),
        })
    }

    async fn version_code_sha256(&self, function: &str, version: &str) -> Result<String, ApiError> {
        let out = self
            .0
            .get_function_configuration()
            .function_name(function)
            .qualifier(version)
            .send()
            .or_api_error(Op::GetFunctionConfiguration)
            .await?;
        Ok(required(
            Op::GetFunctionConfiguration,
            "CodeSha256",
            out.code_sha256(),
        )?
        .to_owned())
    }

    async fn list_versions(&self, function: &str) -> Result<Vec<FunctionVersion>, ApiError> {
        let mut versions = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .0
                .list_versions_by_function()
                .function_name(function)
                .set_marker(marker.take())
                .send()
                .or_api_error(Op::ListVersionsByFunction)
                .await?;
            for v in out.versions() {
                if v.version() == Some("$LATEST") {
                    continue;
                }
                versions.push(function_version(
                    Op::ListVersionsByFunction,
                    v.version(),
                    v.function_arn(),
                    v.description(),
                    v.code_sha256(),
                )?);
            }
            match out.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
                _ => return Ok(versions),
            }
        }
    }

    async fn delete_version(&self, function: &str, version: &str) -> Result<(), ApiError> {
        self.0
            .delete_function()
            .function_name(function)
            .qualifier(version)
            .send()
            .or_api_error(Op::DeleteFunctionVersion)
            .await?;
        Ok(())
    }
}

/// CloudFront through the SDK.
#[derive(Clone, Debug)]
pub struct SdkCloudFront(pub aws_sdk_cloudfront::Client);

impl SdkCloudFront {
    /// A client from the shared SDK configuration (CloudFront is global, served from
    /// us-east-1).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let conf = aws_sdk_cloudfront::config::Builder::from(config)
            .region(aws_sdk_cloudfront::config::Region::new(EDGE_REGION))
            .build();
        Self(aws_sdk_cloudfront::Client::from_conf(conf))
    }
}

impl SdkCloudFront {
    /// `GetDistribution`: the distribution (status, domain name, ...).
    async fn distribution(
        &self,
        id: &str,
    ) -> Result<aws_sdk_cloudfront::types::Distribution, ApiError> {
        let op = Op::GetDistribution;
        let out = self
            .0
            .get_distribution()
            .id(id)
            .send()
            .or_api_error(op)
            .await?;
        required(op, "Distribution", out.distribution)
    }
}

impl DistributionApi for SdkCloudFront {
    async fn get_config(&self, id: &str) -> Result<(DistributionConfig, String), ApiError> {
        let op = Op::GetDistributionConfig;
        let out = self
            .0
            .get_distribution_config()
            .id(id)
            .send()
            .or_api_error(op)
            .await?;
        let etag = required(op, "ETag", out.e_tag())?.to_owned();
        let config = required(op, "DistributionConfig", out.distribution_config)?;
        Ok((config, etag))
    }

    async fn update_config(
        &self,
        id: &str,
        config: DistributionConfig,
        etag: &str,
    ) -> Result<String, ApiError> {
        let op = Op::UpdateDistribution;
        let out = self
            .0
            .update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(config)
            .send()
            .or_api_error(op)
            .await?;
        Ok(required(op, "ETag", out.e_tag())?.to_owned())
    }

    async fn status(&self, id: &str) -> Result<DeployStatus, ApiError> {
        Ok(match self.distribution(id).await?.status() {
            "Deployed" => DeployStatus::Deployed,
            "InProgress" => DeployStatus::InProgress,
            other => DeployStatus::Other(other.to_owned()),
        })
    }

    async fn domain_name(&self, id: &str) -> Result<String, ApiError> {
        Ok(self.distribution(id).await?.domain_name().to_owned())
    }

    async fn policy_forwards_all_query_strings(
        &self,
        policy: &PolicyRef,
    ) -> Result<bool, ApiError> {
        // Both policy kinds carry a `QueryStringsConfig`; only `all` forwards every one.
        let (op, behavior) = match policy {
            PolicyRef::Cache(id) => {
                let op = Op::GetCachePolicy;
                let out = self
                    .0
                    .get_cache_policy()
                    .id(id)
                    .send()
                    .or_api_error(op)
                    .await?;
                let behavior = out
                    .cache_policy()
                    .and_then(|p| p.cache_policy_config())
                    .and_then(|c| c.parameters_in_cache_key_and_forwarded_to_origin())
                    .and_then(|p| p.query_strings_config())
                    .map(|q| q.query_string_behavior().as_str().to_owned());
                (op, behavior)
            }
            PolicyRef::OriginRequest(id) => {
                let op = Op::GetOriginRequestPolicy;
                let out = self
                    .0
                    .get_origin_request_policy()
                    .id(id)
                    .send()
                    .or_api_error(op)
                    .await?;
                let behavior = out
                    .origin_request_policy()
                    .and_then(|p| p.origin_request_policy_config())
                    .and_then(|c| c.query_strings_config())
                    .map(|q| q.query_string_behavior().as_str().to_owned());
                (op, behavior)
            }
        };
        Ok(required(op, "QueryStringsConfig", behavior)? == "all")
    }

    async fn staging_domain_names(&self, policy_id: &str) -> Result<Vec<String>, ApiError> {
        let op = Op::GetContinuousDeploymentPolicy;
        let out = self
            .0
            .get_continuous_deployment_policy()
            .id(policy_id)
            .send()
            .or_api_error(op)
            .await?;
        Ok(out
            .continuous_deployment_policy()
            .and_then(|p| p.continuous_deployment_policy_config())
            .and_then(|c| c.staging_distribution_dns_names())
            .map(|n| n.items().to_vec())
            .unwrap_or_default())
    }
}

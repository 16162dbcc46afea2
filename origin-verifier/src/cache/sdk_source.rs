//! [`SdkSource`]: the cache's reads ([`SecretsSource`]) over the AWS SDK's Secrets Manager
//! client (built by `src/sdk.rs`): `ListSecretVersionIds`, `GetSecretValue` by
//! `VersionId` or by the AWSCURRENT label, `DescribeSecret`, and their errors as
//! [`SourceError`]s.

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::builders::GetSecretValueFluentBuilder;
use edgeseal::{Stage, UnixTime};
use zeroize::Zeroizing;

use super::source::{CurrentValue, SecretsSource, SourceError, VersionInfo};

/// [`SecretsSource`] over the AWS SDK.
#[derive(Clone, Debug)]
pub struct SdkSource {
    client: aws_sdk_secretsmanager::Client,
}

impl SdkSource {
    /// Wrap a client (built once per execution environment).
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

fn to_unix(date: &aws_smithy_types::DateTime) -> Option<UnixTime> {
    u64::try_from(date.secs()).ok().map(UnixTime::from_secs)
}

fn sdk_detail<E, R>(err: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata,
{
    use aws_sdk_secretsmanager::error::SdkError;
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!(
                "{} ({})",
                e.code().unwrap_or("unknown"),
                e.message().unwrap_or("")
            )
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch failure (no connection)".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request construction failed".to_owned(),
        _ => "unknown error".to_owned(),
    }
}

impl SecretsSource for SdkSource {
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        // Secrets Manager keeps ~100 versions; only labelled ones matter, and a few pages
        // bound the work if a secret has accumulated more.
        const MAX_PAGES: usize = 5;
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_secret_version_ids()
                .secret_id(secret_id)
                .include_deprecated(false)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|err| {
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception())
                    {
                        SourceError::SecretNotFound(secret_id.to_owned())
                    } else {
                        SourceError::Failed {
                            operation: "ListSecretVersionIds",
                            detail: sdk_detail(&err),
                        }
                    }
                })?;
            for entry in out.versions() {
                let Some(version_id) = entry.version_id() else {
                    continue;
                };
                if entry.version_stages().is_empty() {
                    continue;
                }
                versions.push(VersionInfo {
                    version_id: version_id.to_owned(),
                    stages: entry.version_stages().to_vec(),
                    created: entry.created_date().and_then(to_unix),
                });
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(versions)
    }

    async fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        let request = self.client.get_secret_value().version_id(version_id);
        let out = self.get_secret_value(request, secret_id).await?;
        Ok(out.map(|mut out| Zeroizing::new(out.secret_string.take().unwrap_or_default())))
    }

    async fn get_current(&self, secret_id: &str) -> Result<Option<CurrentValue>, SourceError> {
        let request = self
            .client
            .get_secret_value()
            .version_stage(Stage::Current.label());
        let out = self.get_secret_value(request, secret_id).await?;
        Ok(out.and_then(|mut out| {
            let value = Zeroizing::new(out.secret_string.take().unwrap_or_default());
            out.version_id.take().map(|version_id| (version_id, value))
        }))
    }

    async fn last_rotated(&self, secret_id: &str) -> Result<Option<UnixTime>, SourceError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|err| SourceError::Failed {
                operation: "DescribeSecret",
                detail: sdk_detail(&err),
            })?;
        Ok(out.last_rotated_date().and_then(to_unix))
    }
}

impl SdkSource {
    /// One `GetSecretValue`; `Ok(None)` when Secrets Manager answers
    /// `ResourceNotFoundException` (no such secret, version or label).
    async fn get_secret_value(
        &self,
        request: GetSecretValueFluentBuilder,
        secret_id: &str,
    ) -> Result<Option<GetSecretValueOutput>, SourceError> {
        match request.secret_id(secret_id).send().await {
            Ok(out) => Ok(Some(out)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(SourceError::Failed {
                operation: "GetSecretValue",
                detail: sdk_detail(&err),
            }),
        }
    }
}

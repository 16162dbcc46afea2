//! AWS access: the SDK configuration from the global flags, and the secret's versions
//! (what they are, never what they mean: `keys.rs` reads them as keys).

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::Client as SecretsClient;
use edgeseal::UnixTime;
use zeroize::Zeroizing;

use crate::args::Global;
use crate::error::CliError;

/// The SDK configuration: the usual chain (env, profile, instance role), with the
/// flags on top. `AWS_ENDPOINT_URL` is honoured by the chain itself.
pub async fn sdk_config(global: &Global) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &global.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &global.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// One version of the secret, as listed (the type the key rules take).
pub use edgeseal::accepted::ListedVersion as VersionInfo;

/// Every version of the secret that carries a staging label.
pub async fn list_versions(
    client: &SecretsClient,
    secret_id: &str,
) -> Result<Vec<VersionInfo>, CliError> {
    let mut versions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_secret_version_ids()
            .secret_id(secret_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|err| CliError::aws("ListSecretVersionIds", err))?;
        for v in page.versions() {
            let Some(version_id) = v.version_id() else {
                continue;
            };
            versions.push(VersionInfo {
                version_id: version_id.to_owned(),
                stages: v.version_stages().to_vec(),
                created: v
                    .created_date()
                    .and_then(|d| u64::try_from(d.secs()).ok())
                    .map(UnixTime::from_secs),
            });
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(versions)
}

/// Move the secret value out of the SDK's answer into a buffer wiped on drop (the SDK's
/// own response buffers are out of reach).
pub fn take_secret_string(
    value: &mut aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput,
) -> Option<Zeroizing<String>> {
    value.secret_string.take().map(Zeroizing::new)
}

/// The secret's `LastRotatedDate` (when its last rotation completed), if it has one.
pub async fn last_rotated(
    client: &SecretsClient,
    secret_id: &str,
) -> Result<Option<UnixTime>, CliError> {
    let described = client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| CliError::aws("DescribeSecret", err))?;
    Ok(described
        .last_rotated_date()
        .and_then(|d| u64::try_from(d.secs()).ok())
        .map(UnixTime::from_secs))
}

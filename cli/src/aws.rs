//! AWS access: the SDK configuration from the global flags, and the secret's versions.

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::Client as SecretsClient;
use edgeseal::{KeyId, KeySet, SigningKey, Stage, UnixTime};
use zeroize::Zeroizing;

use crate::args::Global;
use crate::error::CliError;
use crate::keys;

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

/// One version of the secret, as listed.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    pub version_id: String,
    pub stages: Vec<String>,
    pub created: Option<UnixTime>,
}

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

/// The key of one staged version, with its version id (the signature's keyid).
pub async fn key_at_stage(
    client: &SecretsClient,
    secret_id: &str,
    stage: &str,
) -> Result<(KeyId, SigningKey), CliError> {
    let mut value = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
        .map_err(|err| CliError::aws("GetSecretValue", err))?;
    let version_id = value
        .version_id()
        .ok_or_else(|| CliError::Config(format!("{secret_id} ({stage}) has no version id")))?;
    let keyid = KeyId::new(version_id)
        .map_err(|err| CliError::Config(format!("version id of {secret_id} ({stage}): {err}")))?;
    let secret_string = take_secret_string(&mut value).ok_or_else(|| {
        CliError::Config(format!(
            "{secret_id} ({stage}) has no SecretString (binary secret?)"
        ))
    })?;
    let key = keys::from_secret_string(&secret_string, &format!("{secret_id} ({stage})"))?;
    Ok((keyid, key))
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

/// What a freshly started authorizer would accept: AWSCURRENT, AWSPENDING, and
/// AWSPREVIOUS until `grace_secs` after its demotion as a cold start dates it
/// ([`origin_verifier::cold_start_demotion`]: the last rotation's completion, else
/// AWSCURRENT's creation). Versions that are not edgeseal keys are skipped and
/// reported, as the authorizer does.
pub async fn key_set(
    client: &SecretsClient,
    secret_id: &str,
    grace_secs: u64,
) -> Result<(KeySet, Vec<String>), CliError> {
    let versions = list_versions(client, secret_id).await?;
    let current_created = versions
        .iter()
        .find(|v| v.stages.iter().any(|s| s == Stage::Current.label()))
        .and_then(|v| v.created);
    let has_previous = versions
        .iter()
        .any(|v| v.stages.iter().any(|s| s == Stage::Previous.label()));
    let last_rotated = if has_previous {
        last_rotated(client, secret_id).await?
    } else {
        None
    };
    let demoted =
        origin_verifier::cold_start_demotion(current_created, last_rotated, UnixTime::now());
    let mut set = KeySet::new();
    let mut skipped = Vec::new();
    for v in &versions {
        let mut stages: Vec<Stage> = v
            .stages
            .iter()
            .filter_map(|s| Stage::from_label(s))
            .collect();
        if stages.is_empty() {
            continue;
        }
        stages.sort_unstable();
        let mut value = client
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(&v.version_id)
            .send()
            .await
            .map_err(|err| CliError::aws("GetSecretValue", err))?;
        let Some(secret_string) = take_secret_string(&mut value) else {
            skipped.push(v.version_id.clone());
            continue;
        };
        let Ok(key) = keys::from_secret_string(&secret_string, &v.version_id) else {
            skipped.push(v.version_id.clone());
            continue;
        };
        let Ok(keyid) = KeyId::new(v.version_id.as_str()) else {
            skipped.push(v.version_id.clone());
            continue;
        };
        for stage in stages {
            match stage {
                Stage::Current => set.insert_current(keyid.clone(), key.clone()),
                Stage::Pending => set.insert_pending(keyid.clone(), key.clone()),
                Stage::Previous => {
                    // Without a demotion time the grace cannot be placed: treat the
                    // previous key as retired (fail closed).
                    let retired_at =
                        demoted.map_or(UnixTime::from_secs(0), |d| d.plus_secs(grace_secs));
                    set.insert_previous(keyid.clone(), key.clone(), retired_at);
                }
            }
        }
    }
    Ok((set, skipped))
}

//! Keys from a file, a secret value or the secret's staged versions. The key material
//! stays in zeroizing buffers and never reaches an error message.

use std::path::Path;

use aws_sdk_secretsmanager::Client as SecretsClient;
use edgeseal::accepted::{LabelHistory, accepted_now};
use edgeseal::{KeyId, KeySet, SecretValue, SigningKey, Stage, UnixTime};
use zeroize::Zeroizing;

use crate::args::{Global, KeySource};
use crate::aws::{self, last_rotated, list_versions, take_secret_string};
use crate::error::CliError;

/// The keys a verification may use: the secret's versions (AWSCURRENT, AWSPENDING, and
/// AWSPREVIOUS within `grace_secs`), or the key file as the version `keyid` (default:
/// the one the signature `names`). Also the versions skipped as not being keys.
pub async fn key_set(
    global: &Global,
    source: &KeySource,
    keyid: Option<&str>,
    names: &KeyId,
    grace_secs: u64,
) -> Result<(KeySet, Vec<String>), CliError> {
    match (&source.secret_id, &source.key_file) {
        (Some(secret_id), _) => {
            let config = aws::sdk_config(global).await;
            let client = aws_sdk_secretsmanager::Client::new(&config);
            secret_key_set(&client, secret_id, grace_secs).await
        }
        (None, Some(path)) => {
            let key = from_file(path)?;
            let keyid = match keyid {
                Some(id) => {
                    KeyId::new(id).map_err(|err| CliError::Usage(format!("--keyid: {err}")))?
                }
                None => names.clone(),
            };
            let mut set = KeySet::new();
            set.insert_current(keyid, key);
            Ok((set, Vec::new()))
        }
        (None, None) => Err(CliError::Usage("give --secret-id or --key-file".into())),
    }
}

/// A fresh 256-bit key from the operating system's random source.
pub fn generate() -> Result<SigningKey, CliError> {
    SigningKey::generate()
        .map_err(|err| CliError::Internal(format!("no randomness from the OS: {err}")))
}

/// Read a key file: the edgeseal secret JSON, or the key's base64 alone.
pub fn from_file(path: &Path) -> Result<SigningKey, CliError> {
    let contents = Zeroizing::new(std::fs::read_to_string(path).map_err(|err| {
        CliError::Config(format!("cannot read key file {}: {err}", path.display()))
    })?);
    let trimmed = contents.trim();
    let what = |err: &dyn std::fmt::Display| {
        CliError::Config(format!(
            "key file {} is not an edgeseal key: {err}",
            path.display()
        ))
    };
    if trimmed.starts_with('{') {
        from_secret_string(trimmed, &path.display().to_string())
    } else {
        SigningKey::from_base64(trimmed).map_err(|err| what(&err))
    }
}

/// Read a secret version's value as an edgeseal key; `source` names it in errors.
pub fn from_secret_string(secret_string: &str, source: &str) -> Result<SigningKey, CliError> {
    match SecretValue::parse(secret_string, None) {
        Ok(SecretValue::Hmac(key)) => Ok(key),
        Ok(SecretValue::StaticHeader(_)) => Err(CliError::Config(format!(
            "{source} holds a static header value, not an edgeseal signing key"
        ))),
        Err(err) => Err(CliError::Config(format!(
            "{source} is not an edgeseal key: {err}"
        ))),
    }
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
    let key = from_secret_string(&secret_string, &format!("{secret_id} ({stage})"))?;
    Ok((keyid, key))
}

/// What a freshly started authorizer would accept: AWSCURRENT, AWSPENDING, and
/// AWSPREVIOUS until `grace_secs` after its demotion as a cold start dates it (the
/// authorizer's own rule, [`accepted_now`]). Versions that are not edgeseal keys are
/// skipped and reported, as the authorizer does.
async fn secret_key_set(
    client: &SecretsClient,
    secret_id: &str,
    grace_secs: u64,
) -> Result<(KeySet, Vec<String>), CliError> {
    let versions = list_versions(client, secret_id).await?;
    let cold_start = LabelHistory::default();
    let last_rotated = if cold_start.needs_last_rotated(&versions) {
        last_rotated(client, secret_id).await?
    } else {
        None
    };
    let accepted = accepted_now(
        &versions,
        last_rotated,
        &cold_start,
        grace_secs,
        UnixTime::now(),
    );
    let mut set = KeySet::new();
    let mut skipped = Vec::new();
    for v in accepted.versions {
        let mut value = client
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(&v.version_id)
            .send()
            .await
            .map_err(|err| CliError::aws("GetSecretValue", err))?;
        let Some(secret_string) = take_secret_string(&mut value) else {
            skipped.push(v.version_id);
            continue;
        };
        let Ok(key) = from_secret_string(&secret_string, &v.version_id) else {
            skipped.push(v.version_id);
            continue;
        };
        let Ok(keyid) = KeyId::new(v.version_id.as_str()) else {
            skipped.push(v.version_id);
            continue;
        };
        match (v.stage, v.until) {
            (Stage::Current, _) => set.insert_current(keyid, key),
            (Stage::Pending, _) => set.insert_pending(keyid, key),
            (Stage::Previous, until) => {
                set.insert_previous(keyid, key, until.unwrap_or(UnixTime::from_secs(0)));
            }
        }
    }
    Ok((set, skipped))
}

//! Keys from a file or a secret value. The key material stays in zeroizing buffers and
//! never reaches an error message.

use std::path::Path;

use edgeseal::{KeyId, KeySet, SecretValue, SigningKey};
use zeroize::Zeroizing;

use crate::args::{Global, KeySource};
use crate::aws;
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
            aws::key_set(&client, secret_id, grace_secs).await
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

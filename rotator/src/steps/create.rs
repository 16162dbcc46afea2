//! createSecret: store a new value as AWSPENDING under the rotation's token.

use tracing::info;

use crate::aws::SecretsApi;
use crate::error::RotationError;
use crate::targets::{Stage, StepContext, Target};

/// Requires an AWSCURRENT value; keeps an AWSPENDING value already stored for the token
/// (after checking it parses), else stores the target's new value.
pub(super) async fn run<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
    rotation_token: Option<&str>,
) -> Result<(), RotationError> {
    let (secret, token) = (step.secret_id(), step.token());
    if secrets
        .get_secret_string(secret, None, Some(Stage::Current.label()))
        .await?
        .is_none()
    {
        return Err(RotationError::NoCurrent);
    }
    if let Some(existing) = secrets
        .get_secret_string(secret, Some(token), Some(Stage::Pending.label()))
        .await?
    {
        // Versions are immutable: a rerun must not write a second value under the
        // same token (moto would even accept it and silently swap the key).
        target.parse(&existing, Stage::Pending, token)?;
        info!("AWSPENDING value already exists");
        return Ok(());
    }
    let value = target.create(step).await?;
    secrets
        .put_pending(secret, token, &value, rotation_token)
        .await?;
    info!("new AWSPENDING value stored");
    Ok(())
}

//! Secrets Manager's configuration test, which moto does not run.
//!
//! `RotateSecret` with `RotateImmediately=false` (CloudFormation
//! `RotateImmediatelyOnUpdate: false`) "tests the rotation configuration by running the
//! testSecret step of the Lambda rotation function. The test creates an AWSPENDING
//! version of the secret and then removes it" (RotateSecret API reference). moto invokes
//! all four steps whatever the flag (getmoto/moto#7342) and cannot invoke our function
//! anyway, so a driver stages the AWSPENDING version with [`start_configuration_test`],
//! invokes testSecret alone, and removes the label with [`end_configuration_test`]. What
//! value AWS gives that version is not documented; [`PendingValue`] covers the
//! plausible cases.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// What the AWSPENDING version of a configuration test holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingValue {
    /// No value (a version staged by `RotateSecret` alone).
    Empty,
    /// A copy of the AWSCURRENT value, under a new version id.
    CopyOfCurrent,
}

/// Stage an AWSPENDING version as the configuration test does; returns its id (the
/// token of the testSecret invocation).
pub async fn start_configuration_test(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
    rotation_lambda_arn: &str,
    value: PendingValue,
) -> Result<String, String> {
    match value {
        PendingValue::Empty => super::start_rotation(sm, secret, rotation_lambda_arn).await,
        PendingValue::CopyOfCurrent => {
            // Rotation configured (enabled) as the stack does, then the copy.
            let token = super::start_rotation(sm, secret, rotation_lambda_arn).await?;
            end_configuration_test(sm, secret, &token).await?;
            let current = sm
                .get_secret_value()
                .secret_id(secret)
                .version_stage(edgeseal::Stage::Current.label())
                .send()
                .await
                .map_err(|e| format!("GetSecretValue: {}", DisplayErrorContext(e)))?;
            let copy = super::new_version_id().map_err(|e| format!("random: {e}"))?;
            sm.put_secret_value()
                .secret_id(secret)
                .client_request_token(&copy)
                .secret_string(current.secret_string().unwrap_or_default())
                .version_stages(edgeseal::Stage::Pending.label())
                .send()
                .await
                .map_err(|e| format!("PutSecretValue: {}", DisplayErrorContext(e)))?;
            Ok(copy)
        }
    }
}

/// Remove the AWSPENDING label from the configuration test's version.
pub async fn end_configuration_test(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
    token: &str,
) -> Result<(), String> {
    sm.update_secret_version_stage()
        .secret_id(secret)
        .version_stage(edgeseal::Stage::Pending.label())
        .remove_from_version_id(token)
        .send()
        .await
        .map_err(|e| format!("UpdateSecretVersionStage: {}", DisplayErrorContext(e)))?;
    Ok(())
}

//! finishSecret: once every distribution sends the AWSPENDING value, make it
//! AWSCURRENT (the old one becomes AWSPREVIOUS), then let the target retire what the
//! grace allows.

use tracing::info;

use crate::aws::SecretsApi;
use crate::error::RotationError;
use crate::targets::{Stage, StepContext, Target};

/// Check the pending value is sent, move AWSCURRENT to it, then the target's finish.
pub(super) async fn run<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
) -> Result<(), RotationError> {
    let pending = super::pending(target, secrets, step).await?;
    target.check_sent(step, &pending).await?;
    let previous = step.metadata().version_with(Stage::Current.label());
    secrets
        .move_stage(
            step.secret_id(),
            Stage::Current.label(),
            step.token(),
            previous,
        )
        .await?;
    info!(
        previous = previous.unwrap_or("-"),
        "AWSCURRENT moved to the new version"
    );
    target.finish(step).await;
    Ok(())
}

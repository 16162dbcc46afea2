//! setSecret: the target puts the AWSPENDING value in place (the origin accepts it,
//! then CloudFront sends it).

use crate::aws::SecretsApi;
use crate::error::RotationError;
use crate::targets::{StepContext, Target};

/// Read the pending value and hand it to the target.
pub(super) async fn run<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
) -> Result<(), RotationError> {
    let pending = super::pending(target, secrets, step).await?;
    target.set(step, &pending).await
}

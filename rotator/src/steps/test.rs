//! testSecret: check the rotation's value is sent and accepted, or, without a pending
//! value of ours, test the configuration.
//!
//! The configuration test: with `RotateImmediately=false` (CloudFormation's `RotateImmediatelyOnUpdate: false`,
//! the way a stack turns rotation on for an existing secret), Secrets Manager does not
//! rotate: it "tests the rotation configuration by running the testSecret step of the
//! Lambda rotation function. The test creates an AWSPENDING version of the secret and
//! then removes it" (RotateSecret API reference, `RotateImmediately`). No createSecret or
//! setSecret runs, so the AWSPENDING version holds no key of ours: AWS does not document
//! its value, so every plausible one is treated alike: no value, a value that is not a
//! key of the configured mode, or a copy of the AWSCURRENT value. (moto runs all four
//! steps whatever the flag says, getmoto/moto#7342, so tests drive this themselves:
//! `start_configuration_test` in the test kit.)
//!
//! Such a testSecret changes nothing. It checks that the current value parses, then what
//! the target needs ([`Target::test_configuration`]): for the signed and static-header
//! targets, the edge function (signed) and every distribution are readable; every
//! distribution carries edgeseal's origin-request association (or the origin custom
//! header); behaviors running the signer forward all query strings; staging
//! distributions are rotated too; and the origin accepts the current key (or current
//! header value, also in migration). The first problem fails the step, named in the
//! error.

use crate::aws::SecretsApi;
use crate::error::RotationError;
use crate::targets::{Stage, StepContext, Target};

use super::Outcome;

/// A rotation's testSecret, or the configuration test (see the module docs).
pub(super) async fn run<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
) -> Result<Outcome, RotationError> {
    let current = current(target, secrets, step).await?;
    match rotation_pending(target, secrets, step, &current).await? {
        Some(pending) => {
            // PROBE=off: the wait stands in for the probes, which then pass untested.
            step.settle_without_probe().await?;
            target.test(step, &current, &pending).await?;
            Ok(Outcome::Done)
        }
        None => {
            tracing::info!("testSecret without a pending key: running the configuration test");
            target
                .test_configuration(step, &current)
                .await
                .map_err(|e| RotationError::ConfigurationTest(Box::new(e)))?;
            tracing::info!("configuration test passed");
            Ok(Outcome::ConfigurationTested)
        }
    }
}

/// The AWSCURRENT value.
async fn current<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
) -> Result<T::Material, RotationError> {
    let label = Stage::Current.label();
    let id = step
        .metadata()
        .version_with(label)
        .ok_or(RotationError::NoCurrent)?;
    let value = secrets
        .get_secret_string(step.secret_id(), Some(id), Some(label))
        .await?
        .ok_or(RotationError::NoCurrent)?;
    target.parse(&value, Stage::Current, id)
}

/// The pending value of a rotation in progress, or `None` when the AWSPENDING version
/// holds no value of ours (see the module docs): a configuration test.
async fn rotation_pending<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
    current: &T::Material,
) -> Result<Option<T::Material>, RotationError> {
    let token = step.token();
    let Some(value) = secrets
        .get_secret_string(step.secret_id(), Some(token), Some(Stage::Pending.label()))
        .await?
    else {
        return Ok(None);
    };
    let Ok(pending) = target.parse(&value, Stage::Pending, token) else {
        return Ok(None);
    };
    Ok((!target.same_value(&pending, current)).then_some(pending))
}

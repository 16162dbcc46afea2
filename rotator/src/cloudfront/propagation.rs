//! The guard that keeps a later rotation from retiring a key edges may still run.
//!
//! Finishing a rotation before CloudFront reports `Deployed` is safe: the old key becomes
//! AWSPREVIOUS, which the verifier accepts for `PREVIOUS_KEY_GRACE_SECS` after the
//! demotion, longer than the worst propagation reported (see `README.md`, *Timing
//! model*). What is unsafe is the *next* rotation finishing while edges still run the
//! version before that: its finishSecret takes every label off the key that was
//! AWSPREVIOUS. So a rotation refuses to point a distribution at its new key while an
//! older key is AWSPREVIOUS and the distribution is still `InProgress`: the change in
//! flight may be the previous rotation's. It fails at once with
//! [`RotationError::PreviousRotationPropagating`]; Secrets Manager's retry of the rotation
//! (or the next schedule) goes through once CloudFront reports `Deployed`.

use tokio::time::Instant;

use super::throttle::retry_throttled;
use crate::aws::{DeployStatus, DistributionApi, SecretMetadata};
use crate::error::RotationError;

/// Whether pointing a distribution must first find it `Deployed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// No check: the first rotation (nothing is AWSPREVIOUS), or returning to the
    /// current key after a rejected one.
    Off,
    /// An older key is AWSPREVIOUS: refuse while the distribution is not `Deployed`.
    RequireDeployed,
}

impl Guard {
    /// The guard for pointing distributions at a rotation's new key.
    pub fn for_new_key(meta: &SecretMetadata) -> Self {
        if meta
            .version_with(edgeseal::Stage::Previous.label())
            .is_some()
        {
            Guard::RequireDeployed
        } else {
            Guard::Off
        }
    }

    /// Fail unless `distribution` may be pointed at a new key now.
    pub async fn check(
        self,
        cdn: &impl DistributionApi,
        distribution: &str,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        if self == Guard::Off {
            return Ok(());
        }
        match retry_throttled(deadline, || cdn.status(distribution)).await? {
            DeployStatus::Deployed => Ok(()),
            DeployStatus::InProgress | DeployStatus::Other(_) => Err(
                RotationError::PreviousRotationPropagating(distribution.to_owned()),
            ),
        }
    }
}

//! Waiting for a published edge version to become `Active`.
//!
//! `PublishVersion` answers with `State: Pending`; until the version is `Active`,
//! `UpdateDistribution` refuses to associate it ("The function must be in an Active
//! state. The current state for function ...:N is Pending",
//! aws-samples/cloudfront-authorization-at-edge#245, fixed there by polling the state).
//! The wait is bounded by the step's deadline; a version still `Pending` then fails the
//! step with [`RotationError::VersionNotActive`], and the rerun reuses the version.

use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use crate::aws::{EdgeFunctionApi, FunctionVersion, VersionState};
use crate::deadline::{doubling, poll_until};
use crate::error::RotationError;

/// Poll until `version` is `Active`, or fail at `deadline`.
pub(super) async fn wait_until_active(
    lambda: &impl EdgeFunctionApi,
    function: &str,
    version: &FunctionVersion,
    deadline: Instant,
) -> Result<(), RotationError> {
    let pauses = doubling(Duration::from_millis(250), Duration::from_secs(2));
    let mut polls = 0u32;
    let activated = poll_until(deadline, pauses, || {
        // Logged once per wait, as it ends (the first poll follows none).
        if polls > 0 {
            info!(version = %version.version, "edge version not Active yet; waiting");
        }
        polls += 1;
        async move {
            match lambda.version_state(function, &version.version).await? {
                VersionState::Active => Ok(ControlFlow::Break(())),
                VersionState::Failed(reason) => Err(RotationError::VersionFailed {
                    version: version.version.clone(),
                    reason,
                }),
                state => Ok(ControlFlow::Continue(state)),
            }
        }
    })
    .await?;
    activated.map_err(|state| RotationError::VersionNotActive {
        version: version.version.clone(),
        state: match state {
            VersionState::Pending => "Pending".to_owned(),
            VersionState::Other(s) => s,
            VersionState::Active | VersionState::Failed(_) => String::new(),
        },
    })
}

//! Waiting for a published edge version to become `Active`.
//!
//! `PublishVersion` answers with `State: Pending`; until the version is `Active`,
//! `UpdateDistribution` refuses to associate it ("The function must be in an Active
//! state. The current state for function ...:N is Pending",
//! aws-samples/cloudfront-authorization-at-edge#245, fixed there by polling the state).
//! The wait is bounded by the step's deadline; a version still `Pending` then fails the
//! step with [`RotationError::VersionNotActive`], and the rerun reuses the version.

use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use crate::aws::{EdgeFunctionApi, FunctionVersion, VersionState};
use crate::error::RotationError;

/// Poll until `version` is `Active`, or fail at `deadline`.
pub async fn wait_until_active(
    lambda: &impl EdgeFunctionApi,
    function: &str,
    version: &FunctionVersion,
    deadline: Instant,
) -> Result<(), RotationError> {
    let mut pause = Duration::from_millis(250);
    loop {
        match lambda.version_state(function, &version.version).await? {
            VersionState::Active => return Ok(()),
            VersionState::Failed(reason) => {
                return Err(RotationError::VersionFailed {
                    version: version.version.clone(),
                    reason,
                });
            }
            state => {
                if Instant::now() + pause >= deadline {
                    return Err(RotationError::VersionNotActive {
                        version: version.version.clone(),
                        state: match state {
                            VersionState::Pending => "Pending".to_owned(),
                            VersionState::Other(s) => s,
                            VersionState::Active | VersionState::Failed(_) => String::new(),
                        },
                    });
                }
                info!(version = %version.version, "edge version not Active yet; waiting");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

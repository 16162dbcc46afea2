//! Why the demo could not run.

use crate::stack::aws::PREVIOUS_ROTATION_INCOMPLETE;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A setting or an input file is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// Creating the local world failed.
    #[error("setup: {0}")]
    Setup(String),
    /// An AWS call (to moto) failed.
    #[error("AWS: {0}")]
    Aws(String),
    /// A rotation did not complete after its retries.
    #[error("rotation {0} did not complete: {1}")]
    Rotation(usize, String),
    /// The stack built from `deploy/template.yaml` is refused, or does not work: the
    /// message names the template and says why.
    #[error("template: {0}")]
    Template(String),
    /// `RotateSecret` refused: the rotation of this AWSPENDING version is incomplete.
    #[error("RotateSecret refused: {msg} (version {0} is still AWSPENDING)", msg = PREVIOUS_ROTATION_INCOMPLETE)]
    PreviousRotationIncomplete(String),
}

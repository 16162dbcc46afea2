//! # edgeseal rotator
//!
//! The Secrets Manager rotation function of edgeseal. Each rotation makes a new 256-bit
//! key AWSPENDING (`createSecret`), publishes a Lambda@Edge version carrying it, waits
//! for it to be `Active` and points the distributions' origin-request associations at it
//! (`setSecret`), checks the origin accepts the new and the current key (`testSecret`;
//! without a pending key of ours, a read-only configuration test), then makes it
//! AWSCURRENT and prunes old edge versions (`finishSecret`). No step waits for CloudFront
//! to deploy; each ends within `MAX_STEP_SECS` (see `README.md`, *Timing model*). A
//! static-header mode rotates an origin custom header instead, as a drop-in for the
//! `x-origin-verify` rotators edgeseal replaces.
//!
//! After each step, [`edge_version`] can record the edge version the distributions name
//! in an SSM parameter, which the deployment template reads on stack updates.
//!
//! The AWS calls sit behind [`SecretsApi`], [`EdgeFunctionApi`] and [`DistributionApi`];
//! [`aws::sdk`] implements them with the AWS SDK and [`testing`] has a faithful
//! in-process CloudFront and a fault injector. See `README.md` for configuration, IAM
//! permissions and each step's behaviour.

pub mod aws;
pub mod config;
mod diagnostic;
pub mod edge_version;
pub mod event;
pub mod origin;
pub mod query_strings;
mod rotator;
pub mod target;
pub mod testing;

pub use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};
pub use crate::config::{Config, ConfigError, ExpectedStatus, Mode};
pub use crate::diagnostic::error_type;
pub use crate::event::{RotationEvent, Step};
pub use crate::origin::{Credential, OriginProbe, ProbeError};
pub use crate::rotator::{
    Outcome, RotationError, Rotator, SetupError, VERSION_DESCRIPTION_PREFIX, associations,
    code_sha256, custom_headers, unqualified,
};

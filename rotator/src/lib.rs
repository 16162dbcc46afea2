//! # edgeseal rotator
//!
//! The Secrets Manager rotation function of edgeseal. With the `signed` target (the
//! default when an edge function is configured), each rotation makes a new 256-bit
//! key AWSPENDING (`createSecret`), publishes a Lambda@Edge version carrying it, waits
//! for it to be `Active` and points the distributions' origin-request associations at it
//! (`setSecret`), checks the origin accepts the new and the current key (`testSecret`;
//! without a pending key of ours, a read-only configuration test), then makes it
//! AWSCURRENT and prunes old edge versions (`finishSecret`). No step waits for CloudFront
//! to deploy; each ends within `MAX_STEP_SECS` (see `README.md`, *Timing model*). The
//! other targets rotate the credentials of the setups edgeseal replaces: an origin custom
//! header (`static-header`, a drop-in for the `x-origin-verify` rotators), that header
//! with the WAF rule matching it (`waf`), a REST API usage-plan key
//! (`api-gateway-api-key`) and an AppSync API key (`appsync-api-key`).
//!
//! Layout: [`Rotator`] (in `steps/`) checks the stages once and runs one file per step
//! over a [`Target`] ([`target`]: one module per target, chosen by `ROTATION_TARGET`).
//! The targets share collaborators that own their state: [`edge::EdgePublisher`]
//! (package, publish, reuse, activation, prune), [`distributions::Distributions`]
//! (check, update with ETag retry and throttling, propagation guard, roll back, wait for
//! `Deployed`); [`edits`] holds the pure `DistributionConfig` edits.
//!
//! After each step, [`edge_version`] can record the edge version the distributions name
//! in an SSM parameter, which the deployment template reads on stack updates.
//!
//! The AWS calls sit behind [`SecretsApi`], [`EdgeFunctionApi`] and [`DistributionApi`];
//! [`aws::sdk`] implements them with the AWS SDK. The test doubles (a faithful
//! in-process CloudFront, a fault injector, Lambda version states, the Secrets Manager
//! rotation driver) live in the `edgeseal-testkit` crate, not here. See `README.md` for configuration, IAM
//! permissions and each step's behaviour.

pub mod aws;
pub mod config;
mod diagnostic;
pub mod distributions;
pub mod edge;
pub mod edge_version;
pub mod edits;
pub mod error;
pub mod event;
mod material;
pub mod origin;
pub mod query_strings;
mod steps;
pub mod target;

pub use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};
pub use crate::config::{Config, ConfigError, ExpectedStatus, TargetKind, TargetSettings};
pub use crate::diagnostic::error_type;
pub use crate::edge::{VERSION_DESCRIPTION_PREFIX, code_sha256};
pub use crate::edits::{associations, custom_headers, unqualified};
pub use crate::error::{RotationError, SetupError};
pub use crate::event::{RotationEvent, Step};
pub use crate::origin::{Credential, OriginProbe, ProbeError};
pub use crate::steps::{Outcome, Rotator};
pub use crate::target::{AnyTarget, StepContext, Target};

//! # edgeseal rotator
//!
//! The Secrets Manager rotation function of edgeseal. Each rotation makes a new 256-bit
//! key AWSPENDING (`createSecret`), publishes a Lambda@Edge version carrying it, waits
//! for it to be `Active` and points the distributions' origin-request associations at it
//! (`setSecret`), checks the origin accepts the new and the current key (`testSecret`;
//! without a pending key of ours, a read-only configuration test), then makes it
//! AWSCURRENT and prunes old edge versions (`finishSecret`). No step waits for CloudFront
//! to deploy; each ends within `MAX_STEP_SECS` (see `README.md`, *Timing model*). That
//! is the `signed` target; the other four rotate what the setups edgeseal replaces
//! rotate, without a gap: a static origin custom header (`static-header`, the
//! `x-origin-verify` drop-in), that header with the regional WAF rule matching it
//! (`waf`), a REST API's usage-plan API key sent as `x-api-key`
//! (`api-gateway-api-key`), and an AppSync API key (`appsync-api-key`).
//!
//! Layout: [`Rotator`] (in `steps/`) checks the stages once and runs one file per step
//! over its [`Target`] ([`targets`]: one per `ROTATION_TARGET`, [`SignedTarget`],
//! [`StaticHeaderTarget`], [`ApiKeyTarget`], [`WafTarget`] and [`AppSyncTarget`], each
//! generic over the clients it owns). The targets share collaborators that own their
//! state: [`edge::EdgePublisher`] (package, publish, reuse, activation, prune),
//! [`cloudfront::Distributions`] (check, update with ETag retry and throttling,
//! propagation guard, roll back, wait for `Deployed`); [`cloudfront::edits`] holds the pure
//! `DistributionConfig` edits.
//!
//! Configuration is read once ([`Config::from_env`], in `settings.rs`); each target
//! parses its own variables in a leaf `settings.rs` beside it, through the shared
//! parsers of `env.rs`, so no declaration runs in a circle. Everything that reads or
//! writes a distribution's config is in [`cloudfront`].
//!
//! After each step, [`edge_version`] can record the edge version the distributions name
//! in an SSM parameter, which the deployment template reads on stack updates.
//!
//! The AWS calls sit behind [`SecretsApi`], [`EdgeFunctionApi`] and [`DistributionApi`];
//! [`aws::sdk`] implements them with the AWS SDK. The test doubles (a faithful
//! in-process CloudFront, a fault injector, Lambda version states, the Secrets Manager
//! rotation driver) live in the `edgeseal-testkit` crate, not here. See `README.md` for
//! configuration, IAM permissions and each step's behaviour.

pub mod aws;
pub mod cloudfront;
mod deadline;
mod diagnostic;
pub mod edge;
pub mod edge_version;
mod env;
pub mod error;
pub mod event;
mod material;
mod optimistic_lock;
pub mod origin;
pub mod settings;
mod steps;
pub mod targets;

pub use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};
pub use crate::cloudfront::edits::{associations, custom_headers, unqualified};
pub use crate::edge::{VERSION_DESCRIPTION_PREFIX, code_sha256};
pub use crate::env::ConfigError;
pub use crate::error::{RotationError, SetupError};
pub use crate::event::{RotationEvent, Step};
pub use crate::origin::{Credential, OriginProbe, ProbeError};
pub use crate::settings::{
    ApiKeySettings, AppSyncSettings, Config, EdgeSettings, ExpectedStatus, OriginTest,
    StaticHeaderSettings, TargetKind, TargetSettings, WafSettings,
};
pub use crate::steps::{Outcome, Rotator};
pub use crate::targets::api_key::ApiKeyTarget;
pub use crate::targets::appsync::AppSyncTarget;
pub use crate::targets::signed::SignedTarget;
pub use crate::targets::static_header::StaticHeaderTarget;
pub use crate::targets::waf::WafTarget;
pub use crate::targets::{StepContext, Target};

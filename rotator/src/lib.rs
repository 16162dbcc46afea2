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
//! over its [`Target`] (`targets/`: one per `ROTATION_TARGET`, [`SignedTarget`],
//! [`StaticHeaderTarget`], [`ApiKeyTarget`], [`WafTarget`] and [`AppSyncTarget`], each
//! generic over the clients it owns). The targets share collaborators that own their
//! state: `edge::EdgePublisher` (package, publish, reuse, activation, prune),
//! `cloudfront::Distributions` (check, update with ETag retry and throttling,
//! propagation guard, roll back, wait for `Deployed`); `cloudfront/edits.rs` holds the pure
//! `DistributionConfig` edits.
//!
//! Configuration is read once ([`Config::from_env`], in `settings.rs`); each target
//! parses its own variables in a leaf `settings.rs` beside it, through the shared
//! parsers of `env.rs`, so no declaration runs in a circle. Everything that reads or
//! writes a distribution's config is in `cloudfront/`.
//!
//! After each step, `edge_version.rs` can record the edge version the distributions name
//! in an SSM parameter, which the deployment template reads on stack updates.
//!
//! The AWS calls sit behind [`SecretsApi`], [`EdgeFunctionApi`] and [`DistributionApi`];
//! [`SdkSecrets`], [`SdkLambda`] and [`SdkCloudFront`] implement them with the AWS SDK. The test doubles (a faithful
//! in-process CloudFront, a fault injector, Lambda version states, the Secrets Manager
//! rotation driver) live in the `edgeseal-testkit` crate, not here. See `README.md` for
//! configuration, IAM permissions and each step's behaviour.
//!
//! The modules are private: the product API is the flat block below, and what the
//! integration tests, the demo and testkit reach below it is in [`testing`].

// An item no public path reaches is `pub(crate)`, so `pub` inside means "part of the API".
#![warn(unreachable_pub)]

mod aws;
mod cloudfront;
mod deadline;
mod diagnostic;
mod edge;
mod edge_version;
mod env;
mod error;
mod event;
mod material;
mod optimistic_lock;
mod origin;
mod settings;
mod steps;
mod targets;

pub use crate::aws::sdk::{SdkCloudFront, SdkLambda, SdkSecrets};
pub use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};
pub use crate::cloudfront::edits::{associations, custom_headers, unqualified};
pub use crate::cloudfront::query_strings::{
    behaviors_hiding_query_strings, hidden_query_string_behaviors, managed, policies_to_resolve,
    resolve_policies,
};
pub use crate::edge::{VERSION_DESCRIPTION_PREFIX, code_sha256};
pub use crate::edge_version::{EdgeVersionRecord, PARAMETER_VAR, SdkParameters};
pub use crate::env::ConfigError;
pub use crate::error::{RotationError, SetupError};
pub use crate::event::{RotationEvent, Step};
pub use crate::origin::{Credential, OriginProbe, ProbeError};
pub use crate::settings::{
    APPSYNC_KEY_HEADER, ApiKeySettings, AppSyncSettings, Config, EdgeSettings, ExpectedStatus,
    OriginTest, StaticHeaderSettings, TargetKind, TargetSettings, WafSettings,
};
pub use crate::steps::{Outcome, Rotator};
pub use crate::targets::api_key::{
    ApiKey, ApiKeyError, ApiKeyTarget, NewApiKey, SdkUsagePlanKeys, UsagePlanKeys,
};
pub use crate::targets::appsync::{
    ApiKey as AppSyncApiKey, AppSyncKeys, AppSyncStepError, AppSyncTarget, GraphqlProbe,
    GraphqlProbeError, SdkAppSync,
};
pub use crate::targets::signed::SignedTarget;
pub use crate::targets::static_header::StaticHeaderTarget;
pub use crate::targets::waf::{
    LockedWebAcl, SdkWaf, ShapeError, WafError, WafTarget, WebAclApi, WebAclRef,
};
pub use crate::targets::{StepContext, Target};

/// Not the product API: what the integration tests, the demo and testkit reach below it,
/// grouped by the part of the rotator it belongs to.
pub mod testing {
    pub use crate::aws::rotation_interval;
    pub use crate::cloudfront::edits::point_associations;
    pub use crate::edge_version::{ParameterApi, RecordError, Recorded};

    /// The AppSync target's steps, key markers, retirement and probe, one by one.
    pub mod appsync {
        pub use crate::targets::appsync::KeyMarker;
        pub use crate::targets::appsync::retire::{EdgeKeys, Retirement, retire_keys};
        pub use crate::targets::appsync::settings::DEFAULT_TEST_QUERY;
        pub use crate::targets::appsync::steps::{
            CurrentKey, PendingRetry, ceil_hour, create_key, floor_hour, graphql_endpoint,
            new_key_expiry, retired_key_expiry, test_keys,
        };
    }

    /// The API Gateway key target's rotation, retire guard, tags and acceptance wait.
    pub mod api_key {
        pub use crate::targets::api_key::acceptance::{PROBE_PAUSE, wait_until_accepted};
        pub use crate::targets::api_key::keys::{
            KeyRotation, RetireGuard, TAG_SECRET, TAG_VERSION, secret_tag,
        };
    }

    /// The WAF target's rule rollout and rule statement reading.
    pub mod waf {
        pub use crate::targets::waf::Applied;
        pub use crate::targets::waf::rollout::{
            after_rotation, apply_values, check_rule, wait_until_let_through, while_rotating,
        };
        pub use crate::targets::waf::statement::read_rule;
    }
}

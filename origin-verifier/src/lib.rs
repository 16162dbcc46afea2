//! # edgeseal origin-verifier
//!
//! The API Gateway Lambda authorizer of edgeseal: it checks the RFC 9421 signature that
//! the edge (Lambda@Edge) put on every origin request, against keys cached from Secrets
//! Manager, and answers API Gateway in the format the event asks for.
//!
//! - [`Config`]: every setting, read once from the environment.
//! - [`AuthorizerEvent`]: HTTP API payload 2.0 and 1.0 and REST `REQUEST` events,
//!   recognised from their shape, each read as API Gateway really fills it.
//! - [`KeyCache`] over a [`SecretsSource`] ([`SdkSource`] in production): AWSCURRENT,
//!   AWSPENDING, and AWSPREVIOUS within its grace, refreshed on a TTL.
//! - [`Authorizer`]: the verdict, its response, its log line and its metric;
//!   [`Authorizer::answer`] takes any [`Invocation`] payload and refuses what it cannot
//!   verify with `Unauthorized`.
//! - [`jwt`]: the optional bearer-token check after the signature (`JWT_ISSUERS`): the
//!   issuers' key sets, the checks of HTTP API's built-in JWT authorizer, claims as context.
//! - [`logging`]: the JSON log format and level; [`secrets_manager_client`]: the SDK
//!   client from the Lambda environment alone.
//! - `CountingSource` (feature `test-support`, which only dev-dependencies enable): a
//!   [`SecretsSource`] counting its calls, for tests and benchmarks.
//!
//! The binary (`src/main.rs`) only wires these to `lambda_runtime`. See README.md for
//! the configuration reference.

mod base_path;
mod cache;
mod config;
mod event;
mod handler;
mod invocation;
pub mod jwt;
pub mod logging;
mod metrics;
mod response;
mod sdk;

pub use crate::base_path::{BasePathMap, BasePathMapError};
pub use crate::cache::{
    CacheSettings, CurrentValue, KeyCache, RefreshError, SdkSource, SecretsSource, Snapshot,
    SourceError, VersionInfo,
};
pub use crate::config::{AuthMode, Config, ConfigError, ResponseMode};
pub use crate::event::{AuthorizerEvent, EventError, EventKind, HeaderSelection};
pub use crate::handler::{Authorizer, DenyReason, Grant, Scheme};
pub use crate::invocation::Invocation;
pub use crate::metrics::{Metrics, MetricsSink, Verdict};
pub use crate::response::{
    AuthorizerError, AuthorizerResponse, Context, PolicyDocument, PolicyResponse, SimpleResponse,
    Statement,
};
pub use crate::sdk::secrets_manager_client;

// Test support, not the product's API: only dev-dependencies enable `test-support`.
#[cfg(any(test, feature = "test-support"))]
pub use crate::cache::CountingSource;

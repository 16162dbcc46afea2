//! Builders of the moto-backed worlds the tests and the demo run in: the resources AWS
//! would hold, created through the real SDK against moto, each as one call with the
//! options its users differ in. What a world does with them (its origins, its watchers,
//! its rotator) stays with that world.
//!
//! - [`create_secret`]: a secret and its first version ([`NewSecret`]);
//! - [`create_function`], [`publish_version`], [`update_function_code`]: a Lambda
//!   function and its versions ([`NewFunction`]: an edge function, or the stand-in
//!   rotation function Secrets Manager is told to invoke);
//! - [`Distribution`]: a CloudFront distribution config with one custom origin;
//! - [`create_web_acl`]: a regional WAF web ACL;
//! - [`create_usage_plan`], [`create_linked_api_key`]: a REST API's usage plan and a
//!   key in it;
//! - [`create_api_key_graphql_api`]: an AppSync GraphQL API authorized by API keys.
//!
//! Each returns a [`WorldError`] naming the AWS call that failed: the demo reports it,
//! tests unwrap it.

mod appsync;
mod distribution;
mod lambda;
mod secret;
mod usage_plan;
mod waf;

pub use appsync::create_api_key_graphql_api;
pub use distribution::Distribution;
pub use lambda::{
    CreatedFunction, EMPTY_ZIP, NewFunction, create_function, publish_version, update_function_code,
};
pub use secret::{NewSecret, create_secret};
pub use usage_plan::{create_linked_api_key, create_usage_plan};
pub use waf::create_web_acl;

/// An AWS call of a world's setup failed, or answered without what it must return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldError {
    /// The API operation, as AWS names it (`CreateSecret`).
    pub call: &'static str,
    /// What went wrong.
    pub detail: String,
}

impl WorldError {
    fn sdk(call: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            call,
            detail: error.to_string(),
        }
    }

    fn missing(call: &'static str, what: &str) -> Self {
        Self {
            call,
            detail: format!("no {what} in the answer"),
        }
    }
}

impl std::fmt::Display for WorldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.call, self.detail)
    }
}

impl std::error::Error for WorldError {}

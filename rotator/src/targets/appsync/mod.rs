//! Target `appsync-api-key`: rotate an AWS AppSync API key that clients read from the
//! secret (`{"APIKEY": "da2-…"}`, the format of the AWS blog's rotation function).
//!
//! Each rotation creates a new key (createSecret), tests it and the current one with a
//! GraphQL query (testSecret), and after the labels moved retires the old key: its expiry
//! is brought forward to the grace and it is deleted once the grace has passed
//! (finishSecret). Nothing is deleted before it was tested, nor while a client may still
//! hold it. When AppSync sits behind CloudFront (`CLOUDFRONT_DISTRIBUTION_ID`), setSecret
//! also makes the distributions send the tested key as `x-api-key`, and no key an edge
//! may still send is deleted. See `steps` for each step and `README.md` for the settings.

pub(crate) mod api;
pub(crate) mod graphql;
pub(crate) mod marker;
pub(crate) mod retire;
pub(crate) mod sdk;
pub(crate) mod settings;
pub(crate) mod steps;
mod target;

pub use api::{ApiKey, AppSyncKeys};
pub use graphql::{GraphqlProbe, GraphqlProbeError};
pub use marker::KeyMarker;
pub use sdk::SdkAppSync;
pub use steps::AppSyncStepError;
pub use target::AppSyncTarget;

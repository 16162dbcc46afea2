//! Target `api-gateway-api-key`: a REST API's usage-plan API key, sent by CloudFront as
//! the origin custom header `x-api-key` (the API Gateway + WAF blog, part 2), rotated
//! without a gap.
//!
//! The blog replaced the key, its usage-plan link and the CloudFront header together by a
//! scheduled stack update, so requests were dropped in between. Here the new key is made
//! and linked to the usage plan(s) first, CloudFront is pointed at it only once the origin
//! accepts it, and the previous key stays linked through `PREVIOUS_KEY_GRACE_SECS` and
//! until no distribution may still send it; then it is unlinked and deleted.
//!
//! - [`api`]: the API Gateway calls, behind [`UsagePlanKeys`]; [`sdk`] implements them.
//! - [`settings`]: `USAGE_PLAN_ID`, `API_KEY_HEADER_NAME`, ...
//! - [`keys`]: the key work of the steps (create or adopt and link; retire).
//! - [`acceptance`]: waiting for API Gateway to accept a new key.
//! - [`ApiKeyTarget`]: all of it over the steps' `Target` trait.

pub(crate) mod acceptance;
pub(crate) mod api;
pub(crate) mod keys;
pub(crate) mod sdk;
pub(crate) mod settings;
mod target;

pub use self::api::{ApiKey, NewApiKey, UsagePlanKeys};
pub use self::keys::ApiKeyError;
pub use self::sdk::SdkUsagePlanKeys;
pub use self::target::ApiKeyTarget;

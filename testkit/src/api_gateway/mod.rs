//! Stand-ins for API Gateway's REST API keys and usage plans, for the rotator's
//! `api-gateway-api-key` target: moto holds the keys and plans; these add what moto
//! lacks, each citing what AWS does.
//!
//! - [`AwsLikeUsagePlanKeys`]: the control-plane checks moto skips (missing plans,
//!   double links and unlinks, value format, the 5-a-second key quota).
//! - [`ApiKeyStage`]: the data plane — a stage whose methods require an API key,
//!   reading moto's keys and plans, with API Gateway's propagation lag; [`ApiKeyOrigin`]
//!   serves it on loopback.

mod origin;
mod strict;

pub use self::origin::{ApiKeyOrigin, ApiKeyOriginSettings, ApiKeyStage};
pub use self::strict::{AwsLikeUsagePlanKeys, KEY_CALLS_PER_SECOND};

//! The `api-gateway-api-key` target's origin: a REST API stage whose methods require an
//! API key, as the API Gateway + WAF blog (part 2) sets it up — a usage plan, an API key
//! its stack made, CloudFront sending that key as the origin custom header `x-api-key` —
//! and no Lambda authorizer. API Gateway's own check decides each request
//! (`edgeseal_testkit::api_gateway::ApiKeyStage`: the key exists, is enabled and is in
//! the plan, read from moto; a change reaches its nodes one after another, as AWS nodes
//! learn of a new key seconds late). A refused request gets `403 {"message":"Forbidden"}`.

use std::sync::Arc;
use std::time::Duration;

use edgeseal_rotator::SdkUsagePlanKeys;
use edgeseal_testkit::api_gateway::{ApiKeyOriginSettings, ApiKeyStage, AwsLikeUsagePlanKeys};
use edgeseal_testkit::world;

use crate::DemoError;

/// The header API Gateway reads the key from (the blog's, and the target's default).
pub const HEADER_NAME: &str = "x-api-key";
/// The key names' prefix (the blog names its keys `CloudFront-<timestamp>`).
pub const NAME_PREFIX: &str = "CloudFront-";

/// How many API Gateway nodes share the requests, and how late the slowest one learns
/// of a change: "a few seconds" on AWS (moduspwnens/boa-chat#1 waits 10 s), kept at that
/// scale rather than compressed like the demo's CloudFront propagation. (Measured here:
/// with `API_KEY_PROPAGATION_SECS=0` two runs of `demo/tests/targets.rs` still refused
/// no request, because the rotator's three probes in a row, a second apart, mostly
/// outlast a 4 s lag; `rotator/tests/target_api_key.rs` shows the lags they do not cover.)
const NODES: usize = 4;
const NODE_LAG: Duration = Duration::from_secs(4);
/// The rotator's `API_KEY_PROPAGATION_SECS`: longer than the slowest node's lag plus the
/// stand-in's reading of moto.
const PROPAGATION_SECS: u64 = 5;

/// The usage plan on moto and the stage checking keys against it.
pub struct KeyedStage {
    /// `USAGE_PLAN_ID`.
    pub usage_plan: String,
    /// API Gateway's key check, for the API Gateway stand-in.
    pub stage: Arc<ApiKeyStage>,
}

/// The blog's starting point on moto: a usage plan and the key `value` (the secret's
/// AWSCURRENT), made by its stack rather than by edgeseal, linked to the plan; then the
/// stage that checks keys against the plan.
pub async fn create(sdk: &aws_config::SdkConfig, value: &str) -> Result<KeyedStage, DemoError> {
    let client = aws_sdk_apigateway::Client::new(sdk);
    let aws = |e: world::WorldError| DemoError::Aws(e.to_string());
    let plan_name = format!("edgeseal-demo-CloudFront_only-{}", std::process::id());
    let usage_plan = world::create_usage_plan(&client, &plan_name)
        .await
        .map_err(aws)?;
    world::create_linked_api_key(
        &client,
        &usage_plan,
        &format!("{NAME_PREFIX}demo-stack"),
        "the key the stack made before edgeseal",
        value,
    )
    .await
    .map_err(aws)?;
    let stage = ApiKeyStage::start(
        client,
        ApiKeyOriginSettings::new(&[&usage_plan]).propagating(NODES, NODE_LAG),
    )
    .await
    .map_err(|e| DemoError::Aws(format!("reading the usage plan: {e}")))?;
    Ok(KeyedStage {
        usage_plan,
        stage: Arc::new(stage),
    })
}

/// The rotator's variables for this target (besides `ROTATION_TARGET` and
/// `SECRET_KEY_NAME`, which the template gives it).
pub fn rotator_env(keyed: &KeyedStage, previous_grace_secs: u64) -> Vec<(&'static str, String)> {
    vec![
        ("USAGE_PLAN_ID", keyed.usage_plan.clone()),
        ("API_KEY_HEADER_NAME", HEADER_NAME.to_owned()),
        ("API_KEY_NAME_PREFIX", NAME_PREFIX.to_owned()),
        ("API_KEY_PROPAGATION_SECS", PROPAGATION_SECS.to_string()),
        ("PREVIOUS_KEY_GRACE_SECS", previous_grace_secs.to_string()),
    ]
}

/// The rotator's view of API Gateway's keys: the real SDK against moto, with the checks
/// AWS makes and moto skips (testkit's `AwsLikeUsagePlanKeys`: missing plans, conflicts,
/// the 5-a-second key quota).
pub fn usage_plan_keys(sdk: &aws_config::SdkConfig) -> AwsLikeUsagePlanKeys<SdkUsagePlanKeys> {
    AwsLikeUsagePlanKeys::new(SdkUsagePlanKeys::new(sdk))
}

//! Stand-ins for tests and the measurement harness: a faithful in-process CloudFront and
//! a fault-injecting wrapper for any of the three AWS traits.
//!
//! moto keeps origin custom headers but drops `LambdaFunctionAssociations` and accepts
//! any `IfMatch`, so association and ETag behaviour is exercised against
//! [`FakeCloudFront`], which keeps what CloudFront keeps: the ETag changes on every
//! update, a stale or missing `IfMatch` fails, associations must name a numbered
//! version, and the status is `InProgress` for a while after each update, during which
//! edges may still run any config set since the last `Deployed`. Made as unkind as AWS
//! where evidence says AWS is (each cited where it is modelled):
//! - propagation longer than a Lambda runs: [`FakeCloudFront::set_deploy_delay`]
//!   (15-45 min reported: aws/aws-cli#3865, aws-amplify/amplify-cli#842);
//! - `Throttling` after a few updates a minute: [`FakeCloudFront::throttle_updates`];
//! - associations naming a version that is still `Pending` refused:
//!   [`FakeCloudFront::refuse_inactive_versions`] with [`PendingVersions`];
//! - cache and origin request policies with their query-string behaviour
//!   ([`FakeCloudFront::insert_policy`]), continuous deployment policies naming staging
//!   distributions ([`FakeCloudFront::insert_continuous_deployment_policy`]);
//! - Secrets Manager's testSecret-only configuration test, which moto does not run:
//!   [`start_configuration_test`].

mod lambda_states;
mod secrets_manager;

pub use lambda_states::{PendingVersions, VersionStates};
pub use secrets_manager::{PendingValue, end_configuration_test, start_configuration_test};

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::DistributionConfig;
use zeroize::Zeroizing;

use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertions that follow.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct FakeDistribution {
    config: DistributionConfig,
    generation: u64,
    updated_at: Instant,
    /// Configs edges may be running: every one set since the last time it was Deployed.
    live: Vec<DistributionConfig>,
    /// Every config ever set, oldest first.
    history: Vec<DistributionConfig>,
}

impl FakeDistribution {
    fn etag(&self) -> String {
        format!("E{:013X}", self.generation)
    }

    fn refresh(&mut self, deploy_delay: Duration) -> bool {
        let deployed = self.updated_at.elapsed() >= deploy_delay;
        if deployed && self.live.len() > 1 {
            self.live = vec![self.config.clone()];
        }
        deployed
    }
}

/// How many `UpdateDistribution` calls CloudFront accepts per window before it answers
/// `Throttling` / "Rate exceeded": "2 or 3 times in less than one minute" was enough in
/// ansible-collections/community.aws#296 (and AWS support could not raise it); CDK
/// deployments meet it too (aws/aws-cdk#29183). Rejected calls do not count.
struct Throttle {
    max: usize,
    window: Duration,
    accepted: std::collections::VecDeque<Instant>,
}

impl Throttle {
    fn admit(&mut self) -> Result<(), ApiError> {
        let now = Instant::now();
        while self
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.accepted.pop_front();
        }
        if self.accepted.len() >= self.max {
            return Err(ApiError::Throttled {
                op: Op::UpdateDistribution,
                message: "Rate exceeded".into(),
            });
        }
        self.accepted.push_back(now);
        Ok(())
    }
}

/// AWS managed policies the tests and the demo name, with their query-string behaviour
/// (CloudFront developer guide, "Use managed cache policies" and "Use managed origin
/// request policies"): CachingDisabled forwards no query string (so a behavior with only
/// it hides the query from the edge); AllViewerExceptHostHeader forwards all of them.
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// See [`CACHING_DISABLED`].
pub const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// An in-process CloudFront holding distribution configs.
pub struct FakeCloudFront {
    distributions: Mutex<HashMap<String, FakeDistribution>>,
    deploy_delay: Mutex<Duration>,
    updates: Mutex<u64>,
    throttle: Mutex<Option<Throttle>>,
    version_states: Mutex<Option<Arc<VersionStates>>>,
    policies: Mutex<HashMap<PolicyRef, bool>>,
    continuous_deployment: Mutex<HashMap<String, Vec<String>>>,
}

impl FakeCloudFront {
    /// A fake whose distributions take `deploy_delay` to become `Deployed` after an update.
    pub fn new(deploy_delay: Duration) -> Self {
        Self {
            distributions: Mutex::new(HashMap::new()),
            deploy_delay: Mutex::new(deploy_delay),
            updates: Mutex::new(0),
            throttle: Mutex::new(None),
            version_states: Mutex::new(None),
            policies: Mutex::new(HashMap::from([
                (PolicyRef::Cache(CACHING_DISABLED.to_owned()), false),
                (
                    PolicyRef::OriginRequest(ALL_VIEWER_EXCEPT_HOST_HEADER.to_owned()),
                    true,
                ),
            ])),
            continuous_deployment: Mutex::new(HashMap::new()),
        }
    }

    /// Answer `Throttling` to `UpdateDistribution` beyond `max` accepted calls per
    /// `window` (see [`Throttle`]'s sources).
    pub fn throttle_updates(&self, max: usize, window: Duration) {
        *lock(&self.throttle) = Some(Throttle {
            max,
            window,
            accepted: std::collections::VecDeque::new(),
        });
    }

    /// Refuse associations naming a version `states` reports as not `Active`, with
    /// CloudFront's `InvalidLambdaFunctionAssociation` ("The function must be in an
    /// Active state. The current state for function ... is Pending",
    /// aws-samples/cloudfront-authorization-at-edge#245).
    pub fn refuse_inactive_versions(&self, states: Arc<VersionStates>) {
        *lock(&self.version_states) = Some(states);
    }

    /// Add a cache or origin request policy: whether it forwards all query strings.
    pub fn insert_policy(&self, policy: PolicyRef, forwards_all_query_strings: bool) {
        lock(&self.policies).insert(policy, forwards_all_query_strings);
    }

    /// Add a continuous deployment policy naming staging distributions by domain name.
    pub fn insert_continuous_deployment_policy(&self, id: &str, staging_domains: &[String]) {
        lock(&self.continuous_deployment).insert(id.to_owned(), staging_domains.to_vec());
    }

    /// The domain name the fake gives distribution `id`.
    pub fn domain_of(id: &str) -> String {
        format!("d{}.cloudfront.net", id.to_ascii_lowercase())
    }

    /// Change how long deployments take from now on.
    pub fn set_deploy_delay(&self, delay: Duration) {
        *lock(&self.deploy_delay) = delay;
    }

    /// Add a distribution, already `Deployed`.
    pub fn insert(&self, id: &str, config: DistributionConfig) {
        lock(&self.distributions).insert(
            id.to_owned(),
            FakeDistribution {
                live: vec![config.clone()],
                history: vec![config.clone()],
                config,
                generation: 1,
                updated_at: Instant::now()
                    .checked_sub(Duration::from_secs(3600))
                    .unwrap_or_else(Instant::now),
            },
        );
    }

    /// The latest config.
    pub fn config(&self, id: &str) -> Option<DistributionConfig> {
        lock(&self.distributions).get(id).map(|d| d.config.clone())
    }

    /// Configs edges may be running right now.
    pub fn live_configs(&self, id: &str) -> Vec<DistributionConfig> {
        let delay = *lock(&self.deploy_delay);
        lock(&self.distributions)
            .get_mut(id)
            .map(|d| {
                d.refresh(delay);
                d.live.clone()
            })
            .unwrap_or_default()
    }

    /// Every config ever set, oldest first.
    pub fn history(&self, id: &str) -> Vec<DistributionConfig> {
        lock(&self.distributions)
            .get(id)
            .map(|d| d.history.clone())
            .unwrap_or_default()
    }

    /// How many `UpdateDistribution` calls succeeded.
    pub fn update_count(&self) -> u64 {
        *lock(&self.updates)
    }

    /// Someone else edits the distribution (a console user, another pipeline): the ETag
    /// moves on and the status goes `InProgress`.
    pub fn touch(&self, id: &str, edit: impl FnOnce(&mut DistributionConfig)) {
        if let Some(d) = lock(&self.distributions).get_mut(id) {
            edit(&mut d.config);
            d.generation += 1;
            d.updated_at = Instant::now();
            d.live.push(d.config.clone());
            d.history.push(d.config.clone());
        }
    }
}

/// CloudFront refuses associations that do not name a numbered version.
fn validate(config: &DistributionConfig) -> Result<(), ApiError> {
    for association in crate::edits::associations(config) {
        let arn = &association.lambda_function_arn;
        let qualified = arn.split(':').count() == 8
            && arn
                .rsplit(':')
                .next()
                .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        if !qualified {
            return Err(ApiError::Service {
                op: Op::UpdateDistribution,
                code: "InvalidLambdaFunctionAssociation".into(),
                message: format!(
                    "The function ARN must reference a specific function version: {arn}"
                ),
            });
        }
    }
    Ok(())
}

impl DistributionApi for FakeCloudFront {
    async fn get_config(&self, id: &str) -> Result<(DistributionConfig, String), ApiError> {
        lock(&self.distributions)
            .get(id)
            .map(|d| (d.config.clone(), d.etag()))
            .ok_or_else(|| ApiError::NotFound {
                op: Op::GetDistributionConfig,
                message: format!("The specified distribution does not exist: {id}"),
            })
    }

    async fn update_config(
        &self,
        id: &str,
        config: DistributionConfig,
        etag: &str,
    ) -> Result<String, ApiError> {
        let mut distributions = lock(&self.distributions);
        let d = distributions
            .get_mut(id)
            .ok_or_else(|| ApiError::NotFound {
                op: Op::UpdateDistribution,
                message: format!("The specified distribution does not exist: {id}"),
            })?;
        if etag.is_empty() {
            return Err(ApiError::Service {
                op: Op::UpdateDistribution,
                code: "InvalidIfMatchVersion".into(),
                message: "The If-Match version is missing or not valid".into(),
            });
        }
        if etag != d.etag() {
            return Err(ApiError::PreconditionFailed(Op::UpdateDistribution));
        }
        validate(&config)?;
        if let Some(states) = lock(&self.version_states).as_ref() {
            for association in crate::edits::associations(&config) {
                let arn = &association.lambda_function_arn;
                if let Some(state) = states.state_of_arn(arn)
                    && state != VersionState::Active
                {
                    return Err(ApiError::Service {
                        op: Op::UpdateDistribution,
                        code: "InvalidLambdaFunctionAssociation".into(),
                        message: format!(
                            "The function must be in an Active state. The current state for function {arn} is {state:?}"
                        ),
                    });
                }
            }
        }
        if let Some(throttle) = lock(&self.throttle).as_mut() {
            throttle.admit()?;
        }
        d.config = config;
        d.generation += 1;
        d.updated_at = Instant::now();
        d.live.push(d.config.clone());
        d.history.push(d.config.clone());
        *lock(&self.updates) += 1;
        Ok(d.etag())
    }

    async fn status(&self, id: &str) -> Result<DeployStatus, ApiError> {
        let delay = *lock(&self.deploy_delay);
        let mut distributions = lock(&self.distributions);
        let d = distributions
            .get_mut(id)
            .ok_or_else(|| ApiError::NotFound {
                op: Op::GetDistribution,
                message: format!("The specified distribution does not exist: {id}"),
            })?;
        Ok(if d.refresh(delay) {
            DeployStatus::Deployed
        } else {
            DeployStatus::InProgress
        })
    }

    async fn domain_name(&self, id: &str) -> Result<String, ApiError> {
        if lock(&self.distributions).contains_key(id) {
            Ok(Self::domain_of(id))
        } else {
            Err(ApiError::NotFound {
                op: Op::GetDistribution,
                message: format!("The specified distribution does not exist: {id}"),
            })
        }
    }

    async fn policy_forwards_all_query_strings(
        &self,
        policy: &PolicyRef,
    ) -> Result<bool, ApiError> {
        lock(&self.policies)
            .get(policy)
            .copied()
            .ok_or_else(|| match policy {
                PolicyRef::Cache(id) => ApiError::NotFound {
                    op: Op::GetCachePolicy,
                    message: format!("The cache policy does not exist: {id}"),
                },
                PolicyRef::OriginRequest(id) => ApiError::NotFound {
                    op: Op::GetOriginRequestPolicy,
                    message: format!("The origin request policy does not exist: {id}"),
                },
            })
    }

    async fn staging_domain_names(&self, policy_id: &str) -> Result<Vec<String>, ApiError> {
        lock(&self.continuous_deployment)
            .get(policy_id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound {
                op: Op::GetContinuousDeploymentPolicy,
                message: format!("The continuous deployment policy does not exist: {policy_id}"),
            })
    }
}

/// When an injected fault strikes relative to the real call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultTiming {
    /// The call never reaches AWS.
    Before,
    /// The call takes effect, then the response is lost.
    After,
}

#[derive(Default)]
struct PlanState {
    calls: Vec<Op>,
    target: Option<(Op, usize, FaultTiming)>,
    fired: bool,
}

/// Which call fails: the `occurrence`-th (0-based) call of one operation, counted over
/// every [`Faulty`] sharing the plan. Counting per operation (not globally) keeps the
/// target the same call even when an earlier run left different work behind.
#[derive(Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
}

impl FaultPlan {
    /// A plan that injects nothing (and records calls).
    pub fn none() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A plan that fails the `occurrence`-th call of `op`, once.
    pub fn fail(op: Op, occurrence: usize, timing: FaultTiming) -> Arc<Self> {
        let plan = Self::default();
        lock(&plan.state).target = Some((op, occurrence, timing));
        Arc::new(plan)
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<Op> {
        lock(&self.state).calls.clone()
    }

    /// Whether the fault has struck.
    pub fn fired(&self) -> bool {
        lock(&self.state).fired
    }

    fn decide(&self, op: Op) -> Option<FaultTiming> {
        let mut state = lock(&self.state);
        let seen = state.calls.iter().filter(|c| **c == op).count();
        state.calls.push(op);
        match state.target {
            Some((target, occurrence, timing)) if target == op && occurrence == seen => {
                state.fired = true;
                Some(timing)
            }
            _ => None,
        }
    }
}

/// Wraps an AWS trait implementation and fails calls as its [`FaultPlan`] says.
pub struct Faulty<T> {
    inner: T,
    plan: Arc<FaultPlan>,
}

impl<T> Faulty<T> {
    /// Wrap `inner`.
    pub fn new(inner: T, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }

    async fn call<R>(
        &self,
        op: Op,
        call: impl Future<Output = Result<R, ApiError>>,
    ) -> Result<R, ApiError> {
        match self.plan.decide(op) {
            None => call.await,
            Some(FaultTiming::Before) => Err(ApiError::Injected(op)),
            Some(FaultTiming::After) => {
                let _lost = call.await;
                Err(ApiError::Injected(op))
            }
        }
    }
}

impl<T: SecretsApi> SecretsApi for Faulty<T> {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretMetadata, ApiError> {
        self.call(Op::DescribeSecret, self.inner.describe_secret(secret_id))
            .await
    }

    async fn get_secret_string(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, ApiError> {
        self.call(
            Op::GetSecretValue,
            self.inner.get_secret_string(secret_id, version_id, stage),
        )
        .await
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        secret_string: &str,
        rotation_token: Option<&str>,
    ) -> Result<(), ApiError> {
        self.call(
            Op::PutSecretValue,
            self.inner
                .put_pending(secret_id, token, secret_string, rotation_token),
        )
        .await
    }

    async fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: &str,
        remove_from: Option<&str>,
    ) -> Result<(), ApiError> {
        self.call(
            Op::UpdateSecretVersionStage,
            self.inner
                .move_stage(secret_id, stage, move_to, remove_from),
        )
        .await
    }
}

impl<T: EdgeFunctionApi> EdgeFunctionApi for Faulty<T> {
    async fn update_code(&self, function: &str, zip: Vec<u8>) -> Result<String, ApiError> {
        self.call(
            Op::UpdateFunctionCode,
            self.inner.update_code(function, zip),
        )
        .await
    }

    async fn update_status(&self, function: &str) -> Result<UpdateStatus, ApiError> {
        self.call(
            Op::GetFunctionConfiguration,
            self.inner.update_status(function),
        )
        .await
    }

    async fn publish_version(
        &self,
        function: &str,
        description: &str,
        code_sha256: &str,
    ) -> Result<FunctionVersion, ApiError> {
        self.call(
            Op::PublishVersion,
            self.inner
                .publish_version(function, description, code_sha256),
        )
        .await
    }

    async fn version_state(&self, function: &str, version: &str) -> Result<VersionState, ApiError> {
        self.call(
            Op::GetFunctionConfiguration,
            self.inner.version_state(function, version),
        )
        .await
    }

    async fn list_versions(&self, function: &str) -> Result<Vec<FunctionVersion>, ApiError> {
        self.call(
            Op::ListVersionsByFunction,
            self.inner.list_versions(function),
        )
        .await
    }

    async fn delete_version(&self, function: &str, version: &str) -> Result<(), ApiError> {
        self.call(
            Op::DeleteFunctionVersion,
            self.inner.delete_version(function, version),
        )
        .await
    }
}

impl<T: DistributionApi> DistributionApi for Faulty<T> {
    async fn get_config(&self, id: &str) -> Result<(DistributionConfig, String), ApiError> {
        self.call(Op::GetDistributionConfig, self.inner.get_config(id))
            .await
    }

    async fn update_config(
        &self,
        id: &str,
        config: DistributionConfig,
        etag: &str,
    ) -> Result<String, ApiError> {
        self.call(
            Op::UpdateDistribution,
            self.inner.update_config(id, config, etag),
        )
        .await
    }

    async fn status(&self, id: &str) -> Result<DeployStatus, ApiError> {
        self.call(Op::GetDistribution, self.inner.status(id)).await
    }

    async fn domain_name(&self, id: &str) -> Result<String, ApiError> {
        self.call(Op::GetDistribution, self.inner.domain_name(id))
            .await
    }

    async fn policy_forwards_all_query_strings(
        &self,
        policy: &PolicyRef,
    ) -> Result<bool, ApiError> {
        let op = match policy {
            PolicyRef::Cache(_) => Op::GetCachePolicy,
            PolicyRef::OriginRequest(_) => Op::GetOriginRequestPolicy,
        };
        self.call(op, self.inner.policy_forwards_all_query_strings(policy))
            .await
    }

    async fn staging_domain_names(&self, policy_id: &str) -> Result<Vec<String>, ApiError> {
        self.call(
            Op::GetContinuousDeploymentPolicy,
            self.inner.staging_domain_names(policy_id),
        )
        .await
    }
}

/// A Secrets Manager version id as Secrets Manager makes them: a random UUID (v4).
pub fn new_version_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    // Version 4, RFC 4122 variant.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    ))
}

/// What Secrets Manager does when a rotation starts, for drivers that stand in for it
/// (moto cannot invoke a rotation function, so tests and the local demo run the four
/// steps themselves): clear a leftover AWSPENDING label (a finished rotation leaves it on
/// the new AWSCURRENT version until the next one starts; moto refuses to start
/// otherwise), then `RotateSecret`, which stages a new version id AWSPENDING without a
/// value and turns rotation on. Returns that version id: the token of the four steps.
pub async fn start_rotation(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
    rotation_lambda_arn: &str,
) -> Result<String, String> {
    use aws_sdk_secretsmanager::error::DisplayErrorContext;
    let described = sm
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| format!("DescribeSecret: {}", DisplayErrorContext(e)))?;
    for (id, labels) in described
        .version_ids_to_stages()
        .cloned()
        .unwrap_or_default()
    {
        if labels.iter().any(|l| l == "AWSPENDING") {
            sm.update_secret_version_stage()
                .secret_id(secret)
                .version_stage("AWSPENDING")
                .remove_from_version_id(id)
                .send()
                .await
                .map_err(|e| format!("UpdateSecretVersionStage: {}", DisplayErrorContext(e)))?;
        }
    }
    let token = new_version_id().map_err(|e| format!("random: {e}"))?;
    sm.rotate_secret()
        .secret_id(secret)
        .client_request_token(&token)
        .rotation_lambda_arn(rotation_lambda_arn)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(true)
        .send()
        .await
        .map_err(|e| format!("RotateSecret: {}", DisplayErrorContext(e)))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, EventType, LambdaFunctionAssociation, LambdaFunctionAssociations,
        Origin, Origins, ViewerProtocolPolicy,
    };

    use super::*;

    fn config(arn: &str) -> DistributionConfig {
        let association = LambdaFunctionAssociation::builder()
            .lambda_function_arn(arn)
            .event_type(EventType::OriginRequest)
            .build()
            .unwrap();
        DistributionConfig::builder()
            .caller_reference("r")
            .comment("c")
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(1)
                    .items(
                        Origin::builder()
                            .id("o")
                            .domain_name("api.example.com")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("o")
                    .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                    .lambda_function_associations(
                        LambdaFunctionAssociations::builder()
                            .quantity(1)
                            .items(association)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

    #[tokio::test]
    async fn etag_changes_on_every_update_and_stale_or_missing_if_match_fails() {
        let fake = FakeCloudFront::new(Duration::ZERO);
        fake.insert("E1", config(&format!("{ARN}:1")));
        let (cfg, etag1) = fake.get_config("E1").await.unwrap();
        let etag2 = fake.update_config("E1", cfg.clone(), &etag1).await.unwrap();
        assert_ne!(etag1, etag2);
        assert_eq!(
            fake.update_config("E1", cfg.clone(), &etag1)
                .await
                .unwrap_err(),
            ApiError::PreconditionFailed(Op::UpdateDistribution)
        );
        assert!(matches!(
            fake.update_config("E1", cfg.clone(), "").await.unwrap_err(),
            ApiError::Service { code, .. } if code == "InvalidIfMatchVersion"
        ));
        fake.touch("E1", |c| c.comment = "other".into());
        assert_eq!(
            fake.update_config("E1", cfg, &etag2).await.unwrap_err(),
            ApiError::PreconditionFailed(Op::UpdateDistribution)
        );
        assert!(matches!(
            fake.get_config("E9").await.unwrap_err(),
            ApiError::NotFound { .. }
        ));
    }

    #[tokio::test]
    async fn associations_must_name_a_numbered_version() {
        let fake = FakeCloudFront::new(Duration::ZERO);
        fake.insert("E1", config(&format!("{ARN}:1")));
        for bad in [
            ARN.to_owned(),
            format!("{ARN}:$LATEST"),
            format!("{ARN}:live"),
        ] {
            let (_, etag) = fake.get_config("E1").await.unwrap();
            let err = fake
                .update_config("E1", config(&bad), &etag)
                .await
                .unwrap_err();
            assert!(
                matches!(err, ApiError::Service { ref code, .. } if code == "InvalidLambdaFunctionAssociation"),
                "{bad}"
            );
        }
        assert_eq!(fake.update_count(), 0);
    }

    #[tokio::test]
    async fn status_is_in_progress_until_the_delay_and_old_configs_stay_live_until_then() {
        let fake = FakeCloudFront::new(Duration::from_millis(80));
        fake.insert("E1", config(&format!("{ARN}:1")));
        assert_eq!(fake.status("E1").await.unwrap(), DeployStatus::Deployed);
        let (_, etag) = fake.get_config("E1").await.unwrap();
        fake.update_config("E1", config(&format!("{ARN}:2")), &etag)
            .await
            .unwrap();
        assert_eq!(fake.status("E1").await.unwrap(), DeployStatus::InProgress);
        assert_eq!(fake.live_configs("E1").len(), 2);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(fake.status("E1").await.unwrap(), DeployStatus::Deployed);
        let live = fake.live_configs("E1");
        assert_eq!(live.len(), 1);
        assert_eq!(
            crate::edits::associations(&live[0])
                .next()
                .unwrap()
                .lambda_function_arn,
            format!("{ARN}:2")
        );
        assert_eq!(fake.history("E1").len(), 2);
    }

    #[tokio::test]
    async fn a_fault_strikes_exactly_the_chosen_occurrence_once() {
        let fake = Arc::new(FakeCloudFront::new(Duration::ZERO));
        fake.insert("E1", config(&format!("{ARN}:1")));
        let plan = FaultPlan::fail(Op::GetDistributionConfig, 1, FaultTiming::Before);
        let faulty = Faulty::new(fake.clone(), plan.clone());
        assert!(faulty.get_config("E1").await.is_ok());
        assert_eq!(
            faulty.get_config("E1").await.unwrap_err(),
            ApiError::Injected(Op::GetDistributionConfig)
        );
        assert!(faulty.get_config("E1").await.is_ok());
        assert!(plan.fired());

        // After: the update takes effect, the answer is lost.
        let plan = FaultPlan::fail(Op::UpdateDistribution, 0, FaultTiming::After);
        let faulty = Faulty::new(fake.clone(), plan);
        let (cfg, etag) = faulty.get_config("E1").await.unwrap();
        let err = faulty
            .update_config("E1", config(&format!("{ARN}:5")), &etag)
            .await
            .unwrap_err();
        assert_eq!(err, ApiError::Injected(Op::UpdateDistribution));
        assert_ne!(fake.config("E1").unwrap(), cfg);
        assert_eq!(fake.update_count(), 1);
    }
}

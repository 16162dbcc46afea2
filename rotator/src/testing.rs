//! Stand-ins for tests and the measurement harness: a faithful in-process CloudFront and
//! a fault-injecting wrapper for any of the three AWS traits.
//!
//! moto keeps origin custom headers but drops `LambdaFunctionAssociations` and accepts
//! any `IfMatch`, so association and ETag behaviour is exercised against
//! [`FakeCloudFront`], which keeps what CloudFront keeps: the ETag changes on every
//! update, a stale or missing `IfMatch` fails, associations must name a numbered
//! version, and the status is `InProgress` for a while after each update, during which
//! edges may still run any config set since the last `Deployed`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::DistributionConfig;
use zeroize::Zeroizing;

use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, SecretMetadata,
    SecretsApi, UpdateStatus,
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

/// An in-process CloudFront holding distribution configs.
pub struct FakeCloudFront {
    distributions: Mutex<HashMap<String, FakeDistribution>>,
    deploy_delay: Mutex<Duration>,
    updates: Mutex<u64>,
}

impl FakeCloudFront {
    /// A fake whose distributions take `deploy_delay` to become `Deployed` after an update.
    pub fn new(deploy_delay: Duration) -> Self {
        Self {
            distributions: Mutex::new(HashMap::new()),
            deploy_delay: Mutex::new(deploy_delay),
            updates: Mutex::new(0),
        }
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
    for association in crate::rotator::associations(config) {
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
            crate::rotator::associations(&live[0])
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

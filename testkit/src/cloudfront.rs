//! A faithful in-process CloudFront holding distribution configs.
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
//!   [`FakeCloudFront::refuse_inactive_versions`] with
//!   [`PendingVersions`](crate::PendingVersions);
//! - cache and origin request policies with their query-string behaviour
//!   ([`FakeCloudFront::insert_policy`]), continuous deployment policies naming staging
//!   distributions ([`FakeCloudFront::insert_continuous_deployment_policy`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudfront::types::DistributionConfig;
use edgeseal_rotator::{ApiError, DeployStatus, DistributionApi, Op, PolicyRef, VersionState};

use crate::lambda_states::VersionStates;
use crate::lock;

struct FakeDistribution {
    config: DistributionConfig,
    generation: u64,
    updated_at: Instant,
    /// Set by [`FakeCloudFront::complete_deployments`]: `Deployed` whatever the delay,
    /// until the next update.
    deployment_completed: bool,
    /// `Distribution.LastModifiedTime` as `GetDistribution` returns it: set on creation
    /// and on every update (CloudFront API reference, `Distribution`: "The date and time
    /// when the distribution was last modified").
    last_modified: SystemTime,
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
        let deployed = self.deployment_completed || self.updated_at.elapsed() >= deploy_delay;
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
#[derive(Clone)]
pub struct FakeCloudFront {
    /// Shared by every clone: a clone is a handle on the same CloudFront, as the rotator
    /// and a test's assertions each hold one.
    inner: Arc<Inner>,
}

/// The state of the stand-in, behind the handles.
struct Inner {
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
            inner: Arc::new(Inner {
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
            }),
        }
    }

    /// Answer `Throttling` to `UpdateDistribution` beyond `max` accepted calls per
    /// `window` (see `Throttle`'s sources).
    pub fn throttle_updates(&self, max: usize, window: Duration) {
        *lock(&self.inner.throttle) = Some(Throttle {
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
        *lock(&self.inner.version_states) = Some(states);
    }

    /// Add a cache or origin request policy: whether it forwards all query strings.
    pub fn insert_policy(&self, policy: PolicyRef, forwards_all_query_strings: bool) {
        lock(&self.inner.policies).insert(policy, forwards_all_query_strings);
    }

    /// Add a continuous deployment policy naming staging distributions by domain name.
    pub fn insert_continuous_deployment_policy(&self, id: &str, staging_domains: &[String]) {
        lock(&self.inner.continuous_deployment).insert(id.to_owned(), staging_domains.to_vec());
    }

    /// The domain name the fake gives distribution `id`.
    pub fn domain_of(id: &str) -> String {
        format!("d{}.cloudfront.net", id.to_ascii_lowercase())
    }

    /// Change how long deployments take from now on.
    pub fn set_deploy_delay(&self, delay: Duration) {
        *lock(&self.inner.deploy_delay) = delay;
    }

    /// Every deployment under way completes now, whatever the delay: the days between
    /// two scheduled rotations, in which CloudFront finishes even a 45-minute
    /// propagation, without waiting for them. With [`Self::set_deploy_delay`] at an hour
    /// this gives AWS's timing: each update stays `InProgress` for the rest of the
    /// rotation (a rerun of a step sees it so), and the next rotation starts `Deployed`.
    pub fn complete_deployments(&self) {
        let delay = *lock(&self.inner.deploy_delay);
        for d in lock(&self.inner.distributions).values_mut() {
            d.deployment_completed = true;
            d.refresh(delay);
        }
    }

    /// Add a distribution, already `Deployed`.
    pub fn insert(&self, id: &str, config: DistributionConfig) {
        lock(&self.inner.distributions).insert(
            id.to_owned(),
            FakeDistribution {
                live: vec![config.clone()],
                history: vec![config.clone()],
                config,
                generation: 1,
                updated_at: Instant::now()
                    .checked_sub(Duration::from_secs(3600))
                    .unwrap_or_else(Instant::now),
                deployment_completed: true,
                // Deployed an hour ago, like `updated_at`.
                last_modified: SystemTime::now()
                    .checked_sub(Duration::from_secs(3600))
                    .unwrap_or_else(SystemTime::now),
            },
        );
    }

    /// The latest config.
    pub fn config(&self, id: &str) -> Option<DistributionConfig> {
        lock(&self.inner.distributions)
            .get(id)
            .map(|d| d.config.clone())
    }

    /// `Distribution.LastModifiedTime`: when the config last changed.
    pub fn last_modified(&self, id: &str) -> Option<SystemTime> {
        lock(&self.inner.distributions)
            .get(id)
            .map(|d| d.last_modified)
    }

    /// Configs edges may be running right now.
    pub fn live_configs(&self, id: &str) -> Vec<DistributionConfig> {
        let delay = *lock(&self.inner.deploy_delay);
        lock(&self.inner.distributions)
            .get_mut(id)
            .map(|d| {
                d.refresh(delay);
                d.live.clone()
            })
            .unwrap_or_default()
    }

    /// Every config ever set, oldest first.
    pub fn history(&self, id: &str) -> Vec<DistributionConfig> {
        lock(&self.inner.distributions)
            .get(id)
            .map(|d| d.history.clone())
            .unwrap_or_default()
    }

    /// How many `UpdateDistribution` calls succeeded.
    pub fn update_count(&self) -> u64 {
        *lock(&self.inner.updates)
    }

    /// Someone else edits the distribution (a console user, another pipeline): the ETag
    /// moves on and the status goes `InProgress`.
    pub fn touch(&self, id: &str, edit: impl FnOnce(&mut DistributionConfig)) {
        if let Some(d) = lock(&self.inner.distributions).get_mut(id) {
            edit(&mut d.config);
            d.generation += 1;
            d.updated_at = Instant::now();
            d.deployment_completed = false;
            d.last_modified = SystemTime::now();
            d.live.push(d.config.clone());
            d.history.push(d.config.clone());
        }
    }
}

/// CloudFront refuses associations that do not name a numbered version.
fn validate(config: &DistributionConfig) -> Result<(), ApiError> {
    for association in edgeseal_rotator::associations(config) {
        let arn = &association.lambda_function_arn;
        let qualified = edgeseal::FunctionArn::parse(arn).is_ok_and(|arn| {
            arn.qualifier()
                .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()))
        });
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
        lock(&self.inner.distributions)
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
        let mut distributions = lock(&self.inner.distributions);
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
        if let Some(states) = lock(&self.inner.version_states).as_ref() {
            for association in edgeseal_rotator::associations(&config) {
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
        if let Some(throttle) = lock(&self.inner.throttle).as_mut() {
            throttle.admit()?;
        }
        d.config = config;
        d.generation += 1;
        d.updated_at = Instant::now();
        d.deployment_completed = false;
        d.last_modified = SystemTime::now();
        d.live.push(d.config.clone());
        d.history.push(d.config.clone());
        *lock(&self.inner.updates) += 1;
        Ok(d.etag())
    }

    async fn status(&self, id: &str) -> Result<DeployStatus, ApiError> {
        let delay = *lock(&self.inner.deploy_delay);
        let mut distributions = lock(&self.inner.distributions);
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
        if lock(&self.inner.distributions).contains_key(id) {
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
        lock(&self.inner.policies)
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
        lock(&self.inner.continuous_deployment)
            .get(policy_id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound {
                op: Op::GetContinuousDeploymentPolicy,
                message: format!("The continuous deployment policy does not exist: {policy_id}"),
            })
    }
}

//! Fault injection: a wrapper for any of the rotator's AWS traits (and the targets'
//! clients: API Gateway usage-plan keys, the `waf` web ACL, AppSync keys) that fails the call a [`FaultPlan`] names,
//! before it reaches AWS or after it took effect (the answer lost), the two ways a call
//! fails in AWS's retry model (AWS SDK developer guide,
//! "Retry behavior": a timeout or dropped connection leaves the outcome unknown).
//!
//! The injected error is an ordinary [`ApiError::Service`] with the code
//! [`INJECTED_CODE`], so the rotator meets it as it meets any service error.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudfront::types::DistributionConfig;
use aws_sdk_wafv2::types::WebAcl;
use edgeseal::{StaticHeaderValue, UnixTime};
use edgeseal_rotator::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, Op, PolicyRef,
    SecretMetadata, SecretsApi, UpdateStatus, VersionState,
};
use edgeseal_rotator::{AppSyncApiKey, AppSyncKeys};
use edgeseal_rotator::{LockedWebAcl, WebAclApi, WebAclRef};
use zeroize::Zeroizing;

use crate::lock;

/// The error code of an injected fault.
pub const INJECTED_CODE: &str = "InjectedFault";

/// The error a [`Faulty`] call returns for `op`.
pub fn injected(op: Op) -> ApiError {
    ApiError::Service {
        op,
        code: INJECTED_CODE.to_owned(),
        message: "fault injected by the test kit".to_owned(),
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
            Some(FaultTiming::Before) => Err(injected(op)),
            Some(FaultTiming::After) => {
                let _lost = call.await;
                Err(injected(op))
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

    async fn version_code_sha256(&self, function: &str, version: &str) -> Result<String, ApiError> {
        self.call(
            Op::GetFunctionConfiguration,
            self.inner.version_code_sha256(function, version),
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

impl<T: edgeseal_rotator::UsagePlanKeys> edgeseal_rotator::UsagePlanKeys for Faulty<T> {
    async fn usage_plan_exists(&self, plan_id: &str) -> Result<bool, ApiError> {
        self.call(Op::GetUsagePlan, self.inner.usage_plan_exists(plan_id))
            .await
    }

    async fn api_keys_named(
        &self,
        name_prefix: &str,
    ) -> Result<Vec<edgeseal_rotator::ApiKey>, ApiError> {
        self.call(Op::GetApiKeys, self.inner.api_keys_named(name_prefix))
            .await
    }

    async fn api_key_with_value(
        &self,
        value: &str,
    ) -> Result<Option<edgeseal_rotator::ApiKey>, ApiError> {
        self.call(Op::GetApiKeys, self.inner.api_key_with_value(value))
            .await
    }

    async fn create_api_key(
        &self,
        key: &edgeseal_rotator::NewApiKey<'_>,
    ) -> Result<edgeseal_rotator::ApiKey, ApiError> {
        self.call(Op::CreateApiKey, self.inner.create_api_key(key))
            .await
    }

    async fn enable_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.call(Op::UpdateApiKey, self.inner.enable_api_key(key_id))
            .await
    }

    async fn describe_api_key(&self, key_id: &str, description: &str) -> Result<(), ApiError> {
        self.call(
            Op::UpdateApiKey,
            self.inner.describe_api_key(key_id, description),
        )
        .await
    }

    async fn delete_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.call(Op::DeleteApiKey, self.inner.delete_api_key(key_id))
            .await
    }

    async fn plan_key_ids(&self, plan_id: &str) -> Result<Vec<String>, ApiError> {
        self.call(Op::GetUsagePlanKeys, self.inner.plan_key_ids(plan_id))
            .await
    }

    async fn link(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        self.call(Op::CreateUsagePlanKey, self.inner.link(plan_id, key_id))
            .await
    }

    async fn unlink(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        self.call(Op::DeleteUsagePlanKey, self.inner.unlink(plan_id, key_id))
            .await
    }
}

impl<T: WebAclApi> WebAclApi for Faulty<T> {
    async fn get_web_acl(&self, acl: &WebAclRef) -> Result<LockedWebAcl, ApiError> {
        self.call(Op::GetWebAcl, self.inner.get_web_acl(acl)).await
    }

    async fn update_web_acl(
        &self,
        acl: &WebAclRef,
        web_acl: &WebAcl,
        lock_token: &str,
    ) -> Result<String, ApiError> {
        self.call(
            Op::UpdateWebAcl,
            self.inner.update_web_acl(acl, web_acl, lock_token),
        )
        .await
    }
}

impl<T: AppSyncKeys> AppSyncKeys for Faulty<T> {
    async fn list_api_keys(&self, api_id: &str) -> Result<Vec<AppSyncApiKey>, ApiError> {
        self.call(Op::ListApiKeys, self.inner.list_api_keys(api_id))
            .await
    }

    async fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> Result<AppSyncApiKey, ApiError> {
        self.call(
            Op::CreateApiKey,
            self.inner.create_api_key(api_id, description, expires),
        )
        .await
    }

    async fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> Result<AppSyncApiKey, ApiError> {
        self.call(
            Op::UpdateApiKey,
            self.inner.update_api_key(api_id, key, description, expires),
        )
        .await
    }

    async fn delete_api_key(&self, api_id: &str, key: &StaticHeaderValue) -> Result<(), ApiError> {
        self.call(Op::DeleteApiKey, self.inner.delete_api_key(api_id, key))
            .await
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, ApiError> {
        self.call(Op::GetGraphqlApi, self.inner.graphql_url(api_id))
            .await
    }
}

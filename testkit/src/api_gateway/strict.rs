//! [`AwsLikeUsagePlanKeys`]: moto's API Gateway keys and usage plans, with the checks
//! AWS makes and moto 5.2 does not (read in `moto/apigateway/models.py`).
//!
//! | call | moto 5.2 | AWS (source) | here |
//! |---|---|---|---|
//! | `CreateUsagePlanKey` to a plan that does not exist | creates the link | `NotFoundException` (API reference, CreateUsagePlanKey "Errors") | `NotFound` |
//! | `CreateUsagePlanKey` of a key already in the plan | overwrites silently | `ConflictException` is a documented error; no public capture says which message, so both outcomes (conflict, or success) are covered by the rotator re-reading the plan | `Conflict` |
//! | `DeleteUsagePlanKey` of a key not in the plan | HTTP 500 (a `KeyError`), which the SDK retries | `NotFoundException` (API reference) | `NotFound` |
//! | `GetUsagePlanKeys` of a plan that does not exist | an empty list | `NotFoundException` (API reference) | `NotFound` |
//! | `CreateApiKey` value over 128 characters or not alphanumeric | accepted | the developer guide: "an alphanumeric string between 20 and 128 characters"; whether other characters are refused is not documented, so the stricter reading | `BadRequestException` |
//! | `CreateApiKey` / `DeleteApiKey` more than 5 a second | accepted | "5 requests per second per account", not adjustable (developer guide, quotas for creating, deploying and managing an API); 429 `TooManyRequestsException` | `Throttled` |
//!
//! What moto already does as AWS: `CreateApiKey` with a value another key has →
//! `ConflictException` "API Key already exists" (the same code and message as AWS's in
//! serverless/serverless#6458 and rrahul963/serverless-add-api-key#27); values under 20
//! characters refused; `nameQuery` a name prefix (getmoto/moto#8220, checked on AWS;
//! aws/aws-sdk-java-v2#1732); `DeleteApiKey` of an unknown key → `NotFoundException`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeseal_rotator::{ApiError, Op};
use edgeseal_rotator::{ApiKey, NewApiKey, UsagePlanKeys};

/// API Gateway's fixed rate for `CreateApiKey` and `DeleteApiKey`, per account.
pub const KEY_CALLS_PER_SECOND: usize = 5;

/// An inner [`UsagePlanKeys`] (the SDK against moto) with AWS's checks in front. A clone
/// is a handle on the same account: the per-second quotas are shared, as AWS counts
/// them per account, whoever calls.
#[derive(Clone)]
pub struct AwsLikeUsagePlanKeys<K> {
    inner: K,
    creates: Arc<Mutex<VecDeque<Instant>>>,
    deletes: Arc<Mutex<VecDeque<Instant>>>,
}

impl<K> AwsLikeUsagePlanKeys<K> {
    /// Wrap `inner`.
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            creates: Arc::default(),
            deletes: Arc::default(),
        }
    }
}

/// A call counted against a per-second quota; `Throttled` when the last second is full.
fn within_rate(calls: &Mutex<VecDeque<Instant>>, op: Op) -> Result<(), ApiError> {
    let now = Instant::now();
    let mut calls = calls
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while calls
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        calls.pop_front();
    }
    if calls.len() >= KEY_CALLS_PER_SECOND {
        return Err(ApiError::Throttled {
            op,
            message: "Too Many Requests".into(),
        });
    }
    calls.push_back(now);
    Ok(())
}

fn not_found(op: Op, message: &str) -> ApiError {
    ApiError::NotFound {
        op,
        message: message.to_owned(),
    }
}

impl<K: UsagePlanKeys> UsagePlanKeys for AwsLikeUsagePlanKeys<K> {
    async fn usage_plan_exists(&self, plan_id: &str) -> Result<bool, ApiError> {
        self.inner.usage_plan_exists(plan_id).await
    }

    async fn api_keys_named(&self, name_prefix: &str) -> Result<Vec<ApiKey>, ApiError> {
        self.inner.api_keys_named(name_prefix).await
    }

    async fn api_key_with_value(&self, value: &str) -> Result<Option<ApiKey>, ApiError> {
        self.inner.api_key_with_value(value).await
    }

    async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKey, ApiError> {
        within_rate(&self.creates, Op::CreateApiKey)?;
        let length_ok = (20..=128).contains(&key.value.len());
        if !length_ok || !key.value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ApiError::Service {
                op: Op::CreateApiKey,
                code: "BadRequestException".into(),
                message: "API Key value must be an alphanumeric string of 20 to 128 characters"
                    .into(),
            });
        }
        self.inner.create_api_key(key).await
    }

    async fn enable_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.inner.enable_api_key(key_id).await
    }

    async fn describe_api_key(&self, key_id: &str, description: &str) -> Result<(), ApiError> {
        self.inner.describe_api_key(key_id, description).await
    }

    async fn delete_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        within_rate(&self.deletes, Op::DeleteApiKey)?;
        self.inner.delete_api_key(key_id).await
    }

    async fn plan_key_ids(&self, plan_id: &str) -> Result<Vec<String>, ApiError> {
        if !self.inner.usage_plan_exists(plan_id).await? {
            return Err(not_found(
                Op::GetUsagePlanKeys,
                "Invalid Usage Plan ID specified",
            ));
        }
        self.inner.plan_key_ids(plan_id).await
    }

    async fn link(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        if !self.inner.usage_plan_exists(plan_id).await? {
            return Err(not_found(
                Op::CreateUsagePlanKey,
                "Invalid Usage Plan ID specified",
            ));
        }
        if self
            .inner
            .plan_key_ids(plan_id)
            .await?
            .iter()
            .any(|id| id == key_id)
        {
            return Err(ApiError::Conflict {
                op: Op::CreateUsagePlanKey,
                message: "the API key is already in the usage plan".into(),
            });
        }
        self.inner.link(plan_id, key_id).await
    }

    async fn unlink(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        let linked = self.inner.usage_plan_exists(plan_id).await?
            && self
                .inner
                .plan_key_ids(plan_id)
                .await?
                .iter()
                .any(|id| id == key_id);
        if !linked {
            return Err(not_found(
                Op::DeleteUsagePlanKey,
                "Invalid Usage Plan Key identifier specified",
            ));
        }
        self.inner.unlink(plan_id, key_id).await
    }
}

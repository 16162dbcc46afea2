//! [`UsagePlanKeys`] through the AWS SDK (`aws-sdk-apigateway`, REST APIs).

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::{Op as PatchOp, PatchOperation};
use subtle::ConstantTimeEq as _;

use super::api::{ApiKey, NewApiKey, UsagePlanKeys};
use crate::aws::sdk::classify;
use crate::aws::{ApiError, Op};

/// The largest page `GetApiKeys` / `GetUsagePlanKeys` return (API reference: `limit`,
/// default 25, maximum 500).
const PAGE: i32 = 500;

/// API Gateway (the REST API control plane) through the SDK.
#[derive(Clone, Debug)]
pub struct SdkUsagePlanKeys(pub aws_sdk_apigateway::Client);

impl SdkUsagePlanKeys {
    /// A client from the shared SDK configuration (the rotator's own region: usage
    /// plans are regional, like the REST API they meter).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_apigateway::Client::new(config))
    }

    /// Every key `GetApiKeys` lists for `name_query` (all pages).
    async fn list_keys(
        &self,
        name_query: Option<&str>,
        include_values: bool,
    ) -> Result<Vec<aws_sdk_apigateway::types::ApiKey>, ApiError> {
        let mut keys = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let page = self
                .0
                .get_api_keys()
                .set_name_query(name_query.map(str::to_owned))
                .include_values(include_values)
                .limit(PAGE)
                .set_position(position.take())
                .send()
                .await
                .map_err(|e| classify(Op::GetApiKeys, &e))?;
            let next = page.position().map(str::to_owned);
            keys.extend(page.items.unwrap_or_default());
            match next {
                Some(next) if !next.is_empty() => position = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    /// `UpdateApiKey` with one `replace` of `path`.
    async fn replace(&self, key_id: &str, path: &str, value: &str) -> Result<(), ApiError> {
        self.0
            .update_api_key()
            .api_key(key_id)
            .patch_operations(
                PatchOperation::builder()
                    .op(PatchOp::Replace)
                    .path(path)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(Op::UpdateApiKey, &e))?;
        Ok(())
    }
}

/// The key without its value.
fn described(op: Op, key: &aws_sdk_apigateway::types::ApiKey) -> Result<ApiKey, ApiError> {
    Ok(ApiKey {
        id: key
            .id()
            .ok_or(ApiError::Incomplete { op, field: "id" })?
            .to_owned(),
        name: key.name().unwrap_or_default().to_owned(),
        enabled: key.enabled(),
        created: key.created_date().and_then(system_time),
        description: key.description().map(str::to_owned),
        tags: key
            .tags()
            .map(|tags| {
                tags.iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default(),
    })
}

fn system_time(date: &aws_smithy_types::DateTime) -> Option<std::time::SystemTime> {
    std::time::SystemTime::try_from(*date).ok()
}

impl UsagePlanKeys for SdkUsagePlanKeys {
    async fn usage_plan_exists(&self, plan_id: &str) -> Result<bool, ApiError> {
        match self.0.get_usage_plan().usage_plan_id(plan_id).send().await {
            Ok(_) => Ok(true),
            Err(e) => match classify(Op::GetUsagePlan, &e) {
                ApiError::NotFound { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn api_keys_named(&self, name_prefix: &str) -> Result<Vec<ApiKey>, ApiError> {
        self.list_keys(Some(name_prefix), false)
            .await?
            .iter()
            // `nameQuery` is a prefix match on AWS; a stand-in may be looser.
            .filter(|k| k.name().is_some_and(|n| n.starts_with(name_prefix)))
            .map(|k| described(Op::GetApiKeys, k))
            .collect()
    }

    async fn api_key_with_value(&self, value: &str) -> Result<Option<ApiKey>, ApiError> {
        let keys = self.list_keys(None, true).await?;
        let mut found = None;
        // Look at every key (no early exit), comparing in constant time.
        for key in &keys {
            let same = key
                .value()
                .is_some_and(|v| bool::from(v.as_bytes().ct_eq(value.as_bytes())));
            if same && found.is_none() {
                found = Some(described(Op::GetApiKeys, key)?);
            }
        }
        Ok(found)
    }

    async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKey, ApiError> {
        let created = self
            .0
            .create_api_key()
            .name(key.name)
            .description(key.description)
            .enabled(true)
            .value(key.value)
            .set_tags(Some(key.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify(Op::CreateApiKey, &e).redacting(key.value))?;
        let id = created
            .id()
            .ok_or(ApiError::Incomplete {
                op: Op::CreateApiKey,
                field: "id",
            })?
            .to_owned();
        Ok(ApiKey {
            id,
            name: created.name().unwrap_or(key.name).to_owned(),
            enabled: created.enabled(),
            created: created.created_date().and_then(system_time),
            description: Some(created.description().unwrap_or(key.description).to_owned()),
            tags: created
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_else(|| key.tags.clone()),
        })
    }

    async fn enable_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.replace(key_id, "/enabled", "true").await
    }

    async fn describe_api_key(&self, key_id: &str, description: &str) -> Result<(), ApiError> {
        self.replace(key_id, "/description", description).await
    }

    async fn delete_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.0
            .delete_api_key()
            .api_key(key_id)
            .send()
            .await
            .map_err(|e| classify(Op::DeleteApiKey, &e))?;
        Ok(())
    }

    async fn plan_key_ids(&self, plan_id: &str) -> Result<Vec<String>, ApiError> {
        let mut ids = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let page = self
                .0
                .get_usage_plan_keys()
                .usage_plan_id(plan_id)
                .limit(PAGE)
                .set_position(position.take())
                .send()
                .await
                .map_err(|e| classify(Op::GetUsagePlanKeys, &e))?;
            ids.extend(
                page.items()
                    .iter()
                    .filter_map(|k| k.id().map(str::to_owned)),
            );
            match page.position() {
                Some(next) if !next.is_empty() => position = Some(next.to_owned()),
                _ => return Ok(ids),
            }
        }
    }

    async fn link(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        self.0
            .create_usage_plan_key()
            .usage_plan_id(plan_id)
            .key_id(key_id)
            .key_type("API_KEY")
            .send()
            .await
            .map_err(|e| classify(Op::CreateUsagePlanKey, &e))?;
        Ok(())
    }

    async fn unlink(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        self.0
            .delete_usage_plan_key()
            .usage_plan_id(plan_id)
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| classify(Op::DeleteUsagePlanKey, &e))?;
        Ok(())
    }
}

//! [`AppSyncKeys`] through `aws-sdk-appsync`.

use edgeseal::{StaticHeaderValue, UnixTime};

use super::api::{ApiKey, AppSyncKeys};
use crate::aws::sdk::{OrApiError as _, required};
use crate::aws::{ApiError, Op};

/// An AppSync error as the rotator reports it. The shared classification
/// ([`crate::aws::sdk`]) knows other services' codes; AppSync's own are added here:
/// `NotFoundException` (404) and `LimitExceededException`, its 429 ("The request exceeded
/// a limit. Try your request again.", API reference). And for a call naming `key`, the
/// key is cut out of the message: AppSync quotes the key it could not find ("API key not
/// found: <key>", aws-amplify/amplify-category-api#1914), and a key's id is the secret.
fn appsync(err: ApiError, key: Option<&StaticHeaderValue>) -> ApiError {
    let classified = match err {
        ApiError::Service { op, code, message } => match code.as_str() {
            "NotFoundException" => ApiError::NotFound { op, message },
            "LimitExceededException" => ApiError::Throttled { op, message },
            _ => ApiError::Service { op, code, message },
        },
        other => other,
    };
    match key {
        Some(key) => classified.redacting(key.expose()),
        None => classified,
    }
}

/// An SDK `ApiKey` as the trait's [`ApiKey`]. `expires` is seconds since the epoch for
/// `da2` keys, the only version still valid (ApiKey reference).
fn api_key(op: Op, key: aws_sdk_appsync::types::ApiKey) -> Result<ApiKey, ApiError> {
    let aws_sdk_appsync::types::ApiKey {
        id,
        description,
        expires,
        ..
    } = key;
    let key = id
        .and_then(|id| StaticHeaderValue::new(id).ok())
        .ok_or(ApiError::Incomplete { op, field: "id" })?;
    let expires = u64::try_from(expires)
        .map(UnixTime::from_secs)
        .map_err(|_| ApiError::Incomplete {
            op,
            field: "expires",
        })?;
    Ok(ApiKey {
        key,
        description,
        expires,
    })
}

fn epoch_secs(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

/// AppSync through the SDK.
#[derive(Clone, Debug)]
pub struct SdkAppSync(pub aws_sdk_appsync::Client);

impl SdkAppSync {
    /// A client from the shared SDK configuration (the rotator's own region, which must
    /// be the API's).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_appsync::Client::new(config))
    }
}

impl AppSyncKeys for SdkAppSync {
    async fn list_api_keys(&self, api_id: &str) -> Result<Vec<ApiKey>, ApiError> {
        let op = Op::ListApiKeys;
        let mut pages = self
            .0
            .list_api_keys()
            .api_id(api_id)
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        while let Some(item) = pages.next().await {
            let item = std::future::ready(item)
                .or_api_error(op)
                .await
                .map_err(|e| appsync(e, None))?;
            keys.push(api_key(op, item)?);
        }
        Ok(keys)
    }

    async fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> Result<ApiKey, ApiError> {
        let op = Op::CreateApiKey;
        let out = self
            .0
            .create_api_key()
            .api_id(api_id)
            .description(description)
            .expires(epoch_secs(expires))
            .send()
            .or_api_error(op)
            .await
            .map_err(|e| appsync(e, None))?;
        api_key(op, required(op, "apiKey", out.api_key)?)
    }

    async fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> Result<ApiKey, ApiError> {
        let op = Op::UpdateApiKey;
        let out = self
            .0
            .update_api_key()
            .api_id(api_id)
            .id(key.expose())
            .description(description)
            .set_expires(expires.map(epoch_secs))
            .send()
            .or_api_error(op)
            .await
            .map_err(|e| appsync(e, Some(key)))?;
        api_key(op, required(op, "apiKey", out.api_key)?)
    }

    async fn delete_api_key(&self, api_id: &str, key: &StaticHeaderValue) -> Result<(), ApiError> {
        self.0
            .delete_api_key()
            .api_id(api_id)
            .id(key.expose())
            .send()
            .or_api_error(Op::DeleteApiKey)
            .await
            .map_err(|e| appsync(e, Some(key)))?;
        Ok(())
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, ApiError> {
        let op = Op::GetGraphqlApi;
        let out = self
            .0
            .get_graphql_api()
            .api_id(api_id)
            .send()
            .or_api_error(op)
            .await
            .map_err(|e| appsync(e, None))?;
        required(
            op,
            "graphqlApi.uris.GRAPHQL",
            out.graphql_api()
                .and_then(|api| api.uris())
                .and_then(|uris| uris.get("GRAPHQL"))
                .cloned(),
        )
    }
}

//! [`AppSyncKeys`] through `aws-sdk-appsync`.

use aws_sdk_appsync::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use edgeseal::{StaticHeaderValue, UnixTime};

use super::api::{ApiKey, AppSyncKeys};
use crate::aws::{ApiError, Op};

/// Turn an SDK error into an [`ApiError`], keeping the service's code and message.
fn classify<E, R>(op: Op, err: &SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    classify_about(op, err, None)
}

/// [`classify`] for a call naming `key`: AppSync's messages quote the key they could not
/// find ("API key not found: <key>", aws-amplify/amplify-category-api#1914), and an API
/// key's id is the secret itself, so every occurrence is cut out of the message.
fn classify_about<E, R>(op: Op, err: &SdkError<E, R>, key: Option<&StaticHeaderValue>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let scrub = |text: String| match key {
        Some(key) => text.replace(key.expose(), "<redacted>"),
        None => text,
    };
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("unknown").to_owned();
            let message = scrub(e.message().unwrap_or_default().to_owned());
            match code.as_str() {
                "NotFoundException" => ApiError::NotFound { op, message },
                // AppSync's 429 is `LimitExceededException` ("The request exceeded a
                // limit. Try your request again.", API reference); the others are the
                // generic throttling codes. The SDK's own retries come first.
                "LimitExceededException" | "ThrottlingException" | "TooManyRequestsException" => {
                    ApiError::Throttled { op, message }
                }
                _ => ApiError::Service { op, code, message },
            }
        }
        other => ApiError::Service {
            op,
            code: "transport".to_owned(),
            message: scrub(
                aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
            ),
        },
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
            keys.push(api_key(op, item.map_err(|e| classify(op, &e))?)?);
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
            .await
            .map_err(|e| classify(op, &e))?;
        api_key(
            op,
            out.api_key.ok_or(ApiError::Incomplete {
                op,
                field: "apiKey",
            })?,
        )
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
            .await
            .map_err(|e| classify_about(op, &e, Some(key)))?;
        api_key(
            op,
            out.api_key.ok_or(ApiError::Incomplete {
                op,
                field: "apiKey",
            })?,
        )
    }

    async fn delete_api_key(&self, api_id: &str, key: &StaticHeaderValue) -> Result<(), ApiError> {
        self.0
            .delete_api_key()
            .api_id(api_id)
            .id(key.expose())
            .send()
            .await
            .map_err(|e| classify_about(Op::DeleteApiKey, &e, Some(key)))?;
        Ok(())
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, ApiError> {
        let op = Op::GetGraphqlApi;
        let out = self
            .0
            .get_graphql_api()
            .api_id(api_id)
            .send()
            .await
            .map_err(|e| classify(op, &e))?;
        out.graphql_api()
            .and_then(|api| api.uris())
            .and_then(|uris| uris.get("GRAPHQL"))
            .cloned()
            .ok_or(ApiError::Incomplete {
                op,
                field: "graphqlApi.uris.GRAPHQL",
            })
    }
}

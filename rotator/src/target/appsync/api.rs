//! The AppSync calls the `appsync-api-key` target makes, behind [`AppSyncKeys`].
//!
//! [`super::sdk`] implements it with `aws-sdk-appsync`; the tests run that implementation
//! against moto, wrapped by `edgeseal_testkit::appsync` where moto is kinder than AppSync.
//!
//! An AppSync API key's `id` *is* the key clients send in `x-api-key` (`da2-…`), so it is
//! held as a [`StaticHeaderValue`]: redacted in `Debug`, zeroized on drop.

use std::future::Future;
use std::sync::Arc;

use edgeseal::{StaticHeaderValue, UnixTime};

/// Every AppSync operation the target calls; used in errors, logs and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppSyncOp {
    /// `appsync:ListApiKeys`
    ListApiKeys,
    /// `appsync:CreateApiKey`
    CreateApiKey,
    /// `appsync:UpdateApiKey`
    UpdateApiKey,
    /// `appsync:DeleteApiKey`
    DeleteApiKey,
    /// `appsync:GetGraphqlApi`
    GetGraphqlApi,
}

impl AppSyncOp {
    /// Every operation, for fault matrices.
    pub const ALL: [AppSyncOp; 5] = [
        AppSyncOp::ListApiKeys,
        AppSyncOp::CreateApiKey,
        AppSyncOp::UpdateApiKey,
        AppSyncOp::DeleteApiKey,
        AppSyncOp::GetGraphqlApi,
    ];

    /// The API action name (also the IAM action after `appsync:`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AppSyncOp::ListApiKeys => "ListApiKeys",
            AppSyncOp::CreateApiKey => "CreateApiKey",
            AppSyncOp::UpdateApiKey => "UpdateApiKey",
            AppSyncOp::DeleteApiKey => "DeleteApiKey",
            AppSyncOp::GetGraphqlApi => "GetGraphqlApi",
        }
    }

    /// Whether the call changes state in AppSync (a lost answer then matters).
    pub const fn mutates(self) -> bool {
        matches!(
            self,
            AppSyncOp::CreateApiKey | AppSyncOp::UpdateApiKey | AppSyncOp::DeleteApiKey
        )
    }
}

impl std::fmt::Display for AppSyncOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed AppSync call. Messages come from the service; requests never carry a key in
/// a field AppSync echoes, and no variant holds one.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppSyncError {
    /// The API or key does not exist (`NotFoundException`, HTTP 404).
    #[error("{op}: not found: {message}")]
    NotFound {
        /// The call.
        op: AppSyncOp,
        /// The service's message.
        message: String,
    },
    /// `ApiKeyValidityOutOfBoundsException`: the expiry is not 1 to 365 days after the
    /// call (CreateApiKey / UpdateApiKey API reference).
    #[error("{op}: API key expiry out of bounds (1 to 365 days from now): {message}")]
    ValidityOutOfBounds {
        /// The call.
        op: AppSyncOp,
        /// The service's message.
        message: String,
    },
    /// `ApiKeyLimitExceededException`: the API has as many keys as AppSync allows (50 per
    /// API, not adjustable; expired keys count until deleted).
    #[error("{op}: the API has reached AppSync's API key limit: {message}")]
    KeyLimitExceeded {
        /// The call.
        op: AppSyncOp,
        /// The service's message.
        message: String,
    },
    /// `LimitExceededException` (HTTP 429) or a throttling code: worth retrying later.
    #[error("{op}: throttled ({message})")]
    Throttled {
        /// The call.
        op: AppSyncOp,
        /// The service's message.
        message: String,
    },
    /// Any other service or transport error.
    #[error("{op} failed ({code}): {message}")]
    Service {
        /// The call.
        op: AppSyncOp,
        /// The service's error code, or `transport` / `unknown`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service answered without a field the target needs.
    #[error("{op}: response lacks {field}")]
    Incomplete {
        /// The call.
        op: AppSyncOp,
        /// The missing field.
        field: &'static str,
    },
}

impl AppSyncError {
    /// The call that failed.
    pub fn op(&self) -> AppSyncOp {
        match self {
            AppSyncError::NotFound { op, .. }
            | AppSyncError::ValidityOutOfBounds { op, .. }
            | AppSyncError::KeyLimitExceeded { op, .. }
            | AppSyncError::Throttled { op, .. }
            | AppSyncError::Service { op, .. }
            | AppSyncError::Incomplete { op, .. } => *op,
        }
    }
}

/// One API key as `ListApiKeys` / `CreateApiKey` / `UpdateApiKey` describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The key (its `id`), as clients send it in `x-api-key`.
    pub key: StaticHeaderValue,
    /// Its description (edgeseal writes a [`super::marker::KeyMarker`] there).
    pub description: Option<String>,
    /// When AppSync stops accepting it (`expires`, seconds since the epoch). Expired keys
    /// stay listed until deleted, 60 days later by AppSync itself (ListApiKeys reference).
    pub expires: UnixTime,
}

impl ApiKey {
    /// Whether AppSync still accepts the key at `now`.
    pub fn is_valid_at(&self, now: UnixTime) -> bool {
        now < self.expires
    }
}

/// AppSync's API-key operations, as the target uses them.
pub trait AppSyncKeys: Send + Sync {
    /// `ListApiKeys`, every page (expired keys included, as AppSync lists them).
    fn list_api_keys(
        &self,
        api_id: &str,
    ) -> impl Future<Output = Result<Vec<ApiKey>, AppSyncError>> + Send;

    /// `CreateApiKey` with a description and an expiry (AppSync rounds it down to the hour
    /// and refuses anything not 1 to 365 days ahead).
    fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> impl Future<Output = Result<ApiKey, AppSyncError>> + Send;

    /// `UpdateApiKey`: a new description, and a new expiry when `expires` is given (the
    /// same bounds as at creation, counted from the update).
    fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> impl Future<Output = Result<ApiKey, AppSyncError>> + Send;

    /// `DeleteApiKey`. A key that is already gone is [`AppSyncError::NotFound`].
    fn delete_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
    ) -> impl Future<Output = Result<(), AppSyncError>> + Send;

    /// `GetGraphqlApi`: the API's GraphQL endpoint (`uris["GRAPHQL"]`).
    fn graphql_url(
        &self,
        api_id: &str,
    ) -> impl Future<Output = Result<String, AppSyncError>> + Send;
}

/// A shared client (the target and, in tests, the assertions hold the same one).
impl<T: AppSyncKeys> AppSyncKeys for Arc<T> {
    async fn list_api_keys(&self, api_id: &str) -> Result<Vec<ApiKey>, AppSyncError> {
        (**self).list_api_keys(api_id).await
    }

    async fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> Result<ApiKey, AppSyncError> {
        (**self).create_api_key(api_id, description, expires).await
    }

    async fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> Result<ApiKey, AppSyncError> {
        (**self)
            .update_api_key(api_id, key, description, expires)
            .await
    }

    async fn delete_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
    ) -> Result<(), AppSyncError> {
        (**self).delete_api_key(api_id, key).await
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, AppSyncError> {
        (**self).graphql_url(api_id).await
    }
}

//! The AppSync calls the `appsync-api-key` target makes, behind [`AppSyncKeys`].
//!
//! [`super::sdk`] implements it with `aws-sdk-appsync`; the tests run that implementation
//! against moto, wrapped by `edgeseal_testkit::appsync` where moto is kinder than AppSync.
//!
//! An AppSync API key's `id` *is* the key clients send in `x-api-key` (`da2-…`), so it is
//! held as a [`StaticHeaderValue`]: redacted in `Debug`, zeroized on drop. Errors are the
//! rotator's [`ApiError`] with the AppSync [`crate::aws::Op`]s; AppSync's own codes
//! (`ApiKeyValidityOutOfBoundsException`: an expiry not 1 to 365 days ahead;
//! `ApiKeyLimitExceededException`: the API holds 50 keys, AppSync's limit) stay in
//! [`ApiError::Service`]'s `code`.

use std::future::Future;

use edgeseal::{StaticHeaderValue, UnixTime};

use crate::aws::ApiError;

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
    ) -> impl Future<Output = Result<Vec<ApiKey>, ApiError>> + Send;

    /// `CreateApiKey` with a description and an expiry (AppSync rounds it down to the hour
    /// and refuses anything not 1 to 365 days ahead).
    fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> impl Future<Output = Result<ApiKey, ApiError>> + Send;

    /// `UpdateApiKey`: a new description, and a new expiry when `expires` is given (the
    /// same bounds as at creation, counted from the update).
    fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> impl Future<Output = Result<ApiKey, ApiError>> + Send;

    /// `DeleteApiKey`. A key that is already gone is [`ApiError::NotFound`].
    fn delete_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `GetGraphqlApi`: the API's GraphQL endpoint (`uris["GRAPHQL"]`).
    fn graphql_url(&self, api_id: &str) -> impl Future<Output = Result<String, ApiError>> + Send;
}

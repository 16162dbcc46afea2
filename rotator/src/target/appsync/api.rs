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
use std::pin::Pin;
use std::sync::Arc;

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

/// A shared client (the target and, in tests, the assertions hold the same one).
impl<T: AppSyncKeys> AppSyncKeys for Arc<T> {
    async fn list_api_keys(&self, api_id: &str) -> Result<Vec<ApiKey>, ApiError> {
        (**self).list_api_keys(api_id).await
    }

    async fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> Result<ApiKey, ApiError> {
        (**self).create_api_key(api_id, description, expires).await
    }

    async fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> Result<ApiKey, ApiError> {
        (**self)
            .update_api_key(api_id, key, description, expires)
            .await
    }

    async fn delete_api_key(&self, api_id: &str, key: &StaticHeaderValue) -> Result<(), ApiError> {
        (**self).delete_api_key(api_id, key).await
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, ApiError> {
        (**self).graphql_url(api_id).await
    }
}

/// An [`AppSyncKeys`] call in flight, boxed so that [`SharedKeys`] can hold any client.
type KeysCall<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// [`AppSyncKeys`] in object-safe form, for [`SharedKeys`].
trait DynKeys: Send + Sync {
    fn list<'a>(&'a self, api_id: &'a str) -> KeysCall<'a, Vec<ApiKey>>;
    fn create<'a>(
        &'a self,
        api_id: &'a str,
        description: &'a str,
        expires: UnixTime,
    ) -> KeysCall<'a, ApiKey>;
    fn update<'a>(
        &'a self,
        api_id: &'a str,
        key: &'a StaticHeaderValue,
        description: &'a str,
        expires: Option<UnixTime>,
    ) -> KeysCall<'a, ApiKey>;
    fn delete<'a>(&'a self, api_id: &'a str, key: &'a StaticHeaderValue) -> KeysCall<'a, ()>;
    fn url<'a>(&'a self, api_id: &'a str) -> KeysCall<'a, String>;
}

impl<T: AppSyncKeys> DynKeys for T {
    fn list<'a>(&'a self, api_id: &'a str) -> KeysCall<'a, Vec<ApiKey>> {
        Box::pin(self.list_api_keys(api_id))
    }

    fn create<'a>(
        &'a self,
        api_id: &'a str,
        description: &'a str,
        expires: UnixTime,
    ) -> KeysCall<'a, ApiKey> {
        Box::pin(self.create_api_key(api_id, description, expires))
    }

    fn update<'a>(
        &'a self,
        api_id: &'a str,
        key: &'a StaticHeaderValue,
        description: &'a str,
        expires: Option<UnixTime>,
    ) -> KeysCall<'a, ApiKey> {
        Box::pin(self.update_api_key(api_id, key, description, expires))
    }

    fn delete<'a>(&'a self, api_id: &'a str, key: &'a StaticHeaderValue) -> KeysCall<'a, ()> {
        Box::pin(self.delete_api_key(api_id, key))
    }

    fn url<'a>(&'a self, api_id: &'a str) -> KeysCall<'a, String> {
        Box::pin(self.graphql_url(api_id))
    }
}

/// Any [`AppSyncKeys`] client behind one type: the rotator's target enum names no AppSync
/// client type, so the SDK client in production and a fault-injecting wrapper in tests
/// fit the same target.
#[derive(Clone)]
pub struct SharedKeys(Arc<dyn DynKeys>);

impl SharedKeys {
    /// Share `keys`.
    pub fn new(keys: impl AppSyncKeys + 'static) -> Self {
        Self(Arc::new(keys))
    }
}

impl std::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedKeys")
    }
}

impl AppSyncKeys for SharedKeys {
    async fn list_api_keys(&self, api_id: &str) -> Result<Vec<ApiKey>, ApiError> {
        self.0.list(api_id).await
    }

    async fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> Result<ApiKey, ApiError> {
        self.0.create(api_id, description, expires).await
    }

    async fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> Result<ApiKey, ApiError> {
        self.0.update(api_id, key, description, expires).await
    }

    async fn delete_api_key(&self, api_id: &str, key: &StaticHeaderValue) -> Result<(), ApiError> {
        self.0.delete(api_id, key).await
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, ApiError> {
        self.0.url(api_id).await
    }
}

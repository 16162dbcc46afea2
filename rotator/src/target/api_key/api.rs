//! API Gateway (REST) usage plans and API keys, as the `api-gateway-api-key` target uses
//! them: behind one small trait so the steps can be tested against moto through the SDK
//! ([`super::sdk`]) and against stand-ins that behave as AWS does where moto does not
//! (`edgeseal-testkit`'s `api_gateway` module).
//!
//! What API Gateway does, as the steps rely on it (sources in `README.md` beside this file):
//! - a request to a method that requires an API key is accepted only when its `x-api-key`
//!   names a key that exists, is enabled and is in a usage plan of the stage; otherwise
//!   `403 {"message":"Forbidden"}` (gateway response `INVALID_API_KEY`);
//! - key values are unique per account and Region: `CreateApiKey` with a value another key
//!   has fails with `ConflictException` ("API Key already exists");
//! - `GetApiKeys`' `nameQuery` matches name *prefixes*, so exact names are filtered here;
//! - a key linked to a plan is not accepted at once everywhere (seconds, reported);
//! - `CreateApiKey` and `DeleteApiKey` are limited to 5 requests per second per account,
//!   and an account holds at most 10,000 keys per Region: retired keys must be deleted.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::aws::ApiError;

/// An API key as `GetApiKeys` / `CreateApiKey` describe it, without its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id (what usage plans link).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether callers may use it.
    pub enabled: bool,
    /// When it was created, if API Gateway said.
    pub created: Option<std::time::SystemTime>,
    /// Its description (edgeseal records there when a key it made was last put in
    /// place, see [`super::keys`]).
    pub description: Option<String>,
    /// Its tags (edgeseal marks the keys it creates, see [`super::keys::Ownership`]).
    pub tags: BTreeMap<String, String>,
}

/// What `CreateApiKey` is asked to make. The value is the secret itself: it never
/// appears in `Debug` output.
pub struct NewApiKey<'a> {
    /// The key's name.
    pub name: &'a str,
    /// Its description.
    pub description: &'a str,
    /// Its value (20 to 128 alphanumeric characters).
    pub value: &'a str,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

impl std::fmt::Debug for NewApiKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("value", &"<redacted>")
            .field("tags", &self.tags)
            .finish()
    }
}

/// API Gateway's API keys and usage plans (REST APIs), as the rotation uses them.
pub trait UsagePlanKeys: Send + Sync {
    /// `GetUsagePlan`: whether the plan exists (`NotFoundException` → `Ok(false)`).
    fn usage_plan_exists(
        &self,
        plan_id: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;

    /// `GetApiKeys` with `nameQuery = name_prefix`, every page, without values: the keys
    /// whose name starts with `name_prefix`.
    fn api_keys_named(
        &self,
        name_prefix: &str,
    ) -> impl Future<Output = Result<Vec<ApiKey>, ApiError>> + Send;

    /// `GetApiKeys` with `includeValues`, every page: the key whose value is `value`
    /// (compared in constant time), if any. For the one case a key is not found by name:
    /// `CreateApiKey` said the value exists.
    fn api_key_with_value(
        &self,
        value: &str,
    ) -> impl Future<Output = Result<Option<ApiKey>, ApiError>> + Send;

    /// `CreateApiKey`, enabled.
    fn create_api_key(
        &self,
        key: &NewApiKey<'_>,
    ) -> impl Future<Output = Result<ApiKey, ApiError>> + Send;

    /// `UpdateApiKey` `replace /enabled true`.
    fn enable_api_key(&self, key_id: &str) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `UpdateApiKey` `replace /description`.
    fn describe_api_key(
        &self,
        key_id: &str,
        description: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `DeleteApiKey`.
    fn delete_api_key(&self, key_id: &str) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `GetUsagePlanKeys`, every page: the ids of the keys in the plan.
    fn plan_key_ids(
        &self,
        plan_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, ApiError>> + Send;

    /// `CreateUsagePlanKey` (`keyType` `API_KEY`).
    fn link(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `DeleteUsagePlanKey`.
    fn unlink(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// A shared client (the rotator and, in tests, the assertions hold the same one).
impl<T: UsagePlanKeys> UsagePlanKeys for Arc<T> {
    async fn usage_plan_exists(&self, plan_id: &str) -> Result<bool, ApiError> {
        (**self).usage_plan_exists(plan_id).await
    }

    async fn api_keys_named(&self, name_prefix: &str) -> Result<Vec<ApiKey>, ApiError> {
        (**self).api_keys_named(name_prefix).await
    }

    async fn api_key_with_value(&self, value: &str) -> Result<Option<ApiKey>, ApiError> {
        (**self).api_key_with_value(value).await
    }

    async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKey, ApiError> {
        (**self).create_api_key(key).await
    }

    async fn enable_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        (**self).enable_api_key(key_id).await
    }

    async fn describe_api_key(&self, key_id: &str, description: &str) -> Result<(), ApiError> {
        (**self).describe_api_key(key_id, description).await
    }

    async fn delete_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        (**self).delete_api_key(key_id).await
    }

    async fn plan_key_ids(&self, plan_id: &str) -> Result<Vec<String>, ApiError> {
        (**self).plan_key_ids(plan_id).await
    }

    async fn link(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        (**self).link(plan_id, key_id).await
    }

    async fn unlink(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        (**self).unlink(plan_id, key_id).await
    }
}

/// A call of [`DynUsagePlanKeys`], boxed.
type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// [`UsagePlanKeys`] in object-safe form, so the target can hold any implementation (the
/// SDK's, or a test's wrapped one) without a type parameter on the rotator.
pub trait DynUsagePlanKeys: Send + Sync {
    /// [`UsagePlanKeys::usage_plan_exists`].
    fn usage_plan_exists<'a>(&'a self, plan_id: &'a str) -> Call<'a, bool>;
    /// [`UsagePlanKeys::api_keys_named`].
    fn api_keys_named<'a>(&'a self, name_prefix: &'a str) -> Call<'a, Vec<ApiKey>>;
    /// [`UsagePlanKeys::api_key_with_value`].
    fn api_key_with_value<'a>(&'a self, value: &'a str) -> Call<'a, Option<ApiKey>>;
    /// [`UsagePlanKeys::create_api_key`].
    fn create_api_key<'a>(&'a self, key: &'a NewApiKey<'a>) -> Call<'a, ApiKey>;
    /// [`UsagePlanKeys::enable_api_key`].
    fn enable_api_key<'a>(&'a self, key_id: &'a str) -> Call<'a, ()>;
    /// [`UsagePlanKeys::describe_api_key`].
    fn describe_api_key<'a>(&'a self, key_id: &'a str, description: &'a str) -> Call<'a, ()>;
    /// [`UsagePlanKeys::delete_api_key`].
    fn delete_api_key<'a>(&'a self, key_id: &'a str) -> Call<'a, ()>;
    /// [`UsagePlanKeys::plan_key_ids`].
    fn plan_key_ids<'a>(&'a self, plan_id: &'a str) -> Call<'a, Vec<String>>;
    /// [`UsagePlanKeys::link`].
    fn link<'a>(&'a self, plan_id: &'a str, key_id: &'a str) -> Call<'a, ()>;
    /// [`UsagePlanKeys::unlink`].
    fn unlink<'a>(&'a self, plan_id: &'a str, key_id: &'a str) -> Call<'a, ()>;
}

impl<T: UsagePlanKeys> DynUsagePlanKeys for T {
    fn usage_plan_exists<'a>(&'a self, plan_id: &'a str) -> Call<'a, bool> {
        Box::pin(UsagePlanKeys::usage_plan_exists(self, plan_id))
    }
    fn api_keys_named<'a>(&'a self, name_prefix: &'a str) -> Call<'a, Vec<ApiKey>> {
        Box::pin(UsagePlanKeys::api_keys_named(self, name_prefix))
    }
    fn api_key_with_value<'a>(&'a self, value: &'a str) -> Call<'a, Option<ApiKey>> {
        Box::pin(UsagePlanKeys::api_key_with_value(self, value))
    }
    fn create_api_key<'a>(&'a self, key: &'a NewApiKey<'a>) -> Call<'a, ApiKey> {
        Box::pin(UsagePlanKeys::create_api_key(self, key))
    }
    fn enable_api_key<'a>(&'a self, key_id: &'a str) -> Call<'a, ()> {
        Box::pin(UsagePlanKeys::enable_api_key(self, key_id))
    }
    fn describe_api_key<'a>(&'a self, key_id: &'a str, description: &'a str) -> Call<'a, ()> {
        Box::pin(UsagePlanKeys::describe_api_key(self, key_id, description))
    }
    fn delete_api_key<'a>(&'a self, key_id: &'a str) -> Call<'a, ()> {
        Box::pin(UsagePlanKeys::delete_api_key(self, key_id))
    }
    fn plan_key_ids<'a>(&'a self, plan_id: &'a str) -> Call<'a, Vec<String>> {
        Box::pin(UsagePlanKeys::plan_key_ids(self, plan_id))
    }
    fn link<'a>(&'a self, plan_id: &'a str, key_id: &'a str) -> Call<'a, ()> {
        Box::pin(UsagePlanKeys::link(self, plan_id, key_id))
    }
    fn unlink<'a>(&'a self, plan_id: &'a str, key_id: &'a str) -> Call<'a, ()> {
        Box::pin(UsagePlanKeys::unlink(self, plan_id, key_id))
    }
}

/// Any [`UsagePlanKeys`], shared: what [`super::ApiKeyTarget`] holds.
#[derive(Clone)]
pub struct AnyUsagePlanKeys(Arc<dyn DynUsagePlanKeys>);

impl AnyUsagePlanKeys {
    /// Wrap `keys`.
    pub fn new(keys: impl UsagePlanKeys + 'static) -> Self {
        Self(Arc::new(keys))
    }
}

impl std::fmt::Debug for AnyUsagePlanKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnyUsagePlanKeys")
    }
}

impl UsagePlanKeys for AnyUsagePlanKeys {
    async fn usage_plan_exists(&self, plan_id: &str) -> Result<bool, ApiError> {
        self.0.usage_plan_exists(plan_id).await
    }

    async fn api_keys_named(&self, name_prefix: &str) -> Result<Vec<ApiKey>, ApiError> {
        self.0.api_keys_named(name_prefix).await
    }

    async fn api_key_with_value(&self, value: &str) -> Result<Option<ApiKey>, ApiError> {
        self.0.api_key_with_value(value).await
    }

    async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKey, ApiError> {
        self.0.create_api_key(key).await
    }

    async fn enable_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.0.enable_api_key(key_id).await
    }

    async fn describe_api_key(&self, key_id: &str, description: &str) -> Result<(), ApiError> {
        self.0.describe_api_key(key_id, description).await
    }

    async fn delete_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.0.delete_api_key(key_id).await
    }

    async fn plan_key_ids(&self, plan_id: &str) -> Result<Vec<String>, ApiError> {
        self.0.plan_key_ids(plan_id).await
    }

    async fn link(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        self.0.link(plan_id, key_id).await
    }

    async fn unlink(&self, plan_id: &str, key_id: &str) -> Result<(), ApiError> {
        self.0.unlink(plan_id, key_id).await
    }
}

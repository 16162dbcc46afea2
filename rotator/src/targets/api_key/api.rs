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
    /// place, see `keys.rs`).
    pub description: Option<String>,
    /// Its tags (edgeseal marks the keys it creates, see `TAG_SECRET` in `keys.rs`).
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

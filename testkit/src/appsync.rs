//! AppSync stand-ins for the `appsync-api-key` target, over moto's AppSync API keys.
//!
//! moto (5.2) stores AppSync API keys and lists, updates and deletes them, but it is
//! kinder than AppSync in ways the target depends on, and it serves no GraphQL endpoint
//! at all. What each stand-in here adds, and where AppSync's behaviour is documented:
//!
//! - [`AwsKeyRules`] wraps the SDK client against moto and applies AppSync's rules that
//!   moto skips: `expires` is rounded down to the hour and must then be 1 to 365 days
//!   after the call, else `ApiKeyValidityOutOfBoundsException` (CreateApiKey /
//!   UpdateApiKey / ApiKey API reference; moto checks only the 1-day minimum, unrounded);
//!   updating or deleting a key that does not exist is `NotFoundException` (DeleteApiKey
//!   reference; moto raises a `KeyError`, answered as a 500 the SDK retries); an API holds
//!   at most 50 keys, expired ones included until deleted (AppSync quotas, "API keys per
//!   API: 50"; `ApiKeyLimitExceededException`; moto has no limit); `GetGraphqlApi`
//!   names the API's real endpoint (moto answers the placeholder `http://graphql.uri`),
//!   here the loopback [`GraphqlEndpoint`] once [`AwsKeyRules::with_graphql_url`] says so.
//! - [`GraphqlEndpoint`] answers GraphQL requests as an API with `API_KEY` authorization
//!   does: a key is accepted only while `ListApiKeys` lists it with `expires` in the
//!   future — expired keys stay listed until deleted (ListApiKeys reference: "deleted
//!   automatically 60 days after they expire … may still be included in the response");
//!   a refused key gets HTTP 401 and
//!   `{"errors":[{"errorType":"UnauthorizedException","message":"You are not authorized to make this call."}]}`
//!   (aws-amplify/amplify-cli#3416 and aws-amplify/amplify-studio#1003: keys past their
//!   expiry; aws-amplify/amplify-js#4373: the body shape). A request without `x-api-key`
//!   gets the same status; its message is not documented, the target never sends one.
//!   Whether AppSync accepts a key the instant CreateApiKey returns is not documented
//!   either: [`GraphqlEndpoint::set_acceptance_delay`] covers a delay.
//! - [`SkewedClock`]: moto's expiry checks use the real clock and refuse expiries less
//!   than a day ahead, so a key cannot be made to expire during a test; instead the
//!   stand-ins and the target under test read one clock that a test moves forward.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgeseal::{StaticHeaderValue, UnixTime};
use edgeseal_rotator::{ApiError, Op};
use edgeseal_rotator::{AppSyncApiKey, AppSyncKeys};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::lock;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// The wall clock plus an offset a test can move forward (never back).
#[derive(Clone, Debug, Default)]
pub struct SkewedClock(Arc<AtomicU64>);

impl SkewedClock {
    /// A clock at the real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, as the stand-ins and the target under test see it.
    pub fn now(&self) -> UnixTime {
        UnixTime::now().plus_secs(self.0.load(Ordering::SeqCst))
    }

    /// Move the clock `by` forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

/// AppSync's API-key rules over an implementation that lacks them (the SDK against moto);
/// see the module docs for each rule's source.
#[derive(Clone, Debug)]
pub struct AwsKeyRules<A> {
    inner: A,
    clock: SkewedClock,
    graphql_url: Option<String>,
}

/// AppSync's limit of API keys per API (not adjustable).
pub const MAX_KEYS_PER_API: usize = 50;

impl<A: AppSyncKeys> AwsKeyRules<A> {
    /// Wrap `inner`, judging expiries against `clock`.
    pub fn new(inner: A, clock: SkewedClock) -> Self {
        Self {
            inner,
            clock,
            graphql_url: None,
        }
    }

    /// Answer `GetGraphqlApi` with `url` (the loopback endpoint) as AppSync answers with
    /// the API's own endpoint.
    #[must_use]
    pub fn with_graphql_url(mut self, url: &str) -> Self {
        self.graphql_url = Some(url.to_owned());
        self
    }

    /// `expires` as AppSync stores it, or its refusal.
    fn stored_expiry(&self, op: Op, expires: UnixTime) -> Result<UnixTime, ApiError> {
        let rounded = UnixTime::from_secs(expires.as_secs() / HOUR * HOUR);
        let now = self.clock.now();
        if rounded < now.plus_secs(DAY) {
            return Err(out_of_bounds(
                op,
                "API key must be valid for a minimum of 1 days.",
            ));
        }
        if rounded > now.plus_secs(365 * DAY) {
            return Err(out_of_bounds(
                op,
                "API key must be valid for a maximum of 365 days.",
            ));
        }
        Ok(rounded)
    }

    async fn require_listed(
        &self,
        op: Op,
        api_id: &str,
        key: &StaticHeaderValue,
    ) -> Result<(), ApiError> {
        let keys = self.inner.list_api_keys(api_id).await?;
        if keys.iter().any(|k| &k.key == key) {
            Ok(())
        } else {
            Err(ApiError::NotFound {
                op,
                message: "API key not found.".into(),
            })
        }
    }
}

impl<A: AppSyncKeys> AppSyncKeys for AwsKeyRules<A> {
    async fn list_api_keys(&self, api_id: &str) -> Result<Vec<AppSyncApiKey>, ApiError> {
        self.inner.list_api_keys(api_id).await
    }

    async fn create_api_key(
        &self,
        api_id: &str,
        description: &str,
        expires: UnixTime,
    ) -> Result<AppSyncApiKey, ApiError> {
        let expires = self.stored_expiry(Op::CreateApiKey, expires)?;
        if self.inner.list_api_keys(api_id).await?.len() >= MAX_KEYS_PER_API {
            return Err(ApiError::Service {
                op: Op::CreateApiKey,
                code: "ApiKeyLimitExceededException".into(),
                message: "The API key exceeded a limit. Try your request again.".into(),
            });
        }
        self.inner
            .create_api_key(api_id, description, expires)
            .await
    }

    async fn update_api_key(
        &self,
        api_id: &str,
        key: &StaticHeaderValue,
        description: &str,
        expires: Option<UnixTime>,
    ) -> Result<AppSyncApiKey, ApiError> {
        let expires = expires
            .map(|e| self.stored_expiry(Op::UpdateApiKey, e))
            .transpose()?;
        self.require_listed(Op::UpdateApiKey, api_id, key).await?;
        self.inner
            .update_api_key(api_id, key, description, expires)
            .await
    }

    async fn delete_api_key(&self, api_id: &str, key: &StaticHeaderValue) -> Result<(), ApiError> {
        self.require_listed(Op::DeleteApiKey, api_id, key).await?;
        self.inner.delete_api_key(api_id, key).await
    }

    async fn graphql_url(&self, api_id: &str) -> Result<String, ApiError> {
        let moto = self.inner.graphql_url(api_id).await?;
        Ok(self.graphql_url.clone().unwrap_or(moto))
    }
}

/// AppSync's refusal of an expiry (its message as moto words it; AppSync's wording is
/// not documented, its code is).
fn out_of_bounds(op: Op, message: &str) -> ApiError {
    ApiError::Service {
        op,
        code: "ApiKeyValidityOutOfBoundsException".into(),
        message: message.into(),
    }
}

/// One request the endpoint judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The key presented (`None`: no `x-api-key`). Test code only.
    pub key: Option<String>,
    /// Whether the key was accepted.
    pub accepted: bool,
}

struct EndpointState<A> {
    keys: A,
    api_id: String,
    clock: SkewedClock,
    acceptance_delay: Mutex<Duration>,
    first_listed: Mutex<HashMap<String, Instant>>,
    verdicts: Mutex<Vec<Verdict>>,
    fields: Mutex<HashMap<String, serde_json::Value>>,
}

/// A loopback GraphQL endpoint with AppSync's `API_KEY` authorization over the keys
/// `ListApiKeys` returns (see the module docs). It answers the field `__typename` and any
/// field registered with [`GraphqlEndpoint::answer`]; other queries get HTTP 200 with a
/// validation error, as AppSync answers a query its schema does not have.
pub struct GraphqlEndpoint<A> {
    url: String,
    state: Arc<EndpointState<A>>,
    task: tokio::task::JoinHandle<()>,
}

impl<A> Drop for GraphqlEndpoint<A> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<A: AppSyncKeys + 'static> GraphqlEndpoint<A> {
    /// Serve API `api_id`'s keys as `keys` lists them, judging expiry by `clock`.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(keys: A, api_id: &str, clock: SkewedClock) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let state = Arc::new(EndpointState {
            keys,
            api_id: api_id.to_owned(),
            clock,
            acceptance_delay: Mutex::new(Duration::ZERO),
            first_listed: Mutex::new(HashMap::new()),
            verdicts: Mutex::new(Vec::new()),
            fields: Mutex::new(HashMap::new()),
        });
        let served = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(respond(&state, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { url, state, task })
    }

    /// The endpoint's URL (`http://127.0.0.1:PORT/graphql`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Accept a key only `delay` after the endpoint first saw it listed.
    pub fn set_acceptance_delay(&self, delay: Duration) {
        *lock(&self.state.acceptance_delay) = delay;
    }

    /// Answer the query field `name` with `value`.
    pub fn answer(&self, name: &str, value: serde_json::Value) {
        lock(&self.state.fields).insert(name.to_owned(), value);
    }

    /// Every request judged so far, in order.
    pub fn verdicts(&self) -> Vec<Verdict> {
        lock(&self.state.verdicts).clone()
    }
}

async fn respond<A: AppSyncKeys>(
    state: &EndpointState<A>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let presented = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let accepted = match &presented {
        Some(key) => accepts(state, key).await,
        None => false,
    };
    lock(&state.verdicts).push(Verdict {
        key: presented,
        accepted,
    });
    if !accepted {
        return json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"errors": [{
                "errorType": "UnauthorizedException",
                "message": "You are not authorized to make this call."
            }]}),
        );
    }
    let query = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|b| b.get("query").and_then(|q| q.as_str()).map(str::to_owned))
        .unwrap_or_default();
    json(StatusCode::OK, &execute(state, &query))
}

/// Whether AppSync would accept `key` now: listed, not expired, and (with an acceptance
/// delay) listed for long enough.
async fn accepts<A: AppSyncKeys>(state: &EndpointState<A>, key: &str) -> bool {
    let Ok(listed) = state.keys.list_api_keys(&state.api_id).await else {
        return false;
    };
    let now = state.clock.now();
    let delay = *lock(&state.acceptance_delay);
    let mut first_listed = lock(&state.first_listed);
    let mut accepted = false;
    for k in &listed {
        let seen = *first_listed
            .entry(k.key.expose().to_owned())
            .or_insert_with(Instant::now);
        if k.key.matches(key) && k.is_valid_at(now) && seen.elapsed() >= delay {
            accepted = true;
        }
    }
    accepted
}

/// A selection set of plain fields (`{ a b }` or `query Name { a b }`), answered from the
/// registered fields; anything else is a validation error, as AppSync reports it.
fn execute<A>(state: &EndpointState<A>, query: &str) -> serde_json::Value {
    let selection = query
        .split_once('{')
        .and_then(|(head, rest)| {
            let head = head.trim();
            let named_query = head.is_empty()
                || head == "query"
                || head.strip_prefix("query ").is_some_and(|name| {
                    name.trim().chars().all(|c| c.is_alphanumeric() || c == '_')
                });
            named_query.then_some(rest)
        })
        .and_then(|rest| rest.trim_end().strip_suffix('}'));
    let fields = lock(&state.fields);
    let mut data = serde_json::Map::new();
    for field in selection.unwrap_or("").split_whitespace() {
        let value = match field {
            "__typename" => serde_json::Value::from("Query"),
            other => match fields.get(other) {
                Some(value) => value.clone(),
                None => return validation_error(other),
            },
        };
        data.insert(field.to_owned(), value);
    }
    if data.is_empty() {
        return validation_error("");
    }
    serde_json::json!({ "data": data })
}

fn validation_error(field: &str) -> serde_json::Value {
    serde_json::json!({
        "data": null,
        "errors": [{
            "path": null,
            "locations": [{"line": 1, "column": 3, "sourceName": null}],
            "message": format!("Validation error of type FieldUndefined: Field '{field}' in type 'Query' is undefined @ '{field}'")
        }]
    })
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// An AppSync client as the blog's clients are built: it reads the key from the secret's
/// AWSCURRENT version (`{"<field>": "da2-…"}`) and caches it for `ttl`, as AWS's Secrets
/// Manager caching clients do (their default TTL is an hour), then sends it in
/// `x-api-key`. A rotation must never leave such a client holding a key AppSync refuses.
pub struct SecretKeyClient {
    sm: aws_sdk_secretsmanager::Client,
    secret: String,
    field: String,
    ttl: Duration,
    cached: tokio::sync::Mutex<Option<(StaticHeaderValue, Instant)>>,
}

impl SecretKeyClient {
    /// A client of `secret`, reading the key from JSON field `field`.
    pub fn new(
        sm: aws_sdk_secretsmanager::Client,
        secret: &str,
        field: &str,
        ttl: Duration,
    ) -> Self {
        Self {
            sm,
            secret: secret.to_owned(),
            field: field.to_owned(),
            ttl,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The key this client sends now: the cached one while fresh, else AWSCURRENT's.
    ///
    /// # Errors
    /// When the secret cannot be read or holds no key in the field.
    pub async fn key(&self) -> Result<StaticHeaderValue, String> {
        let mut cached = self.cached.lock().await;
        if let Some((key, fetched)) = cached.as_ref()
            && fetched.elapsed() < self.ttl
        {
            return Ok(key.clone());
        }
        let value = self
            .sm
            .get_secret_value()
            .secret_id(&self.secret)
            .version_stage(edgeseal::Stage::Current.label())
            .send()
            .await
            .map_err(|e| format!("GetSecretValue: {e}"))?;
        let text = value.secret_string().ok_or("no SecretString")?;
        let key = match edgeseal::SecretValue::parse(text, Some(&self.field)) {
            Ok(edgeseal::SecretValue::StaticHeader(key)) => key,
            _ => return Err(format!("AWSCURRENT has no {:?} field", self.field)),
        };
        *cached = Some((key.clone(), Instant::now()));
        Ok(key)
    }
}

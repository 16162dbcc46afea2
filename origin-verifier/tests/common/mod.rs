//! Test helpers: events from the fixtures, signing as the edge would, Secrets Manager
//! through moto, and a source that fails on demand.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::Client;
use edgeseal::{
    KeyId, RequestView, Signer, SigningKey, StaticHeaderValue, UnixTime, edgeseal_secret_json,
    static_header_secret_json,
};
use origin_verifier::{
    Authorizer, AuthorizerEvent, Config, CountingSource, CurrentValue, MetricsSink, SdkSource,
    SecretsSource, SourceError, VersionInfo,
};
use serde_json::Value;
use zeroize::Zeroizing;

pub const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";
pub const HTTP_ROUTE_ARN: &str =
    "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/orders/{id}";
pub const REST_METHOD_ARN: &str =
    "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/orders/42";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Http,
    Rest,
}

pub fn fixture(api: Api) -> Value {
    let name = match api {
        Api::Http => "http-api-v2-request.json",
        Api::Rest => "rest-request.json",
    };
    let path = format!(
        "{}/../tests/fixtures/apigw/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The request CloudFront sends for both fixtures, as the edge sees it.
pub fn edge_view() -> RequestView {
    RequestView::new("GET", HOST, "/prod/orders/42", "b=2&a=1&a=0&q=caf%C3%A9")
}

/// `Signature-Input` and `Signature` for the fixtures' request.
pub fn sign(keyid: &str, key: &SigningKey, at: UnixTime) -> [(String, String); 2] {
    let signer = Signer::new("edgeseal", KeyId::new(keyid).unwrap(), key.clone()).unwrap();
    let fields = signer.sign_at(at, &edge_view()).unwrap();
    [
        (
            "Signature-Input".to_owned(),
            fields.signature_input().to_owned(),
        ),
        ("Signature".to_owned(), fields.signature().to_owned()),
    ]
}

/// The fixture with extra headers, as API Gateway would pass them.
pub fn event_value(api: Api, headers: &[(String, String)]) -> Value {
    let mut v = fixture(api);
    for (name, value) in headers {
        match api {
            Api::Http => {
                v["headers"][name.to_ascii_lowercase()] = Value::String(value.clone());
            }
            Api::Rest => {
                v["headers"][name] = Value::String(value.clone());
                v["multiValueHeaders"][name] = Value::Array(vec![Value::String(value.clone())]);
            }
        }
    }
    v
}

pub fn event(api: Api, headers: &[(String, String)]) -> AuthorizerEvent {
    serde_json::from_value(event_value(api, headers)).unwrap()
}

pub fn signed(api: Api, keyid: &str, key: &SigningKey, at: UnixTime) -> AuthorizerEvent {
    event(api, &sign(keyid, key, at))
}

pub fn header(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

pub fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32]).unwrap()
}

pub fn now() -> UnixTime {
    UnixTime::now()
}

pub fn config(secret_id: &str, extra: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.insert("SECRET_ID".to_owned(), secret_id.to_owned());
    Config::from_lookup(|name| map.get(name).cloned()).unwrap()
}

/// A Secrets Manager client for moto, with one attempt so that an error path (a closed
/// port: the connection is refused at once) costs milliseconds, not SDK retries. The
/// timeouts are generous: moto serves every test of the run at once. (A test here failed
/// now and then at load average ~19 with the former 500 ms connect timeout; its message
/// was not kept, and it did not recur idle or under a CPU hog. A refresh timing out, so
/// that a test expecting keys saw none, is the likeliest cause this removes.)
pub async fn sm_client_for(endpoint: &str) -> Client {
    let base = edgeseal_testkit::sdk_config_for(endpoint).await;
    let conf = aws_sdk_secretsmanager::config::Builder::from(&base)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

pub async fn sm_client() -> Client {
    sm_client_for(&edgeseal_testkit::moto_url()).await
}

/// A loopback port nothing listens on.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub fn hmac_json(key: &SigningKey) -> String {
    edgeseal_secret_json(key).to_string()
}

pub fn static_json(field: &str, value: &str) -> String {
    static_header_secret_json(field, &StaticHeaderValue::new(value.to_owned()).unwrap()).to_string()
}

/// Create a secret whose AWSCURRENT holds `value`; returns (name, version id).
pub async fn create_secret(client: &Client, value: &str) -> (String, String) {
    let name = edgeseal_testkit::unique_name("verifier");
    let out = client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    (name, out.version_id().unwrap().to_owned())
}

/// Add a version labelled AWSPENDING only; returns its version id.
pub async fn put_pending(client: &Client, name: &str, value: &str) -> String {
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

/// finishSecret: AWSCURRENT moves to `to` (the old one becomes AWSPREVIOUS), AWSPENDING
/// is removed from `to`.
pub async fn promote(client: &Client, name: &str, to: &str, from: &str) {
    client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(to)
        .remove_from_version_id(from)
        .send()
        .await
        .unwrap();
    client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage("AWSPENDING")
        .remove_from_version_id(to)
        .send()
        .await
        .unwrap();
}

pub async fn created_date(client: &Client, name: &str, version: &str) -> UnixTime {
    created_as_aws(client, name, version).await.unwrap()
}

/// A version's `CreatedDate` as AWS lists it. `ListSecretVersionIds` gives "the date and
/// time this version of the secret was created" (API reference, `SecretVersionsListEntry`);
/// moto 5.2's `list_secret_version_ids` instead reports the time of the listing
/// (`int(time.time())`) for every version, so two listings a second apart disagree and
/// every listed version looks created just now. Its `GetSecretValue` by `VersionId`
/// reports the second the version was stored, which is what AWS lists.
pub async fn created_as_aws(client: &Client, name: &str, version: &str) -> Option<UnixTime> {
    let out = client
        .get_secret_value()
        .secret_id(name)
        .version_id(version)
        .send()
        .await
        .ok()?;
    let secs = out.created_date()?.secs();
    u64::try_from(secs).ok().map(UnixTime::from_secs)
}

/// The real SDK source, counted, and able to fail on demand (a Secrets Manager outage).
/// Its listing carries each version's creation date as AWS lists it ([`created_as_aws`]),
/// not moto's listing time.
#[derive(Debug)]
pub struct Flaky {
    inner: SdkSource,
    client: Client,
    failing: AtomicBool,
}

impl Flaky {
    pub fn new(client: Client) -> Self {
        Self {
            inner: SdkSource::new(client.clone()),
            client,
            failing: AtomicBool::new(false),
        }
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn outage(&self, operation: &'static str) -> Result<(), SourceError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(SourceError::Failed {
                operation,
                detail: "injected outage".to_owned(),
            })
        } else {
            Ok(())
        }
    }
}

impl SecretsSource for Flaky {
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        self.outage("ListSecretVersionIds")?;
        let mut versions = self.inner.list_versions(secret_id).await?;
        for version in &mut versions {
            version.created = created_as_aws(&self.client, secret_id, &version.version_id).await;
        }
        Ok(versions)
    }

    async fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        self.outage("GetSecretValue")?;
        self.inner.get_version(secret_id, version_id).await
    }

    async fn get_current(&self, secret_id: &str) -> Result<Option<CurrentValue>, SourceError> {
        self.outage("GetSecretValue")?;
        self.inner.get_current(secret_id).await
    }
}

pub type Counted = CountingSource<Flaky>;

/// An authorizer over moto whose calls are counted and can be made to fail.
pub async fn authorizer(cfg: &Config) -> (Authorizer<Counted>, Counted) {
    let source = CountingSource::new(Flaky::new(sm_client().await));
    let authorizer = Authorizer::new(cfg, source.clone(), MetricsSink::Discard).unwrap();
    (authorizer, source)
}

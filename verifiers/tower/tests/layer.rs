//! The layer in front of an axum router, with keys in Secrets Manager (moto server,
//! through the real SDK): the authorizer's key rules, reason codes, log-free metric
//! shape, and body binding.
//!
//! Needs moto: `eval "$(bash scripts/moto start)"` (exports EDGESEAL_MOTO_URL), as
//! `bash scripts/test` does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_secretsmanager::Client;
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use edgeseal::{KeyId, RequestView, Signer, SigningKey, UnixTime, edgeseal_secret_json};
use edgeseal_tower::{EdgesealLayer, LayerConfig};
use http::{Request, StatusCode};
use origin_verifier::{
    CountingSource, CurrentValue, MetricsSink, SdkSource, SecretsSource, SourceError, VersionInfo,
};
use tower::ServiceExt as _;
use zeroize::Zeroizing;

const HOST: &str = "internal-orders-1234.us-east-1.elb.amazonaws.com";

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 64]).unwrap()
}

async fn sm() -> Client {
    Client::new(&edgeseal_testkit::sdk_config_for(&edgeseal_testkit::moto_url()).await)
}

async fn create_secret(client: &Client, key: &SigningKey) -> (String, String) {
    let name = edgeseal_testkit::unique_name("tower");
    let out = client
        .create_secret()
        .name(&name)
        .secret_string(edgeseal_secret_json(key).to_string())
        .send()
        .await
        .unwrap();
    (name, out.version_id().unwrap().to_owned())
}

async fn put_pending(client: &Client, name: &str, key: &SigningKey) -> String {
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(edgeseal_secret_json(key).to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

async fn promote(client: &Client, name: &str, to: &str, from: &str) {
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

/// The SDK source, counted, able to fail on demand (a Secrets Manager outage).
struct Flaky {
    inner: SdkSource,
    failing: AtomicBool,
}

impl Flaky {
    fn outage(&self, operation: &'static str) -> Result<(), SourceError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(SourceError::Failed {
                operation,
                detail: "injected outage".into(),
            })
        } else {
            Ok(())
        }
    }
}

impl SecretsSource for Flaky {
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        self.outage("ListSecretVersionIds")?;
        self.inner.list_versions(secret_id).await
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

type Source = CountingSource<Flaky>;

/// A settable clock.
#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn set(&self, t: UnixTime) {
        self.0.store(t.as_secs(), Ordering::SeqCst);
    }
}

struct Fixture {
    app: Router,
    source: Source,
    clock: Clock,
    metrics: Arc<Mutex<Vec<u8>>>,
    layer: EdgesealLayer<Source>,
}

async fn fixture(client: &Client, name: &str, extra: &[(&str, &str)]) -> Fixture {
    let mut vars: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.push(("SECRET_ID".into(), name.to_owned()));
    let config =
        LayerConfig::from_lookup(|var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
            .unwrap();
    let source = CountingSource::new(Flaky {
        inner: SdkSource::new(client.clone()),
        failing: AtomicBool::new(false),
    });
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let clock = Clock(Arc::new(AtomicU64::new(UnixTime::now().as_secs())));
    let reading = clock.clone();
    let layer = EdgesealLayer::new(
        &config,
        source.clone(),
        MetricsSink::Buffer(Arc::clone(&metrics)),
    )
    .unwrap()
    .with_clock(Arc::new(move || {
        UnixTime::from_secs(reading.0.load(Ordering::SeqCst))
    }));
    let app = Router::new()
        .route("/v1/orders", get(|| async { "orders" }))
        .route(
            "/v1/orders",
            post(|body: String| async move { format!("got {body}") }),
        )
        .route("/{*rest}", get(|| async { "any" }))
        .layer(layer.clone());
    Fixture {
        app,
        source,
        clock,
        metrics,
        layer,
    }
}

/// A request as the load balancer delivers it: path and query as sent, the edge's
/// signature (if any) in its headers.
fn request(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", HOST)
        .header("x-amz-cf-id", "cf-request-1");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

/// What the edge signs for that request (raw profile), at `at`.
fn signed(
    keyid: &str,
    key: &SigningKey,
    at: UnixTime,
    method: &str,
    path_and_query: &str,
    body: Option<&str>,
) -> Request<Body> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let view = RequestView::raw(method, HOST, path, query);
    let signer = Signer::new("edgeseal", KeyId::new(keyid).unwrap(), key.clone()).unwrap();
    let fields = match body {
        Some(body) => signer.sign_body_at(at, &view, body.as_bytes()).unwrap(),
        None => signer.sign_at(at, &view).unwrap(),
    };
    let mut headers = vec![
        ("signature-input", fields.signature_input()),
        ("signature", fields.signature()),
    ];
    if let Some(digest) = fields.content_digest() {
        headers.push(("content-digest", digest));
    }
    request(method, path_and_query, &headers, body.unwrap_or(""))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The reasons of the metric lines written since the last call.
fn reasons(f: &Fixture) -> Vec<String> {
    let mut buffer = f.metrics.lock().unwrap();
    let text = String::from_utf8(std::mem::take(&mut *buffer)).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{}:{}",
                v["Verdict"].as_str().unwrap(),
                v["Reason"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn signed_requests_pass_and_every_deny_has_the_authorizers_reason_and_metric() {
    let client = sm().await;
    let k = key(1);
    let (name, v1) = create_secret(&client, &k).await;
    let f = fixture(&client, &name, &[]).await;
    let now = UnixTime::now();
    f.clock.set(now);

    let (status, body) = send(
        &f.app,
        signed(&v1, &k, now, "GET", "/v1/orders?b=2&a=1", None),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "orders"));
    // Path and query byte for byte: an escape the edge did not sign is another request.
    let (status, _) = send(&f.app, signed(&v1, &k, now, "GET", "/v1/a%2Fb?q=a+b", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reasons(&f),
        ["allow:signature_current", "allow:signature_current"]
    );

    let good = signed(&v1, &k, now, "GET", "/v1/orders?b=2&a=1", None);
    let input = good.headers()["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    let signature = good.headers()["signature"].to_str().unwrap().to_owned();
    let with = |path: &str| {
        request(
            "GET",
            path,
            &[("signature-input", &input), ("signature", &signature)],
            "",
        )
    };
    let apigateway = {
        let view = RequestView::new("GET", HOST, "/v1/orders", "b=2&a=1");
        let fields = Signer::new("edgeseal", KeyId::new(&v1).unwrap(), k.clone())
            .unwrap()
            .sign_at(now, &view)
            .unwrap();
        request(
            "GET",
            "/v1/orders?b=2&a=1",
            &[
                ("signature-input", fields.signature_input()),
                ("signature", fields.signature()),
            ],
            "",
        )
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            request("GET", "/v1/orders", &[], ""),
            StatusCode::UNAUTHORIZED,
            "missing",
        ),
        (
            with("/v1/orders?a=1&b=2"),
            StatusCode::FORBIDDEN,
            "bad_signature",
        ),
        (
            with("/v1/orders/?b=2&a=1"),
            StatusCode::FORBIDDEN,
            "bad_signature",
        ),
        (
            with("/v1/%6Frders?b=2&a=1"),
            StatusCode::FORBIDDEN,
            "bad_signature",
        ),
        (apigateway, StatusCode::FORBIDDEN, "wrong_profile"),
        (
            signed(&v1, &k, now.plus_secs(400), "GET", "/v1/orders", None),
            StatusCode::FORBIDDEN,
            "from_future",
        ),
        (
            signed(&v1, &key(9), now, "GET", "/v1/orders", None),
            StatusCode::FORBIDDEN,
            "bad_signature",
        ),
    ];
    for (request, status, reason) in cases {
        let (got, body) = send(&f.app, request).await;
        assert_eq!(got, status, "{reason}");
        assert!(body.is_empty(), "a deny says nothing to the caller: {body}");
        assert_eq!(reasons(&f), [format!("deny:{reason}")]);
    }

    // The metric line is the authorizer's, byte for byte.
    let _ = send(&f.app, with("/v1/orders?a=1&b=2")).await;
    let line = String::from_utf8(f.metrics.lock().unwrap().clone()).unwrap();
    let authorizers = origin_verifier::Metrics::new("edgeseal", MetricsSink::Discard).line(
        now,
        origin_verifier::Verdict::Deny,
        "bad_signature",
        "cf-request-1",
    );
    assert_eq!(line.trim_end(), authorizers);
}

#[tokio::test]
async fn rotation_keys_the_authorizers_way_and_no_secrets_manager_call_per_request() {
    let client = sm().await;
    let (k1, k2, k3) = (key(11), key(12), key(13));
    let (name, v1) = create_secret(&client, &k1).await;
    let f = fixture(
        &client,
        &name,
        &[
            ("PREVIOUS_KEY_GRACE_SECS", "600"),
            ("CACHE_TTL_SECS", "60"),
            ("UNKNOWN_KEY_MIN_INTERVAL_SECS", "10"),
        ],
    )
    .await;
    let t = UnixTime::now();
    f.clock.set(t);
    let get = |keyid: &str, key: &SigningKey, at: UnixTime| {
        signed(keyid, key, at, "GET", "/v1/orders", None)
    };
    assert_eq!(send(&f.app, get(&v1, &k1, t)).await.0, StatusCode::OK);

    // Steady state: no Secrets Manager call per request.
    let calls = f.source.calls();
    for _ in 0..50 {
        assert_eq!(send(&f.app, get(&v1, &k1, t)).await.0, StatusCode::OK);
    }
    assert_eq!(
        f.source.calls(),
        calls,
        "0 Secrets Manager calls for 50 requests"
    );

    // createSecret: a pending key the cache has not seen is fetched once, on demand.
    let v2 = put_pending(&client, &name, &k2).await;
    f.clock.set(t.plus_secs(1));
    assert_eq!(
        send(&f.app, get(&v2, &k2, t.plus_secs(1))).await.0,
        StatusCode::OK
    );
    assert!(reasons(&f).ends_with(&["allow:signature_pending".to_owned()]));

    // An unknown keyid refreshes at most once per interval.
    let before = f.source.calls();
    for i in 0..5 {
        let (status, _) = send(&f.app, get("not-a-version", &k3, t.plus_secs(2))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "try {i}");
    }
    assert!(
        f.source.calls() - before <= 3,
        "one refresh: {} calls",
        f.source.calls() - before
    );
    assert!(reasons(&f).iter().all(|r| r == "deny:unknown_key"));

    // finishSecret: v2 current, v1 previous, accepted within the grace only.
    promote(&client, &name, &v2, &v1).await;
    let later = t.plus_secs(61);
    f.clock.set(later);
    assert_eq!(send(&f.app, get(&v2, &k2, later)).await.0, StatusCode::OK);
    assert_eq!(send(&f.app, get(&v1, &k1, later)).await.0, StatusCode::OK);
    assert!(reasons(&f).ends_with(&[
        "allow:signature_current".to_owned(),
        "allow:signature_previous".to_owned()
    ]));
    // Past the grace (counted from the current version's creation, as the authorizer
    // counts it).
    let past = t.plus_secs(61 + 600 + 60);
    f.clock.set(past);
    let (status, _) = send(&f.app, get(&v1, &k1, past)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        reasons(&f).last().map(String::as_str),
        Some("deny:previous_key_retired")
    );
    let _ = f.layer.cache();
}

#[tokio::test]
async fn an_outage_serves_stale_keys_for_max_stale_then_fails_closed() {
    let client = sm().await;
    let k = key(21);
    let (name, v1) = create_secret(&client, &k).await;
    let f = fixture(
        &client,
        &name,
        &[
            ("CACHE_TTL_SECS", "60"),
            ("MAX_STALE_SECS", "600"),
            ("REFRESH_RETRY_SECS", "5"),
        ],
    )
    .await;
    let t = UnixTime::now();
    f.clock.set(t);
    let at = |s: u64| t.plus_secs(s);
    let get = |when: UnixTime| signed(&v1, &k, when, "GET", "/v1/orders", None);
    assert_eq!(send(&f.app, get(t)).await.0, StatusCode::OK);

    f.source.inner().failing.store(true, Ordering::SeqCst);
    let before = f.source.calls();
    for s in 60..70 {
        f.clock.set(at(s));
        assert_eq!(
            send(&f.app, get(at(s))).await.0,
            StatusCode::OK,
            "stale keys serve at +{s}"
        );
    }
    assert_eq!(
        f.source.calls() - before,
        2,
        "failed refreshes retried every 5 s, not per request"
    );
    f.clock.set(at(60 + 600 - 1));
    assert_eq!(send(&f.app, get(at(659))).await.0, StatusCode::OK);
    f.clock.set(at(60 + 600));
    assert_eq!(send(&f.app, get(at(660))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(reasons(&f).last().map(String::as_str), Some("deny:no_keys"));

    f.source.inner().failing.store(false, Ordering::SeqCst);
    f.clock.set(at(665));
    assert_eq!(send(&f.app, get(at(665))).await.0, StatusCode::OK);
}

#[tokio::test]
async fn body_binding_is_checked_and_can_be_required() {
    let client = sm().await;
    let k = key(31);
    let (name, v1) = create_secret(&client, &k).await;
    let f = fixture(&client, &name, &[]).await;
    let now = UnixTime::now();
    f.clock.set(now);
    let order = "{\"order\":42}";

    // Bound: the handler gets the body that was checked.
    let (status, body) = send(
        &f.app,
        signed(&v1, &k, now, "POST", "/v1/orders", Some(order)),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "got {\"order\":42}")
    );
    // Another body under the same signature and digest: refused.
    let bound = signed(&v1, &k, now, "POST", "/v1/orders", Some(order));
    let (parts, _) = bound.into_parts();
    let swapped = Request::from_parts(parts, Body::from("{\"order\":43}"));
    assert_eq!(send(&f.app, swapped).await.0, StatusCode::FORBIDDEN);
    // A body longer than the edge can bind cannot match.
    let mut long = signed(&v1, &k, now, "POST", "/v1/orders", Some(order))
        .into_parts()
        .0;
    long.headers.remove("content-length");
    let long = Request::from_parts(long, Body::from(vec![b'x'; 2 << 20]));
    assert_eq!(send(&f.app, long).await.0, StatusCode::FORBIDDEN);
    // Unbound (the behavior does not include the body): passes unless required.
    let unbound = || signed(&v1, &k, now, "POST", "/v1/orders", None);
    let (parts, _) = unbound().into_parts();
    let (status, body) = send(&f.app, Request::from_parts(parts, Body::from(order))).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "got {\"order\":42}")
    );
    assert_eq!(
        reasons(&f),
        [
            "allow:signature_current",
            "deny:body_digest_mismatch",
            "deny:body_digest_mismatch",
            "allow:signature_current"
        ]
    );

    let strict = fixture(&client, &name, &[("REQUIRE_CONTENT_DIGEST", "true")]).await;
    strict.clock.set(now);
    assert_eq!(send(&strict.app, unbound()).await.0, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &strict.app,
        signed(&v1, &k, now, "POST", "/v1/orders", Some(order)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reasons(&strict),
        ["deny:body_not_signed", "allow:signature_current"]
    );
}

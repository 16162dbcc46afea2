//! The bearer-token check after the edge signature (`JWT_ISSUERS`): against the stand-in
//! OIDC issuer of testkit (discovery document and JWK Set over HTTP on loopback) and
//! Secrets Manager on moto, through the real handler.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use edgeseal::{SigningKey, UnixTime};
use edgeseal_testkit::SharedBuffer;
use edgeseal_testkit::oidc::{OidcIssuer, unsigned_token};
use origin_verifier::{Authorizer, AuthorizerError, AuthorizerResponse, MetricsSink, logging};
use serde_json::{Value, json};

const CLIENT: &str = "client-123";

fn to_json(response: &AuthorizerResponse) -> Value {
    serde_json::to_value(response).unwrap()
}

struct World {
    issuer: OidcIssuer,
    authorizer: Authorizer<Counted>,
    keyid: String,
    key: SigningKey,
    metrics: Arc<Mutex<Vec<u8>>>,
}

async fn world(extra: &[(&str, &str)]) -> World {
    let issuer = OidcIssuer::start().await.unwrap();
    let client = sm_client().await;
    let k = key(7);
    let (name, keyid) = create_secret(&client, &hmac_json(&k)).await;
    let mut vars = vec![
        ("JWT_ISSUERS", issuer.issuer()),
        ("JWT_AUDIENCES", CLIENT),
        (
            "JWT_SCOPES",
            "GET /prod/orders/{id}=orders/read orders/admin",
        ),
    ];
    vars.extend_from_slice(extra);
    let cfg = config(&name, &vars);
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let source = origin_verifier::CountingSource::new(Flaky::new(client));
    let authorizer =
        Authorizer::new(&cfg, source, MetricsSink::Buffer(Arc::clone(&metrics))).unwrap();
    authorizer.jwt().unwrap().jwks().load_all_at(now()).await;
    World {
        issuer,
        authorizer,
        keyid,
        key: k,
        metrics,
    }
}

impl World {
    /// A signed event carrying `authorization`.
    fn event(
        &self,
        api: Api,
        t: UnixTime,
        authorization: Option<&str>,
    ) -> origin_verifier::AuthorizerEvent {
        let mut headers = sign(&self.keyid, &self.key, t).to_vec();
        if let Some(value) = authorization {
            headers.push(header("Authorization", value));
        }
        event(api, &headers)
    }

    async fn http(&self, t: UnixTime, token: &str) -> Value {
        let bearer = format!("Bearer {token}");
        to_json(
            &self
                .authorizer
                .handle_at(t, &self.event(Api::Http, t, Some(&bearer)))
                .await
                .unwrap(),
        )
    }

    fn claims(&self, t: UnixTime) -> Value {
        self.issuer
            .access_claims(CLIENT, t.as_secs(), 3600, "openid orders/read")
    }

    fn jwks_fetches(&self) -> u64 {
        self.authorizer.jwt().unwrap().jwks().fetch_count()
    }
}

fn reason(v: &Value) -> &str {
    assert_eq!(v["isAuthorized"], false, "{v}");
    v["context"]["reason"].as_str().unwrap()
}

#[tokio::test]
async fn a_valid_token_passes_with_its_claims_in_the_context() {
    let w = world(&[]).await;
    let t = now();
    let v = w.http(t, &w.issuer.sign(&w.claims(t))).await;
    assert_eq!(v["isAuthorized"], true, "{v}");
    let ctx = &v["context"];
    assert_eq!(ctx["scheme"], "signature");
    assert_eq!(ctx["jwt_client_id"], CLIENT);
    assert_eq!(ctx["jwt_token_use"], "access");
    assert_eq!(ctx["jwt_exp"], t.as_secs() + 3600, "numbers stay numbers");
    assert_eq!(ctx["jwt_cognito_groups"], json!(["readers"]));
    assert_eq!(ctx["jwt_scopes"], json!(["openid", "orders/read"]));
    // The token alone (no `Bearer `) is accepted too, as by the built-in authorizer.
    let token = w.issuer.sign(&w.claims(t));
    let bare = w
        .authorizer
        .handle_at(t, &w.event(Api::Http, t, Some(&token)))
        .await
        .unwrap();
    assert!(bare.is_allowed());
    // REST: flat values only.
    let rest = w
        .authorizer
        .handle_at(t, &w.event(Api::Rest, t, Some(&format!("Bearer {token}"))))
        .await
        .unwrap();
    let ctx = &to_json(&rest)["context"];
    assert_eq!(ctx["jwt_cognito_groups"], "[\"readers\"]");
    assert_eq!(ctx["jwt_scopes"], "openid orders/read");
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_own_reason() {
    let w = world(&[("JWT_TOKEN_USE", "access")]).await;
    let t = now();
    let good = w.claims(t);
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let signed = |c: &Value| w.issuer.sign(c);
    let tampered = {
        let token = signed(&good);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = base64_url(&with(json!({"scope": "orders/admin"})).to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "jwt_expired",
            signed(&with(
                json!({"exp": t.as_secs() - 11, "iat": t.as_secs() - 3600}),
            )),
        ),
        ("jwt_expired", signed(&with(json!({"exp": null})))),
        (
            "jwt_not_yet_valid",
            signed(&with(json!({"nbf": t.as_secs() + 60}))),
        ),
        (
            "jwt_issued_in_future",
            signed(&with(json!({"iat": t.as_secs() + 60}))),
        ),
        (
            "jwt_wrong_audience",
            signed(&with(json!({"client_id": "other-client"}))),
        ),
        (
            "jwt_wrong_audience",
            signed(&with(json!({"aud": "other", "client_id": CLIENT}))),
        ),
        (
            "jwt_wrong_issuer",
            signed(&with(json!({"iss": "https://evil.example.com"}))),
        ),
        (
            "jwt_insufficient_scope",
            signed(&with(json!({"scope": "openid profile"}))),
        ),
        (
            "jwt_wrong_token_use",
            signed(&with(json!({"token_use": "id"}))),
        ),
        ("jwt_bad_algorithm", unsigned_token(&good)),
        (
            "jwt_bad_algorithm",
            w.issuer.hmac_with_public_key("rsa-1", &good),
        ),
        ("jwt_unknown_kid", w.issuer.sign_with("rsa-3", &good)),
        ("jwt_bad_signature", tampered),
        ("jwt_malformed", "not.a.jwt".to_owned()),
        ("jwt_malformed", "abc".to_owned()),
    ];
    for (expected, token) in &cases {
        let v = w.http(t, token).await;
        assert_eq!(reason(&v), *expected, "{v}");
    }
    // Missing: no header, an empty one, `Bearer` alone.
    for authorization in [None, Some(""), Some("Bearer ")] {
        let v = to_json(
            &w.authorizer
                .handle_at(t, &w.event(Api::Http, t, authorization))
                .await
                .unwrap(),
        );
        assert_eq!(reason(&v), "jwt_missing");
    }
    // ID token: `aud` instead of `client_id`; refused for token_use, accepted with any.
    let id = with(json!({"token_use": "id", "aud": CLIENT, "client_id": null}));
    assert_eq!(
        reason(&w.http(t, &signed(&id)).await),
        "jwt_wrong_token_use"
    );
    let any = world(&[]).await;
    let id = any.issuer.sign(&with(json!({"token_use": "id", "aud": [CLIENT, "x"], "client_id": null, "iss": any.issuer.issuer()})));
    assert_eq!(any.http(t, &id).await["isAuthorized"], true);
    // The EC key verifies as well (ES256).
    let ec = any.issuer.sign_with("ec-1", &any.claims(t));
    assert_eq!(any.http(t, &ec).await["isAuthorized"], true);
    // The edge signature is checked first: a good token does not rescue a bad signature.
    let unsigned = event(
        Api::Http,
        &[header(
            "Authorization",
            &format!("Bearer {}", signed(&good)),
        )],
    );
    let v = to_json(&w.authorizer.handle_at(t, &unsigned).await.unwrap());
    assert_eq!(reason(&v), "missing");
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn rest_answers_401_for_a_bad_token_and_403_for_missing_scopes() {
    let w = world(&[]).await;
    let t = now();
    let expired =
        w.issuer.sign(
            &w.issuer
                .access_claims(CLIENT, t.as_secs() - 7200, 3600, "orders/read"),
        );
    for authorization in [None, Some(format!("Bearer {expired}"))] {
        let err = w
            .authorizer
            .handle_at(t, &w.event(Api::Rest, t, authorization.as_deref()))
            .await
            .unwrap_err();
        assert_eq!(err, AuthorizerError::Unauthorized);
    }
    let no_scope = w
        .issuer
        .sign(&w.issuer.access_claims(CLIENT, t.as_secs(), 3600, "openid"));
    let denied = w
        .authorizer
        .handle_at(
            t,
            &w.event(Api::Rest, t, Some(&format!("Bearer {no_scope}"))),
        )
        .await
        .unwrap();
    let v = to_json(&denied);
    assert_eq!(v["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(v["context"]["reason"], "jwt_insufficient_scope");
}

#[tokio::test]
async fn keys_rotate_at_the_issuer_without_a_legitimate_request_refused() {
    let w = world(&[]).await;
    let t = now();
    let before = w.jwks_fetches();
    assert_eq!(
        w.issuer.discovery_requests(),
        1,
        "discovery once, at cold start"
    );
    let old = w.issuer.sign(&w.claims(t));
    assert_eq!(w.http(t, &old).await["isAuthorized"], true);

    // The issuer publishes a new key and signs with it at once: the first token naming
    // it refreshes the set (one fetch), the next ones use the cache.
    let new_kid = w.issuer.rotate().unwrap();
    for _ in 0..5 {
        let fresh = w.issuer.sign(&w.claims(t));
        assert_eq!(w.http(t, &fresh).await["isAuthorized"], true);
    }
    assert_eq!(w.jwks_fetches(), before + 1);
    // Tokens under the old key still verify while it is published.
    assert_eq!(w.http(t, &old).await["isAuthorized"], true);

    // The old key leaves the set; the authorizer learns it at its next refresh (TTL),
    // and then refuses the old key's tokens, even one it remembered.
    let old_kid = w.issuer.published()[0].clone();
    assert_ne!(old_kid, new_kid);
    w.issuer.retire(&old_kid);
    let later = t.plus_secs(3601);
    let v = w.http(later, &old).await;
    assert_eq!(reason(&v), "jwt_unknown_kid", "{v}");
    let fresh = w.issuer.sign(&w.claims(later));
    assert_eq!(w.http(later, &fresh).await["isAuthorized"], true);

    // Forged key ids cannot drive traffic to the issuer: one refresh per interval.
    let fetches = w.jwks_fetches();
    for i in 0..50 {
        let mut c = w.claims(later);
        c["jti"] = json!(i);
        let forged = w.issuer.sign_with("rsa-3", &c);
        assert_eq!(
            reason(&w.http(later.plus_secs(1), &forged).await),
            "jwt_unknown_kid"
        );
    }
    assert!(
        w.jwks_fetches() <= fetches + 1,
        "{} > {}",
        w.jwks_fetches(),
        fetches + 1
    );
}

/// With `JWKS_UNKNOWN_KID_MAX_WAIT_MS`, a token naming an unknown `kid` inside the
/// refresh interval may wait for the next refresh, but not one a refresh made for that
/// very `kid` found absent: a forged `kid` repeated on every request must not hold the
/// execution environment each time (in the `--jwt` demo, two environments held a second
/// per forged token, and legitimate requests queued behind them until their edge
/// signatures were older than MAX_AGE_SECS).
#[tokio::test]
async fn a_forged_kid_a_refresh_found_absent_is_refused_without_waiting() {
    let w = world(&[
        ("JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS", "60"),
        ("JWKS_UNKNOWN_KID_MAX_WAIT_MS", "60000"),
    ])
    .await;
    let t = now();
    let forged = w.issuer.sign_with("rsa-3", &w.claims(t));
    let fetches = w.jwks_fetches();
    // The first one refreshes the set (the interval is open) and is refused.
    assert_eq!(reason(&w.http(t, &forged).await), "jwt_unknown_kid");
    assert_eq!(w.jwks_fetches(), fetches + 1);
    // Again inside the interval: refused at once, not after waiting up to 60 s.
    for s in 1..=3 {
        let v = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            w.http(t.plus_secs(s), &forged),
        )
        .await
        .expect("refused at once, without waiting for the refresh interval to end");
        assert_eq!(reason(&v), "jwt_unknown_kid");
    }
    assert_eq!(
        w.jwks_fetches(),
        fetches + 1,
        "no fetch inside the interval"
    );
    // Not barred for good: once the issuer publishes that kid, the next refresh the
    // interval allows learns it.
    while w.issuer.add_key().is_some_and(|kid| kid != "rsa-3") {}
    assert!(w.issuer.published().contains(&"rsa-3".to_owned()));
    let later = t.plus_secs(61);
    let token = w.issuer.sign_with("rsa-3", &w.claims(later));
    assert_eq!(w.http(later, &token).await["isAuthorized"], true);
    assert_eq!(w.jwks_fetches(), fetches + 2);
}

#[tokio::test]
async fn steady_state_makes_no_network_call_and_remembers_tokens() {
    let w = world(&[]).await;
    let t = now();
    let before = (
        w.jwks_fetches(),
        w.issuer.jwks_requests(),
        w.issuer.discovery_requests(),
    );
    let jwt = w.authorizer.jwt().unwrap();
    for i in 0..100u64 {
        let mut c = w.claims(t);
        c["jti"] = json!(i);
        let token = w.issuer.sign(&c);
        assert_eq!(w.http(t.plus_secs(i), &token).await["isAuthorized"], true);
        assert_eq!(w.http(t.plus_secs(i), &token).await["isAuthorized"], true);
    }
    assert_eq!(
        (
            w.jwks_fetches(),
            w.issuer.jwks_requests(),
            w.issuer.discovery_requests()
        ),
        before,
        "0 network calls per request"
    );
    assert_eq!(jwt.remembered(), 100);
    // A remembered token still expires.
    let token = w.issuer.sign(
        &w.issuer
            .access_claims(CLIENT, t.as_secs(), 60, "orders/read"),
    );
    assert_eq!(w.http(t, &token).await["isAuthorized"], true);
    assert_eq!(
        reason(&w.http(t.plus_secs(71), &token).await),
        "jwt_expired"
    );
}

#[tokio::test]
async fn bounded_memory_for_remembered_tokens() {
    let w = world(&[("JWT_CACHE_MAX_ENTRIES", "10")]).await;
    let t = now();
    for i in 0..30u64 {
        let mut c = w.claims(t);
        c["jti"] = json!(i);
        assert_eq!(w.http(t, &w.issuer.sign(&c)).await["isAuthorized"], true);
    }
    assert_eq!(w.authorizer.jwt().unwrap().remembered(), 10);
}

#[tokio::test]
async fn a_failing_issuer_is_served_stale_then_denied_when_the_bound_passes() {
    let w = world(&[
        ("JWKS_CACHE_TTL_SECS", "60"),
        ("JWKS_MAX_STALE_SECS", "120"),
    ])
    .await;
    let t = now();
    w.issuer.set_failing(true);
    let at = |s: u64| t.plus_secs(s);
    let token_at = |s: u64| w.issuer.sign(&w.claims(at(s)));
    // Past the TTL: the refresh fails, the held keys keep serving.
    assert_eq!(w.http(at(61), &token_at(61)).await["isAuthorized"], true);
    let requests = w.issuer.jwks_requests() + w.issuer.discovery_requests();
    // Retries are spaced (JWKS_REFRESH_RETRY_SECS, 10 s), not one per request.
    for _ in 0..20 {
        assert_eq!(w.http(at(62), &token_at(62)).await["isAuthorized"], true);
    }
    assert_eq!(
        w.issuer.jwks_requests() + w.issuer.discovery_requests(),
        requests
    );
    // Past TTL + MAX_STALE: fail closed.
    assert_eq!(
        reason(&w.http(at(181), &token_at(181)).await),
        "jwt_no_keys"
    );
    // The issuer comes back: the next retry loads the keys again.
    w.issuer.set_failing(false);
    assert_eq!(w.http(at(200), &token_at(200)).await["isAuthorized"], true);
}

#[tokio::test]
async fn the_token_never_appears_in_logs_or_metrics() {
    let buffer = SharedBuffer::default();
    let writer = buffer.clone();
    let filter = logging::filter(|name| (name == "RUST_LOG").then(|| "trace".to_owned()));
    let _guard =
        tracing::subscriber::set_default(logging::subscriber(filter, move || writer.clone()));
    let w = world(&[]).await;
    let t = now();
    let good = w.issuer.sign(&w.claims(t));
    let bad = w
        .issuer
        .sign(&w.issuer.access_claims("other", t.as_secs(), 60, "x"));
    assert_eq!(w.http(t, &good).await["isAuthorized"], true);
    assert_eq!(reason(&w.http(t, &bad).await), "jwt_wrong_audience");
    let logs = buffer.take();
    let metrics = String::from_utf8(w.metrics.lock().unwrap().clone()).unwrap();
    assert!(
        metrics.contains("\"Reason\":\"jwt_wrong_audience\""),
        "{metrics}"
    );
    assert!(logs.contains("jwt_wrong_audience"), "{logs}");
    for token in [&good, &bad] {
        // No token, and no part of one (the signature part is the secret-ish bit).
        let signature = token.rsplit('.').next().unwrap();
        for text in [&logs, &metrics] {
            assert!(!text.contains(token.as_str()));
            assert!(!text.contains(signature));
        }
    }
}

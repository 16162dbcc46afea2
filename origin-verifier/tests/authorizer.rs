//! The authorizer end to end: fixture events in, verdict JSON out, keys from moto's
//! Secrets Manager through the real SDK.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

mod common;

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use common::*;
use edgeseal::Stage;
use lambda_runtime::Diagnostic;
use origin_verifier::{
    Authorizer, AuthorizerError, AuthorizerResponse, CountingSource, MetricsSink, SdkSource,
};
use serde_json::{Value, json};

fn to_json(response: &AuthorizerResponse) -> Value {
    serde_json::to_value(response).unwrap()
}

#[test]
fn fixtures_have_the_documented_shapes() {
    let http: ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_value(fixture(Api::Http)).unwrap();
    assert_eq!(http.raw_path.as_deref(), Some("/prod/orders/42"));
    assert_eq!(http.request_context.http.method.as_str(), "GET");
    let rest: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_value(fixture(Api::Rest)).unwrap();
    assert_eq!(rest.method_arn.as_deref(), Some(REST_METHOD_ARN));
    assert_eq!(
        rest.request_context.path.as_deref(),
        Some("/prod/orders/42")
    );
}

#[tokio::test]
async fn http_api_simple_response_allows_current_key_with_context() {
    let client = sm_client().await;
    let k = key(1);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, _) = authorizer(&config(&name, &[])).await;
    let t = now();

    let response = authorizer
        .handle_at(t, &signed(Api::Http, &v1, &k, t.minus_secs(3)))
        .await
        .unwrap();
    let v = to_json(&response);
    assert_eq!(
        v,
        json!({"isAuthorized": true, "context": {
            "scheme": "signature", "keyid": v1, "stage": "current", "signatureAge": 3}})
    );
    let typed: ApiGatewayV2CustomAuthorizerSimpleResponse = serde_json::from_value(v).unwrap();
    assert!(typed.is_authorized);

    // A signature under another key: a 403, reason in the context.
    let denied = authorizer
        .handle_at(t, &signed(Api::Http, &v1, &key(2), t))
        .await
        .unwrap();
    assert_eq!(
        to_json(&denied),
        json!({"isAuthorized": false, "context": {"reason": "bad_signature"}})
    );
    // No signature at all on an HTTP API: isAuthorized false (API Gateway itself answers
    // 401 before invoking when the identity source is missing).
    let missing = authorizer
        .handle_at(t, &event(Api::Http, &[]))
        .await
        .unwrap();
    assert_eq!(
        to_json(&missing),
        json!({"isAuthorized": false, "context": {"reason": "missing"}})
    );
}

#[tokio::test]
async fn http_api_iam_mode_returns_a_policy_on_the_route_arn() {
    let client = sm_client().await;
    let k = key(3);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, _) = authorizer(&config(&name, &[("RESPONSE_MODE", "iam")])).await;
    let t = now();
    let v = to_json(
        &authorizer
            .handle_at(t, &signed(Api::Http, &v1, &k, t))
            .await
            .unwrap(),
    );
    assert_eq!(
        v,
        json!({"principalId": "edgeseal",
               "policyDocument": {"Version": "2012-10-17", "Statement": [
                   {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": HTTP_ROUTE_ARN}]},
               "context": {"scheme": "signature", "keyid": v1, "stage": "current", "signatureAge": 0}})
    );
    let typed: ApiGatewayV2CustomAuthorizerIamPolicyResponse = serde_json::from_value(v).unwrap();
    assert_eq!(typed.policy_document.statement.len(), 1);
}

#[tokio::test]
async fn rest_api_allow_deny_and_unauthorized() {
    let client = sm_client().await;
    let k = key(4);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, _) = authorizer(&config(&name, &[])).await;
    let t = now();

    // The REST event has only decoded, regrouped query parameters; the canonical form
    // makes the edge's signature over the raw query verify anyway.
    let allow = to_json(
        &authorizer
            .handle_at(t, &signed(Api::Rest, &v1, &k, t.minus_secs(1)))
            .await
            .unwrap(),
    );
    assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        allow["policyDocument"]["Statement"][0]["Resource"],
        REST_METHOD_ARN
    );
    assert_eq!(allow["context"]["signatureAge"], 1);
    let typed: ApiGatewayCustomAuthorizerResponse = serde_json::from_value(allow).unwrap();
    assert_eq!(typed.principal_id.as_deref(), Some("edgeseal"));

    // Too old: Deny (403).
    let old = to_json(
        &authorizer
            .handle_at(t, &signed(Api::Rest, &v1, &k, t.minus_secs(301)))
            .await
            .unwrap(),
    );
    assert_eq!(old["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(old["context"], json!({"reason": "too_old"}));

    // No signature: the Lambda error whose message is exactly "Unauthorized" (401).
    let err = authorizer
        .handle_at(t, &event(Api::Rest, &[]))
        .await
        .unwrap_err();
    assert_eq!(err, AuthorizerError::Unauthorized);
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_message, "Unauthorized");
    assert_eq!(
        serde_json::to_value(&diagnostic).unwrap(),
        json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"})
    );

    // Only half a signature is a bad request, not a missing one: Deny.
    let half = sign(&v1, &k, t);
    let unpaired = to_json(
        &authorizer
            .handle_at(t, &event(Api::Rest, &half[..1]))
            .await
            .unwrap(),
    );
    assert_eq!(unpaired["context"]["reason"], "unpaired");
}

#[tokio::test]
async fn path_prefix_restores_a_base_path_the_authorizer_does_not_see() {
    let client = sm_client().await;
    let k = key(5);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, _) = authorizer(&config(&name, &[("PATH_PREFIX", "/prod")])).await;
    let t = now();
    // API Gateway reports /orders/42 (say, a custom domain whose mapping hides the
    // prefix) while CloudFront sent, and the edge signed, /prod/orders/42.
    let mut v = event_value(Api::Http, &sign(&v1, &k, t));
    v["rawPath"] = json!("/orders/42");
    let response = authorizer
        .handle_at(t, &serde_json::from_value(v.clone()).unwrap())
        .await
        .unwrap();
    assert!(response.is_allowed());
    // Without the prefix the same event fails.
    let (plain, _) = authorizer_for(&name).await;
    let response = plain
        .handle_at(t, &serde_json::from_value(v).unwrap())
        .await
        .unwrap();
    assert_eq!(response.context().reason, Some("bad_signature"));
}

#[tokio::test]
async fn signatures_covering_more_headers_verify() {
    use edgeseal::{Component, KeyId, REQUIRED_COMPONENTS, SignatureParams, sign_with};
    let client = sm_client().await;
    let k = key(8);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, _) = authorizer_for(&name).await;
    let t = now();
    let cf_id = "nBsWBOrSHMgnaROZJK1wGCZ9PcRcSpq_oSXZNQwQ10OTZL4cimZo3g==";
    let mut components = REQUIRED_COMPONENTS.to_vec();
    components.push(Component::header("x-amz-cf-id").unwrap());
    let params = SignatureParams {
        created: t,
        expires: None,
        keyid: KeyId::new(v1.as_str()).unwrap(),
        alg: true,
        nonce: None,
        tag: Some("edgeseal".to_owned()),
    };
    let view = edge_view().with_header("x-amz-cf-id", cf_id);
    let fields = sign_with("edgeseal", &k, &view, &components, &params).unwrap();
    let headers = [
        header("Signature-Input", fields.signature_input()),
        header("Signature", fields.signature()),
    ];
    for api in [Api::Http, Api::Rest] {
        let r = authorizer
            .handle_at(t, &event(api, &headers))
            .await
            .unwrap();
        assert!(r.is_allowed(), "{api:?}: {:?}", r.context());
    }
    // The covered header altered: refused.
    let mut v = event_value(Api::Http, &headers);
    v["headers"]["x-amz-cf-id"] = json!("forged");
    let r = authorizer
        .handle_at(t, &serde_json::from_value(v).unwrap())
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("bad_signature"));
}

async fn authorizer_for(name: &str) -> (Authorizer<Counted>, Counted) {
    authorizer(&config(name, &[])).await
}

#[tokio::test]
async fn missing_pending_is_normal_and_an_unknown_key_is_denied_not_raised() {
    let client = sm_client().await;
    let k = key(6);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, source) = authorizer_for(&name).await;
    let t = now();
    let snapshot = authorizer.cache().refresh_at(t).await.unwrap();
    assert_eq!(
        snapshot.keys().stages().map(|(_, s)| s).collect::<Vec<_>>(),
        vec![Stage::Current]
    );
    // A key id the secret does not have, with a wrong key: a Deny, never an error.
    let response = authorizer
        .handle_at(
            t,
            &signed(
                Api::Rest,
                "0b1f6c5e-1111-4222-8333-944455556666",
                &key(7),
                t,
            ),
        )
        .await
        .unwrap();
    assert_eq!(response.context().reason, Some("unknown_key"));
    // The right key id with a wrong key.
    let response = authorizer
        .handle_at(t, &signed(Api::Rest, &v1, &key(7), t))
        .await
        .unwrap();
    assert_eq!(response.context().reason, Some("bad_signature"));
    // And the unknown key id cost one listing, no read of a value.
    assert_eq!(source.list_calls(), 2);
    assert_eq!(source.get_calls(), 1);
}

#[tokio::test]
async fn staging_labels_move_while_requests_are_verified() {
    let client = sm_client().await;
    let (k1, k2) = (key(11), key(12));
    let (name, v1) = create_secret(&client, &hmac_json(&k1)).await;
    let grace = origin_verifier::Config::DEFAULT_PREVIOUS_KEY_GRACE_SECS;
    let (authorizer, source) = authorizer(&config(&name, &[("CACHE_TTL_SECS", "60")])).await;
    let t0 = now();
    let allowed = |r: AuthorizerResponse| r.context().stage.map(str::to_owned);

    // Steady state: v1 current.
    let r = authorizer
        .handle_at(t0, &signed(Api::Http, &v1, &k1, t0))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("current"));

    // createSecret: v2 appears as AWSPENDING; the edge starts signing with it before the
    // TTL runs out. The unknown keyid makes the cache look, once.
    let v2 = put_pending(&client, &name, &hmac_json(&k2)).await;
    let before = source.calls();
    let t1 = t0.plus_secs(5);
    let r = authorizer
        .handle_at(t1, &signed(Api::Http, &v2, &k2, t1))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("pending"));
    assert_eq!(source.calls() - before, 2, "one listing + one read of v2");
    // Both keys are accepted during the rotation, with no further calls.
    for _ in 0..100 {
        assert!(
            authorizer
                .handle_at(t1, &signed(Api::Http, &v1, &k1, t1))
                .await
                .unwrap()
                .is_allowed()
        );
        assert!(
            authorizer
                .handle_at(t1, &signed(Api::Http, &v2, &k2, t1))
                .await
                .unwrap()
                .is_allowed()
        );
    }
    assert_eq!(source.calls() - before, 2);

    // finishSecret: v2 current, v1 previous. Until the TTL the cache still says
    // pending for v2, which is accepted all the same.
    promote(&client, &name, &v2, &v1).await;
    let r = authorizer
        .handle_at(t1.plus_secs(1), &signed(Api::Http, &v2, &k2, t1))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("pending"));

    // The TTL refresh (t0 + 60, counted from the unknown-keyid refresh at t1) sees the
    // move: v1 is demoted as of that refresh, and accepted for the grace after it.
    let t2 = t1.plus_secs(60);
    let r = authorizer
        .handle_at(t2, &signed(Api::Http, &v2, &k2, t2))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("current"));
    let r = authorizer
        .handle_at(t2, &signed(Api::Http, &v1, &k1, t2))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("previous"));

    // Exactly at the end of the grace it is refused; a second earlier it is accepted.
    let last = t2.plus_secs(grace - 1);
    let r = authorizer
        .handle_at(last, &signed(Api::Http, &v1, &k1, last))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("previous"));
    let end = t2.plus_secs(grace);
    let r = authorizer
        .handle_at(end, &signed(Api::Http, &v1, &k1, end))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("previous_key_retired"));
    let r = authorizer
        .handle_at(end, &signed(Api::Http, &v2, &k2, end))
        .await
        .unwrap();
    assert_eq!(allowed(r).as_deref(), Some("current"));
}

#[tokio::test]
async fn cold_start_counts_the_previous_grace_from_the_current_versions_creation() {
    let client = sm_client().await;
    let (k1, k2) = (key(21), key(22));
    let (name, v1) = create_secret(&client, &hmac_json(&k1)).await;
    let v2 = put_pending(&client, &name, &hmac_json(&k2)).await;
    promote(&client, &name, &v2, &v1).await;
    let created = created_date(&client, &name, &v2).await;
    // The authorizers below list the versions in a later second than v2 was created, as
    // a cold start after a rotation does: the creation date they see must not move.
    let into_second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(
        1_050 - into_second,
    )))
    .await;

    // A fresh execution environment never saw v1 as current: the rotation began when v2
    // was created, so v1 cannot have been demoted earlier; the grace counts from there.
    let (authorizer, _) = authorizer(&config(&name, &[("PREVIOUS_KEY_GRACE_SECS", "600")])).await;
    // The last second inside the grace. (`created` and the cache's listing agree because
    // the test source lists creation dates as AWS does; moto lists the listing's time,
    // which made this test fail when the two calls fell in different seconds.)
    let inside = created.plus_secs(599);
    let r = authorizer
        .handle_at(inside, &signed(Api::Rest, &v1, &k1, inside))
        .await
        .unwrap();
    assert_eq!(r.context().stage, Some("previous"));
    // A second cold environment, past the grace: v1 refused, v2 fine.
    let (late, _) = common::authorizer(&config(&name, &[("PREVIOUS_KEY_GRACE_SECS", "600")])).await;
    let past = created.plus_secs(600);
    let r = late
        .handle_at(past, &signed(Api::Rest, &v1, &k1, past))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("previous_key_retired"));
    let r = late
        .handle_at(past, &signed(Api::Rest, &v2, &k2, past))
        .await
        .unwrap();
    assert_eq!(r.context().stage, Some("current"));
}

#[tokio::test]
async fn unknown_keyids_refresh_at_most_once_per_interval() {
    let client = sm_client().await;
    let k = key(31);
    let (name, _) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, source) =
        authorizer(&config(&name, &[("UNKNOWN_KEY_MIN_INTERVAL_SECS", "10")])).await;
    let t = now();
    authorizer.cache().refresh_at(t).await.unwrap();
    let before = source.calls();
    // An attacker inventing key ids: one listing in the interval, whatever the rate.
    for i in 0..200u32 {
        let keyid = format!("forged-{i}");
        let r = authorizer
            .handle_at(
                t.plus_secs(u64::from(i % 10)),
                &signed(Api::Http, &keyid, &k, t),
            )
            .await
            .unwrap();
        assert_eq!(r.context().reason, Some("unknown_key"));
    }
    assert_eq!(source.calls() - before, 1);
    // The next interval allows one more.
    let later = t.plus_secs(10);
    authorizer
        .handle_at(later, &signed(Api::Http, "forged-x", &k, later))
        .await
        .unwrap();
    assert_eq!(source.calls() - before, 2);
}

#[tokio::test]
async fn no_secrets_manager_call_per_request_in_steady_state() {
    let client = sm_client().await;
    let k = key(41);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let (authorizer, source) = authorizer_for(&name).await;
    let t = now();
    authorizer
        .handle_at(t, &signed(Api::Http, &v1, &k, t))
        .await
        .unwrap();
    let warm = source.calls();
    let event = signed(Api::Http, &v1, &k, t);
    for i in 0..10_000u64 {
        // Spread over four minutes: inside one TTL (300 s).
        let at = t.plus_secs(i / 50);
        assert!(authorizer.handle_at(at, &event).await.unwrap().is_allowed());
    }
    println!(
        "secrets manager calls per 10,000 requests after warm-up: {}",
        source.calls() - warm
    );
    assert_eq!(source.calls(), warm);
}

#[tokio::test]
async fn unreachable_secrets_manager_on_cold_start_denies() {
    let client = sm_client_for(&closed_port_url()).await;
    let source = CountingSource::new(SdkSource::new(client));
    let authorizer = Authorizer::new(
        &config("edgeseal/unreachable", &[]),
        source.clone(),
        MetricsSink::Discard,
    )
    .unwrap();
    let t = now();
    let k = key(51);
    let started = std::time::Instant::now();
    let r = authorizer
        .handle_at(t, &signed(Api::Rest, "v1", &k, t))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("no_keys"));
    assert!(!r.is_allowed());
    // The failed refresh is not retried on every request: the next one waits.
    let calls = source.calls();
    for _ in 0..50 {
        authorizer
            .handle_at(t.plus_secs(1), &signed(Api::Rest, "v1", &k, t))
            .await
            .unwrap();
    }
    assert!(source.calls() <= calls + 1, "{} calls", source.calls());
    eprintln!("cold unreachable path took {:?}", started.elapsed());
}

#[tokio::test]
async fn outage_with_a_warm_cache_serves_stale_keys_then_fails_closed() {
    let client = sm_client().await;
    let k = key(61);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    let cfg = config(
        &name,
        &[
            ("CACHE_TTL_SECS", "60"),
            ("MAX_STALE_SECS", "600"),
            ("REFRESH_RETRY_SECS", "5"),
        ],
    );
    let (authorizer, source) = authorizer(&cfg).await;
    let t = now();
    assert!(
        authorizer
            .handle_at(t, &signed(Api::Http, &v1, &k, t))
            .await
            .unwrap()
            .is_allowed()
    );

    source.inner().set_failing(true);
    // Past the TTL the refresh fails; the cached key still serves, and failed refreshes
    // are retried every 5 s, not on every request.
    let before = source.calls();
    for s in 60..70 {
        let at = t.plus_secs(s);
        let r = authorizer
            .handle_at(at, &signed(Api::Http, &v1, &k, at))
            .await
            .unwrap();
        assert!(r.is_allowed(), "stale keys serve at +{s}");
    }
    assert_eq!(source.calls() - before, 2, "attempts at +60 and +65");
    // Last second of TTL + max stale: still served. At the limit: dropped, denied.
    let last = t.plus_secs(60 + 600 - 1);
    assert!(
        authorizer
            .handle_at(last, &signed(Api::Http, &v1, &k, last))
            .await
            .unwrap()
            .is_allowed()
    );
    let limit = t.plus_secs(60 + 600);
    let r = authorizer
        .handle_at(limit, &signed(Api::Http, &v1, &k, limit))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("no_keys"));

    // Secrets Manager back: the next attempt restores service.
    source.inner().set_failing(false);
    let back = limit.plus_secs(5);
    assert!(
        authorizer
            .handle_at(back, &signed(Api::Http, &v1, &k, back))
            .await
            .unwrap()
            .is_allowed()
    );
}

#[tokio::test]
async fn by_default_a_warm_cache_rides_out_a_day_long_outage() {
    let client = sm_client().await;
    let k = key(62);
    let (name, v1) = create_secret(&client, &hmac_json(&k)).await;
    // Nothing but SECRET_ID: the defaults a deployment gets.
    let cfg = config(&name, &[]);
    let ttl = origin_verifier::Config::DEFAULT_CACHE_TTL_SECS;
    let (authorizer, source) = authorizer(&cfg).await;
    let t = now();
    let allowed = |at: edgeseal::UnixTime| {
        let event = signed(Api::Http, &v1, &k, at);
        let authorizer = &authorizer;
        async move { authorizer.handle_at(at, &event).await.unwrap() }
    };
    assert!(allowed(t).await.is_allowed());

    // Secrets Manager down for a day (a long regional outage): the keys held keep
    // serving until TTL + MAX_STALE_SECS, 24 hours by default, then the cache fails
    // closed.
    source.inner().set_failing(true);
    for hours in [1, 6, 12, 23] {
        let at = t.plus_secs(ttl + hours * 3600);
        assert!(allowed(at).await.is_allowed(), "{hours} h into the outage");
    }
    let last = t.plus_secs(ttl + 86_400 - 1);
    assert!(
        allowed(last).await.is_allowed(),
        "the last second of the stale limit"
    );
    let limit = t.plus_secs(ttl + 86_400);
    assert_eq!(allowed(limit).await.context().reason, Some("no_keys"));
}

#[tokio::test]
async fn malformed_secret_versions_are_ignored_and_fail_closed() {
    let client = sm_client().await;
    let (name, v1) = create_secret(&client, "this is not json").await;
    let (authorizer, _) = authorizer_for(&name).await;
    let t = now();
    let r = authorizer
        .handle_at(t, &signed(Api::Http, &v1, &key(71), t))
        .await
        .unwrap();
    assert!(!r.is_allowed());
    assert_eq!(r.context().reason, Some("no_keys"));

    // A good pending version next to the malformed current one works; the malformed
    // one stays refused.
    let k2 = key(72);
    let v2 = put_pending(&client, &name, &hmac_json(&k2)).await;
    let t1 = t.plus_secs(20);
    let r = authorizer
        .handle_at(t1, &signed(Api::Http, &v2, &k2, t1))
        .await
        .unwrap();
    assert_eq!(r.context().stage, Some("pending"));
    let r = authorizer
        .handle_at(t1, &signed(Api::Http, &v1, &key(71), t1))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("unknown_key"));

    // Valid JSON of the wrong shape, and a bad key encoding, are refused the same way.
    for bad in [
        r#"{"alg":"hmac-sha256","key":"!!!"}"#,
        r#"{"unrelated":1}"#,
        r#"{"alg":"hmac-sha256","key":"AAAA"}"#,
    ] {
        let (name, v) = create_secret(&client, bad).await;
        let (authorizer, _) = authorizer_for(&name).await;
        let r = authorizer
            .handle_at(t, &signed(Api::Rest, &v, &key(73), t))
            .await
            .unwrap();
        assert_eq!(r.context().reason, Some("no_keys"), "{bad}");
    }
}

#[tokio::test]
async fn static_header_mode_is_compatible_with_the_static_authorizers() {
    let client = sm_client().await;
    let (name, v1) = create_secret(&client, &static_json("HTTP_API_KEY", "old-value-1")).await;
    let v2 = put_pending(&client, &name, &static_json("HTTP_API_KEY", "new-value-2")).await;
    let (authorizer, _) = authorizer(&config(&name, &[("AUTH_MODE", "static-header")])).await;
    let t = now();

    for (value, keyid, stage) in [
        ("old-value-1", &v1, "current"),
        ("new-value-2", &v2, "pending"),
    ] {
        let r = authorizer
            .handle_at(t, &event(Api::Rest, &[header("X-Origin-Verify", value)]))
            .await
            .unwrap();
        assert!(r.is_allowed());
        assert_eq!(r.context().keyid.as_deref(), Some(keyid.as_str()));
        assert_eq!(r.context().stage, Some(stage));
        assert_eq!(r.context().scheme, Some("static-header"));
    }
    // Wrong value: 403; no header: 401 (as the AWS blog's authorizer).
    let r = authorizer
        .handle_at(
            t,
            &event(Api::Rest, &[header("x-origin-verify", "old-value-")]),
        )
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("static_header_mismatch"));
    assert_eq!(
        authorizer
            .handle_at(t, &event(Api::Rest, &[]))
            .await
            .unwrap_err(),
        AuthorizerError::Unauthorized
    );
    // A signature is no credential in this mode.
    let r = authorizer
        .handle_at(t, &signed(Api::Http, &v1, &key(1), t))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("static_header_missing"));

    // SECRET_NAME / SECRET_KEY_NAME / HEADER_NAME as the Python authorizer reads them.
    let (name, _) = create_secret(&client, &static_json("my_key", "custom-value")).await;
    let mut map = std::collections::HashMap::new();
    map.insert("SECRET_NAME", name.as_str());
    map.insert("SECRET_KEY_NAME", "my_key");
    map.insert("HEADER_NAME", "X-Custom-Verify");
    map.insert("AUTH_MODE", "static-header");
    let cfg =
        origin_verifier::Config::from_lookup(|n| map.get(n).map(|v| (*v).to_owned())).unwrap();
    let (custom, _) = common::authorizer(&cfg).await;
    let r = custom
        .handle_at(
            t,
            &event(Api::Http, &[header("x-custom-verify", "custom-value")]),
        )
        .await
        .unwrap();
    assert!(r.is_allowed());
}

#[tokio::test]
async fn migration_mode_accepts_either_credential() {
    let client = sm_client().await;
    // The user's static-header secret, rotated to an edgeseal key: the static value is
    // current, the signing key pending (then current).
    let (name, v1) = create_secret(&client, &static_json("HEADERVALUE", "legacy-value")).await;
    let k2 = key(81);
    let v2 = put_pending(&client, &name, &hmac_json(&k2)).await;
    let (authorizer, _) = authorizer(&config(&name, &[("AUTH_MODE", "migration")])).await;
    let t = now();

    let r = authorizer
        .handle_at(
            t,
            &event(Api::Rest, &[header("x-origin-verify", "legacy-value")]),
        )
        .await
        .unwrap();
    assert_eq!(r.context().scheme, Some("static-header"));
    assert_eq!(r.context().keyid.as_deref(), Some(v1.as_str()));
    let r = authorizer
        .handle_at(t, &signed(Api::Rest, &v2, &k2, t))
        .await
        .unwrap();
    assert_eq!(r.context().scheme, Some("signature"));
    // Both at once (the edge signs while CloudFront still adds the header): allowed.
    let mut both = sign(&v2, &k2, t).to_vec();
    both.push(header("x-origin-verify", "legacy-value"));
    assert!(
        authorizer
            .handle_at(t, &event(Api::Http, &both))
            .await
            .unwrap()
            .is_allowed()
    );
    // A wrong header and a bad signature: the signature's reason.
    let mut bad = sign(&v2, &key(82), t).to_vec();
    bad.push(header("x-origin-verify", "nope"));
    let r = authorizer
        .handle_at(t, &event(Api::Rest, &bad))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("bad_signature"));
    // A wrong header alone: the header's reason.
    let r = authorizer
        .handle_at(t, &event(Api::Rest, &[header("x-origin-verify", "nope")]))
        .await
        .unwrap();
    assert_eq!(r.context().reason, Some("static_header_mismatch"));
    // Nothing at all: 401.
    assert_eq!(
        authorizer
            .handle_at(t, &event(Api::Rest, &[]))
            .await
            .unwrap_err(),
        AuthorizerError::Unauthorized
    );
}

#[tokio::test]
async fn unrecognised_events_are_errors_and_counted() {
    let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = sm_client_for(&closed_port_url()).await;
    let authorizer = Authorizer::new(
        &config("x", &[]),
        SdkSource::new(client),
        MetricsSink::Buffer(Arc::clone(&buffer)),
    )
    .unwrap();
    let token: origin_verifier::AuthorizerEvent = serde_json::from_value(json!({
        "type": "TOKEN", "authorizationToken": "x", "methodArn": REST_METHOD_ARN}))
    .unwrap();
    let err = authorizer.handle_at(now(), &token).await.unwrap_err();
    assert!(matches!(err, AuthorizerError::BadEvent(_)));
    assert_eq!(Diagnostic::from(err).error_type, "BadEvent");
    let lines = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    let line: Value = serde_json::from_str(lines.trim()).unwrap();
    assert_eq!(line["Verdict"], "deny");
    assert_eq!(line["Reason"], "bad_event");
}

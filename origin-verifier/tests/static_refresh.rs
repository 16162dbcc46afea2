//! Static-header mode: a value staged AWSPENDING after the cache loaded is accepted at
//! once, as an unknown signature keyid is, through one rate-limited refresh. Without it
//! the rotator's own origin test right after createSecret (and every request during a
//! rotation by any other static-header rotator) was denied until the next TTL refresh
//! (default 300 s); the Python authorizer this replaces reads the secret per request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;

#[tokio::test]
async fn a_freshly_staged_static_value_is_accepted_through_one_rate_limited_refresh() {
    let client = sm_client().await;
    let (name, _) = create_secret(&client, &static_json("HTTP_API_KEY", "old-value-1")).await;
    let cfg = config(
        &name,
        &[
            ("AUTH_MODE", "static-header"),
            ("UNKNOWN_KEY_MIN_INTERVAL_SECS", "10"),
        ],
    );
    let (authorizer, source) = authorizer(&cfg).await;
    let t = now();
    let ask = |value: &'static str, at| {
        let authorizer = &authorizer;
        async move {
            authorizer
                .handle_at(at, &event(Api::Http, &[header("x-origin-verify", value)]))
                .await
                .unwrap()
        }
    };
    assert!(ask("old-value-1", t).await.is_allowed());
    let loaded = source.list_calls();

    // A rotation stages a new value after the cache loaded (within the TTL).
    let v2 = put_pending(&client, &name, &static_json("HTTP_API_KEY", "new-value-2")).await;
    let r = ask("new-value-2", t.plus_secs(1)).await;
    assert!(r.is_allowed(), "{:?}", r.context().reason);
    assert_eq!(r.context().keyid.as_deref(), Some(v2.as_str()));
    assert_eq!(r.context().stage, Some("pending"));
    assert_eq!(source.list_calls(), loaded + 1, "one refresh");

    // Wrong values cannot drive Secrets Manager traffic: at most one on-demand refresh
    // per interval (shared with unknown key ids).
    for n in 0..50 {
        let r = ask("wrong-value", t.plus_secs(2 + n % 5)).await;
        assert_eq!(r.context().reason, Some("static_header_mismatch"));
    }
    assert_eq!(
        source.list_calls(),
        loaded + 1,
        "rate-limited within the interval"
    );
    for n in 0..50 {
        let r = ask("wrong-value", t.plus_secs(12 + n % 5)).await;
        assert_eq!(r.context().reason, Some("static_header_mismatch"));
    }
    assert_eq!(
        source.list_calls(),
        loaded + 2,
        "one refresh in the next interval"
    );
}

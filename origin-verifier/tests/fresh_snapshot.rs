//! `KeyCache::fresh_snapshot_at`, the read a server's requests make without the cache's
//! lock, against `snapshot_at`, second by second through a TTL, a Secrets Manager outage
//! with its retries, the stale limit, and the recovery: whenever the lock-free read
//! answers, `snapshot_at` at the same instant makes no call and hands out the same
//! snapshot; once the keys are past the stale limit, it answers nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::sync::Arc;

use common::*;
use origin_verifier::{CacheSettings, CountingSource, KeyCache};

/// CACHE_TTL_SECS 60, REFRESH_RETRY_SECS 5, MAX_STALE_SECS 600; Secrets Manager fails
/// from +70 to +760. The last refresh that succeeds before the outage is at +60, so the
/// keys are dropped at +60 + 60 + 600 = +720.
const OUTAGE: std::ops::Range<u64> = 70..760;
const DROPPED_FROM: u64 = 720;
const END: u64 = 800;

#[tokio::test]
async fn the_lock_free_read_is_snapshot_at_whenever_no_refresh_is_due() {
    let client = sm_client().await;
    let (name, _) = create_secret(&client, &hmac_json(&key(91))).await;
    let cfg = config(
        &name,
        &[
            ("CACHE_TTL_SECS", "60"),
            ("REFRESH_RETRY_SECS", "5"),
            ("MAX_STALE_SECS", "600"),
        ],
    );
    let source = Arc::new(CountingSource::new(Flaky::new(client)));
    let cache = KeyCache::new(Arc::clone(&source), CacheSettings::from_config(&cfg));
    let t = now();
    assert!(cache.fresh_snapshot_at(t).is_none(), "nothing held yet");
    cache.refresh_at(t).await.unwrap();

    let (mut answered, mut served_without_a_call, mut attempts) = (0, 0, 0);
    for s in 0..END {
        source.inner().set_failing(OUTAGE.contains(&s));
        let at = t.plus_secs(s);
        let fast = cache.fresh_snapshot_at(at);
        let calls = source.calls();
        let slow = cache.snapshot_at(at).await;
        let called = source.calls() > calls;
        attempts += u64::from(called);
        served_without_a_call += u64::from(!called && slow.is_some());
        if let Some(fast) = &fast {
            answered += 1;
            assert!(!called, "+{s}: answered while a refresh was due");
            let slow = slow
                .as_ref()
                .unwrap_or_else(|| panic!("+{s}: snapshot_at holds no keys"));
            assert!(Arc::ptr_eq(fast, slow), "+{s}: another snapshot");
        }
        if (DROPPED_FROM..OUTAGE.end).contains(&s) {
            assert!(fast.is_none(), "+{s}: keys past the stale limit");
            assert!(slow.is_none(), "+{s}: snapshot_at past the stale limit");
        }
    }
    // It answers exactly when snapshot_at serves the keys it holds without a call.
    assert_eq!(answered, served_without_a_call);
    // Attempts: +60 (succeeds), +120 to +755 every 5 s (128, failing), +760 (back).
    assert_eq!(attempts, 130);
    // The seconds before +720 less their 121 attempts (599), and +761 to +799 (39).
    assert_eq!(answered, 638);
}

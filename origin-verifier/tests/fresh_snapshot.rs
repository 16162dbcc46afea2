//! `KeyCache::fresh_snapshot_at`, the read a server's requests make without the cache's
//! lock, against `snapshot_at`, second by second through a TTL, a Secrets Manager outage
//! with its retries, the stale limit, and the recovery: whenever the lock-free read
//! answers, `snapshot_at` at the same instant makes no call and hands out the same
//! snapshot; once the keys are past the stale limit, it answers nothing. And while one
//! request's refresh is slow, the others go on with the keys held.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use origin_verifier::{
    CacheSettings, CountingSource, KeyCache, SdkSource, SecretsSource, SourceError, VersionInfo,
};
use zeroize::Zeroizing;

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
    let source = CountingSource::new(Flaky::new(client));
    let cache = KeyCache::new(source.clone(), CacheSettings::from_config(&cfg));
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

/// A source whose listings wait until the test opens the gate: a refresh that is slow
/// (Secrets Manager answering near `SECRETS_MANAGER_TIMEOUT_MS`).
struct Gated<S> {
    inner: S,
    open: tokio::sync::watch::Receiver<bool>,
}

impl<S: SecretsSource> SecretsSource for Gated<S> {
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        let mut open = self.open.clone();
        open.wait_for(|open| *open).await.unwrap();
        self.inner.list_versions(secret_id).await
    }

    async fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        self.inner.get_version(secret_id, version_id).await
    }
}

#[tokio::test]
async fn a_slow_refresh_holds_up_only_the_request_that_runs_it() {
    let client = sm_client().await;
    let (name, _) = create_secret(&client, &hmac_json(&key(92))).await;
    let cfg = config(&name, &[("CACHE_TTL_SECS", "60")]);
    let (gate, open) = tokio::sync::watch::channel(true);
    let source = Gated {
        inner: SdkSource::new(client),
        open,
    };
    let cache = KeyCache::new(source, CacheSettings::from_config(&cfg));
    let t = now();
    let held = cache.refresh_at(t).await.unwrap();

    // At the end of the TTL one request refreshes, slowly; the others go on with the
    // keys held, without the lock.
    gate.send_replace(false);
    let due = t.plus_secs(60);
    assert!(cache.fresh_snapshot_at(due).is_none(), "a refresh is due");
    let mut refresh = std::pin::pin!(cache.snapshot_at(due));
    let waited = tokio::time::timeout(Duration::from_millis(200), refresh.as_mut()).await;
    assert!(waited.is_err(), "the refresh waits on the gate");
    let meanwhile = cache
        .fresh_snapshot_at(due.plus_secs(1))
        .expect("held keys meanwhile");
    assert!(Arc::ptr_eq(&meanwhile, &held));
    gate.send_replace(true);
    let fresh = refresh.await.expect("refreshed");
    assert!(!Arc::ptr_eq(&fresh, &held), "a new snapshot");
    let after = cache
        .fresh_snapshot_at(due.plus_secs(1))
        .expect("fresh after");
    assert!(Arc::ptr_eq(&after, &fresh));

    // A refresh abandoned midway (its request's future dropped): the lock-free read
    // stops answering, so the next request refreshes rather than serve the held keys
    // until their stale limit.
    gate.send_replace(false);
    let due = due.plus_secs(60);
    {
        let mut abandoned = std::pin::pin!(cache.snapshot_at(due));
        let waited = tokio::time::timeout(Duration::from_millis(200), abandoned.as_mut()).await;
        assert!(waited.is_err());
        assert!(
            cache.fresh_snapshot_at(due).is_some(),
            "held keys while it runs"
        );
    }
    assert!(
        cache.fresh_snapshot_at(due.plus_secs(1)).is_none(),
        "abandoned"
    );
    gate.send_replace(true);
    let next = cache
        .snapshot_at(due.plus_secs(1))
        .await
        .expect("refreshed");
    assert!(!Arc::ptr_eq(&next, &fresh));
    assert!(cache.fresh_snapshot_at(due.plus_secs(2)).is_some());
}

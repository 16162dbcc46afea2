//! The cache's rules, second by second: an in-memory [`SecretsSource`] (versions, labels,
//! dates and failures set by each test), counted by [`CountingSource`], and `now` passed
//! in by the test. Against moto, through the real SDK, the same rules are exercised by
//! `tests/fresh_snapshot.rs`, `tests/cold_start.rs` and `tests/authorizer.rs`.

mod memory;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use edgeseal::{Rejection, Stage, UnixTime};

use self::memory::{Memory, Version, hmac, static_value};
use super::*;

/// TTL 60 s, retry 5 s, stale 600 s (keys dropped 660 s after the last success),
/// on-demand refreshes 10 s apart, AWSPREVIOUS grace one hour.
const TTL: u64 = 60;
const RETRY: u64 = 5;
const STALE: u64 = 600;
const ON_DEMAND: u64 = 10;
const GRACE: u64 = 3600;

/// The test's clock: `s` seconds after an arbitrary start.
fn at(s: u64) -> UnixTime {
    UnixTime::from_secs(1_800_000_000 + s)
}

fn settings() -> CacheSettings {
    CacheSettings {
        secret_id: "test/secret".to_owned(),
        secret_key_name: None,
        ttl_secs: TTL,
        max_stale_secs: STALE,
        retry_secs: RETRY,
        unknown_key_min_interval_secs: ON_DEMAND,
        previous_grace_secs: GRACE,
    }
}

type Source = CountingSource<Memory>;

fn cache(versions: Vec<Version>) -> (KeyCache<Source>, Source) {
    let memory = Memory::default();
    memory.set(|w| w.versions = versions);
    let source = CountingSource::new(memory);
    (KeyCache::new(source.clone(), settings()), source)
}

/// The stage `keyid` is accepted as at `now`, or why not.
fn accepted(snapshot: &Snapshot, keyid: &str, now: UnixTime) -> Result<Stage, Rejection> {
    snapshot.keys().find_at(keyid, now).map(|(_, stage)| stage)
}

/// Poll once, with nobody to wake: the cache's own futures only wait on the source.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn the_first_request_loads_each_labelled_version_once() {
    let (cache, source) = cache(vec![
        hmac("v-current", &["AWSCURRENT"], 0),
        hmac("v-pending", &["AWSPENDING"], 0),
        hmac("v-unlabelled", &["SOMETHING-ELSE"], 0),
    ]);
    assert!(cache.fresh_snapshot_at(at(0)).is_none(), "nothing held yet");
    assert_eq!(source.calls(), 0, "a new cache makes no call");

    let snapshot = cache.snapshot_at(at(0)).await.expect("loaded");
    assert_eq!(accepted(&snapshot, "v-current", at(0)), Ok(Stage::Current));
    assert_eq!(accepted(&snapshot, "v-pending", at(0)), Ok(Stage::Pending));
    assert!(!snapshot.keys().contains("v-unlabelled"));
    assert_eq!(snapshot.refreshed_at(), Some(at(0)));
    // One listing; AWSCURRENT read by its label alongside it, AWSPENDING by id.
    assert_eq!((source.list_calls(), source.get_calls()), (1, 2));
    assert_eq!(source.describe_calls(), 0, "no AWSPREVIOUS to date");

    let fast = cache.fresh_snapshot_at(at(0)).expect("published");
    assert!(Arc::ptr_eq(&fast, &snapshot));
}

#[tokio::test]
async fn a_refresh_is_due_after_the_ttl_and_not_before() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    let first = cache.snapshot_at(at(0)).await.unwrap();
    source
        .inner()
        .set(|w| w.versions.push(hmac("v2", &["AWSPENDING"], 30)));

    let held = cache.snapshot_at(at(TTL - 1)).await.unwrap();
    assert!(
        Arc::ptr_eq(&held, &first),
        "within the TTL: the same snapshot"
    );
    assert!(cache.fresh_snapshot_at(at(TTL - 1)).is_some());
    assert_eq!(source.list_calls(), 1, "no call within the TTL");

    assert!(
        cache.fresh_snapshot_at(at(TTL)).is_none(),
        "due: take the lock"
    );
    let refreshed = cache.snapshot_at(at(TTL)).await.unwrap();
    assert_eq!(refreshed.refreshed_at(), Some(at(TTL)));
    assert_eq!(accepted(&refreshed, "v2", at(TTL)), Ok(Stage::Pending));
    assert_eq!(source.list_calls(), 2);
    assert_eq!(source.get_calls(), 2, "v1 read once, v2 once");
    // The next one a TTL later.
    cache.snapshot_at(at(2 * TTL - 1)).await.unwrap();
    assert_eq!(source.list_calls(), 2);
    cache.snapshot_at(at(2 * TTL)).await.unwrap();
    assert_eq!(source.list_calls(), 3);
}

#[tokio::test]
async fn held_keys_serve_while_refreshes_fail_until_the_stale_limit_then_none() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    let first = cache.snapshot_at(at(0)).await.unwrap();
    source.inner().set(|w| w.failing = true);

    let limit = TTL + STALE;
    let mut attempts = 0;
    for s in TTL..limit {
        let calls = source.list_calls();
        let served = cache.snapshot_at(at(s)).await;
        let served = served.unwrap_or_else(|| panic!("+{s}: keys dropped before the limit"));
        assert!(Arc::ptr_eq(&served, &first), "+{s}: the keys held");
        if source.list_calls() > calls {
            attempts += 1;
            // A failure is retried after REFRESH_RETRY_SECS, not after a TTL.
            assert_eq!((s - TTL) % RETRY, 0, "+{s}: attempt off the retry schedule");
        }
    }
    assert_eq!(attempts, STALE / RETRY, "one attempt every {RETRY} s");

    assert!(cache.fresh_snapshot_at(at(limit)).is_none());
    assert!(
        cache.snapshot_at(at(limit)).await.is_none(),
        "at the stale limit: no keys (fail closed)"
    );
    assert!(cache.fresh_snapshot_at(at(limit)).is_none());
    assert!(cache.snapshot_at(at(limit + 1)).await.is_none());
    // The on-demand refresh fails too, and serves nothing.
    assert!(
        cache
            .refresh_for_unknown_at("v1", at(limit + 2))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_refresh_that_fails_part_way_changes_nothing() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    cache.snapshot_at(at(0)).await.unwrap();
    source.inner().set(|w| {
        w.versions.push(hmac("v2", &["AWSPENDING"], 30));
        w.reads_failing = true;
    });

    let served = cache.snapshot_at(at(TTL)).await.unwrap();
    assert_eq!(served.refreshed_at(), Some(at(0)), "the snapshot held");
    assert!(!served.keys().contains("v2"));

    source.inner().set(|w| w.reads_failing = false);
    let waiting = cache.snapshot_at(at(TTL + RETRY - 1)).await.unwrap();
    assert!(
        Arc::ptr_eq(&waiting, &served),
        "no attempt before the retry wait"
    );
    let retried = cache.snapshot_at(at(TTL + RETRY)).await.unwrap();
    assert_eq!(
        accepted(&retried, "v2", at(TTL + RETRY)),
        Ok(Stage::Pending)
    );
}

#[tokio::test]
async fn keys_come_back_after_an_outage_past_the_stale_limit() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    cache.snapshot_at(at(0)).await.unwrap();
    source.inner().set(|w| w.failing = true);
    assert!(cache.snapshot_at(at(TTL)).await.is_some());
    let limit = TTL + STALE;
    assert!(
        cache.snapshot_at(at(limit)).await.is_none(),
        "keys dropped at the stale limit"
    );
    let gets = source.get_calls();

    // Secrets Manager answers again; the next attempt is a retry wait after the last.
    source.inner().set(|w| {
        w.failing = false;
        w.versions.push(hmac("v2", &["AWSPENDING"], limit));
    });
    assert!(cache.snapshot_at(at(limit + RETRY - 1)).await.is_none());
    let back = cache
        .snapshot_at(at(limit + RETRY))
        .await
        .expect("recovered");
    assert_eq!(back.refreshed_at(), Some(at(limit + RETRY)));
    assert_eq!(accepted(&back, "v1", at(limit + RETRY)), Ok(Stage::Current));
    assert_eq!(accepted(&back, "v2", at(limit + RETRY)), Ok(Stage::Pending));
    assert_eq!(
        source.get_calls(),
        gets + 2,
        "the dropped value is read again"
    );
    // And the schedule is the TTL's again, with the lock-free read answering.
    assert!(
        cache
            .fresh_snapshot_at(at(limit + RETRY + TTL - 1))
            .is_some()
    );
    assert!(cache.fresh_snapshot_at(at(limit + RETRY + TTL)).is_none());
}

#[tokio::test]
async fn an_unknown_keyid_refreshes_on_demand_at_most_once_per_interval() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    cache.snapshot_at(at(0)).await.unwrap();

    // A keyid the snapshot holds needs no refresh, and uses up no allowance.
    assert!(cache.refresh_for_unknown_at("v1", at(1)).await.is_some());
    assert_eq!(source.list_calls(), 1);

    source
        .inner()
        .set(|w| w.versions.push(hmac("v2", &["AWSPENDING"], 1)));
    let found = cache
        .refresh_for_unknown_at("v2", at(1))
        .await
        .expect("refreshed");
    assert_eq!(accepted(&found, "v2", at(1)), Ok(Stage::Pending));
    assert_eq!(source.list_calls(), 2);

    source
        .inner()
        .set(|w| w.versions.push(hmac("v3", &["SOMETHING-ELSE"], 2)));
    for s in 2..1 + ON_DEMAND {
        assert!(
            cache.refresh_for_unknown_at("v3", at(s)).await.is_none(),
            "+{s}: rate-limited"
        );
    }
    assert_eq!(source.list_calls(), 2, "rate-limited: no call");
    assert!(
        cache
            .refresh_for_unknown_at("v3", at(1 + ON_DEMAND))
            .await
            .is_some()
    );
    assert_eq!(source.list_calls(), 3);
    // The static-header trigger shares the same allowance.
    assert!(
        cache
            .refresh_for_unmatched_static_at("wrong", at(2 + ON_DEMAND))
            .await
            .is_none()
    );
    assert_eq!(source.list_calls(), 3);
}

#[tokio::test]
async fn an_unmatched_static_value_refreshes_on_demand_and_finds_the_new_one() {
    let (cache, source) = cache(vec![static_value("s1", &["AWSCURRENT"], "old-value")]);
    let first = cache.snapshot_at(at(0)).await.unwrap();
    assert!(first.match_static("old-value", at(0)).is_some());

    source.inner().set(|w| {
        w.versions
            .push(static_value("s2", &["AWSPENDING"], "new-value"))
    });
    let found = cache
        .refresh_for_unmatched_static_at("new-value", at(1))
        .await
        .unwrap();
    assert_eq!(
        found
            .match_static("new-value", at(1))
            .map(|(id, stage)| (id.as_str(), stage)),
        Some(("s2", Stage::Pending))
    );
    assert!(
        cache.refresh_for_unknown_at("v9", at(2)).await.is_none(),
        "rate-limited: one allowance for both triggers"
    );
    assert_eq!(source.list_calls(), 2);
}

#[tokio::test]
async fn awsprevious_is_accepted_for_its_grace_after_the_demotion_this_cache_saw() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    cache.snapshot_at(at(0)).await.unwrap();
    // A rotation that began at +10 (v2 created) and completed before +60.
    source.inner().set(|w| {
        w.versions = vec![
            hmac("v1", &["AWSPREVIOUS"], 0),
            hmac("v2", &["AWSCURRENT"], 10),
        ];
        w.last_rotated = Some(at(20));
    });

    // This cache saw v1 as AWSCURRENT: the demotion is the refresh that first sees it
    // as AWSPREVIOUS (+60), not the rotation's dates.
    let demoted = TTL;
    let snapshot = cache.snapshot_at(at(demoted)).await.unwrap();
    assert_eq!(accepted(&snapshot, "v2", at(demoted)), Ok(Stage::Current));
    let last = at(demoted + GRACE - 1);
    assert_eq!(accepted(&snapshot, "v1", last), Ok(Stage::Previous));
    assert_eq!(
        accepted(&snapshot, "v1", at(demoted + GRACE)),
        Err(Rejection::PreviousKeyRetired)
    );
    assert_eq!(
        source.describe_calls(),
        0,
        "a demotion this cache saw needs no date"
    );

    // Later refreshes keep that demotion time: the grace is not renewed.
    let later = cache.snapshot_at(at(demoted + TTL)).await.unwrap();
    assert_eq!(accepted(&later, "v1", last), Ok(Stage::Previous));
    assert_eq!(
        accepted(&later, "v1", at(demoted + GRACE)),
        Err(Rejection::PreviousKeyRetired)
    );
}

#[tokio::test]
async fn a_cold_start_dates_the_demotion_from_the_last_rotation_once() {
    let (cache, source) = cache(vec![
        hmac("v1", &["AWSPREVIOUS"], 0),
        hmac("v2", &["AWSCURRENT"], 100),
    ]);
    source.inner().set(|w| w.last_rotated = Some(at(150)));

    let snapshot = cache.snapshot_at(at(200)).await.unwrap();
    assert_eq!(
        accepted(&snapshot, "v1", at(150 + GRACE - 1)),
        Ok(Stage::Previous)
    );
    assert_eq!(
        accepted(&snapshot, "v1", at(150 + GRACE)),
        Err(Rejection::PreviousKeyRetired)
    );
    assert_eq!(source.describe_calls(), 1);

    // Kept with the version: no more DescribeSecret, the same end of grace.
    let later = cache.snapshot_at(at(200 + TTL)).await.unwrap();
    assert_eq!(
        accepted(&later, "v1", at(150 + GRACE)),
        Err(Rejection::PreviousKeyRetired)
    );
    assert_eq!(source.describe_calls(), 1);
}

#[tokio::test]
async fn a_cold_start_without_a_rotation_date_counts_from_the_current_versions_creation() {
    let (cache, source) = cache(vec![
        hmac("v1", &["AWSPREVIOUS"], 0),
        hmac("v2", &["AWSCURRENT"], 100),
    ]);
    // DescribeSecret gives no LastRotatedDate (labels moved by hand).
    let snapshot = cache.snapshot_at(at(200)).await.unwrap();
    assert_eq!(
        accepted(&snapshot, "v1", at(100 + GRACE - 1)),
        Ok(Stage::Previous)
    );
    assert_eq!(
        accepted(&snapshot, "v1", at(100 + GRACE)),
        Err(Rejection::PreviousKeyRetired)
    );
    assert_eq!(source.describe_calls(), 1);
}

#[tokio::test]
async fn while_one_request_refreshes_the_others_read_the_keys_held() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    let first = cache.snapshot_at(at(0)).await.unwrap();
    source.inner().pause_listings();
    assert!(
        cache.fresh_snapshot_at(at(TTL)).is_none(),
        "a refresh is due"
    );

    let mut refreshing = pin!(cache.snapshot_at(at(TTL)));
    assert!(
        poll_once(refreshing.as_mut()).is_pending(),
        "waiting on the listing"
    );
    let meanwhile = cache.fresh_snapshot_at(at(TTL + 1)).expect("the keys held");
    assert!(Arc::ptr_eq(&meanwhile, &first));
    assert!(
        cache.fresh_snapshot_at(at(TTL + STALE)).is_none(),
        "not past the stale limit"
    );

    source.inner().resume_listings();
    let refreshed = refreshing.await.unwrap();
    assert_eq!(refreshed.refreshed_at(), Some(at(TTL)));
    let fast = cache.fresh_snapshot_at(at(TTL + 1)).unwrap();
    assert!(Arc::ptr_eq(&fast, &refreshed));
}

#[tokio::test]
async fn an_abandoned_refresh_stops_the_lock_free_reads() {
    let (cache, source) = cache(vec![hmac("v1", &["AWSCURRENT"], 0)]);
    cache.snapshot_at(at(0)).await.unwrap();
    source.inner().pause_listings();
    {
        let mut refreshing = pin!(cache.snapshot_at(at(TTL)));
        assert!(poll_once(refreshing.as_mut()).is_pending());
        assert!(cache.fresh_snapshot_at(at(TTL)).is_some());
    } // the request's future dropped mid-refresh

    assert!(
        cache.fresh_snapshot_at(at(TTL + 1)).is_none(),
        "the next request must take the lock and refresh"
    );
    source.inner().resume_listings();
    let refreshed = cache.snapshot_at(at(TTL + 1)).await.unwrap();
    assert_eq!(refreshed.refreshed_at(), Some(at(TTL + 1)));
}

//! The cold start's key load: the listing and the read of AWSCURRENT at once, the other
//! labelled versions read at once after it, the same calls as one at a time, and the
//! listing alone deciding which values are accepted.
//!
//! Concurrency is observed, not timed: a wrapper counts the calls in flight, and two
//! calls to moto over loopback are both in flight when `join` polls them (each waits on
//! its socket).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use edgeseal::{SigningKey, Stage, UnixTime};
use origin_verifier::{
    CacheSettings, CountingSource, CurrentValue, KeyCache, SdkSource, SecretsSource, SourceError,
    VersionInfo,
};
use zeroize::Zeroizing;

/// Counts the calls in flight and the most seen at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InFlight {
    async fn around<T>(&self, call: impl Future<Output = T>) -> T {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let out = call.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

struct Watched<S> {
    inner: S,
    in_flight: InFlight,
}

impl<S: SecretsSource> SecretsSource for Watched<S> {
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        self.in_flight
            .around(self.inner.list_versions(secret_id))
            .await
    }

    async fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        self.in_flight
            .around(self.inner.get_version(secret_id, version_id))
            .await
    }

    async fn get_current(&self, secret_id: &str) -> Result<Option<CurrentValue>, SourceError> {
        self.in_flight
            .around(self.inner.get_current(secret_id))
            .await
    }

    async fn last_rotated(&self, secret_id: &str) -> Result<Option<UnixTime>, SourceError> {
        self.in_flight
            .around(self.inner.last_rotated(secret_id))
            .await
    }
}

fn settings(secret_id: &str) -> CacheSettings {
    CacheSettings::from_config(&config(secret_id, &[]))
}

type Source = CountingSource<Watched<SdkSource>>;

async fn cache_over_moto(secret_id: &str) -> (KeyCache<Source>, Source) {
    let source = CountingSource::new(Watched {
        inner: SdkSource::new(sm_client().await),
        in_flight: InFlight::default(),
    });
    (KeyCache::new(source.clone(), settings(secret_id)), source)
}

/// Whether `keys` holds `key` under `id` as `stage` (keys compared, never printed).
fn holds(keys: &edgeseal::KeySet, stage: Stage, id: &str, key: &SigningKey) -> bool {
    keys.get(stage)
        .is_some_and(|(held_id, held_key)| held_id.as_str() == id && held_key == key)
}

#[tokio::test]
async fn one_version_costs_one_round_trip_and_the_same_two_calls() {
    let client = sm_client().await;
    let (name, v1) = create_secret(&client, &hmac_json(&key(1))).await;
    let (cache, source) = cache_over_moto(&name).await;

    let snapshot = cache.refresh_at(now()).await.unwrap();

    assert!(
        holds(snapshot.keys(), Stage::Current, &v1, &key(1)),
        "Current"
    );
    assert_eq!(snapshot.keys().len(), 1);
    // The listing and the read of AWSCURRENT were in flight together...
    assert_eq!(source.inner().in_flight.most(), 2);
    // ...and the read served the listed version: no second read of it.
    assert_eq!((source.list_calls(), source.get_calls()), (1, 1));
}

#[tokio::test]
async fn current_previous_and_pending_are_read_at_once() {
    let client = sm_client().await;
    let (name, v1) = create_secret(&client, &hmac_json(&key(1))).await;
    let v2 = put_pending(&client, &name, &hmac_json(&key(2))).await;
    promote(&client, &name, &v2, &v1).await;
    let v3 = put_pending(&client, &name, &hmac_json(&key(3))).await;
    let (cache, source) = cache_over_moto(&name).await;

    let snapshot = cache.refresh_at(now()).await.unwrap();

    assert!(
        holds(snapshot.keys(), Stage::Current, &v2, &key(2)),
        "Current"
    );
    assert!(
        holds(snapshot.keys(), Stage::Pending, &v3, &key(3)),
        "Pending"
    );
    assert!(
        holds(snapshot.keys(), Stage::Previous, &v1, &key(1)),
        "Previous"
    );
    // One listing, AWSCURRENT read ahead, the two others read by id together, and
    // (an AWSPREVIOUS this cache never saw demoted) one DescribeSecret alongside them:
    // two round trips.
    assert_eq!((source.list_calls(), source.get_calls()), (1, 3));
    assert_eq!(source.describe_calls(), 1);
    assert_eq!(source.inner().in_flight.most(), 3);

    // Later refreshes list only; nothing is read ahead or described once keys and the
    // demotion are held.
    let again = cache.refresh_at(now()).await.unwrap();
    assert_eq!(again.keys().len(), 3);
    assert_eq!((source.list_calls(), source.get_calls()), (2, 3));
    assert_eq!(source.describe_calls(), 1);
}

#[tokio::test]
async fn a_cold_start_without_a_previous_version_does_not_describe() {
    let client = sm_client().await;
    let (name, _) = create_secret(&client, &hmac_json(&key(1))).await;
    put_pending(&client, &name, &hmac_json(&key(2))).await;
    let (cache, source) = cache_over_moto(&name).await;
    cache.refresh_at(now()).await.unwrap();
    assert_eq!(source.describe_calls(), 0);
}

/// What a rotation between the two cold-start calls looks like: `GetSecretValue` by label
/// and `ListSecretVersionIds` are two reads, not one snapshot (the Secrets Manager API
/// reference documents no consistency between calls; `UpdateSecretVersionStage` moves a
/// label at any time), so the value read ahead may belong to a version the listing shows
/// with another label, or with none.
struct Disagreeing {
    listed: Vec<VersionInfo>,
    read_ahead: Result<Option<(String, SigningKey)>, ()>,
    values: Vec<(String, SigningKey)>,
    /// `DescribeSecret`'s `LastRotatedDate`, or a failure.
    last_rotated: Result<Option<UnixTime>, ()>,
}

impl SecretsSource for Disagreeing {
    async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
        Ok(self.listed.clone())
    }

    async fn get_version(
        &self,
        _: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        Ok(self
            .values
            .iter()
            .find(|(id, _)| id == version_id)
            .map(|(_, key)| Zeroizing::new(hmac_json(key))))
    }

    async fn get_current(&self, _: &str) -> Result<Option<CurrentValue>, SourceError> {
        match &self.read_ahead {
            Ok(found) => Ok(found
                .as_ref()
                .map(|(id, key)| (id.clone(), Zeroizing::new(hmac_json(key))))),
            Err(()) => Err(SourceError::Failed {
                operation: "GetSecretValue",
                detail: "ThrottlingException (Rate exceeded)".to_owned(),
            }),
        }
    }

    async fn last_rotated(&self, _: &str) -> Result<Option<UnixTime>, SourceError> {
        self.last_rotated.map_err(|()| SourceError::Failed {
            operation: "DescribeSecret",
            detail: "AccessDeniedException (not authorized)".to_owned(),
        })
    }
}

fn version(id: &str, stages: &[&str]) -> VersionInfo {
    VersionInfo {
        version_id: id.to_owned(),
        stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        created: None,
    }
}

/// A cache over a [`Disagreeing`] source: `listed`, the read ahead (a version and the
/// byte of its key, or a failure), and the versions readable by id.
fn cache(
    listed: Vec<VersionInfo>,
    read_ahead: Result<Option<(&str, u8)>, ()>,
    by_id: &[(&str, u8)],
) -> KeyCache<Disagreeing> {
    let source = Disagreeing {
        listed,
        read_ahead: read_ahead.map(|found| found.map(|(id, byte)| (id.to_owned(), key(byte)))),
        values: by_id
            .iter()
            .map(|(id, byte)| ((*id).to_owned(), key(*byte)))
            .collect(),
        last_rotated: Ok(None),
    };
    KeyCache::new(source, settings("edgeseal"))
}

const OLD: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const NEW: &str = "a1b2c3d4-0000-4000-8000-000000000002";

#[tokio::test]
async fn a_value_read_ahead_is_accepted_only_as_the_listing_labels_it() {
    // Read ahead: OLD as AWSCURRENT. Listed after finishSecret: NEW current, OLD previous.
    let listed = vec![
        version(NEW, &["AWSCURRENT"]),
        version(OLD, &["AWSPREVIOUS"]),
    ];
    let cache = cache(listed, Ok(Some((OLD, 1))), &[(NEW, 2)]);
    let snapshot = cache.refresh_at(now()).await.unwrap();
    assert!(
        holds(snapshot.keys(), Stage::Current, NEW, &key(2)),
        "Current"
    );
    assert!(
        holds(snapshot.keys(), Stage::Previous, OLD, &key(1)),
        "Previous"
    );

    // Read ahead: a version no label names any more. Its key is not accepted at all.
    let listed = vec![version(NEW, &["AWSCURRENT"])];
    let cache = self::cache(listed, Ok(Some((OLD, 1))), &[(NEW, 2)]);
    let snapshot = cache.refresh_at(now()).await.unwrap();
    assert_eq!(snapshot.keys().len(), 1);
    assert!(!snapshot.keys().contains(OLD));
}

#[tokio::test]
async fn a_failed_read_ahead_falls_back_to_reading_by_id() {
    let cache = cache(vec![version(NEW, &["AWSCURRENT"])], Err(()), &[(NEW, 2)]);
    let snapshot = cache.refresh_at(now()).await.unwrap();
    assert!(
        holds(snapshot.keys(), Stage::Current, NEW, &key(2)),
        "Current"
    );
}

#[tokio::test]
async fn no_keys_are_held_when_the_listing_fails_whatever_was_read_ahead() {
    struct ListingDown;
    impl SecretsSource for ListingDown {
        async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
            Err(SourceError::Failed {
                operation: "ListSecretVersionIds",
                detail: "timeout".to_owned(),
            })
        }
        async fn get_version(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Option<Zeroizing<String>>, SourceError> {
            Ok(Some(Zeroizing::new(hmac_json(&key(1)))))
        }
        async fn get_current(&self, _: &str) -> Result<Option<CurrentValue>, SourceError> {
            Ok(Some((OLD.to_owned(), Zeroizing::new(hmac_json(&key(1))))))
        }
    }
    let cache = KeyCache::new(ListingDown, settings("edgeseal"));
    let t = now();
    assert!(cache.refresh_at(t).await.is_err());
    // Fail closed: nothing to verify with.
    assert!(cache.snapshot_at(t).await.is_none());
}

/// A cache over a source listing NEW as AWSCURRENT (created at `created`) and OLD as
/// AWSPREVIOUS, whose `DescribeSecret` answers `last_rotated`; grace 600 s.
fn rotated(created: UnixTime, last_rotated: Result<Option<UnixTime>, ()>) -> KeyCache<Disagreeing> {
    let mut current = version(NEW, &["AWSCURRENT"]);
    current.created = Some(created);
    let source = Disagreeing {
        listed: vec![current, version(OLD, &["AWSPREVIOUS"])],
        read_ahead: Ok(None),
        values: vec![(NEW.to_owned(), key(2)), (OLD.to_owned(), key(1))],
        last_rotated,
    };
    let mut settings = settings("edgeseal");
    settings.previous_grace_secs = 600;
    KeyCache::new(source, settings)
}

/// The instant the previous key stops being accepted, as the snapshot holds it.
async fn previous_until(cache: &KeyCache<Disagreeing>, at: UnixTime) -> UnixTime {
    let snapshot = cache.refresh_at(at).await.unwrap();
    // Accepted one second before the deadline, refused at it: find the deadline.
    let mut t = at;
    while snapshot.keys().find_at(OLD, t).is_ok() {
        t = t.plus_secs(1);
    }
    t
}

#[tokio::test]
async fn a_cold_start_counts_the_grace_from_the_rotations_completion() {
    // The rotation began at 1000 (NEW created) and completed at 1900 (retried for 15
    // minutes); the cold start is at 2000.
    let created = UnixTime::from_secs(1_000_000);
    let completed = created.plus_secs(900);
    let at = created.plus_secs(1000);
    let cache = rotated(created, Ok(Some(completed)));
    assert_eq!(previous_until(&cache, at).await, completed.plus_secs(600));
}

#[tokio::test]
async fn a_last_rotated_date_that_cannot_be_this_rotations_completion_is_not_used() {
    let created = UnixTime::from_secs(1_000_000);
    let at = created.plus_secs(100);
    // Before the current version existed (labels moved by hand since the last rotation):
    // the current version's creation.
    let earlier = UnixTime::from_secs(created.as_secs() - 50);
    let cache = rotated(created, Ok(Some(earlier)));
    assert_eq!(previous_until(&cache, at).await, created.plus_secs(600));
    // In the future (a clock ahead of ours): not believed either.
    let cache = rotated(created, Ok(Some(at.plus_secs(3600))));
    assert_eq!(previous_until(&cache, at).await, created.plus_secs(600));
    // None (rotation disabled) or DescribeSecret refused: the creation, a shorter grace.
    let cache = rotated(created, Ok(None));
    assert_eq!(previous_until(&cache, at).await, created.plus_secs(600));
    let cache = rotated(created, Err(()));
    assert_eq!(previous_until(&cache, at).await, created.plus_secs(600));
}

//! The key cache: what this execution environment knows of the secret's versions, and
//! when it asks Secrets Manager again.
//!
//! [`KeyCache`] (this file) holds the rules of *when*, all taking `now` from the caller:
//! - **Refresh:** the first request (or the cold start's [`KeyCache::refresh_at`])
//!   loads the keys; then a refresh every `ttl_secs` after a success, `retry_secs` after a
//!   failure.
//! - **Stale limit:** while refreshes fail, the keys held are served until `ttl_secs +
//!   max_stale_secs` after the last success; then they are dropped and nothing is served
//!   (fail closed) until a refresh succeeds again.
//! - **On demand:** a signature naming a `keyid` the snapshot lacks, or a static header
//!   value that matches none held, refreshes at once, at most once per
//!   `unknown_key_min_interval_secs` whatever triggered it.
//! - **Lock-free reads and the refresh in flight:** requests read the snapshot without
//!   the cache's lock ([`KeyCache::fresh_snapshot_at`]) until a refresh is due; while one
//!   request runs a scheduled refresh, the others go on with the keys held (within their
//!   stale limit).
//!
//! The rest, by concern:
//! - `refresh.rs`: one refresh, what it reads and the [`Snapshot`] it builds: the cold
//!   start's read ahead, versions read once, the AWSPREVIOUS grace
//!   ([`cold_start_demotion`]).
//! - `snapshot.rs`: [`Snapshot`], the keys accepted as of one refresh.
//! - `source.rs`: [`SecretsSource`], the reads the cache needs, and their answers.
//! - `sdk_source.rs`: [`SdkSource`], those reads over the AWS SDK.
//! - `counting.rs`: `CountingSource`, a call counter for tests and benchmarks (feature
//!   `test-support`, never in a release build).
//! - `tests/`: these rules, against an in-memory source and a clock the tests set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use edgeseal::{Stage, UnixTime};

use crate::config::Config;

#[cfg(any(test, feature = "test-support"))]
mod counting;
mod refresh;
mod sdk_source;
mod snapshot;
mod source;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "test-support"))]
pub use self::counting::CountingSource;
use self::refresh::Parsed;
pub use self::refresh::cold_start_demotion;
pub use self::sdk_source::SdkSource;
pub use self::snapshot::Snapshot;
pub use self::source::{CurrentValue, SecretsSource, SourceError, VersionInfo};

/// The cache's timing and parsing settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// The secret.
    pub secret_id: String,
    /// The static-header JSON field (`SECRET_KEY_NAME`).
    pub secret_key_name: Option<String>,
    /// Refresh interval.
    pub ttl_secs: u64,
    /// How long past the TTL keys are served while refreshes fail.
    pub max_stale_secs: u64,
    /// Wait after a failed refresh.
    pub retry_secs: u64,
    /// Minimum interval between unknown-keyid refreshes.
    pub unknown_key_min_interval_secs: u64,
    /// AWSPREVIOUS grace after demotion.
    pub previous_grace_secs: u64,
}

impl CacheSettings {
    /// The cache part of the configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            secret_id: config.secret_id.clone(),
            secret_key_name: config.secret_key_name.clone(),
            ttl_secs: config.cache_ttl_secs,
            max_stale_secs: config.max_stale_secs,
            retry_secs: config.refresh_retry_secs,
            unknown_key_min_interval_secs: config.unknown_key_min_interval_secs,
            previous_grace_secs: config.previous_key_grace_secs,
        }
    }
}

/// Why a refresh did not produce a snapshot.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// Secrets Manager failed.
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// What the cache knows, under its lock. A refresh (`refresh.rs`) reads and replaces
/// the versions' values, stages seen and demotion times.
struct Inner {
    snapshot: Option<Arc<Snapshot>>,
    last_success: Option<UnixTime>,
    /// First instant at which the next scheduled refresh may run.
    next_attempt: UnixTime,
    last_unknown_refresh: Option<UnixTime>,
    values: HashMap<String, Parsed>,
    stages_seen: HashMap<String, Vec<Stage>>,
    demoted_at: HashMap<String, UnixTime>,
}

/// What a request may read without the cache's lock: the snapshot, and the instant from
/// which [`KeyCache::snapshot_at`] would no longer hand it out unchanged (a refresh is due,
/// or the stale limit is reached). Written under the lock, after every change of `Inner`.
struct Published {
    snapshot: Option<Arc<Snapshot>>,
    fresh_until: UnixTime,
}

/// The published state, for writing. A poisoned lock only means a panic elsewhere
/// while it was held; every write leaves whole values.
fn write(published: &RwLock<Published>) -> std::sync::RwLockWriteGuard<'_, Published> {
    published
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A scheduled refresh under way. Should it be abandoned (the future of the request
/// that runs it dropped), lock-free reads stop answering, so that the next request takes
/// the lock and refreshes instead of the held keys being served to the stale limit.
struct RefreshInFlight<'a> {
    published: &'a RwLock<Published>,
    finished: bool,
}

impl RefreshInFlight<'_> {
    /// The refresh ended (and published what it found).
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for RefreshInFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            write(self.published).fresh_until = UnixTime::from_secs(0);
        }
    }
}

/// Keys from one secret, cached per execution environment (see the module docs).
pub struct KeyCache<S> {
    source: S,
    settings: CacheSettings,
    inner: tokio::sync::Mutex<Inner>,
    published: RwLock<Published>,
}

impl<S: SecretsSource> KeyCache<S> {
    /// An empty cache; the first [`snapshot_at`](Self::snapshot_at) loads it.
    pub fn new(source: S, settings: CacheSettings) -> Self {
        Self {
            source,
            settings,
            inner: tokio::sync::Mutex::new(Inner {
                snapshot: None,
                last_success: None,
                next_attempt: UnixTime::from_secs(0),
                last_unknown_refresh: None,
                values: HashMap::new(),
                stages_seen: HashMap::new(),
                demoted_at: HashMap::new(),
            }),
            published: RwLock::new(Published {
                snapshot: None,
                fresh_until: UnixTime::from_secs(0),
            }),
        }
    }

    /// The source (tests and benchmarks read their call counters through it).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The keys to verify against at `now`: refreshes first when the TTL (or the retry
    /// wait after a failure) has run out. `None` when nothing usable is held: never
    /// loaded, or older than TTL + max stale because Secrets Manager kept failing.
    pub async fn snapshot_at(&self, now: UnixTime) -> Option<Arc<Snapshot>> {
        let mut inner = self.inner.lock().await;
        if now >= inner.next_attempt {
            let in_flight = self.serve_held_keys_meanwhile(&inner);
            // Failures are logged inside; the stale rule below decides what is served.
            let _ = self.refresh_locked(&mut inner, now).await;
            in_flight.finish();
        }
        self.usable(&mut inner, now)
    }

    /// While a scheduled refresh runs, [`fresh_snapshot_at`](Self::fresh_snapshot_at)
    /// keeps answering with the keys held, up to their stale limit, so that only the
    /// request that found the refresh due waits for Secrets Manager.
    fn serve_held_keys_meanwhile(&self, inner: &Inner) -> RefreshInFlight<'_> {
        if let (Some(_), Some(limit)) = (&inner.snapshot, self.stale_limit(inner)) {
            write(&self.published).fresh_until = limit;
        }
        RefreshInFlight {
            published: &self.published,
            finished: false,
        }
    }

    /// When the keys held stop being served: TTL + `MAX_STALE_SECS` after the last
    /// successful refresh.
    fn stale_limit(&self, inner: &Inner) -> Option<UnixTime> {
        inner.last_success.map(|last| {
            last.plus_secs(self.settings.ttl_secs)
                .plus_secs(self.settings.max_stale_secs)
        })
    }

    /// What [`snapshot_at`](Self::snapshot_at) would return at `now` when it would neither
    /// refresh nor drop the keys, read without waiting for the cache's lock (a server's
    /// requests do not queue behind one another). While another request's scheduled
    /// refresh is under way, the keys held until it ends (within their stale limit).
    /// `None` when a refresh is due, the stale limit is reached or nothing is held: then
    /// call `snapshot_at`.
    pub fn fresh_snapshot_at(&self, now: UnixTime) -> Option<Arc<Snapshot>> {
        let published = self.published.read().ok()?;
        if now < published.fresh_until {
            published.snapshot.clone()
        } else {
            None
        }
    }

    /// Make `inner`'s state readable by [`fresh_snapshot_at`](Self::fresh_snapshot_at);
    /// called, under the lock, wherever the snapshot, its last success or the next
    /// attempt change (a refresh, the keys dropped at the stale limit).
    fn publish(&self, inner: &Inner) {
        let fresh_until = match (&inner.snapshot, self.stale_limit(inner)) {
            (Some(_), Some(limit)) => inner.next_attempt.min(limit),
            _ => UnixTime::from_secs(0),
        };
        let mut published = write(&self.published);
        published.snapshot.clone_from(&inner.snapshot);
        published.fresh_until = fresh_until;
    }

    /// Called when a signature names a `keyid` the snapshot does not hold: refresh now,
    /// unless another unknown-keyid refresh ran less than the configured interval ago.
    /// Returns the new snapshot when a refresh ran (or the key arrived meanwhile).
    pub async fn refresh_for_unknown_at(
        &self,
        keyid: &str,
        now: UnixTime,
    ) -> Option<Arc<Snapshot>> {
        let mut inner = self.inner.lock().await;
        if let Some(snapshot) = &inner.snapshot
            && snapshot.keys.contains(keyid)
        {
            return self.usable(&mut inner, now);
        }
        tracing::info!(keyid, "unknown keyid");
        self.on_demand_refresh(&mut inner, now).await
    }

    /// The static-header counterpart of [`refresh_for_unknown_at`](Self::refresh_for_unknown_at):
    /// called when a presented header value matches no held value (a rotation may have
    /// just staged a new one). Refreshes now unless an on-demand refresh (of either kind)
    /// ran less than the configured interval ago, so wrong values cannot drive Secrets
    /// Manager traffic. The value is never logged.
    pub async fn refresh_for_unmatched_static_at(
        &self,
        presented: &str,
        now: UnixTime,
    ) -> Option<Arc<Snapshot>> {
        let mut inner = self.inner.lock().await;
        if let Some(snapshot) = &inner.snapshot
            && snapshot.match_static(presented, now).is_some()
        {
            return self.usable(&mut inner, now);
        }
        tracing::info!("static header value matches no held value");
        self.on_demand_refresh(&mut inner, now).await
    }

    /// One refresh outside the TTL schedule, at most one per
    /// `UNKNOWN_KEY_MIN_INTERVAL_SECS` whatever triggered it.
    async fn on_demand_refresh(&self, inner: &mut Inner, now: UnixTime) -> Option<Arc<Snapshot>> {
        if let Some(last) = inner.last_unknown_refresh
            && now < last.plus_secs(self.settings.unknown_key_min_interval_secs)
        {
            tracing::debug!("on-demand refresh rate-limited");
            return None;
        }
        inner.last_unknown_refresh = Some(now);
        tracing::info!("refreshing keys on demand");
        self.refresh_locked(inner, now).await.ok()?;
        self.usable(inner, now)
    }

    /// Refresh now, whatever the TTL (cold start, tests).
    pub async fn refresh_at(&self, now: UnixTime) -> Result<Arc<Snapshot>, RefreshError> {
        let mut inner = self.inner.lock().await;
        self.refresh_locked(&mut inner, now).await
    }

    fn usable(&self, inner: &mut Inner, now: UnixTime) -> Option<Arc<Snapshot>> {
        let last = inner.last_success?;
        let limit = self.stale_limit(inner)?;
        if now >= limit {
            if inner.snapshot.is_some() {
                tracing::error!(
                    reason = "keys_expired",
                    last_refresh = last.as_secs(),
                    "secrets manager unreachable past the stale limit: dropping keys, denying"
                );
            }
            // Drop the keys (zeroized with their last reference) and fail closed.
            inner.snapshot = None;
            inner.values.clear();
            self.publish(inner);
            return None;
        }
        inner.snapshot.clone()
    }

    async fn refresh_locked(
        &self,
        inner: &mut Inner,
        now: UnixTime,
    ) -> Result<Arc<Snapshot>, RefreshError> {
        match self.load(inner, now).await {
            Ok(snapshot) => {
                inner.last_success = Some(now);
                inner.next_attempt = now.plus_secs(self.settings.ttl_secs.max(1));
                inner.snapshot = Some(Arc::clone(&snapshot));
                self.publish(inner);
                Ok(snapshot)
            }
            Err(err) => {
                inner.next_attempt = now.plus_secs(self.settings.retry_secs.max(1));
                self.publish(inner);
                tracing::warn!(
                    reason = "secrets_manager_error",
                    error = %err,
                    serving_cached = inner.snapshot.is_some(),
                    "key refresh failed"
                );
                Err(err)
            }
        }
    }
}

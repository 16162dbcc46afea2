//! The key cache: what this execution environment knows of the secret's versions, and
//! when it asks Secrets Manager again.
//!
//! The rules themselves (which versions are accepted, until when, and when to ask again)
//! are edgeseal's, stated once in [`edgeseal::accepted`]: the cache keeps a [`KeyState`]
//! under its lock and does the I/O and the concurrency around it. [`KeyCache`] (this
//! file), all taking `now` from the caller:
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
//! - `refresh.rs`: one refresh, what it reads for the [`KeyState`]: the cold start's read
//!   ahead, versions read once, `LastRotatedDate` for the AWSPREVIOUS grace.
//! - `source.rs`: [`SecretsSource`], the reads the cache needs, and their answers.
//! - `sdk_source.rs`: [`SdkSource`], those reads over the AWS SDK.
//! - `counting.rs`: `CountingSource`, a call counter for tests and benchmarks (feature
//!   `test-support`, never in a release build).
//! - `tests/`: these rules, against an in-memory source and a clock the tests set.

use std::sync::{Arc, RwLock};

use edgeseal::UnixTime;
pub use edgeseal::accepted::Snapshot;
use edgeseal::accepted::{KeyRules, KeyState};

use crate::config::Config;

#[cfg(any(test, feature = "test-support"))]
mod counting;
mod refresh;
mod sdk_source;
mod source;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "test-support"))]
pub use self::counting::CountingSource;
pub use self::sdk_source::SdkSource;
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

    /// The key rules these settings give.
    pub fn key_rules(&self) -> KeyRules {
        KeyRules {
            ttl_secs: self.ttl_secs,
            max_stale_secs: self.max_stale_secs,
            retry_secs: self.retry_secs,
            unknown_key_min_interval_secs: self.unknown_key_min_interval_secs,
            previous_grace_secs: self.previous_grace_secs,
            secret_key_name: self.secret_key_name.clone(),
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
    secret_id: String,
    /// What the cache knows; a refresh (`refresh.rs`) reads what it asks for.
    keys: tokio::sync::Mutex<KeyState>,
    published: RwLock<Published>,
}

impl<S: SecretsSource> KeyCache<S> {
    /// An empty cache; the first [`snapshot_at`](Self::snapshot_at) loads it.
    pub fn new(source: S, settings: CacheSettings) -> Self {
        Self {
            source,
            keys: tokio::sync::Mutex::new(KeyState::new(settings.key_rules())),
            secret_id: settings.secret_id,
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
        let mut keys = self.keys.lock().await;
        if keys.refresh_due(now) {
            let in_flight = self.serve_held_keys_meanwhile(&keys);
            // Failures are logged inside; the stale rule below decides what is served.
            let _ = self.refresh_locked(&mut keys, now).await;
            in_flight.finish();
        }
        self.usable(&mut keys, now)
    }

    /// While a scheduled refresh runs, [`fresh_snapshot_at`](Self::fresh_snapshot_at)
    /// keeps answering with the keys held, up to their stale limit, so that only the
    /// request that found the refresh due waits for Secrets Manager.
    fn serve_held_keys_meanwhile(&self, keys: &KeyState) -> RefreshInFlight<'_> {
        if let (Some(_), Some(limit)) = (keys.held(), keys.stale_deadline()) {
            write(&self.published).fresh_until = limit;
        }
        RefreshInFlight {
            published: &self.published,
            finished: false,
        }
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

    /// Make the state of `keys` readable by [`fresh_snapshot_at`](Self::fresh_snapshot_at);
    /// called, under the lock, wherever the snapshot, its last success or the next
    /// attempt change (a refresh, the keys dropped at the stale limit).
    fn publish(&self, keys: &KeyState) {
        let fresh_until = match (keys.held(), keys.stale_deadline()) {
            (Some(_), Some(limit)) => keys.next_refresh().min(limit),
            _ => UnixTime::from_secs(0),
        };
        let mut published = write(&self.published);
        published.snapshot = keys.held().cloned();
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
        let mut keys = self.keys.lock().await;
        if let Some(snapshot) = keys.held()
            && snapshot.keys().contains(keyid)
        {
            return self.usable(&mut keys, now);
        }
        tracing::info!(keyid, "unknown keyid");
        self.on_demand_refresh(&mut keys, now).await
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
        let mut keys = self.keys.lock().await;
        if let Some(snapshot) = keys.held()
            && snapshot.match_static(presented, now).is_some()
        {
            return self.usable(&mut keys, now);
        }
        tracing::info!("static header value matches no held value");
        self.on_demand_refresh(&mut keys, now).await
    }

    /// One refresh outside the TTL schedule, at most one per
    /// `UNKNOWN_KEY_MIN_INTERVAL_SECS` whatever triggered it.
    async fn on_demand_refresh(&self, keys: &mut KeyState, now: UnixTime) -> Option<Arc<Snapshot>> {
        if !keys.allow_on_demand_refresh(now) {
            tracing::debug!("on-demand refresh rate-limited");
            return None;
        }
        tracing::info!("refreshing keys on demand");
        self.refresh_locked(keys, now).await.ok()?;
        self.usable(keys, now)
    }

    /// Refresh now, whatever the TTL (cold start, tests).
    pub async fn refresh_at(&self, now: UnixTime) -> Result<Arc<Snapshot>, RefreshError> {
        let mut keys = self.keys.lock().await;
        self.refresh_locked(&mut keys, now).await
    }

    /// [`KeyState::snapshot_at`], logging the keys dropped at the stale limit and
    /// publishing that they are gone.
    fn usable(&self, keys: &mut KeyState, now: UnixTime) -> Option<Arc<Snapshot>> {
        let held = keys.held().is_some();
        let snapshot = keys.snapshot_at(now);
        if held && snapshot.is_none() {
            tracing::error!(
                reason = "keys_expired",
                last_refresh = keys.last_success().map_or(0, UnixTime::as_secs),
                "secrets manager unreachable past the stale limit: dropping keys, denying"
            );
            // The keys are dropped (zeroized with their last reference): fail closed.
            self.publish(keys);
        }
        snapshot
    }

    async fn refresh_locked(
        &self,
        keys: &mut KeyState,
        now: UnixTime,
    ) -> Result<Arc<Snapshot>, RefreshError> {
        match self.load(keys, now).await {
            Ok(snapshot) => {
                self.publish(keys);
                Ok(snapshot)
            }
            Err(err) => {
                keys.refresh_failed(now);
                self.publish(keys);
                tracing::warn!(
                    reason = "secrets_manager_error",
                    error = %err,
                    serving_cached = keys.held().is_some(),
                    "key refresh failed"
                );
                Err(err)
            }
        }
    }
}

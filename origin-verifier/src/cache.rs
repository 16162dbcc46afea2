//! The key cache: what this execution environment knows of the secret's versions.
//!
//! A refresh is one `ListSecretVersionIds` (every version with its staging labels and
//! `CreatedDate`, in one consistent answer) plus one `GetSecretValue` by `VersionId` for
//! each labelled version the cache has not read before, those reads at the same time.
//! Secret versions are immutable, so in steady state a refresh costs a single call per
//! TTL and requests cost none.
//!
//! **Cold start.** Before its first successful refresh the cache also reads the
//! AWSCURRENT value by its label *while* it lists, so a cold start with one version
//! costs one round trip instead of two. That read only supplies a value for its
//! `VersionId` (immutable); which versions are accepted, and as what, still comes from
//! the listing alone: a version the listing does not label is dropped unread.
//!
//! **AWSPREVIOUS grace.** Secrets Manager does not record when a label moved, so the
//! demotion time is derived:
//! 1. if this cache saw the version as AWSCURRENT and later sees it as AWSPREVIOUS, the
//!    refresh that first saw it as AWSPREVIOUS is the demotion time (late by at most one
//!    TTL, never early);
//! 2. otherwise (a cold start after the rotation) the secret's `LastRotatedDate`
//!    (`DescribeSecret`: when the last rotation *completed*, i.e. when its finishSecret
//!    moved AWSCURRENT), if it lies between the current version's `CreatedDate` and now.
//!    A rotation refused and retried (e.g. `PreviousRotationPropagating`) can complete
//!    long after it began, and edges keep sending the demoted key until the switch has
//!    reached them, so the grace must count from the completion. `DescribeSecret` is
//!    called only for an AWSPREVIOUS version whose demotion this cache does not know
//!    (once per cold start after a rotation, in the same round trip as the value reads;
//!    never in steady state), and its answer is kept with the version;
//! 3. failing that (no `LastRotatedDate`: rotation disabled, labels moved by hand, the
//!    call refused or failed), the `CreatedDate` of the version that is now AWSCURRENT:
//!    it was created as AWSPENDING when the rotation began, and the old one cannot have
//!    been demoted before that; without a `CreatedDate`, the time of the refresh.
//!
//! Every date is fixed once the rotation has completed, so a stream of cold starts cannot
//! keep an old key alive. 3 ends the grace early by the rotation's duration. 2 may be
//! later than the label move by the rest of that finishSecret invocation (Secrets Manager
//! records the completion when the function returns; one step lasts at most
//! `MAX_STEP_SECS`), less than the one TTL by which 1 may be late.
//!
//! The previous key is accepted strictly before demotion + `PREVIOUS_KEY_GRACE_SECS`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::builders::GetSecretValueFluentBuilder;
use edgeseal::{KeyId, KeySet, SecretFormatError, SecretValue, Stage, StaticHeaderValue, UnixTime};
use zeroize::Zeroizing;

use crate::config::Config;

/// When an authorizer that never saw the AWSPREVIOUS version as AWSCURRENT takes it to
/// have been demoted (module docs, 2 and 3): the secret's `LastRotatedDate` if it lies
/// between the current version's `CreatedDate` and `now` (only then can it be the
/// completion of the rotation that made that version current), else that `CreatedDate`
/// (not after `now`). `None`: neither is known, and the caller counts from `now`.
/// The CLI and the tests' models of the authorizer use this same rule.
pub fn cold_start_demotion(
    current_created: Option<UnixTime>,
    last_rotated: Option<UnixTime>,
    now: UnixTime,
) -> Option<UnixTime> {
    let created = current_created.filter(|created| *created <= now);
    let completed =
        last_rotated.filter(|t| *t <= now && created.is_some_and(|created| created <= *t));
    completed.or(created)
}

/// One version of the secret as `ListSecretVersionIds` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// The `VersionId` (the signatures' `keyid`).
    pub version_id: String,
    /// Its staging labels (any, not only the three edgeseal reads).
    pub stages: Vec<String>,
    /// Its `CreatedDate`.
    pub created: Option<UnixTime>,
}

/// Why Secrets Manager could not answer. Never carries a secret value.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The secret itself does not exist (or this role may not see it).
    #[error("secret not found: {0}")]
    SecretNotFound(String),
    /// Any other failure: throttling, timeouts, no route, access denied, 5xx.
    #[error("secrets manager {operation} failed: {detail}")]
    Failed {
        /// The API operation.
        operation: &'static str,
        /// The error code or transport failure.
        detail: String,
    },
}

/// The two Secrets Manager reads the cache needs. [`SdkSource`] is the real one; tests
/// wrap it to count calls or inject failures.
pub trait SecretsSource: Send + Sync {
    /// Every version of the secret that carries at least one staging label.
    fn list_versions(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionInfo>, SourceError>> + Send;

    /// The `SecretString` of one version; `Ok(None)` if that version no longer exists.
    /// A binary-only version yields an empty string (and is then reported malformed).
    fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<Option<Zeroizing<String>>, SourceError>> + Send;

    /// The `VersionId` and `SecretString` of the version labelled AWSCURRENT, read by its
    /// label (the cold start's read ahead of the listing); `Ok(None)` if there is none.
    /// A source that cannot read by label keeps this default, and the cache reads every
    /// version by id after listing.
    fn get_current(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<CurrentValue>, SourceError>> + Send {
        let _ = secret_id;
        std::future::ready(Ok(None))
    }

    /// The secret's `LastRotatedDate` (`DescribeSecret`): when its last rotation
    /// completed; `Ok(None)` when Secrets Manager gives none. A source that cannot
    /// describe keeps this default, and a cold start then dates a demotion from the
    /// current version's `CreatedDate` (earlier: a shorter grace, never a longer one).
    fn last_rotated(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<UnixTime>, SourceError>> + Send {
        let _ = secret_id;
        std::future::ready(Ok(None))
    }
}

/// A value read by its AWSCURRENT label: the version it belongs to and its
/// `SecretString`.
pub type CurrentValue = (String, Zeroizing<String>);

impl<T: SecretsSource + ?Sized> SecretsSource for Arc<T> {
    fn list_versions(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionInfo>, SourceError>> + Send {
        (**self).list_versions(secret_id)
    }

    fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<Option<Zeroizing<String>>, SourceError>> + Send {
        (**self).get_version(secret_id, version_id)
    }

    fn get_current(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<CurrentValue>, SourceError>> + Send {
        (**self).get_current(secret_id)
    }

    fn last_rotated(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<UnixTime>, SourceError>> + Send {
        (**self).last_rotated(secret_id)
    }
}

/// [`SecretsSource`] over the AWS SDK.
#[derive(Clone, Debug)]
pub struct SdkSource {
    client: aws_sdk_secretsmanager::Client,
}

impl SdkSource {
    /// Wrap a client (built once per execution environment).
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

fn to_unix(date: &aws_smithy_types::DateTime) -> Option<UnixTime> {
    u64::try_from(date.secs()).ok().map(UnixTime::from_secs)
}

fn sdk_detail<E, R>(err: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata,
{
    use aws_sdk_secretsmanager::error::SdkError;
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!(
                "{} ({})",
                e.code().unwrap_or("unknown"),
                e.message().unwrap_or("")
            )
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch failure (no connection)".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request construction failed".to_owned(),
        _ => "unknown error".to_owned(),
    }
}

impl SecretsSource for SdkSource {
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        // Secrets Manager keeps ~100 versions; only labelled ones matter, and a few pages
        // bound the work if a secret has accumulated more.
        const MAX_PAGES: usize = 5;
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .list_secret_version_ids()
                .secret_id(secret_id)
                .include_deprecated(false)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|err| {
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception())
                    {
                        SourceError::SecretNotFound(secret_id.to_owned())
                    } else {
                        SourceError::Failed {
                            operation: "ListSecretVersionIds",
                            detail: sdk_detail(&err),
                        }
                    }
                })?;
            for entry in out.versions() {
                let Some(version_id) = entry.version_id() else {
                    continue;
                };
                if entry.version_stages().is_empty() {
                    continue;
                }
                versions.push(VersionInfo {
                    version_id: version_id.to_owned(),
                    stages: entry.version_stages().to_vec(),
                    created: entry.created_date().and_then(to_unix),
                });
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(versions)
    }

    async fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        let request = self.client.get_secret_value().version_id(version_id);
        let out = self.get_secret_value(request, secret_id).await?;
        Ok(out.map(|mut out| Zeroizing::new(out.secret_string.take().unwrap_or_default())))
    }

    async fn get_current(&self, secret_id: &str) -> Result<Option<CurrentValue>, SourceError> {
        let request = self
            .client
            .get_secret_value()
            .version_stage(Stage::Current.label());
        let out = self.get_secret_value(request, secret_id).await?;
        Ok(out.and_then(|mut out| {
            let value = Zeroizing::new(out.secret_string.take().unwrap_or_default());
            out.version_id.take().map(|version_id| (version_id, value))
        }))
    }

    async fn last_rotated(&self, secret_id: &str) -> Result<Option<UnixTime>, SourceError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|err| SourceError::Failed {
                operation: "DescribeSecret",
                detail: sdk_detail(&err),
            })?;
        Ok(out.last_rotated_date().and_then(to_unix))
    }
}

impl SdkSource {
    /// One `GetSecretValue`; `Ok(None)` when Secrets Manager answers
    /// `ResourceNotFoundException` (no such secret, version or label).
    async fn get_secret_value(
        &self,
        request: GetSecretValueFluentBuilder,
        secret_id: &str,
    ) -> Result<Option<GetSecretValueOutput>, SourceError> {
        match request.secret_id(secret_id).send().await {
            Ok(out) => Ok(Some(out)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(SourceError::Failed {
                operation: "GetSecretValue",
                detail: sdk_detail(&err),
            }),
        }
    }
}

/// Counts the calls that reach the wrapped source (benchmarks and tests).
#[derive(Debug, Default)]
pub struct CountingSource<S> {
    inner: S,
    lists: AtomicU64,
    gets: AtomicU64,
    describes: AtomicU64,
}

impl<S> CountingSource<S> {
    /// Wrap `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            lists: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            describes: AtomicU64::new(0),
        }
    }

    /// `ListSecretVersionIds` calls so far.
    pub fn list_calls(&self) -> u64 {
        self.lists.load(Ordering::Relaxed)
    }

    /// `GetSecretValue` calls so far.
    pub fn get_calls(&self) -> u64 {
        self.gets.load(Ordering::Relaxed)
    }

    /// `DescribeSecret` calls so far.
    pub fn describe_calls(&self) -> u64 {
        self.describes.load(Ordering::Relaxed)
    }

    /// Every call so far.
    pub fn calls(&self) -> u64 {
        self.list_calls() + self.get_calls() + self.describe_calls()
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: SecretsSource> SecretsSource for CountingSource<S> {
    fn list_versions(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionInfo>, SourceError>> + Send {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_versions(secret_id)
    }

    fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<Option<Zeroizing<String>>, SourceError>> + Send {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get_version(secret_id, version_id)
    }

    /// Counted as a `GetSecretValue` call.
    fn get_current(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<CurrentValue>, SourceError>> + Send {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get_current(secret_id)
    }

    fn last_rotated(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<UnixTime>, SourceError>> + Send {
        self.describes.fetch_add(1, Ordering::Relaxed);
        self.inner.last_rotated(secret_id)
    }
}

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

/// A static header value with its stage.
#[derive(Clone, Debug)]
struct StaticEntry {
    keyid: KeyId,
    stage: Stage,
    value: StaticHeaderValue,
    retired_at: Option<UnixTime>,
}

/// The keys accepted as of one refresh. Immutable; requests hold it through an `Arc`.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    keys: KeySet,
    statics: Vec<StaticEntry>,
    refreshed_at: Option<UnixTime>,
}

impl Snapshot {
    /// The signing keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Whether no value of either kind is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.statics.is_empty()
    }

    /// Whether any static header value is held.
    pub fn has_static_values(&self) -> bool {
        !self.statics.is_empty()
    }

    /// When the refresh that produced it ran.
    pub fn refreshed_at(&self) -> Option<UnixTime> {
        self.refreshed_at
    }

    /// The version and stage whose static value equals `presented` and is accepted at
    /// `now`. Every held value is compared (in constant time), so the time taken does
    /// not reveal which one matched.
    pub fn match_static(&self, presented: &str, now: UnixTime) -> Option<(&KeyId, Stage)> {
        let mut found = None;
        for entry in &self.statics {
            let live = entry.retired_at.is_none_or(|r| now < r);
            if entry.value.matches(presented) && live && found.is_none() {
                found = Some((&entry.keyid, entry.stage));
            }
        }
        found
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

enum Parsed {
    Value(SecretValue),
    Malformed(SecretFormatError),
}

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

    /// The source (to read a [`CountingSource`]'s counters).
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

    async fn load(&self, inner: &mut Inner, now: UnixTime) -> Result<Arc<Snapshot>, RefreshError> {
        let secret_id = &self.settings.secret_id;
        // Cold start: read AWSCURRENT by its label while listing (module docs). A failed
        // read ahead costs nothing but its call: the value is then read by id.
        let (listed, mut read_ahead) = if inner.last_success.is_none() {
            let (listed, current) = tokio::join!(
                self.source.list_versions(secret_id),
                self.source.get_current(secret_id)
            );
            let current = current.unwrap_or_else(|err| {
                tracing::debug!(error = %err, "reading AWSCURRENT ahead of the listing failed");
                None
            });
            (listed?, current)
        } else {
            (self.source.list_versions(secret_id).await?, None)
        };
        let labelled: Vec<(VersionInfo, Vec<Stage>)> = listed
            .into_iter()
            .filter_map(|v| {
                let mut stages: Vec<Stage> = v
                    .stages
                    .iter()
                    .filter_map(|s| Stage::from_label(s))
                    .collect();
                stages.sort_unstable();
                stages.dedup();
                (!stages.is_empty()).then_some((v, stages))
            })
            .collect();

        // Read the versions not seen before, all at once; versions never change, so a
        // seen one is not read again, and the value read ahead serves its own version.
        let unseen: Vec<&VersionInfo> = labelled
            .iter()
            .map(|(info, _)| info)
            .filter(|info| !inner.values.contains_key(&info.version_id))
            .collect();
        let reads = unseen.iter().map(|info| {
            let ahead = read_ahead
                .take_if(|(version_id, _)| *version_id == info.version_id)
                .map(|(_, value)| value);
            async move {
                match ahead {
                    Some(value) => Ok(Some(value)),
                    None => self.source.get_version(secret_id, &info.version_id).await,
                }
            }
        });
        // A cold start (or a rotation this cache never saw the middle of) finds an
        // AWSPREVIOUS whose demotion it does not know: ask when the rotation completed,
        // alongside the reads. Known demotions are kept, so this runs once per version.
        let demotion_unknown = labelled.iter().any(|(info, stages)| {
            stages.last() == Some(&Stage::Previous)
                && !inner.demoted_at.contains_key(&info.version_id)
                && !inner
                    .stages_seen
                    .get(&info.version_id)
                    .is_some_and(|s| s.contains(&Stage::Current))
        });
        let describe = async {
            if !demotion_unknown {
                return None;
            }
            self.source
                .last_rotated(secret_id)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(
                        reason = "secrets_manager_error",
                        error = %err,
                        "LastRotatedDate unavailable; dating the demotion from the current version's creation"
                    );
                    None
                })
        };
        let (values, last_rotated) = tokio::join!(futures_util::future::join_all(reads), describe);
        let mut fetched: Vec<(String, Parsed)> = Vec::new();
        for (info, value) in unseen.into_iter().zip(values) {
            let Some(secret_string) = value? else {
                // Deleted between the listing and the read: skip it this time.
                continue;
            };
            let parsed = match SecretValue::parse(
                &secret_string,
                self.settings.secret_key_name.as_deref(),
            ) {
                Ok(value) => Parsed::Value(value),
                Err(err) => {
                    tracing::error!(
                        reason = "malformed_secret",
                        keyid = %info.version_id,
                        error = %err,
                        "secret version is not a usable key; ignoring it"
                    );
                    Parsed::Malformed(err)
                }
            };
            fetched.push((info.version_id.clone(), parsed));
        }
        // Only commit once every read succeeded: a failed refresh changes nothing.
        inner.values.extend(fetched);
        inner
            .values
            .retain(|id, _| labelled.iter().any(|(v, _)| &v.version_id == id));

        let current_created = labelled
            .iter()
            .find(|(_, stages)| stages.contains(&Stage::Current))
            .and_then(|(v, _)| v.created);
        let cold_estimate = cold_start_demotion(current_created, last_rotated, now);
        let mut demoted_at = HashMap::new();
        for (info, stages) in &labelled {
            if stages.last() != Some(&Stage::Previous) {
                continue;
            }
            let seen_as_current = inner
                .stages_seen
                .get(&info.version_id)
                .is_some_and(|s| s.contains(&Stage::Current));
            let when = match inner.demoted_at.get(&info.version_id) {
                Some(known) => *known,
                None if seen_as_current => now,
                None => cold_estimate.unwrap_or(now),
            };
            demoted_at.insert(info.version_id.clone(), when);
        }

        let grace = self.settings.previous_grace_secs;
        let mut snapshot = Snapshot {
            refreshed_at: Some(now),
            ..Snapshot::default()
        };
        let mut summary = Vec::with_capacity(labelled.len());
        for (info, stages) in &labelled {
            let Some(stage) = stages.last().copied() else {
                continue;
            };
            let Ok(keyid) = KeyId::new(info.version_id.as_str()) else {
                continue;
            };
            let retired_at = demoted_at.get(&info.version_id).map(|t| t.plus_secs(grace));
            let kind = match inner.values.get(&info.version_id) {
                Some(Parsed::Value(SecretValue::Hmac(key))) => {
                    match (stage, retired_at) {
                        (Stage::Current, _) => snapshot.keys.insert_current(keyid, key.clone()),
                        (Stage::Pending, _) => snapshot.keys.insert_pending(keyid, key.clone()),
                        (Stage::Previous, retired) => snapshot.keys.insert_previous(
                            keyid,
                            key.clone(),
                            retired.unwrap_or(now),
                        ),
                    }
                    Cow::Borrowed("hmac")
                }
                Some(Parsed::Value(SecretValue::StaticHeader(value))) => {
                    snapshot.statics.push(StaticEntry {
                        keyid,
                        stage,
                        value: value.clone(),
                        retired_at: if stage == Stage::Previous {
                            Some(retired_at.unwrap_or(now))
                        } else {
                            None
                        },
                    });
                    Cow::Borrowed("static_header")
                }
                Some(Parsed::Malformed(err)) => Cow::Owned(format!("malformed({err})")),
                None => Cow::Borrowed("unavailable"),
            };
            summary.push(format!(
                "{}={}:{}{}",
                stage.as_str(),
                info.version_id,
                kind,
                retired_at.map_or(String::new(), |r| format!(":until={r}"))
            ));
        }
        inner.stages_seen = labelled
            .into_iter()
            .map(|(v, stages)| (v.version_id, stages))
            .collect();
        inner.demoted_at = demoted_at;
        tracing::info!(versions = %summary.join(" "), "keys refreshed");
        Ok(Arc::new(snapshot))
    }
}

//! Which keys a verifier accepts, and until when: edgeseal's key rules, without I/O.
//!
//! Every verifier (the Lambda authorizer, the Node.js and Python middlewares, the tower
//! layer) follows the same rules; this module states them once. The host does the I/O
//! (it lists the secret's versions, reads the values asked for, reads its clock) and
//! hands the results in with `now`; [`KeyState`] answers which keys are accepted, which
//! values to read, and when to refresh.
//!
//! A host's loop:
//! 1. Before a verdict, [`KeyState::refresh_due`]: if so, list the versions
//!    (`ListSecretVersionIds`), read each version [`KeyState::values_needed`] names
//!    (`GetSecretValue` by `VersionId`), then [`KeyState::apply`]; on any failure,
//!    [`KeyState::refresh_failed`].
//! 2. Verify against [`KeyState::snapshot_at`]'s keys (`None`: deny, `no_keys`).
//! 3. When the signature names a key the snapshot lacks, refresh once more only if
//!    [`KeyState::allow_on_demand_refresh`] says so (rate-limited).
//!
//! The rules:
//! - **Accepted:** AWSCURRENT and AWSPENDING; AWSPREVIOUS strictly before its demotion
//!   time + `previous_grace_secs`. A version without one of these labels is dropped (its
//!   key zeroized with its last reference).
//! - **Demotion time.** Secrets Manager does not record when a label moved, so it is
//!   derived: if this state saw the version as AWSCURRENT and later sees it as
//!   AWSPREVIOUS, the refresh that first saw it as AWSPREVIOUS (late by at most one TTL,
//!   never early). Otherwise (a cold start after the rotation): the secret's
//!   `LastRotatedDate` when the host knows it and it lies between the current version's
//!   `CreatedDate` and `now` (`DescribeSecret` documents it as when the last rotation
//!   completed, which is when AWSCURRENT moved); else the `CreatedDate` of the version
//!   that is now AWSCURRENT (it was created as AWSPENDING when the rotation began, and
//!   the old one cannot have been demoted before that); else `now`. Each errs towards
//!   ending the grace early, never towards extending it, so a stream of cold starts
//!   cannot keep an old key alive.
//!   [`accepted_now`] states these two rules as one pure function.
//! - **Refresh:** every `ttl_secs` after a success; `retry_secs` after a failure. Versions
//!   are immutable, so a value once read is never read again: steady state is one
//!   listing per TTL and no call per request.
//! - **Unknown key id:** one on-demand refresh, at most one per
//!   `unknown_key_min_interval_secs` whatever triggered it.
//! - **Stale:** while refreshes fail, the last snapshot serves until `ttl_secs +
//!   max_stale_secs` after the last success; then the keys are dropped and every
//!   request is denied (fail closed).

mod now;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use zeroize::Zeroizing;

use self::now::edgeseal_stages;
pub use self::now::{
    AcceptedNow, AcceptedVersion, LabelHistory, accepted_now, cold_start_demotion,
};

use crate::error::SecretFormatError;
use crate::key::{KeyId, StaticHeaderValue};
use crate::keyset::{KeySet, Stage};
use crate::secret::SecretValue;
use crate::time::UnixTime;

/// One version of the secret as `ListSecretVersionIds` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedVersion {
    /// The `VersionId` (the signatures' `keyid`).
    pub version_id: String,
    /// Its staging labels (any; only the three edgeseal reads count).
    pub stages: Vec<String>,
    /// Its `CreatedDate`.
    pub created: Option<UnixTime>,
}

/// The timings and parsing settings of the rules, named as the authorizer's variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRules {
    /// Time between refreshes (`CACHE_TTL_SECS`).
    pub ttl_secs: u64,
    /// How long past the TTL keys serve while refreshes fail (`MAX_STALE_SECS`).
    pub max_stale_secs: u64,
    /// Wait after a failed refresh (`REFRESH_RETRY_SECS`).
    pub retry_secs: u64,
    /// Minimum interval between on-demand refreshes (`UNKNOWN_KEY_MIN_INTERVAL_SECS`).
    pub unknown_key_min_interval_secs: u64,
    /// AWSPREVIOUS grace after demotion (`PREVIOUS_KEY_GRACE_SECS`).
    pub previous_grace_secs: u64,
    /// The static-header secret's JSON field (`SECRET_KEY_NAME`).
    pub secret_key_name: Option<String>,
}

impl Default for KeyRules {
    /// The authorizer's defaults (origin-verifier/README.md).
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            max_stale_secs: 3600,
            retry_secs: 10,
            unknown_key_min_interval_secs: 10,
            previous_grace_secs: 3600,
            secret_key_name: None,
        }
    }
}

/// What a held version's value turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// An HMAC signing key.
    Hmac,
    /// A static header value (migration from static-header setups).
    StaticHeader,
    /// Not a usable key: ignored.
    Malformed(SecretFormatError),
    /// No value was read (the version vanished between listing and reading).
    Unavailable,
}

/// One labelled version and what the rules make of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The version.
    pub keyid: KeyId,
    /// Its strongest edgeseal stage.
    pub stage: Stage,
    /// For AWSPREVIOUS: the first instant it is no longer accepted.
    pub until: Option<UnixTime>,
    /// What its value is.
    pub kind: ValueKind,
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
    versions: Vec<Accepted>,
    refreshed_at: Option<UnixTime>,
}

impl Snapshot {
    /// The signing keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Every labelled version, accepted or not, with its stage and deadline.
    pub fn versions(&self) -> &[Accepted] {
        &self.versions
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

    /// The versions as the authorizer logs them after a refresh:
    /// `current=<id>:hmac previous=<id>:hmac:until=<t> ...` (no key material).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for v in &self.versions {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{}={}:", v.stage.as_str(), v.keyid);
            match v.kind {
                ValueKind::Hmac => out.push_str("hmac"),
                ValueKind::StaticHeader => out.push_str("static_header"),
                ValueKind::Malformed(err) => {
                    let _ = write!(out, "malformed({err})");
                }
                ValueKind::Unavailable => out.push_str("unavailable"),
            }
            if let Some(until) = v.until {
                let _ = write!(out, ":until={until}");
            }
        }
        out
    }
}

/// A value as read: parsed once, kept for the version's lifetime.
#[derive(Clone, Debug)]
enum Parsed {
    Value(SecretValue),
    Malformed(SecretFormatError),
}

/// What one successful refresh produced.
#[derive(Clone, Debug)]
pub struct Refreshed {
    /// The new snapshot (also what [`KeyState::snapshot_at`] returns from now on).
    pub snapshot: Arc<Snapshot>,
    /// Versions read in this refresh whose value is not a usable key (log them as
    /// `malformed_secret`; the error names the kind only, never the value).
    pub malformed: Vec<(String, SecretFormatError)>,
}

/// The key rules' state for one secret in one process (see the module docs).
#[derive(Debug)]
pub struct KeyState {
    rules: KeyRules,
    snapshot: Option<Arc<Snapshot>>,
    last_success: Option<UnixTime>,
    /// First instant at which the next scheduled refresh may run.
    next_attempt: UnixTime,
    last_on_demand: Option<UnixTime>,
    values: HashMap<String, Parsed>,
    history: LabelHistory,
}

impl KeyState {
    /// Nothing loaded yet: the first refresh is due at once.
    pub fn new(rules: KeyRules) -> Self {
        Self {
            rules,
            snapshot: None,
            last_success: None,
            next_attempt: UnixTime::from_secs(0),
            last_on_demand: None,
            values: HashMap::new(),
            history: LabelHistory::default(),
        }
    }

    /// The rules it applies.
    pub fn rules(&self) -> &KeyRules {
        &self.rules
    }

    /// Whether a scheduled refresh (TTL, or the retry wait after a failure) is due.
    pub fn refresh_due(&self, now: UnixTime) -> bool {
        now >= self.next_attempt
    }

    /// The first instant at which a scheduled refresh is due.
    pub fn next_refresh(&self) -> UnixTime {
        self.next_attempt
    }

    /// The snapshot held, whatever its age (`None`: never loaded, or dropped at the stale
    /// deadline). Verdicts take [`snapshot_at`](Self::snapshot_at), which applies the
    /// stale rule.
    pub fn held(&self) -> Option<&Arc<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// When the last successful refresh ran (`None`: never).
    pub fn last_success(&self) -> Option<UnixTime> {
        self.last_success
    }

    /// Whether an on-demand refresh (unknown key id, unmatched static value) may run
    /// now. A `true` counts as the refresh having started: the next one waits
    /// `unknown_key_min_interval_secs`, whether this one succeeds or not.
    pub fn allow_on_demand_refresh(&mut self, now: UnixTime) -> bool {
        if let Some(last) = self.last_on_demand
            && now < last.plus_secs(self.rules.unknown_key_min_interval_secs)
        {
            return false;
        }
        self.last_on_demand = Some(now);
        true
    }

    /// The versions of `listing` whose values must be read before [`apply`](Self::apply):
    /// those carrying an edgeseal label whose value this state does not hold.
    pub fn values_needed<'l>(&self, listing: &'l [ListedVersion]) -> Vec<&'l str> {
        listing
            .iter()
            .filter(|v| !edgeseal_stages(&v.stages).is_empty())
            .map(|v| v.version_id.as_str())
            .filter(|id| !self.values.contains_key(*id))
            .collect()
    }

    /// Whether the secret's `LastRotatedDate` would change what [`apply`](Self::apply)
    /// makes of `listing` ([`LabelHistory::needs_last_rotated`]): read it only then.
    pub fn needs_last_rotated(&self, listing: &[ListedVersion]) -> bool {
        self.history.needs_last_rotated(listing)
    }

    /// A refresh succeeded: `listing` as listed at `now`, `values` the `SecretString`s
    /// read for [`values_needed`](Self::values_needed) (`None` for a version deleted
    /// since the listing; it is skipped this time), `last_rotated` the secret's
    /// `LastRotatedDate` if the host read it.
    pub fn apply(
        &mut self,
        now: UnixTime,
        listing: Vec<ListedVersion>,
        last_rotated: Option<UnixTime>,
        values: impl IntoIterator<Item = (String, Option<Zeroizing<String>>)>,
    ) -> Refreshed {
        let accepted = accepted_now(
            &listing,
            last_rotated,
            &self.history,
            self.rules.previous_grace_secs,
            now,
        );
        let is_labelled = |id: &str| accepted.versions.iter().any(|v| v.version_id == id);
        let mut malformed = Vec::new();
        for (version_id, value) in values {
            let Some(secret_string) = value else {
                continue;
            };
            if self.values.contains_key(&version_id) || !is_labelled(&version_id) {
                continue;
            }
            let parsed =
                match SecretValue::parse(&secret_string, self.rules.secret_key_name.as_deref()) {
                    Ok(value) => Parsed::Value(value),
                    Err(err) => {
                        malformed.push((version_id.clone(), err));
                        Parsed::Malformed(err)
                    }
                };
            self.values.insert(version_id, parsed);
        }
        self.values.retain(|id, _| is_labelled(id));

        let mut snapshot = Snapshot {
            refreshed_at: Some(now),
            ..Snapshot::default()
        };
        for AcceptedVersion {
            version_id,
            stage,
            until,
        } in &accepted.versions
        {
            let (stage, until) = (*stage, *until);
            let Ok(keyid) = KeyId::new(version_id.as_str()) else {
                continue;
            };
            let kind = match self.values.get(version_id) {
                Some(Parsed::Value(SecretValue::Hmac(key))) => {
                    match until {
                        None if stage == Stage::Current => {
                            snapshot.keys.insert_current(keyid.clone(), key.clone());
                        }
                        None => snapshot.keys.insert_pending(keyid.clone(), key.clone()),
                        Some(until) => {
                            snapshot
                                .keys
                                .insert_previous(keyid.clone(), key.clone(), until);
                        }
                    }
                    ValueKind::Hmac
                }
                Some(Parsed::Value(SecretValue::StaticHeader(value))) => {
                    snapshot.statics.push(StaticEntry {
                        keyid: keyid.clone(),
                        stage,
                        value: value.clone(),
                        retired_at: until,
                    });
                    ValueKind::StaticHeader
                }
                Some(Parsed::Malformed(err)) => ValueKind::Malformed(*err),
                None => ValueKind::Unavailable,
            };
            snapshot.versions.push(Accepted {
                keyid,
                stage,
                until,
                kind,
            });
        }
        self.history = accepted.history;
        self.last_success = Some(now);
        self.next_attempt = now.plus_secs(self.rules.ttl_secs.max(1));
        let snapshot = Arc::new(snapshot);
        self.snapshot = Some(Arc::clone(&snapshot));
        Refreshed {
            snapshot,
            malformed,
        }
    }

    /// A refresh failed at `now`: the next scheduled one waits `retry_secs`; the held
    /// snapshot keeps serving within the stale bound.
    pub fn refresh_failed(&mut self, now: UnixTime) {
        self.next_attempt = now.plus_secs(self.rules.retry_secs.max(1));
    }

    /// The first instant at which the held keys are dropped if no refresh succeeds.
    pub fn stale_deadline(&self) -> Option<UnixTime> {
        self.last_success.map(|last| {
            last.plus_secs(self.rules.ttl_secs)
                .plus_secs(self.rules.max_stale_secs)
        })
    }

    /// The keys to verify against at `now`; `None` when nothing usable is held (never
    /// loaded, or past the stale deadline, in which case the keys are dropped now).
    pub fn snapshot_at(&mut self, now: UnixTime) -> Option<Arc<Snapshot>> {
        let deadline = self.stale_deadline()?;
        if now >= deadline {
            self.snapshot = None;
            self.values.clear();
            return None;
        }
        self.snapshot.clone()
    }

    /// The keys [`snapshot_at`](Self::snapshot_at) would return at `now`, borrowed and
    /// without dropping anything.
    pub fn usable_keys_at(&self, now: UnixTime) -> Option<&KeySet> {
        self.is_usable_at(now)
            .then_some(self.snapshot.as_deref())
            .flatten()
            .map(Snapshot::keys)
    }

    /// Whether [`snapshot_at`](Self::snapshot_at) would return keys at `now` (without
    /// dropping anything).
    pub fn is_usable_at(&self, now: UnixTime) -> bool {
        self.snapshot.is_some() && self.stale_deadline().is_some_and(|d| now < d)
    }
}

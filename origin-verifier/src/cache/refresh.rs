//! One refresh: what it reads from the [`SecretsSource`] and the [`Snapshot`] it builds
//! from the answers (which versions are accepted, as what, and until when).
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
use std::sync::Arc;

use edgeseal::{KeyId, SecretFormatError, SecretValue, Stage, UnixTime};

use super::snapshot::{Snapshot, StaticEntry};
use super::source::{SecretsSource, VersionInfo};
use super::{Inner, KeyCache, RefreshError};

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

/// A version's value as read: usable, or why not (logged once, when read).
pub(super) enum Parsed {
    Value(SecretValue),
    Malformed(SecretFormatError),
}

impl<S: SecretsSource> KeyCache<S> {
    /// Read what changed since the last refresh and build the snapshot. On any read's
    /// failure `inner` is left as it was (its state is only committed at the end).
    pub(super) async fn load(
        &self,
        inner: &mut Inner,
        now: UnixTime,
    ) -> Result<Arc<Snapshot>, RefreshError> {
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

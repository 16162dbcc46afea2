//! One refresh: what it reads from the [`SecretsSource`] for the cache's [`KeyState`],
//! which makes the [`Snapshot`] of the answers (which versions are accepted, as what, and
//! until when: [`edgeseal::accepted::accepted_now`]).
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
//! demotion time is derived ([`edgeseal::accepted::cold_start_demotion`] for 2 and 3):
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

use std::sync::Arc;

use edgeseal::UnixTime;
use edgeseal::accepted::KeyState;

use super::source::SecretsSource;
use super::{KeyCache, RefreshError, Snapshot};

impl<S: SecretsSource> KeyCache<S> {
    /// Read what `keys` lacks and apply it. On any read's failure `keys` is left as it
    /// was (nothing is applied).
    pub(super) async fn load(
        &self,
        keys: &mut KeyState,
        now: UnixTime,
    ) -> Result<Arc<Snapshot>, RefreshError> {
        let secret_id = self.secret_id.as_str();
        // Cold start: read AWSCURRENT by its label while listing (module docs). A failed
        // read ahead costs nothing but its call: the value is then read by id.
        let (listed, mut read_ahead) = if keys.last_success().is_none() {
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

        // Read the versions not seen before, all at once; versions never change, so a
        // seen one is not read again, and the value read ahead serves its own version.
        let unseen: Vec<String> = keys
            .values_needed(&listed)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let reads = unseen.iter().map(|version_id| {
            let ahead = read_ahead
                .take_if(|(id, _)| id == version_id)
                .map(|(_, value)| value);
            async move {
                match ahead {
                    Some(value) => Ok(Some(value)),
                    None => self.source.get_version(secret_id, version_id).await,
                }
            }
        });
        // A cold start (or a rotation this cache never saw the middle of) finds an
        // AWSPREVIOUS whose demotion it does not know: ask when the rotation completed,
        // alongside the reads. Known demotions are kept, so this runs once per version.
        let describe = async {
            if !keys.needs_last_rotated(&listed) {
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
        // Only apply once every read succeeded: a failed refresh changes nothing. A
        // version deleted between the listing and the read (`None`) is skipped this time.
        let values = unseen
            .into_iter()
            .zip(values)
            .map(|(version_id, value)| value.map(|value| (version_id, value)))
            .collect::<Result<Vec<_>, _>>()?;
        let refreshed = keys.apply(now, listed, last_rotated, values);
        for (version_id, err) in &refreshed.malformed {
            tracing::error!(
                reason = "malformed_secret",
                keyid = %version_id,
                error = %err,
                "secret version is not a usable key; ignoring it"
            );
        }
        tracing::info!(versions = %refreshed.snapshot.summary(), "keys refreshed");
        Ok(refreshed.snapshot)
    }
}

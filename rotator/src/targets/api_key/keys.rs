//! The API key side of a rotation: put the pending value in place as an enabled key in
//! every usage plan (setSecret, before CloudFront sends it), and retire edgeseal's keys
//! that nothing may send any more (finishSecret, and the next rotation's createSecret).
//!
//! Every function starts from what API Gateway holds, so a rerun (Secrets Manager retries
//! a failed rotation with the same token) finds its own earlier work and adopts it: the
//! key for a version is found by its name and edgeseal's tags, a link by the plan's key
//! list; nothing is created twice and no usage plan is ever created.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use base64::Engine as _;
use edgeseal::{Stage, StaticHeaderValue};
use sha2::Digest as _;
use tokio::time::Instant;
use tracing::{info, warn};

use super::api::{ApiKey, NewApiKey, UsagePlanKeys};
use super::settings::ApiKeySettings;
use crate::aws::{ApiError, SecretMetadata};
use crate::cloudfront::throttle::retry_throttled;

/// Tag naming the secret a key was made for (a digest of its id: tag values allow only
/// `[a-zA-Z0-9+-=._:/]`, and secret names may hold `@`).
pub const TAG_SECRET: &str = "edgeseal:secret";
/// Tag naming the secret version whose value the key carries.
pub const TAG_VERSION: &str = "edgeseal:version";

/// Why putting a key in place failed. Never carries a key value.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// A configured usage plan does not exist (edgeseal adopts plans, never creates them).
    #[error("usage plan {0} (USAGE_PLAN_ID) does not exist")]
    UsagePlanNotFound(String),
    /// The pending value is already the value of a key edgeseal did not make for this
    /// version (API Gateway key values are unique per account and Region).
    #[error(
        "API key {key_id} already has the pending value but is not edgeseal's key for this version"
    )]
    ValueTaken {
        /// The other key's id.
        key_id: String,
    },
    /// The origin accepts the new key, but `API_KEY_PROPAGATION_SECS` since it was
    /// linked have not passed before the step's deadline: Secrets Manager's retry goes on.
    #[error(
        "the new API key is still propagating through API Gateway (API_KEY_PROPAGATION_SECS); the rotation will retry"
    )]
    Propagating,
    /// An API Gateway call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl ApiKeyError {
    /// The stable `errorType` of the rotator's Lambda error for it.
    pub const fn error_type(&self) -> &'static str {
        match self {
            ApiKeyError::UsagePlanNotFound(_) => "UsagePlanNotFound",
            ApiKeyError::ValueTaken { .. } => "ApiKeyValueTaken",
            ApiKeyError::Propagating => "ApiKeyPropagating",
            ApiKeyError::Api(ApiError::Throttled { .. }) => "Throttled",
            ApiKeyError::Api(_) => "AwsApiError",
        }
    }
}

/// Staging labels as the retirement reads them.
const CURRENT: &str = Stage::Current.label();
const PENDING: &str = Stage::Pending.label();
const PREVIOUS: &str = Stage::Previous.label();

/// What a rotation may retire, decided by the caller from CloudFront.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetireGuard {
    /// A distribution is not `Deployed`, or sends a value that is not a labelled
    /// version's: some edge may send any earlier value, so nothing is retired now.
    Unsettled,
    /// Every distribution is `Deployed` and sends the values of these versions.
    Settled {
        /// The versions whose values the distributions send.
        sent: BTreeSet<String>,
    },
}

/// What follows the description edgeseal gives its keys once one is in place: the time
/// (RFC 3339, whole seconds) from which API Gateway's propagation counts.
const IN_PLACE_SINCE: &str = "; in place since ";

/// How far ahead of this clock a recorded time may lie and still be believed (another
/// rotator's clock); further, it is recorded again.
const CLOCK_SLACK: Duration = Duration::from_secs(60);

/// A key in place for a version's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPlace {
    /// The key's id.
    pub key_id: String,
    /// Since when it has been enabled and in every plan: API Gateway's propagation counts
    /// from there. Recorded in the key's description after the last change (by this
    /// call, or by the earlier try that made the last change), so a later try counts
    /// from the link, not from the key's creation.
    pub since: SystemTime,
}

/// What a retirement did (for logs and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retired {
    /// Keys unlinked from every configured plan and deleted: their versions.
    pub deleted: Vec<String>,
    /// Keys kept: their versions, each with why.
    pub kept: Vec<(String, &'static str)>,
    /// Keys whose unlink or delete failed (left for a later run): their versions.
    pub failed: Vec<String>,
}

/// The key work of one secret's rotation.
pub struct KeyRotation<'a, K> {
    keys: &'a K,
    settings: &'a ApiKeySettings,
    secret_tag: String,
}

impl<'a, K: UsagePlanKeys> KeyRotation<'a, K> {
    /// For the secret `secret_id` (as the rotation event names it: its ARN).
    pub fn new(keys: &'a K, settings: &'a ApiKeySettings, secret_id: &str) -> Self {
        Self {
            keys,
            settings,
            secret_tag: secret_tag(secret_id),
        }
    }

    /// The name of the key carrying `version_id`'s value.
    pub fn key_name(&self, version_id: &str) -> String {
        format!("{}{version_id}", self.settings.name_prefix)
    }

    /// The version whose value `key` carries, if edgeseal made the key for this secret:
    /// its name and both tags agree. Keys made otherwise (the blog's CloudFormation key,
    /// a hand-made one) are never changed.
    pub fn own_version<'k>(&self, key: &'k ApiKey) -> Option<&'k str> {
        let version = key.tags.get(TAG_VERSION)?;
        let ours = key.tags.get(TAG_SECRET) == Some(&self.secret_tag)
            && key.name.strip_prefix(self.settings.name_prefix.as_str()) == Some(version);
        ours.then_some(version.as_str())
    }

    /// setSecret, before CloudFront sends the value: `value` (the secret's `version_id`)
    /// is an enabled API key in every configured usage plan.
    pub async fn ensure_accepted(
        &self,
        version_id: &str,
        value: &StaticHeaderValue,
        deadline: Instant,
    ) -> Result<InPlace, ApiKeyError> {
        for plan in &self.settings.usage_plans {
            if !self.keys.usage_plan_exists(plan).await? {
                return Err(ApiKeyError::UsagePlanNotFound(plan.clone()));
            }
        }
        let mut changed = false;
        let key = match self.own_key(version_id).await? {
            Some(key) => {
                info!(key_id = %key.id, "adopting the API key made earlier for this version");
                key
            }
            None => {
                changed = true;
                self.create_key(version_id, value, deadline).await?
            }
        };
        if !key.enabled {
            retry_throttled(deadline, || self.keys.enable_api_key(&key.id)).await?;
            changed = true;
            info!(key_id = %key.id, "enabled the API key");
        }
        for plan in &self.settings.usage_plans {
            changed |= self.ensure_linked(plan, &key.id, deadline).await?;
        }
        let now = SystemTime::now();
        let recorded = key
            .description
            .as_deref()
            .and_then(in_place_since)
            .filter(|since| *since <= now + CLOCK_SLACK);
        let since = match recorded {
            Some(since) if !changed => since,
            // Changed now, or by an earlier try that failed before recording it (a key it
            // created, linked or enabled): record a time after every change. Rounded up
            // to the second, so never before the last change.
            _ => {
                let since = whole_second_after(now);
                let described = described_in_place(version_id, since);
                retry_throttled(deadline, || self.keys.describe_api_key(&key.id, &described))
                    .await?;
                info!(key_id = %key.id, since = %described, "recorded when the API key was put in place");
                since
            }
        };
        Ok(InPlace {
            key_id: key.id,
            since,
        })
    }

    async fn own_key(&self, version_id: &str) -> Result<Option<ApiKey>, ApiError> {
        let name = self.key_name(version_id);
        let keys = self.keys.api_keys_named(&name).await?;
        Ok(keys
            .into_iter()
            .find(|k| k.name == name && self.own_version(k) == Some(version_id)))
    }

    async fn create_key(
        &self,
        version_id: &str,
        value: &StaticHeaderValue,
        deadline: Instant,
    ) -> Result<ApiKey, ApiKeyError> {
        let name = self.key_name(version_id);
        let tags = BTreeMap::from([
            (TAG_SECRET.to_owned(), self.secret_tag.clone()),
            (TAG_VERSION.to_owned(), version_id.to_owned()),
        ]);
        let description = description(version_id);
        let request = NewApiKey {
            name: &name,
            description: &description,
            value: value.expose(),
            tags,
        };
        // CreateApiKey: 5 a second per account (API Gateway quotas); throttling waits.
        match retry_throttled(deadline, || self.keys.create_api_key(&request)).await {
            Ok(key) => {
                info!(key_id = %key.id, name = %key.name, "created the API key");
                Ok(key)
            }
            // The value exists: our own key, which the name query did not show (an
            // earlier try's answer was lost and the listing lags), or someone else's.
            Err(ApiError::Conflict { .. }) => {
                match self.keys.api_key_with_value(value.expose()).await? {
                    Some(key) if self.own_version(&key) == Some(version_id) => Ok(key),
                    Some(key) => Err(ApiKeyError::ValueTaken { key_id: key.id }),
                    None => Err(ApiKeyError::Api(ApiError::Conflict {
                        op: crate::aws::Op::CreateApiKey,
                        message: "API key value exists but no key lists it".into(),
                    })),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether it linked the key now (`false`: it was in the plan already).
    async fn ensure_linked(
        &self,
        plan: &str,
        key_id: &str,
        deadline: Instant,
    ) -> Result<bool, ApiError> {
        if self
            .keys
            .plan_key_ids(plan)
            .await?
            .iter()
            .any(|id| id == key_id)
        {
            return Ok(false);
        }
        match retry_throttled(deadline, || self.keys.link(plan, key_id)).await {
            Ok(()) => {
                info!(%plan, %key_id, "linked the API key to the usage plan");
                Ok(true)
            }
            // Linked meanwhile (a concurrent or lost earlier try): fine if it is there now.
            Err(ApiError::Conflict { op, message }) => {
                if self
                    .keys
                    .plan_key_ids(plan)
                    .await?
                    .iter()
                    .any(|id| id == key_id)
                {
                    Ok(true)
                } else {
                    Err(ApiError::Conflict { op, message })
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Unlink and delete edgeseal's keys for this secret that nothing may send any more:
    /// not AWSCURRENT or AWSPENDING, not AWSPREVIOUS within `PREVIOUS_KEY_GRACE_SECS` of
    /// `current_created` (AWSCURRENT's creation; unknown → the grace has not ended), not
    /// sent by a distribution, and only when `guard` says every edge runs the latest
    /// config. Failures are logged and left for a later run, never returned: the rotation
    /// that calls this has completed.
    pub async fn retire(
        &self,
        meta: &SecretMetadata,
        current_created: Option<SystemTime>,
        now: SystemTime,
        guard: &RetireGuard,
        deadline: Instant,
    ) -> Retired {
        let mut retired = Retired::default();
        let RetireGuard::Settled { sent } = guard else {
            info!("a distribution may still send an earlier API key; retiring none now");
            return retired;
        };
        let keys = match self.keys.api_keys_named(&self.settings.name_prefix).await {
            Ok(keys) => keys,
            Err(e) => {
                warn!(error = %e, "cannot list API keys; retiring none now");
                return retired;
            }
        };
        let grace_over = current_created
            .and_then(|created| created.checked_add(self.settings.previous_grace))
            .is_some_and(|end| now >= end);
        let mut to_delete: Vec<(String, String)> = Vec::new();
        for key in &keys {
            let Some(version) = self.own_version(key) else {
                continue;
            };
            let stages = meta.stages_of(version).unwrap_or_default();
            let has = |label: &str| stages.iter().any(|s| s == label);
            let keep = if has(CURRENT) {
                Some(CURRENT)
            } else if has(PENDING) {
                Some(PENDING)
            } else if sent.contains(version) {
                Some("sent by a distribution")
            } else if has(PREVIOUS) && !grace_over {
                Some("AWSPREVIOUS within the grace")
            } else {
                None
            };
            match keep {
                Some(why) => retired.kept.push((version.to_owned(), why)),
                None => to_delete.push((key.id.clone(), version.to_owned())),
            }
        }
        if to_delete.is_empty() {
            return retired;
        }
        let mut linked: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for plan in &self.settings.usage_plans {
            match self.keys.plan_key_ids(plan).await {
                Ok(ids) => {
                    linked.insert(plan, ids);
                }
                Err(e) => {
                    warn!(error = %e, %plan, "cannot list the usage plan's keys; retiring none now");
                    retired.failed.extend(to_delete.into_iter().map(|(_, v)| v));
                    return retired;
                }
            }
        }
        for (key_id, version) in to_delete {
            if Instant::now() >= deadline {
                warn!("deadline near; leaving the remaining API keys for a later run");
                retired.failed.push(version);
                continue;
            }
            match self.retire_key(&key_id, &linked, deadline).await {
                Ok(()) => {
                    info!(%key_id, %version, "retired the API key (unlinked and deleted)");
                    retired.deleted.push(version);
                }
                Err(e) => {
                    warn!(%key_id, %version, error = %e, "could not retire the API key; a later run retries");
                    retired.failed.push(version);
                }
            }
        }
        retired
    }

    async fn retire_key(
        &self,
        key_id: &str,
        linked: &BTreeMap<&str, Vec<String>>,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        for (plan, ids) in linked {
            if ids.iter().any(|id| id == key_id) {
                match retry_throttled(deadline, || self.keys.unlink(plan, key_id)).await {
                    // Gone already (an earlier try got this far).
                    Ok(()) | Err(ApiError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // DeleteApiKey: 5 a second per account (API Gateway quotas); throttling waits.
        match retry_throttled(deadline, || self.keys.delete_api_key(key_id)).await {
            Ok(()) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The description of the key carrying `version_id`'s value, as created.
fn description(version_id: &str) -> String {
    format!("edgeseal rotation: CloudFront origin key, secret version {version_id}")
}

/// The description once the key is enabled and in every plan, from `since`.
fn described_in_place(version_id: &str, since: SystemTime) -> String {
    let at = DateTime::from(since)
        .fmt(Format::DateTime)
        .unwrap_or_default();
    format!("{}{IN_PLACE_SINCE}{at}", description(version_id))
}

/// The time a description written by [`described_in_place`] records.
fn in_place_since(description: &str) -> Option<SystemTime> {
    let (_, at) = description.rsplit_once(IN_PLACE_SINCE)?;
    let at = DateTime::from_str(at, Format::DateTime).ok()?;
    SystemTime::try_from(at).ok()
}

/// `t` rounded up to a whole second.
fn whole_second_after(t: SystemTime) -> SystemTime {
    let since_epoch = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let whole = Duration::from_secs(since_epoch.as_secs())
        + if since_epoch.subsec_nanos() > 0 {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
    SystemTime::UNIX_EPOCH + whole
}

/// The [`TAG_SECRET`] value for `secret_id`: the first 128 bits of its SHA-256, base64url.
pub fn secret_tag(secret_id: &str) -> String {
    let digest = sha2::Sha256::digest(secret_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_time_reads_back_and_nothing_else_is_taken_for_one() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_683_947);
        let written = described_in_place("v-7", since);
        assert_eq!(
            written,
            "edgeseal rotation: CloudFront origin key, secret version v-7; in place since 2026-11-26T09:05:47Z"
        );
        assert_eq!(in_place_since(&written), Some(since));
        assert_eq!(in_place_since(&description("v-7")), None);
        assert_eq!(in_place_since("; in place since yesterday"), None);
        assert_eq!(in_place_since(""), None);
    }

    #[test]
    fn recorded_times_round_up_to_the_second() {
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(whole_second_after(whole), whole);
        assert_eq!(
            whole_second_after(whole + Duration::from_nanos(1)),
            whole + Duration::from_secs(1)
        );
        assert_eq!(
            whole_second_after(whole + Duration::from_millis(999)),
            whole + Duration::from_secs(1)
        );
    }
}

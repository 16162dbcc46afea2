//! The `appsync-api-key` target's work in each rotation step, as plain async functions
//! over [`AppSyncKeys`] and [`GraphqlProbe`]. The Secrets Manager side (stage checks,
//! reading and storing versions, moving labels) is the steps' own, not done here.
//!
//! - **createSecret** ([`create_key`]): a new key, valid `APPSYNC_KEY_VALIDITY_DAYS`,
//!   described with a [`KeyMarker`] naming the secret and the token; a rerun for the same
//!   token finds that key instead of making another (CreateApiKey is not idempotent).
//! - **setSecret**: nothing in AppSync; a new key is accepted as soon as it exists, next
//!   to every other key. (The prior art deleted the old key here, before anything was
//!   tested, while clients still used it.) When AppSync sits behind CloudFront, the
//!   target proves the pending key works ([`pending_accepted`]) before CloudFront sends it.
//! - **testSecret** ([`test_keys`]): the GraphQL test query with the pending key, then
//!   with the current one.
//! - **finishSecret** ([`retire_keys`]), after the labels moved: the keys of versions
//!   that are neither current nor pending are marked retired and their expiry is brought
//!   forward to the grace (AppSync's 1-day minimum permitting); once the grace has passed
//!   they are deleted. Failures are reported, never fatal.

use std::time::Duration;

use edgeseal::{Stage, StaticHeaderValue, UnixTime};

use super::api::{ApiKey, AppSyncKeys};
use super::graphql::{GraphqlProbe, GraphqlProbeError};
use super::marker::KeyMarker;
use super::settings::AppSyncSettings;
use crate::aws::ApiError;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// Why an AppSync step failed. Never carries a key.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppSyncStepError {
    /// An AppSync call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// New keys would expire before the next rotation replaced them.
    #[error(
        "APPSYNC_KEY_VALIDITY_DAYS ({validity_days} days) does not outlive the rotation interval ({interval_secs} s) plus PREVIOUS_KEY_GRACE_SECS ({grace_secs} s): clients would hold an expired key before the next rotation; raise it or rotate more often"
    )]
    ValidityTooShort {
        /// The configured validity.
        validity_days: u64,
        /// The secret's rotation interval.
        interval_secs: u64,
        /// The configured grace.
        grace_secs: u64,
    },
    /// The pending version's key no longer exists in AppSync.
    #[error(
        "the AWSPENDING API key of version {version_id} is no longer in AppSync (deleted by hand?); a secret version cannot change its value, so cancel this rotation (remove AWSPENDING from that version) and rotate again"
    )]
    PendingKeyGone {
        /// The pending version.
        version_id: String,
    },
    /// The pending version's key has expired.
    #[error(
        "the AWSPENDING API key of version {version_id} expired at {expires}; cancel this rotation (remove AWSPENDING from that version) and rotate again"
    )]
    PendingKeyExpired {
        /// The pending version.
        version_id: String,
        /// Its expiry.
        expires: UnixTime,
    },
    /// The configuration test found the current key deleted (`expired: None`) or expired.
    #[error(
        "the AWSCURRENT API key is {}: clients holding it are refused; rotate now to give them a new one",
        match expired { Some(at) => format!("expired (at {at})"), None => "no longer in AppSync".to_owned() }
    )]
    CurrentKeyUnusable {
        /// When it expired, if it still exists.
        expired: Option<UnixTime>,
    },
    /// The GraphQL endpoint (configured or from `GetGraphqlApi`) is not a usable URL.
    #[error("the GraphQL endpoint {0:?} is not an absolute http(s) URL")]
    BadEndpoint(String),
    /// The test query with a key did not succeed.
    #[error("GraphQL test with the {} key failed: {source}", stage.label())]
    Rejected {
        /// Which key.
        stage: Stage,
        /// Why.
        #[source]
        source: GraphqlProbeError,
    },
}

impl AppSyncStepError {
    /// The stable `errorType` of the rotator's Lambda error for it.
    pub const fn error_type(&self) -> &'static str {
        match self {
            AppSyncStepError::ValidityTooShort { .. } => "KeyValidityTooShort",
            AppSyncStepError::PendingKeyGone { .. } => "AppSyncPendingKeyGone",
            AppSyncStepError::PendingKeyExpired { .. } => "AppSyncPendingKeyExpired",
            AppSyncStepError::CurrentKeyUnusable { .. } => "AppSyncCurrentKeyUnusable",
            AppSyncStepError::BadEndpoint(_) => "AppSyncBadEndpoint",
            AppSyncStepError::Rejected { .. } => "OriginRejected",
            // Converted into `RotationError::Api` by `From`; never held in a RotationError.
            AppSyncStepError::Api(_) => "AwsApiError",
        }
    }

    /// Whether it is the pending key that failed (refused, gone or expired), rather than
    /// the current one or a call.
    pub const fn is_about_pending(&self) -> bool {
        matches!(
            self,
            AppSyncStepError::Rejected {
                stage: Stage::Pending,
                ..
            } | AppSyncStepError::PendingKeyGone { .. }
                | AppSyncStepError::PendingKeyExpired { .. }
        )
    }
}

/// `t` rounded down to the hour, as AppSync stores expiries.
pub const fn floor_hour(t: UnixTime) -> UnixTime {
    UnixTime::from_secs(t.as_secs() / HOUR * HOUR)
}

/// `t` rounded up to the hour.
pub const fn ceil_hour(t: UnixTime) -> UnixTime {
    floor_hour(t.plus_secs(HOUR - 1))
}

/// A new key's expiry: `validity` ahead, on the hour (so AppSync's rounding changes
/// nothing, and what is asked for is what is stored).
pub fn new_key_expiry(now: UnixTime, validity_secs: u64) -> UnixTime {
    floor_hour(now.plus_secs(validity_secs))
}

/// A retired key's expiry: the grace ahead, but at least AppSync's minimum of 1 day
/// after the update, on the hour and rounded up so that AppSync's rounding down cannot
/// take it below that minimum.
pub fn retired_key_expiry(now: UnixTime, grace: Duration) -> UnixTime {
    ceil_hour(now.plus_secs(grace.as_secs().max(DAY)))
}

/// createSecret: the key to store as the pending version `token` of `secret_id`.
///
/// A key marked for this secret and token that AppSync still accepts is reused (a rerun
/// after a lost answer or a failed `PutSecretValue`); otherwise one is created. With
/// `rotation_interval` known, refuses a validity that would not outlive it plus the
/// grace.
pub async fn create_key<A: AppSyncKeys>(
    api: &A,
    settings: &AppSyncSettings,
    secret_id: &str,
    token: &str,
    now: UnixTime,
    rotation_interval: Option<Duration>,
) -> Result<StaticHeaderValue, AppSyncStepError> {
    if let Some(interval) = rotation_interval {
        let needed = interval
            .as_secs()
            .saturating_add(settings.previous_key_grace.as_secs());
        if settings.key_validity_secs() <= needed {
            return Err(AppSyncStepError::ValidityTooShort {
                validity_days: settings.key_validity_days,
                interval_secs: interval.as_secs(),
                grace_secs: settings.previous_key_grace.as_secs(),
            });
        }
    }
    let description = KeyMarker::new(secret_id, token).to_string();
    let keys = api.list_api_keys(&settings.api_id).await?;
    if let Some(existing) = keys
        .into_iter()
        .find(|k| k.description.as_deref() == Some(description.as_str()) && k.is_valid_at(now))
    {
        tracing::info!(api_id = %settings.api_id, "createSecret: reusing the API key made for this version");
        return Ok(existing.key);
    }
    let created = api
        .create_api_key(
            &settings.api_id,
            &description,
            new_key_expiry(now, settings.key_validity_secs()),
        )
        .await?;
    tracing::info!(
        api_id = %settings.api_id,
        expires = created.expires.as_secs(),
        "createSecret: created an API key"
    );
    Ok(created.key)
}

/// The GraphQL endpoint testSecret calls: `APPSYNC_GRAPHQL_URL`, else the API's own.
pub async fn graphql_endpoint<A: AppSyncKeys>(
    api: &A,
    settings: &AppSyncSettings,
) -> Result<http::Uri, AppSyncStepError> {
    if let Some(url) = &settings.graphql_url {
        return Ok(url.clone());
    }
    let url = api.graphql_url(&settings.api_id).await?;
    match url.parse::<http::Uri>() {
        Ok(uri)
            if matches!(uri.scheme_str(), Some("https" | "http")) && uri.authority().is_some() =>
        {
            Ok(uri)
        }
        _ => Err(AppSyncStepError::BadEndpoint(url)),
    }
}

/// How testSecret retries the pending key. Whether AppSync accepts a key the moment
/// CreateApiKey returns is not documented; a few spaced tries cover a short delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingRetry {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// Pause between tries.
    pub delay: Duration,
}

impl Default for PendingRetry {
    fn default() -> Self {
        Self {
            attempts: 3,
            delay: Duration::from_secs(2),
        }
    }
}

/// What testSecret found about the current key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurrentKey {
    /// The test query succeeded with it.
    Accepted,
    /// It is the pending key (a configuration test), tested once.
    SameAsPending,
    /// No current key to test (the secret held no key yet).
    Absent,
    /// AppSync no longer lists it (deleted by hand): clients holding it already fail, and
    /// this rotation is what repairs them, so it goes on.
    Gone,
    /// It expired at this time: as for [`CurrentKey::Gone`].
    Expired(UnixTime),
}

/// The pending key (of version `pending_version`) is listed, valid, and the test query
/// succeeds with it, tried as `retry` says. Returns the keys listed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pending_accepted<A: AppSyncKeys>(
    api: &A,
    probe: &GraphqlProbe,
    endpoint: &http::Uri,
    settings: &AppSyncSettings,
    pending_version: &str,
    pending: &StaticHeaderValue,
    now: UnixTime,
    retry: PendingRetry,
) -> Result<Vec<ApiKey>, AppSyncStepError> {
    let keys = api.list_api_keys(&settings.api_id).await?;
    pending_listed(&keys, pending_version, pending, now)?;
    let mut attempt = 1;
    loop {
        match probe.query(endpoint, pending).await {
            Ok(()) => return Ok(keys),
            Err(source) if attempt >= retry.attempts.max(1) => {
                return Err(AppSyncStepError::Rejected {
                    stage: Stage::Pending,
                    source,
                });
            }
            Err(error) => {
                tracing::info!(%error, attempt, "pending key not accepted yet; retrying");
                attempt += 1;
                // A count of tries, not `poll_until`: the caller bounds the whole wait
                // by the step's deadline (`AppSyncTarget::by_deadline`).
                tokio::time::sleep(retry.delay).await;
            }
        }
    }
}

/// testSecret: the test query succeeds with `pending` (the key of version `pending_version`)
/// and with `current` when AppSync still lists it as valid.
#[allow(clippy::too_many_arguments)]
pub async fn test_keys<A: AppSyncKeys>(
    api: &A,
    probe: &GraphqlProbe,
    endpoint: &http::Uri,
    settings: &AppSyncSettings,
    pending_version: &str,
    pending: &StaticHeaderValue,
    current: Option<&StaticHeaderValue>,
    now: UnixTime,
    retry: PendingRetry,
) -> Result<CurrentKey, AppSyncStepError> {
    let keys = pending_accepted(
        api,
        probe,
        endpoint,
        settings,
        pending_version,
        pending,
        now,
        retry,
    )
    .await?;
    let Some(current) = current else {
        return Ok(CurrentKey::Absent);
    };
    if current == pending {
        return Ok(CurrentKey::SameAsPending);
    }
    match keys.iter().find(|k| &k.key == current) {
        None => Ok(CurrentKey::Gone),
        Some(listed) if !listed.is_valid_at(now) => Ok(CurrentKey::Expired(listed.expires)),
        Some(_) => probe
            .query(endpoint, current)
            .await
            .map(|()| CurrentKey::Accepted)
            .map_err(|source| AppSyncStepError::Rejected {
                stage: Stage::Current,
                source,
            }),
    }
}

/// The pending key of `pending_version` is listed and still valid.
fn pending_listed(
    keys: &[ApiKey],
    pending_version: &str,
    pending: &StaticHeaderValue,
    now: UnixTime,
) -> Result<(), AppSyncStepError> {
    match keys.iter().find(|k| &k.key == pending) {
        None => Err(AppSyncStepError::PendingKeyGone {
            version_id: pending_version.to_owned(),
        }),
        Some(listed) if !listed.is_valid_at(now) => Err(AppSyncStepError::PendingKeyExpired {
            version_id: pending_version.to_owned(),
            expires: listed.expires,
        }),
        Some(_) => Ok(()),
    }
}

/// finishSecret, before the labels move: the pending key still exists and is valid, so
/// that AWSCURRENT never moves to a key AppSync refuses (one deleted by hand meanwhile).
pub(crate) async fn check_pending<A: AppSyncKeys>(
    api: &A,
    settings: &AppSyncSettings,
    pending_version: &str,
    pending: &StaticHeaderValue,
    now: UnixTime,
) -> Result<(), AppSyncStepError> {
    let keys = api.list_api_keys(&settings.api_id).await?;
    pending_listed(&keys, pending_version, pending, now)
}

/// The configuration test (`RotateImmediately=false`): the current key is listed, valid,
/// and the test query succeeds with it. Changes nothing.
pub(crate) async fn test_current<A: AppSyncKeys>(
    api: &A,
    probe: &GraphqlProbe,
    endpoint: &http::Uri,
    settings: &AppSyncSettings,
    current: &StaticHeaderValue,
    now: UnixTime,
) -> Result<(), AppSyncStepError> {
    let keys = api.list_api_keys(&settings.api_id).await?;
    match keys.iter().find(|k| &k.key == current) {
        None => Err(AppSyncStepError::CurrentKeyUnusable { expired: None }),
        Some(listed) if !listed.is_valid_at(now) => Err(AppSyncStepError::CurrentKeyUnusable {
            expired: Some(listed.expires),
        }),
        Some(_) => {
            probe
                .query(endpoint, current)
                .await
                .map_err(|source| AppSyncStepError::Rejected {
                    stage: Stage::Current,
                    source,
                })
        }
    }
}

#[cfg(test)]
mod tests;

//! finishSecret's work on AppSync keys, after the labels moved: the keys of versions
//! that are neither current nor pending are marked retired, their expiry brought
//! forward to the grace, and deleted once it has passed; never a key an edge may still
//! send.

use edgeseal::{StaticHeaderValue, UnixTime};

use super::api::{ApiKey, AppSyncKeys};
use super::marker::KeyMarker;
use super::settings::AppSyncSettings;
use super::steps::retired_key_expiry;
use crate::aws::ApiError;

/// What edges may send AppSync, as finishSecret reads CloudFront before retiring keys.
#[derive(Debug, PartialEq, Eq)]
pub enum EdgeKeys {
    /// Nothing may send a key but what these configs say: AppSync is called directly (no
    /// distribution), or every distribution is `Deployed` and sends these keys.
    Settled(Vec<StaticHeaderValue>),
    /// A distribution is not `Deployed`: its edges may still send any key it was set to
    /// since; no key is deleted now (a later finishSecret does it).
    Unsettled,
}

/// What [`retire_keys`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Retirement {
    /// Keys newly marked retired (expiry brought forward where it was later).
    pub retired: usize,
    /// Keys deleted (grace over, or already expired).
    pub deleted: usize,
    /// Keys due for deletion but left because CloudFront was not settled.
    pub left_for_later: usize,
    /// Calls that failed; the keys concerned are dealt with by a later finishSecret.
    pub failures: Vec<ApiError>,
}

/// finishSecret, after the labels moved: retire the keys of this secret that are neither
/// `keep` (the current and any pending key) nor another secret's or a hand-made key.
///
/// `previous` is the version that just stopped being AWSCURRENT and its key: that key is
/// retired even if edgeseal did not make it (the first rotation adopts the key the
/// prior art, a template or an operator stored). A key edgeseal marked is retired at the
/// first finishSecret that sees it outside `keep`: its marker records that time, and its
/// expiry is brought forward to [`retired_key_expiry`]; once `PREVIOUS_KEY_GRACE_SECS`
/// have passed since, or it has expired, a later finishSecret deletes it — unless `edges`
/// says a distribution may still send it (a key a settled distribution sends is kept; no
/// valid key is deleted while one is not `Deployed`, which on AWS is the case at every
/// finishSecret that follows its own setSecret: such keys wait until they expire).
/// Marking is safe then: a marked key stays valid for at least a day (AppSync's
/// minimum), longer than CloudFront deploys.
pub async fn retire_keys<A: AppSyncKeys>(
    api: &A,
    settings: &AppSyncSettings,
    secret_id: &str,
    keep: &[&StaticHeaderValue],
    previous: Option<(&str, &StaticHeaderValue)>,
    edges: &EdgeKeys,
    now: UnixTime,
) -> Retirement {
    let mut report = Retirement::default();
    let keys = match api.list_api_keys(&settings.api_id).await {
        Ok(keys) => keys,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    let grace = settings.previous_key_grace.as_secs();
    for listed in &keys {
        let sent = match edges {
            EdgeKeys::Settled(sent) => sent.contains(&listed.key),
            EdgeKeys::Unsettled => false,
        };
        if keep.contains(&&listed.key) || sent {
            continue;
        }
        let ours = listed
            .description
            .as_deref()
            .and_then(KeyMarker::parse)
            .filter(|m| m.belongs_to(secret_id));
        let marker = match (ours, previous) {
            (Some(marker), _) => marker,
            (None, Some((version_id, key))) if key == &listed.key => {
                KeyMarker::new(secret_id, version_id)
            }
            _ => continue,
        };
        let due = match marker.retired_at {
            _ if !listed.is_valid_at(now) => true,
            Some(at) => now.secs_since(at) >= grace,
            None => grace == 0,
        };
        // Held back while an edge may send it; an expired key is refused by AppSync
        // whatever sends it, so it goes regardless.
        let held = due && *edges == EdgeKeys::Unsettled && listed.is_valid_at(now);
        report.left_for_later += usize::from(held);
        let result = if due && !held {
            delete(api, settings, listed)
                .await
                .map(|()| report.deleted += 1)
        } else if marker.retired_at.is_none() {
            retire(api, settings, listed, marker, now)
                .await
                .map(|()| report.retired += 1)
        } else {
            Ok(())
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "finishSecret: could not retire an old API key; the next finishSecret retries");
            report.failures.push(e);
        }
    }
    report
}

async fn retire<A: AppSyncKeys>(
    api: &A,
    settings: &AppSyncSettings,
    listed: &ApiKey,
    marker: KeyMarker<'_>,
    now: UnixTime,
) -> Result<(), ApiError> {
    let cap = retired_key_expiry(now, settings.previous_key_grace);
    let expires = (listed.expires > cap).then_some(cap);
    api.update_api_key(
        &settings.api_id,
        &listed.key,
        &marker.retired(now).to_string(),
        expires,
    )
    .await?;
    tracing::info!(
        version = marker.version_id,
        expires = expires.unwrap_or(listed.expires).as_secs(),
        "finishSecret: retired an old API key"
    );
    Ok(())
}

async fn delete<A: AppSyncKeys>(
    api: &A,
    settings: &AppSyncSettings,
    listed: &ApiKey,
) -> Result<(), ApiError> {
    match api.delete_api_key(&settings.api_id, &listed.key).await {
        // Deleted meanwhile (by hand, or a lost answer to our own delete): done.
        Ok(()) | Err(ApiError::NotFound { .. }) => {
            tracing::info!("finishSecret: deleted an old API key");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

//! [`ApiKeyTarget`]: the `api-gateway-api-key` target over the steps' [`Target`] trait.
//!
//! - createSecret: retire what may be retired (see finishSecret), then a new value of
//!   `SECRET_KEY_LENGTH` characters, stored like a static header value (`SECRET_KEY_NAME`).
//! - setSecret: the value becomes an enabled API key, named `<API_KEY_NAME_PREFIX><version>`
//!   and tagged as edgeseal's, in every `USAGE_PLAN_ID` plan (adopted if an earlier try
//!   made it); once `API_KEY_PROPAGATION_SECS` have passed since the link and the origin
//!   accepted it in a row, CloudFront is pointed at it (origin header
//!   `API_KEY_HEADER_NAME`) by the inner static-header layer.
//! - testSecret: CloudFront sends the pending key; the origin accepts it (else CloudFront
//!   goes back to the current key and the step fails) and the current one.
//! - finishSecret (after the labels moved), and the next createSecret: edgeseal's keys of
//!   this secret that are not AWSCURRENT, AWSPENDING, nor AWSPREVIOUS within
//!   `PREVIOUS_KEY_GRACE_SECS`, are unlinked and deleted — only when every distribution is
//!   `Deployed` and sends a labelled version's value, so never a key an edge may send.

use std::collections::BTreeSet;
use std::time::SystemTime;

use edgeseal::{SecretValue, StaticHeaderValue};
use tokio::time::Instant;
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::acceptance::{NotAccepted, wait_until_accepted};
use super::api::UsagePlanKeys;
use super::keys::{ApiKeyError, KeyRotation, RetireGuard};
use super::settings::{ApiKeySettings, VALUE_LENGTHS};
use crate::aws::DistributionApi;
use crate::cloudfront::Guard;
use crate::error::{RotationError, SetupError};
use crate::material::{parse_secret, wrong_kind};
use crate::settings::{Config, TargetKind, TargetSettings};
use crate::targets::static_header::{StaticHeaderSettings, StaticHeaderTarget};
use crate::targets::{Stage, StepContext, Target, other_target};

/// The `api-gateway-api-key` target: the usage plans' keys (through `K`, an API Gateway
/// client in the API's region), over the static-header target sending the key in
/// `API_KEY_HEADER_NAME`.
pub struct ApiKeyTarget<C, K> {
    inner: StaticHeaderTarget<C>,
    settings: ApiKeySettings,
    keys: K,
    secret_key_name: String,
}

impl<C: DistributionApi, K: UsagePlanKeys> ApiKeyTarget<C, K> {
    /// The target `config` selects (`ROTATION_TARGET=api-gateway-api-key`), changing
    /// keys through `keys` and distributions through `cdn`.
    pub fn from_config(config: &Config, keys: K, cdn: C) -> Result<Self, SetupError> {
        let TargetSettings::ApiKey(settings) = &config.target else {
            return Err(other_target(config, TargetKind::ApiKey));
        };
        let values = StaticHeaderSettings {
            value_length: settings.value_length,
        };
        Ok(Self {
            inner: StaticHeaderTarget::new(config, values, &settings.header_name, cdn),
            settings: settings.clone(),
            keys,
            secret_key_name: config.secret_key_name.clone(),
        })
    }

    fn rotation<'a>(&'a self, step: &StepContext<'_>) -> KeyRotation<'a, K> {
        KeyRotation::new(&self.keys, &self.settings, step.secret_id())
    }

    /// Retire what may be retired now; logged, never failing the step.
    async fn retire(&self, step: &StepContext<'_>) {
        let guard = match self.retire_guard(step).await {
            Ok(guard) => guard,
            Err(e) => {
                return warn!(error = %e, "cannot tell which API keys edges may send; retiring none now");
            }
        };
        let rotation = self.rotation(step);
        // The previous key's grace counts from AWSCURRENT's key's creation: it was made
        // in setSecret of the rotation that demoted the previous one, moments before.
        let current_created = match step.metadata().version_with(Stage::Current.label()) {
            Some(current) => self
                .keys
                .api_keys_named(&rotation.key_name(current))
                .await
                .ok()
                .and_then(|keys| {
                    keys.into_iter()
                        .find(|k| rotation.own_version(k) == Some(current))
                })
                .and_then(|k| k.created),
            None => None,
        };
        let retired = rotation
            .retire(
                step.metadata(),
                current_created,
                SystemTime::now(),
                &guard,
                step.deadline(),
            )
            .await;
        if !retired.deleted.is_empty() || !retired.failed.is_empty() {
            info!(
                deleted = retired.deleted.len(),
                failed = retired.failed.len(),
                "API key retirement"
            );
        }
    }

    /// Which versions' values the distributions send, if every one is `Deployed` and
    /// sends only labelled versions' values.
    async fn retire_guard(&self, step: &StepContext<'_>) -> Result<RetireGuard, RotationError> {
        let mut labelled = Vec::new();
        for (version, stages) in &step.metadata().versions {
            let Some(stage) = [Stage::Current, Stage::Pending, Stage::Previous]
                .into_iter()
                .find(|s| stages.iter().any(|l| l == s.label()))
            else {
                continue;
            };
            if let Some(value) = step.secret_value(version, stage.label()).await?
                && let Ok(SecretValue::StaticHeader(value)) =
                    SecretValue::parse(&value, Some(&self.secret_key_name))
            {
                labelled.push((version.clone(), value));
            }
        }
        let Some(values) = self.inner.values_sent(step.deadline()).await? else {
            return Ok(RetireGuard::Unsettled);
        };
        let mut sent = BTreeSet::new();
        for value in &values {
            match labelled.iter().find(|(_, v)| v.matches(value)) {
                Some((version, _)) => {
                    sent.insert(version.clone());
                }
                None => return Ok(RetireGuard::Unsettled),
            }
        }
        Ok(RetireGuard::Settled { sent })
    }
}

impl<C: DistributionApi, K: UsagePlanKeys> Target for ApiKeyTarget<C, K> {
    type Material = StaticHeaderValue;

    fn parse(
        &self,
        value: &str,
        stage: Stage,
        _version_id: &str,
    ) -> Result<StaticHeaderValue, RotationError> {
        let SecretValue::StaticHeader(parsed) = parse_secret(value, &self.secret_key_name, stage)?
        else {
            return Err(wrong_kind(
                stage,
                "a signing key where the api-gateway-api-key target needs an API key value",
            ));
        };
        // Values edgeseal makes are API Gateway keys; an older current value (the blog's
        // key) is whatever its stack made, and is only presented, never created.
        let usable = VALUE_LENGTHS.contains(&parsed.expose().len())
            && parsed.expose().bytes().all(|b| b.is_ascii_alphanumeric());
        if stage == Stage::Pending && !usable {
            return Err(wrong_kind(
                stage,
                "not an API Gateway key value (20 to 128 alphanumeric characters)",
            ));
        }
        Ok(parsed)
    }

    fn same_value(&self, a: &StaticHeaderValue, b: &StaticHeaderValue) -> bool {
        self.inner.same_value(a, b)
    }

    async fn create(&self, step: &StepContext<'_>) -> Result<Zeroizing<String>, RotationError> {
        // A later rotation is the "later step" that retires keys whose grace ended
        // after the last finishSecret.
        self.retire(step).await;
        self.inner.create(step).await
    }

    async fn set(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        let in_place = self
            .rotation(step)
            .ensure_accepted(step.token(), pending, step.deadline())
            .await?;
        // Count the propagation from the link, in the monotonic clock.
        let since_link = SystemTime::now()
            .duration_since(in_place.since)
            .unwrap_or_default();
        let not_before = Instant::now() + self.settings.propagation.saturating_sub(since_link);
        let probe = step.origin_probe(Stage::Pending)?;
        let accepted = wait_until_accepted(
            || probe.probe(self.inner.header().credential(pending)),
            self.settings.probe_interval,
            not_before,
            step.deadline(),
        )
        .await;
        match accepted {
            Ok(()) => {}
            Err(NotAccepted::Rejected(source)) => {
                return Err(RotationError::Origin {
                    stage: Stage::Pending.label(),
                    source,
                });
            }
            Err(NotAccepted::Propagating) => return Err(ApiKeyError::Propagating.into()),
        }
        // Accepted in a row already: no pre-flight probe (the inner layer's `set`).
        self.inner
            .send(step, pending, Guard::for_new_key(step.metadata()))
            .await
    }

    async fn test(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.inner.test(step, current, pending).await
    }

    async fn test_configuration(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        for plan in &self.settings.usage_plans {
            if !self.keys.usage_plan_exists(plan).await? {
                return Err(ApiKeyError::UsagePlanNotFound(plan.clone()).into());
            }
        }
        self.inner.test_configuration(step, current).await
    }

    async fn check_sent(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.inner.check_sent(step, pending).await
    }

    async fn finish(&self, step: &StepContext<'_>) {
        self.retire(step).await;
    }
}

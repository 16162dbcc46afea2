//! The `waf` target: the static-header target, with the web ACL's rule widened before
//! CloudFront is made to send a new value and narrowed after the labels moved.

use edgeseal::StaticHeaderValue;
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::api::WebAclApi;
use super::rollout::{
    after_rotation, apply_values, check_rule, wait_until_let_through, while_rotating,
};
use super::settings::WafSettings;
use crate::aws::DistributionApi;
use crate::error::{RotationError, SetupError};
use crate::settings::{Config, TargetKind, TargetSettings};
use crate::targets::static_header::StaticHeaderTarget;
use crate::targets::{Stage, StepContext, Target, other_target};

/// The static-header target plus the regional web ACL rule matching its header, changed
/// through `W` (the WAFv2 client, in the web ACL's region).
pub struct WafTarget<C, W> {
    inner: StaticHeaderTarget<C>,
    waf: W,
    settings: WafSettings,
}

impl<C: DistributionApi, W: WebAclApi> WafTarget<C, W> {
    /// The target `config` selects (`ROTATION_TARGET=waf`): distributions pointed
    /// through `cdn`, the web ACL changed through `waf` (a client in `WAF_REGION`).
    pub fn from_config(config: &Config, cdn: C, waf: W) -> Result<Self, SetupError> {
        let TargetSettings::Waf(header, settings) = &config.target else {
            return Err(other_target(config, TargetKind::Waf));
        };
        Ok(Self {
            inner: StaticHeaderTarget::new(config, header.clone(), &config.header_name, cdn),
            waf,
            settings: settings.clone(),
        })
    }

    fn header(&self) -> &str {
        self.inner.header().name()
    }

    /// The stored value of `version_id`, read with `stage`, parsed as a header value;
    /// `None` when absent or of another kind (a signing key before a migration is
    /// nothing CloudFront sends in this header).
    async fn value_of(
        &self,
        step: &StepContext<'_>,
        version_id: &str,
        stage: Stage,
    ) -> Result<Option<StaticHeaderValue>, RotationError> {
        Ok(step
            .secret_value(version_id, stage.label())
            .await?
            .and_then(|value| self.inner.parse(&value, stage, version_id).ok()))
    }
}

impl<C: DistributionApi, W: WebAclApi> Target for WafTarget<C, W> {
    type Material = StaticHeaderValue;

    fn parse(
        &self,
        value: &str,
        stage: Stage,
        version_id: &str,
    ) -> Result<StaticHeaderValue, RotationError> {
        self.inner.parse(value, stage, version_id)
    }

    fn same_value(&self, a: &StaticHeaderValue, b: &StaticHeaderValue) -> bool {
        self.inner.same_value(a, b)
    }

    async fn create(&self, step: &StepContext<'_>) -> Result<Zeroizing<String>, RotationError> {
        self.inner.create(step).await
    }

    /// The rule accepts pending, current and (while a distribution may still send it)
    /// previous; WAF is proven to let pending through; then CloudFront sends it.
    async fn set(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        let meta = step.metadata();
        let current_id = meta
            .version_with(Stage::Current.label())
            .ok_or(RotationError::NoCurrent)?;
        let current = self
            .value_of(step, current_id, Stage::Current)
            .await?
            .ok_or(RotationError::NoCurrent)?;
        // The previous value stays accepted while a distribution not yet sending pending
        // is still deploying (it may be the change away from it; the pointing below
        // refuses to start then too). Once one sends pending it was pointed `Deployed`,
        // so a rerun of this step, which finds it `InProgress` with that change, does not
        // accept the previous value again.
        let header = self.inner.header();
        let previous = match meta.version_with(Stage::Previous.label()) {
            Some(id)
                if self
                    .inner
                    .distributions()
                    .may_send_previous(|config| header.sends(config, pending), step.deadline())
                    .await? =>
            {
                self.value_of(step, id, Stage::Previous).await?
            }
            _ => None,
        };
        let values = while_rotating(pending, &current, previous.as_ref());
        apply_values(
            &self.waf,
            &self.settings,
            self.header(),
            &values,
            step.deadline(),
        )
        .await?;
        let credential = header.credential(pending);
        let probe = step.origin_probe(Stage::Pending)?;
        let settled =
            wait_until_let_through(|| probe.probe(credential), &self.settings, step.deadline())
                .await?;
        info!(
            waited_ms = u64::try_from(settled.waited.as_millis()).unwrap_or(u64::MAX),
            passed = settled.passed,
            refused = settled.refused,
            "WAF lets the pending value through; CloudFront may send it"
        );
        self.inner.set(step, pending).await
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
        check_rule(&self.waf, &self.settings, self.header(), current).await?;
        self.inner.test_configuration(step, current).await
    }

    async fn check_sent(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.inner.check_sent(step, pending).await
    }

    /// After the labels moved: the rule accepts the new current value and the one it
    /// replaced (edges send that until CloudFront has deployed), nothing older.
    async fn finish(&self, step: &StepContext<'_>) {
        self.inner.finish(step).await;
        // The metadata was read before the move: the token is now AWSCURRENT, and the
        // version that was AWSCURRENT is AWSPREVIOUS.
        let replaced = step.metadata().version_with(Stage::Current.label());
        let narrowed = async {
            let current = self
                .value_of(step, step.token(), Stage::Current)
                .await?
                .ok_or(RotationError::NoCurrent)?;
            let previous = match replaced {
                Some(id) => self.value_of(step, id, Stage::Previous).await?,
                None => None,
            };
            let values = after_rotation(&current, previous.as_ref());
            apply_values(
                &self.waf,
                &self.settings,
                self.header(),
                &values,
                step.deadline(),
            )
            .await
            .map_err(RotationError::from)
        };
        match narrowed.await {
            Ok(applied) => info!(?applied, "WAF rule accepts the current and previous values"),
            Err(e) => warn!(
                error = %e,
                "WAF rule not narrowed; it still accepts this rotation's values until the next rotation narrows it"
            ),
        }
    }
}

//! The static-header target (`ROTATION_TARGET=static-header`): a CloudFront origin
//! custom header (`HEADER_NAME`, default `x-origin-verify`), the drop-in for the static
//! header rotators edgeseal replaces.
//!
//! setSecret checks that the origin accepts the pending value, then sets the header on
//! every origin that has it ([`OriginHeader`]); testSecret checks every distribution
//! sends it and the origin accepts the pending and the current value. Nothing is
//! retired at finishSecret: the origin's check of AWSCURRENT/AWSPREVIOUS does that.
//!
//! [`OriginHeader`] is the reusable part: any target whose value CloudFront sends as an
//! origin header (an API key as `x-api-key`; a header a WAF rule matches) points
//! distributions with it, and a target that wraps this one (widen a WAF rule, then
//! point CloudFront) calls [`StaticHeaderTarget`]'s [`Target`] methods around its own.

use aws_sdk_cloudfront::types::DistributionConfig;
use edgeseal::{SecretValue, StaticHeaderValue};
use tracing::info;
use zeroize::Zeroizing;

pub(crate) mod settings;

pub use settings::StaticHeaderSettings;

use super::{Stage, StepContext, Target, log_roll_back, other_target};
use crate::aws::DistributionApi;
use crate::cloudfront::edits::{custom_headers, set_custom_header};
use crate::cloudfront::{Distributions, Guard};
use crate::error::{RotationError, SetupError};
use crate::material::{parse_secret, random_header_value, wrong_kind};
use crate::origin::Credential;
use crate::settings::{Config, TargetKind, TargetSettings};

/// An origin custom header that CloudFront sends: setting it on the distributions and
/// checking that they send a value.
#[derive(Clone, Debug)]
pub struct OriginHeader {
    name: String,
}

impl OriginHeader {
    /// The header `name` (lowercase, as `Config::header_name`).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }

    /// The header name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The origin test credential presenting `value` in this header.
    pub fn credential<'a>(&'a self, value: &'a StaticHeaderValue) -> Credential<'a> {
        Credential::Header {
            name: &self.name,
            value,
        }
    }

    /// Make every distribution send `value` in this header, on every origin that has
    /// it ([`RotationError::NoHeader`] for a distribution where none has).
    pub async fn point<C: DistributionApi>(
        &self,
        distributions: &Distributions<C>,
        value: &StaticHeaderValue,
        guard: Guard,
        step: &StepContext<'_>,
    ) -> Result<(), RotationError> {
        distributions
            .point_all(
                None,
                guard,
                step.deadline(),
                |distribution, config| {
                    let (matched, changed) = set_custom_header(config, &self.name, value);
                    if matched == 0 {
                        return Err(self.missing(distribution));
                    }
                    Ok(changed)
                },
                |distribution| {
                    info!(%distribution, header = %self.name, "distribution sends the header value");
                },
            )
            .await
    }

    /// Fail with [`RotationError::NotPointed`] unless every distribution sends `value`.
    pub async fn check_sent<C: DistributionApi>(
        &self,
        distributions: &Distributions<C>,
        value: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        distributions
            .check_pointed(|config| self.sends(config, value))
            .await
    }

    /// Whether every origin of `config` that has this header sends `value` in it (and
    /// one has).
    pub fn sends(&self, config: &DistributionConfig, value: &StaticHeaderValue) -> bool {
        let mut values = custom_headers(config, &self.name).peekable();
        values.peek().is_some() && values.all(|v| value.matches(v))
    }

    /// Fail with [`RotationError::NoHeader`] unless an origin of `config` (of
    /// `distribution`) has the header.
    pub fn check_present(
        &self,
        distribution: &str,
        config: &DistributionConfig,
    ) -> Result<(), RotationError> {
        match custom_headers(config, &self.name).next() {
            Some(_) => Ok(()),
            None => Err(self.missing(distribution)),
        }
    }

    /// testSecret of a value sent in this header: every distribution sends `pending`,
    /// the origin accepts it (else the distributions go back to `current` and the step
    /// fails) and `current`; then [`Distributions::settle`].
    pub async fn test<C: DistributionApi>(
        &self,
        distributions: &Distributions<C>,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.check_sent(distributions, pending).await?;
        if let Err(e) = step.probe(self.credential(pending), Stage::Pending).await {
            // Leave CloudFront sending the value the origin accepted.
            log_roll_back(self.point(distributions, current, Guard::Off, step).await);
            return Err(e);
        }
        step.probe(self.credential(current), Stage::Current).await?;
        distributions.settle(step.deadline()).await
    }

    /// The configuration test of a value sent in this header: every distribution passes
    /// [`Distributions::check`] and has the header; the origin accepts `current`.
    pub async fn test_configuration<C: DistributionApi>(
        &self,
        distributions: &Distributions<C>,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        for distribution in distributions.ids() {
            let config = distributions
                .check(distribution, None, step.deadline())
                .await?;
            self.check_present(distribution, &config)?;
        }
        step.probe(self.credential(current), Stage::Current).await
    }

    fn missing(&self, distribution: &str) -> RotationError {
        RotationError::NoHeader {
            distribution: distribution.to_owned(),
            header: self.name.clone(),
        }
    }
}

/// The static-header target: the distributions and the header they send.
pub struct StaticHeaderTarget<C> {
    settings: StaticHeaderSettings,
    distributions: Distributions<C>,
    header: OriginHeader,
    secret_key_name: String,
}

impl<C: DistributionApi> StaticHeaderTarget<C> {
    /// The target `config` selects (`ROTATION_TARGET=static-header`), pointing
    /// distributions through `cdn`.
    pub fn from_config(config: &Config, cdn: C) -> Result<Self, SetupError> {
        let TargetSettings::StaticHeader(settings) = &config.target else {
            return Err(other_target(config, TargetKind::StaticHeader));
        };
        Ok(Self::new(config, settings.clone(), cdn))
    }

    /// The target over `settings` (also the inner target of the header layers: `waf`).
    pub(crate) fn new(config: &Config, settings: StaticHeaderSettings, cdn: C) -> Self {
        Self {
            settings,
            distributions: Distributions::new(cdn, config),
            header: OriginHeader::new(&config.header_name),
            secret_key_name: config.secret_key_name.clone(),
        }
    }

    /// The distributions this target points.
    pub fn distributions(&self) -> &Distributions<C> {
        &self.distributions
    }

    /// The origin header this target sets.
    pub fn header(&self) -> &OriginHeader {
        &self.header
    }
}

impl<C: DistributionApi> Target for StaticHeaderTarget<C> {
    type Material = StaticHeaderValue;

    fn parse(
        &self,
        value: &str,
        stage: Stage,
        _version_id: &str,
    ) -> Result<StaticHeaderValue, RotationError> {
        match (parse_secret(value, &self.secret_key_name, stage)?, stage) {
            (SecretValue::StaticHeader(value), _) => Ok(value),
            (SecretValue::Hmac(_), Stage::Pending) => Err(wrong_kind(
                stage,
                "a signing key where static-header mode needs a header value",
            )),
            // A signing key as the current value has no header form to test or send.
            (SecretValue::Hmac(_), Stage::Current | Stage::Previous) => {
                Err(RotationError::NotSignedMode)
            }
        }
    }

    fn same_value(&self, a: &StaticHeaderValue, b: &StaticHeaderValue) -> bool {
        a.matches(b.expose())
    }

    async fn create(&self, _step: &StepContext<'_>) -> Result<Zeroizing<String>, RotationError> {
        let value = random_header_value(self.settings.value_length)?;
        Ok(edgeseal::static_header_secret_json(
            &self.secret_key_name,
            &value,
        ))
    }

    async fn set(
        &self,
        step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        // Pre-flight: never make CloudFront send a value the origin does not accept.
        step.probe(self.header.credential(pending), Stage::Pending)
            .await?;
        let guard = Guard::for_new_key(step.metadata());
        self.header
            .point(&self.distributions, pending, guard, step)
            .await
    }

    async fn test(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.header
            .test(&self.distributions, step, current, pending)
            .await
    }

    async fn test_configuration(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.header
            .test_configuration(&self.distributions, step, current)
            .await
    }

    async fn check_sent(
        &self,
        _step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.header.check_sent(&self.distributions, pending).await
    }

    async fn finish(&self, _step: &StepContext<'_>) {}
}

//! The static-header target (`ROTATION_TARGET=static-header`): a CloudFront origin
//! custom header (`HEADER_NAME`, default `x-origin-verify`), the drop-in for the static
//! header rotators edgeseal replaces.
//!
//! setSecret checks that the origin accepts the pending value, then sets the header on
//! every origin that has it; testSecret checks every distribution sends it and the
//! origin accepts the pending and the current value. Nothing is retired at
//! finishSecret: the origin's check of AWSCURRENT/AWSPREVIOUS does that.
//!
//! [`StaticHeaderTarget`] is also the inner layer of every target whose value CloudFront
//! sends as an origin header: `waf` (a header a WAF rule matches), `api-gateway-api-key`
//! (an API key as `x-api-key`) and `appsync-api-key` (behind CloudFront). Each holds one
//! as `inner`, calls its [`Target`] methods and its pointing ([`StaticHeaderTarget::send`],
//! [`StaticHeaderTarget::values_sent`]) around its own work, and so writes none of the
//! header's behaviour again. [`OriginHeader`] is the header itself (name, credential,
//! what a config sends).

use aws_sdk_cloudfront::types::DistributionConfig;
use edgeseal::{SecretValue, StaticHeaderValue};
use tokio::time::Instant;
use tracing::info;
use zeroize::Zeroizing;

pub(crate) mod settings;

pub(crate) use settings::StaticHeaderSettings;

use super::{Stage, StepContext, Target, log_roll_back, other_target};
use crate::aws::{DeployStatus, DistributionApi};
use crate::cloudfront::edits::{custom_headers, set_custom_header};
use crate::cloudfront::{Distributions, Guard};
use crate::error::{RotationError, SetupError};
use crate::material::{parse_secret, random_header_value, wrong_kind};
use crate::origin::Credential;
use crate::settings::{Config, TargetKind, TargetSettings};

/// An origin custom header that CloudFront sends: the origin test credential presenting
/// a value in it, and what a distribution config sends in it.
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
        Ok(Self::new(
            config,
            settings.clone(),
            &config.header_name,
            cdn,
        ))
    }

    /// The target sending values made per `settings` in the header `header_name`
    /// (lowercase): this target's own, or the inner layer of another header target.
    pub(crate) fn new(
        config: &Config,
        settings: StaticHeaderSettings,
        header_name: &str,
        cdn: C,
    ) -> Self {
        Self {
            settings,
            distributions: Distributions::new(cdn, config),
            header: OriginHeader::new(header_name),
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

    /// Make every distribution send `value` in the header, on every origin that has it
    /// ([`RotationError::NoHeader`] for a distribution where none has), pointing as
    /// `guard` allows.
    pub(crate) async fn send(
        &self,
        step: &StepContext<'_>,
        value: &StaticHeaderValue,
        guard: Guard,
    ) -> Result<(), RotationError> {
        let header = &self.header;
        self.distributions
            .point_all(
                None,
                guard,
                step.deadline(),
                |distribution, config| {
                    let (matched, changed) = set_custom_header(config, header.name(), value);
                    if matched == 0 {
                        return Err(header.missing(distribution));
                    }
                    Ok(changed)
                },
                |distribution| {
                    info!(%distribution, header = %header.name(), "distribution sends the header value");
                },
            )
            .await
    }

    /// After the origin rejected `pending`: make the distributions send `current` again
    /// (whatever is deploying: it is the value the origin accepts), and log the result.
    pub(crate) async fn send_back(&self, step: &StepContext<'_>, current: &StaticHeaderValue) {
        log_roll_back(self.send(step, current, Guard::Off).await);
    }

    /// The values the distributions send in the header once every one is `Deployed`;
    /// `None` while one is not (its edges may still send any value it was set to since).
    /// Edges send exactly these, so what is not among them may be retired.
    pub(crate) async fn values_sent(
        &self,
        deadline: Instant,
    ) -> Result<Option<Vec<Zeroizing<String>>>, RotationError> {
        let mut sent = Vec::new();
        for distribution in self.distributions.ids() {
            if self.distributions.status(distribution, deadline).await? != DeployStatus::Deployed {
                return Ok(None);
            }
            let config = self.distributions.config(distribution).await?;
            sent.extend(
                custom_headers(&config, self.header.name())
                    .map(|value| Zeroizing::new(value.to_owned())),
            );
        }
        Ok(Some(sent))
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
        self.send(step, pending, Guard::for_new_key(step.metadata()))
            .await
    }

    /// Every distribution sends `pending`, the origin accepts it (else the distributions
    /// go back to `current` and the step fails) and `current`; then
    /// `Distributions::settle`.
    async fn test(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.check_sent(step, pending).await?;
        if let Err(e) = step
            .probe(self.header.credential(pending), Stage::Pending)
            .await
        {
            // Leave CloudFront sending the value the origin accepted.
            self.send_back(step, current).await;
            return Err(e);
        }
        step.probe(self.header.credential(current), Stage::Current)
            .await?;
        self.distributions.settle(step.deadline()).await
    }

    /// Every distribution passes `Distributions::check` and has the header; the origin
    /// accepts `current`.
    async fn test_configuration(
        &self,
        step: &StepContext<'_>,
        current: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        for distribution in self.distributions.ids() {
            let config = self
                .distributions
                .check(distribution, None, step.deadline())
                .await?;
            self.header.check_present(distribution, &config)?;
        }
        step.probe(self.header.credential(current), Stage::Current)
            .await
    }

    /// Fail with [`RotationError::NotPointed`] unless every distribution sends `pending`.
    async fn check_sent(
        &self,
        _step: &StepContext<'_>,
        pending: &StaticHeaderValue,
    ) -> Result<(), RotationError> {
        self.distributions
            .check_pointed(|config| self.header.sends(config, pending))
            .await
    }

    async fn finish(&self, _step: &StepContext<'_>) {}
}

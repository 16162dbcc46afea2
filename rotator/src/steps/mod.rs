//! The four rotation steps, and the one place that dispatches them.
//!
//! Secrets Manager calls the function once per step and, when a step fails, retries the
//! whole rotation later with the same token. So every step starts from what AWS holds
//! (never from memory), does nothing that is already done, and leaves a state from which
//! a rerun converges. The safety rule behind the ordering: CloudFront only ever sends a
//! key that the origin has just accepted and that Secrets Manager holds as AWSCURRENT or
//! AWSPENDING; AWSCURRENT moves only once every distribution sends the new key.
//!
//! [`Rotator::run`] checks the stages once for every step (rotation enabled, the token
//! names a version staged AWSPENDING, `AlreadyCurrent` when it is AWSCURRENT), then runs
//! the step's file (`create.rs`, `set.rs`, `test.rs`, `finish.rs`) over its [`Target`].

mod create;
mod finish;
mod set;
mod test;

use tokio::time::Instant;
use tracing::info;

use crate::aws::SecretsApi;
use crate::error::RotationError;
use crate::event::{RotationEvent, Step};
use crate::origin::OriginProbe;
use crate::settings::Config;
use crate::targets::{Stage, StepContext, Target};

/// How a step ended when it did not fail: the `outcome` of the function's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Outcome {
    /// The step did its work (or found it already done).
    Done,
    /// The token is already AWSCURRENT: this rotation finished earlier; nothing to do.
    AlreadyCurrent,
    /// A testSecret without a pending key of ours (`RotateImmediately=false`): the
    /// configuration test passed and nothing was changed.
    ConfigurationTested,
}

/// The rotation function over one target `T` (which owns the clients it needs besides
/// Secrets Manager's `S`): configuration, Secrets Manager, the origin probe.
pub struct Rotator<S, T> {
    config: Config,
    secrets: S,
    /// `None` for a target without an origin test (AppSync).
    probe: Option<OriginProbe>,
    target: T,
}

impl<S: SecretsApi, T: Target> Rotator<S, T> {
    /// A rotator driving `target`, built by the target's `from_config` over the same
    /// `config`.
    pub fn new(config: Config, secrets: S, target: T) -> Self {
        let probe = config.origin_test.clone().map(OriginProbe::new);
        Self {
            config,
            secrets,
            probe,
            target,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Run one step. `deadline` bounds every wait (the Lambda's deadline minus a margin).
    #[tracing::instrument(
        name = "rotation_step",
        skip_all,
        fields(step = %event.step, secret = %event.secret_id, version = %event.client_request_token)
    )]
    pub async fn run(
        &self,
        event: &RotationEvent,
        deadline: Instant,
    ) -> Result<Outcome, RotationError> {
        let deadline = deadline.min(Instant::now() + self.config.max_step);
        let secret = event.secret_id.as_str();
        let token = event.client_request_token.as_str();
        let meta = self.secrets.describe_secret(secret).await?;
        if !meta.rotation_enabled {
            return Err(RotationError::RotationDisabled);
        }
        let stages = meta
            .stages_of(token)
            .ok_or_else(|| RotationError::UnknownVersion(token.to_owned()))?;
        if stages.iter().any(|s| s == Stage::Current.label()) {
            info!("version is already AWSCURRENT; nothing to do");
            return Ok(Outcome::AlreadyCurrent);
        }
        if !stages.iter().any(|s| s == Stage::Pending.label()) {
            return Err(RotationError::NotPending(token.to_owned()));
        }
        let step = StepContext {
            secret_id: secret,
            token,
            deadline,
            metadata: &meta,
            probe: self.probe.as_ref(),
            settle_without_probe: self.config.settle_without_probe,
            secrets: &self.secrets,
        };
        // Boxed: a step's future is large in unoptimised builds, and a test thread's
        // stack (2 MiB) overflowed with it inline.
        let outcome = Box::pin(self.step(event, &step)).await?;
        if outcome == Outcome::Done {
            info!("step done");
        }
        Ok(outcome)
    }

    async fn step(
        &self,
        event: &RotationEvent,
        step: &StepContext<'_>,
    ) -> Result<Outcome, RotationError> {
        let (target, secrets) = (&self.target, &self.secrets);
        match event.step {
            Step::Create => {
                create::run(target, secrets, step, event.rotation_token.as_deref()).await?;
            }
            Step::Set => set::run(target, secrets, step).await?,
            Step::Test => return test::run(target, secrets, step).await,
            Step::Finish => finish::run(target, secrets, step).await?,
        }
        Ok(Outcome::Done)
    }
}

/// The AWSPENDING value of the step's token, parsed strictly.
async fn pending<T: Target>(
    target: &T,
    secrets: &impl SecretsApi,
    step: &StepContext<'_>,
) -> Result<T::Material, RotationError> {
    let token = step.token();
    let value = secrets
        .get_secret_string(step.secret_id(), Some(token), Some(Stage::Pending.label()))
        .await?
        .ok_or_else(|| RotationError::NoPendingValue(token.to_owned()))?;
    target.parse(&value, Stage::Pending, token)
}

//! A rotator of any target behind one type, for drivers that run one scenario over
//! several targets (the rotator tests' fault matrices, the demo's modes).
//!
//! The product's rotator is generic over its target (`Rotator<S, T>`), and the Lambda's
//! `main` picks the target once, at cold start, without erasing it. A driver that holds
//! "whichever rotator this run configured" erases it once, here.

use std::future::Future;
use std::pin::Pin;

use edgeseal_rotator::{
    Config, Outcome, RotationError, RotationEvent, Rotator, SecretsApi, Target,
};
use tokio::time::Instant;

/// A step in flight on a [`BoxedRotator`].
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome, RotationError>> + Send + 'a>>;

/// [`Rotator::run`] and [`Rotator::config`], whatever the target.
pub trait RunStep: Send + Sync {
    /// Run one step before `deadline`, as the rotation Lambda does.
    fn run<'a>(&'a self, event: &'a RotationEvent, deadline: Instant) -> StepFuture<'a>;

    /// The rotator's configuration.
    fn config(&self) -> &Config;
}

impl<S: SecretsApi, T: Target> RunStep for Rotator<S, T> {
    fn run<'a>(&'a self, event: &'a RotationEvent, deadline: Instant) -> StepFuture<'a> {
        Box::pin(Rotator::run(self, event, deadline))
    }

    fn config(&self) -> &Config {
        Rotator::config(self)
    }
}

/// A boxed rotator runs as the one inside.
impl<R: RunStep + ?Sized> RunStep for Box<R> {
    fn run<'a>(&'a self, event: &'a RotationEvent, deadline: Instant) -> StepFuture<'a> {
        (**self).run(event, deadline)
    }

    fn config(&self) -> &Config {
        (**self).config()
    }
}

/// Whichever rotator a run configured.
pub type BoxedRotator = Box<dyn RunStep>;

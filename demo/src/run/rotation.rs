//! Driving the rotator as Secrets Manager does: each step one invocation with the rotator
//! Lambda's timeout as its deadline (`--rotator-timeout-secs`), a failed step leaving the
//! rotation incomplete, to be retried with its token ([`crate::run::schedule`]); or, with `--first-rotation config-test`, the testSecret
//! alone that `RotateImmediately=false` runs when a stack turns rotation on. Every step's
//! wall time is kept: the summary reports the longest.

use std::time::{Duration, Instant};

use edgeseal_rotator::{Outcome, Step};
use edgeseal_testkit::{PendingValue, end_configuration_test, start_configuration_test};

use crate::DemoError;
use crate::report::TimelineEvent;
use crate::stack::aws::{AwsWorld, DemoRotator};

/// How the stack starts rotating before the demo's rotations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstRotation {
    /// A full rotation (`RotateImmediately=true`, the default): nothing extra.
    Immediate,
    /// `RotateImmediately=false`: Secrets Manager runs only testSecret, as a
    /// configuration test, on an AWSPENDING version it then removes.
    ConfigTest,
}

impl FirstRotation {
    /// Parse `--first-rotation`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "immediate" => Ok(Self::Immediate),
            "config-test" => Ok(Self::ConfigTest),
            other => Err(format!(
                "--first-rotation: expected immediate or config-test, got {other:?}"
            )),
        }
    }
}

/// One step invocation and how long it took.
#[derive(Clone, Debug)]
pub struct StepTiming {
    /// Which rotation (0 = the configuration test).
    pub rotation: usize,
    /// The step.
    pub step: Step,
    /// Wall time of the invocation.
    pub took: Duration,
}

/// The longest step invocation, if any ran.
pub fn longest_step(timings: &[StepTiming]) -> Option<&StepTiming> {
    timings.iter().max_by_key(|t| t.took)
}

/// Everything the driver needs and records.
pub struct Driver<'a> {
    /// The rotator, in-process.
    pub rotator: &'a DemoRotator,
    /// The AWS side.
    pub aws: &'a AwsWorld,
    /// The rotator Lambda's timeout: each step's deadline.
    pub timeout: Duration,
    /// When the run started (timeline times are relative to it).
    pub started: Instant,
    /// The rotation timeline.
    pub timeline: &'a mut Vec<TimelineEvent>,
    /// Every step's wall time.
    pub timings: &'a mut Vec<StepTiming>,
}

impl Driver<'_> {
    /// Put `what` on the timeline of rotation `rotation`.
    pub fn note(&mut self, rotation: usize, what: String) {
        self.timeline.push(TimelineEvent {
            at: self.started.elapsed().as_secs_f64(),
            rotation,
            what,
        });
    }

    async fn invoke(
        &mut self,
        rotation: usize,
        step: Step,
        token: &str,
    ) -> Result<Outcome, edgeseal_rotator::RotationError> {
        let event = crate::stack::aws::rotation_event(self.aws, step, token)
            .map_err(|_| edgeseal_rotator::RotationError::Random)?;
        let began = Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let result = self.rotator.run(&event, deadline).await;
        self.timings.push(StepTiming {
            rotation,
            step,
            took: began.elapsed(),
        });
        result
    }

    /// The configuration test of `RotateImmediately=false`.
    pub async fn configuration_test(&mut self) -> Result<(), DemoError> {
        let token = start_configuration_test(
            &self.aws.sm,
            &self.aws.secret,
            &self.aws.rotation_lambda_arn,
            PendingValue::Empty,
        )
        .await
        .map_err(DemoError::Aws)?;
        self.note(0, "RotateSecret(RotateImmediately=false)".to_owned());
        let result = self.invoke(0, Step::Test, &token).await;
        end_configuration_test(&self.aws.sm, &self.aws.secret, &token)
            .await
            .map_err(DemoError::Aws)?;
        match result {
            Ok(Outcome::ConfigurationTested) => {
                self.note(0, "testSecret: configuration test passed".to_owned());
                Ok(())
            }
            Ok(other) => Err(DemoError::Rotation(
                0,
                format!("testSecret answered {other:?}, not a configuration test"),
            )),
            Err(e) => {
                self.note(0, format!("testSecret failed: {e}"));
                Err(DemoError::Rotation(0, e.to_string()))
            }
        }
    }

    /// `RotateSecret` for rotation `rotation`: its token, or the refusal (while a
    /// rotation is incomplete, [`DemoError::PreviousRotationIncomplete`]).
    pub async fn start(&mut self, rotation: usize) -> Result<String, DemoError> {
        match crate::stack::aws::start_rotation(self.aws).await {
            Ok(token) => {
                self.note(
                    rotation,
                    format!("RotateSecret (token {})", token.get(..8).unwrap_or(&token)),
                );
                Ok(token)
            }
            Err(e @ DemoError::PreviousRotationIncomplete(_)) => {
                self.note(rotation, e.to_string());
                Err(e)
            }
            Err(e) => {
                self.note(rotation, format!("RotateSecret failed: {e}"));
                Err(e)
            }
        }
    }

    /// One attempt of rotation `rotation`: the four steps with its token, from
    /// createSecret (which keeps an AWSPENDING version already there), stopping at the
    /// first failed step. Secrets Manager retries an incomplete rotation this way, with
    /// the same token ([`crate::run::schedule`] says when).
    pub async fn attempt(
        &mut self,
        rotation: usize,
        token: &str,
        attempt: u32,
    ) -> Result<(), String> {
        for step in Step::ALL {
            match self.invoke(rotation, step, token).await {
                Ok(_) => self.note(rotation, format!("{} done", step.as_str())),
                Err(e) => {
                    self.note(
                        rotation,
                        format!(
                            "{} failed (attempt {attempt}): {e} [{}]",
                            step.as_str(),
                            e.error_type()
                        ),
                    );
                    return Err(e.to_string());
                }
            }
        }
        Ok(())
    }
}

//! Driving the rotator as Secrets Manager does: each step one invocation with the rotator
//! Lambda's timeout as its deadline (`--rotator-timeout-secs`), a failed step restarting
//! the rotation a moment later; or, with `--first-rotation config-test`, the testSecret
//! alone that `RotateImmediately=false` runs when a stack turns rotation on. Every step's
//! wall time is kept: the summary reports the longest.

use std::time::{Duration, Instant};

use edgeseal_rotator::{Outcome, Step};
use edgeseal_testkit::{PendingValue, end_configuration_test, start_configuration_test};

use crate::DemoError;
use crate::report::TimelineEvent;
use crate::world::{AwsWorld, DemoRotator};

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
    fn mark(&mut self, rotation: usize, what: String) {
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
        let event = crate::world::event(self.aws, step, token)
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
        self.mark(0, "RotateSecret(RotateImmediately=false)".to_owned());
        let result = self.invoke(0, Step::Test, &token).await;
        end_configuration_test(&self.aws.sm, &self.aws.secret, &token)
            .await
            .map_err(DemoError::Aws)?;
        match result {
            Ok(Outcome::ConfigurationTested) => {
                self.mark(0, "testSecret: configuration test passed".to_owned());
                Ok(())
            }
            Ok(other) => Err(DemoError::Rotation(
                0,
                format!("testSecret answered {other:?}, not a configuration test"),
            )),
            Err(e) => {
                self.mark(0, format!("testSecret failed: {e}"));
                Err(DemoError::Rotation(0, e.to_string()))
            }
        }
    }

    /// One rotation, step by step; a failed step restarts the rotation from
    /// createSecret a moment later, as Secrets Manager retries.
    pub async fn rotate(&mut self, rotation: usize) -> Result<(), DemoError> {
        let token = crate::world::start_rotation(self.aws).await?;
        self.mark(
            rotation,
            format!("RotateSecret (token {})", token.get(..8).unwrap_or(&token)),
        );
        let mut last_error = String::new();
        for attempt in 1..=3 {
            let mut failed = false;
            for step in Step::ALL {
                match self.invoke(rotation, step, &token).await {
                    Ok(_) => self.mark(rotation, format!("{} done", step.as_str())),
                    Err(e) => {
                        last_error = e.to_string();
                        self.mark(
                            rotation,
                            format!(
                                "{} failed (attempt {attempt}): {e} [{}]",
                                step.as_str(),
                                edgeseal_rotator::error_type(&e)
                            ),
                        );
                        failed = true;
                        break;
                    }
                }
            }
            if !failed {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(DemoError::Rotation(rotation, last_error))
    }
}

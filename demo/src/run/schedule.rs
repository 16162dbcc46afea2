//! When the demo's rotations run: `RotateSecret` calls spread evenly over the run, each
//! rotation retried with its own token until it completes, as Secrets Manager retries an
//! incomplete rotation; a `RotateSecret` made meanwhile is refused.
//!
//! What AWS documents, and what it leaves out:
//! - `RotateSecret` is refused while a rotation is incomplete (AWSPENDING on a version
//!   that is not AWSCURRENT; RotateSecret API reference), with "A previous rotation isn't
//!   complete. That rotation will be reattempted." (hashicorp/terraform-provider-aws#35023).
//!   The demo's `RotateSecret` refuses the same way ([`crate::stack::aws::start_rotation`]).
//! - *That* Secrets Manager reattempts the incomplete rotation (the message above), with the
//!   same token: the rotation function's steps are keyed by `ClientRequestToken`, and the
//!   AWSPENDING version stays until a rotation finishes it.
//! - *When* it reattempts is not documented. The rotation troubleshooting guide
//!   (docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot_rotation.html)
//!   covers logs, timeouts, permissions and when a *scheduled* rotation starts, not
//!   retries. Lambda documents its own retries of asynchronous invocations (a failed
//!   event runs twice more, one minute then two minutes later; "How Lambda handles errors
//!   and retries with asynchronous invocation"), but AWS does not say Secrets Manager
//!   invokes rotation functions asynchronously, or that its reattempts stop there.
//!
//! So the demo picks a spaced cadence of the same shape, compressed as it compresses
//! CloudFront's propagation: after a failed attempt, retry 2 s later, then 4 s, then every
//! 8 s ([`RetryCadence::DEMO`]), until the rotation completes or the run's bound passes
//! ([`overtime_bound`]: the run may go on past `--seconds` by that much to let the last
//! rotation finish, and says so). A rotation still incomplete then is a failure; a
//! refusal that later completes is not.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::DemoError;
use crate::run::rotation::Driver;
use crate::scenarios::chaos::Chaos;
use crate::settings::Settings;

/// How long after a failed attempt an incomplete rotation is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryCadence {
    /// The wait after the first failed attempt; it doubles after each further one.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl RetryCadence {
    /// The demo's cadence: 2 s, 4 s, then every 8 s.
    pub const DEMO: Self = Self {
        first: Duration::from_secs(2),
        cap: Duration::from_secs(8),
    };

    /// The wait after `failed` failed attempts (1 or more).
    pub fn after(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(16);
        self.first
            .saturating_mul(1 << doublings)
            .min(self.cap)
            .max(self.first.min(self.cap))
    }
}

/// How far past `--seconds` the run may go to let its last rotation finish: one whole
/// propagation (the change it waits for may have just begun), two retry waits, and four
/// steps at the rotator's timeout (at most 15 s each: a step here takes about a second).
pub fn overtime_bound(propagation: Duration, rotator_timeout: Duration) -> Duration {
    propagation + RetryCadence::DEMO.cap * 2 + rotator_timeout.min(Duration::from_secs(15)) * 4
}

/// What became of one scheduled rotation.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// finishSecret done at `at` (seconds since the run started), after `attempts`.
    Completed {
        /// Seconds since the run started.
        at: f64,
        /// Attempts with this rotation's token (1 = no retry).
        attempts: u32,
    },
    /// `RotateSecret` refused: rotation `incomplete` had not completed. Not started.
    Refused {
        /// The rotation whose AWSPENDING version was still there.
        incomplete: usize,
    },
    /// Not completed when the run's bound passed (or `RotateSecret` failed otherwise).
    Failed {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        error: String,
    },
}

/// One scheduled rotation: when it was due, and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct RotationRecord {
    /// 1-based.
    pub rotation: usize,
    /// When its `RotateSecret` was due, seconds since the run started.
    pub scheduled: f64,
    /// What became of it.
    pub fate: Fate,
}

impl RotationRecord {
    /// Seconds from schedule to completion, if it completed.
    pub fn lateness(&self) -> Option<f64> {
        match self.fate {
            Fate::Completed { at, .. } => Some(at - self.scheduled),
            _ => None,
        }
    }
}

/// The rotations of a run.
pub struct Plan {
    /// When each `RotateSecret` is due, from the start of the run.
    pub due: Vec<Duration>,
    /// The traffic's length (`--seconds`).
    pub duration: Duration,
    /// How far past `duration` an incomplete rotation is still retried.
    pub overtime: Duration,
    /// The retry cadence.
    pub cadence: RetryCadence,
}

impl Plan {
    /// `rotations` evenly spread over the middle of `duration`.
    pub fn even(
        rotations: usize,
        duration: Duration,
        overtime: Duration,
        cadence: RetryCadence,
    ) -> Self {
        let spacing = duration.div_f64(rotations as f64 + 1.0);
        Self {
            due: (1..=rotations).map(|r| spacing.mul_f64(r as f64)).collect(),
            duration,
            overtime,
            cadence,
        }
    }

    /// The demo's plan: `--rotations` evenly over `--seconds`, retried on the demo's
    /// cadence, each still retried past the end within [`overtime_bound`].
    pub fn for_settings(settings: &Settings) -> Self {
        Self::even(
            settings.rotations,
            settings.duration,
            overtime_bound(settings.propagation, settings.rotator_timeout),
            RetryCadence::DEMO,
        )
    }
}

/// The rotation being retried.
struct Pending {
    index: usize,
    token: String,
    attempts: u32,
    next_at: Duration,
}

/// Run `plan`'s rotations through `driver`: each scheduled `RotateSecret` (refused while
/// a rotation is incomplete), each started rotation attempted at once and then on the
/// cadence with its token. Returns when every rotation has completed, been refused or
/// run out of time. With chaos, the control-plane guard is held from a rotation's start
/// to its end (the outage never overlaps a rotation).
pub async fn run_rotations(
    driver: &mut Driver<'_>,
    plan: &Plan,
    chaos: Option<&Chaos>,
    phase: &AtomicUsize,
) -> Vec<RotationRecord> {
    let mut records: Vec<RotationRecord> = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut guard = None;
    let mut due = plan.due.iter().copied().enumerate().peekable();
    let give_up = plan.duration + plan.overtime;
    loop {
        let next_due = due.peek().map(|(_, at)| *at);
        let retry_at = pending.as_ref().map(|p| p.next_at);
        let retry_first = match (next_due, retry_at) {
            (None, None) => break,
            (Some(d), Some(r)) => r <= d,
            (None, Some(_)) => true,
            (Some(_), None) => false,
        };
        if retry_first {
            let Some(mut p) = pending.take() else { break };
            if p.next_at > give_up {
                let error = format!(
                    "not complete {:.0} s past --seconds (the bound), after {} attempts",
                    plan.overtime.as_secs_f64(),
                    p.attempts
                );
                let rotation = records.get(p.index).map_or(0, |r| r.rotation);
                driver.note(rotation, format!("given up: {error}"));
                if let Some(r) = records.get_mut(p.index) {
                    r.fate = Fate::Failed {
                        attempts: p.attempts,
                        error,
                    };
                }
                guard = None;
                continue;
            }
            tokio::time::sleep(p.next_at.saturating_sub(driver.started.elapsed())).await;
            p.attempts += 1;
            let rotation = records.get(p.index).map_or(0, |r| r.rotation);
            pending = attempt(driver, &mut records, p, rotation, plan.cadence).await;
            if pending.is_none() {
                guard = None;
            }
            continue;
        }
        let Some((i, at)) = due.next() else { break };
        let rotation = i + 1;
        tokio::time::sleep(at.saturating_sub(driver.started.elapsed())).await;
        phase.store(rotation, Ordering::Relaxed);
        let scheduled = at.as_secs_f64();
        if let Some(p) = &pending {
            // Secrets Manager is still retrying a rotation: RotateSecret is refused.
            let incomplete = records.get(p.index).map_or(0, |r| r.rotation);
            let fate = match driver.start(rotation).await {
                Err(DemoError::PreviousRotationIncomplete(_)) => Fate::Refused { incomplete },
                Err(e) => Fate::Failed {
                    attempts: 0,
                    error: e.to_string(),
                },
                Ok(_) => Fate::Failed {
                    attempts: 0,
                    error: format!(
                        "RotateSecret accepted while rotation {incomplete} was incomplete"
                    ),
                },
            };
            records.push(RotationRecord {
                rotation,
                scheduled,
                fate,
            });
            continue;
        }
        if let Some(c) = chaos {
            guard = Some(c.before_rotation(rotation, driver.started).await);
        }
        let token = match driver.start(rotation).await {
            Ok(token) => token,
            Err(e) => {
                records.push(RotationRecord {
                    rotation,
                    scheduled,
                    fate: Fate::Failed {
                        attempts: 0,
                        error: e.to_string(),
                    },
                });
                guard = None;
                continue;
            }
        };
        // Its fate until the first attempt (just below) says otherwise.
        records.push(RotationRecord {
            rotation,
            scheduled,
            fate: Fate::Failed {
                attempts: 0,
                error: "not attempted".to_owned(),
            },
        });
        let p = Pending {
            index: records.len() - 1,
            token,
            attempts: 1,
            next_at: Duration::ZERO,
        };
        pending = attempt(driver, &mut records, p, rotation, plan.cadence).await;
        if pending.is_none() {
            guard = None;
        }
    }
    drop(guard);
    records
}

/// One attempt of the four steps with the rotation's token; `None` once it completed,
/// else the rotation with its next retry time.
async fn attempt(
    driver: &mut Driver<'_>,
    records: &mut [RotationRecord],
    mut p: Pending,
    rotation: usize,
    cadence: RetryCadence,
) -> Option<Pending> {
    match driver.attempt(rotation, &p.token, p.attempts).await {
        Ok(()) => {
            let at = driver.started.elapsed().as_secs_f64();
            if let Some(r) = records.get_mut(p.index) {
                r.fate = Fate::Completed {
                    at,
                    attempts: p.attempts,
                };
            }
            None
        }
        Err(error) => {
            let wait = cadence.after(p.attempts);
            driver.note(
                rotation,
                format!(
                    "incomplete: retry in {:.0} s with the same token",
                    wait.as_secs_f64()
                ),
            );
            if let Some(r) = records.get_mut(p.index) {
                r.fate = Fate::Failed {
                    attempts: p.attempts,
                    error,
                };
            }
            p.next_at = driver.started.elapsed() + wait;
            Some(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cadence_doubles_from_two_seconds_up_to_eight() {
        let waits: Vec<u64> = (1..=6)
            .map(|n| RetryCadence::DEMO.after(n).as_secs())
            .collect();
        assert_eq!(waits, [2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn rotations_are_due_evenly_over_the_middle_of_the_run() {
        let plan = Plan::even(
            3,
            Duration::from_secs(120),
            Duration::ZERO,
            RetryCadence::DEMO,
        );
        assert_eq!(
            plan.due,
            [30, 60, 90].map(Duration::from_secs).to_vec(),
            "{:?}",
            plan.due
        );
    }
}

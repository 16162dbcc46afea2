//! Waiting within a step's deadline: the one rule every poll and retry of the rotator
//! follows. Each step must end by its deadline (`MAX_STEP_SECS`, less than the Lambda's
//! timeout), so a wait never starts a pause that would end at or after it; the caller
//! then fails with what it was still waiting for, and Secrets Manager's retry of the
//! rotation picks the work up from what AWS holds.
//!
//! - [`pause_within`]: one pause, or none if it would cross the deadline;
//! - [`poll_until`]: poll a state until it is ready, pausing as given between polls;
//! - [`doubling`]: pauses for polling a state AWS changes within seconds.
//!
//! Loops that stop on another rule keep their own: the WAF settle window gives up as
//! soon as the window can no longer close (`targets/waf/rollout.rs`), and AppSync's
//! pending-key retries count tries inside a deadline-bounded future
//! (`targets/appsync/steps.rs`). Throttling's jittered backoff (`cloudfront/throttle.rs`)
//! chooses its own pauses but takes them through [`pause_within`].

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// A sleep of `pause`, if it ends before `deadline`; `None` (nothing to wait for) when
/// it would not.
pub(crate) fn pause_within(deadline: Instant, pause: Duration) -> Option<Sleep> {
    (Instant::now() + pause < deadline).then(|| tokio::time::sleep(pause))
}

/// Pauses from `first`, doubling up to `longest`.
pub(crate) fn doubling(first: Duration, longest: Duration) -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(first), move |pause| Some((*pause * 2).min(longest)))
}

/// Call `check` until it answers `Break` (done), pausing between calls as `pauses` says.
/// When the pauses run out or the next one would cross `deadline`, the last `Continue`
/// answer (what is still awaited) is returned as `Err` without checking again. Errors
/// of `check` end the wait at once.
pub(crate) async fn poll_until<T, W, E, F, Fut>(
    deadline: Instant,
    pauses: impl IntoIterator<Item = Duration>,
    mut check: F,
) -> Result<Result<T, W>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ControlFlow<T, W>, E>>,
{
    let mut pauses = pauses.into_iter();
    loop {
        let awaited = match check().await? {
            ControlFlow::Break(done) => return Ok(Ok(done)),
            ControlFlow::Continue(awaited) => awaited,
        };
        match pauses
            .next()
            .and_then(|pause| pause_within(deadline, pause))
        {
            Some(pause) => pause.await,
            None => return Ok(Err(awaited)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;

    use super::*;

    #[test]
    fn doubling_pauses_stop_growing_at_the_longest() {
        let pauses: Vec<u64> = doubling(Duration::from_millis(250), Duration::from_secs(2))
            .take(6)
            .map(|p| u64::try_from(p.as_millis()).unwrap())
            .collect();
        assert_eq!(pauses, [250, 500, 1_000, 2_000, 2_000, 2_000]);
    }

    #[tokio::test]
    async fn a_pause_that_would_cross_the_deadline_is_not_taken() {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert!(pause_within(deadline, Duration::from_secs(61)).is_none());
        assert!(pause_within(deadline, Duration::from_millis(1)).is_some());
    }

    #[tokio::test]
    async fn polling_ends_with_the_answer_or_with_what_is_still_awaited() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let polls = Cell::new(0u32);
        let check = || {
            polls.set(polls.get() + 1);
            let n = polls.get();
            async move {
                Ok::<_, ()>(if n == 3 {
                    ControlFlow::Break("ready")
                } else {
                    ControlFlow::Continue(n)
                })
            }
        };
        let pauses = std::iter::repeat(Duration::from_millis(1));
        assert_eq!(poll_until(deadline, pauses, check).await, Ok(Ok("ready")));
        assert_eq!(polls.get(), 3);

        // A pause past the deadline: one poll, then its answer back, unchecked again.
        polls.set(0);
        let pauses = std::iter::repeat(Duration::from_secs(61));
        assert_eq!(poll_until(deadline, pauses, check).await, Ok(Err(1)));
        assert_eq!(polls.get(), 1);

        // An error ends the wait at once.
        let failing = || async { Err::<ControlFlow<(), ()>, _>("denied") };
        let pauses = std::iter::repeat(Duration::from_millis(1));
        assert_eq!(poll_until(deadline, pauses, failing).await, Err("denied"));
    }
}

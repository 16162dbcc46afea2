//! Retrying throttled control-plane calls with backoff and jitter, within a deadline.
//!
//! CloudFront answers `Throttling` ("Rate exceeded") after a few `UpdateDistribution`
//! calls a minute per account, and support cannot raise that limit
//! (ansible-collections/community.aws#296, aws/aws-cdk#29183). Several rotations or
//! pipelines touching distributions at once meet it. A throttled call is retried after a
//! pause that doubles each time (from [`FIRST_PAUSE`] up to [`MAX_PAUSE`]), with "equal
//! jitter" (a uniform pick in the upper half of the pause) so that concurrent callers
//! spread out; the pause never runs past the step's deadline: then the throttling error
//! is returned and Secrets Manager's retry of the rotation takes over.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::aws::ApiError;
use crate::deadline::pause_within;

/// The first pause after a throttled call.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// The longest pause between two tries.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(8);

/// A pause in `[ceiling / 2, ceiling]`, uniformly (the OS RNG; the jitter needs spread,
/// not secrecy, so a failing RNG just means no jitter).
fn jittered(ceiling: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    let random = getrandom::fill(&mut bytes).map_or(u64::MAX, |()| u64::from_le_bytes(bytes));
    let half = ceiling / 2;
    let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_micros(random % spread)
}

/// Run `call` until it is not throttled, or until the next pause would cross `deadline`.
pub(crate) async fn retry_throttled<T, F, Fut>(
    deadline: Instant,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut ceiling = FIRST_PAUSE;
    let mut tries = 1u32;
    loop {
        match call().await {
            Err(ApiError::Throttled { op, message }) => {
                // Not `poll_until`: the pause grows and jitters with each throttled
                // answer (many rotators may share the account's CloudFront quota), and
                // only throttling is retried; the deadline rule is the same.
                let pause = jittered(ceiling);
                let Some(sleep) = pause_within(deadline, pause) else {
                    return Err(ApiError::Throttled { op, message });
                };
                warn!(%op, tries, pause_ms = pause.as_millis(), "throttled; retrying after a pause");
                sleep.await;
                ceiling = (ceiling * 2).min(MAX_PAUSE);
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::aws::Op;

    fn throttled() -> ApiError {
        ApiError::Throttled {
            op: Op::UpdateDistribution,
            message: "Rate exceeded".into(),
        }
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        for _ in 0..200 {
            let pause = jittered(Duration::from_secs(2));
            assert!(pause >= Duration::from_secs(1) && pause <= Duration::from_secs(2));
        }
    }

    #[tokio::test]
    async fn throttled_calls_are_retried_until_they_pass() {
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let result = retry_throttled(deadline, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(throttled())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_deadline_ends_the_retries_and_other_errors_are_not_retried() {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(1);
        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retry_throttled(deadline, || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(throttled())
        })
        .await;
        assert_eq!(result, Err(throttled()));
        // Pauses of 250-500 ms, then 500-1000 ms, then 1-2 s: no pause that would end past
        // the deadline was started, so at most three tries. (Counted, not timed: a sleep
        // may overrun on a loaded machine.)
        assert!((2..=3).contains(&tries.load(Ordering::SeqCst)));

        let calls = AtomicU32::new(0);
        let other: Result<(), _> = retry_throttled(deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ApiError::PreconditionFailed(Op::UpdateDistribution))
        })
        .await;
        assert!(other.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

//! Waiting for API Gateway to accept a freshly linked key before CloudFront sends it.
//!
//! API Gateway does not accept a key at every node the instant `CreateUsagePlanKey`
//! returns: "API keys often take a few seconds to start working after being created ...
//! requests getting denied because the API key isn't linked to the usage plan yet"
//! (moduspwnens/boa-chat#1, whose fix waits 10 s after creating a key); an answer to Stack
//! Overflow question 42194561 ("API Gateway API key immediate use upon creation giving
//! forbidden") describes the same propagation, with results like "fail fail pass fail
//! pass pass" while it lasts. AWS documents no bound. So setSecret points CloudFront at a
//! new key only once `API_KEY_PROPAGATION_SECS` have passed since it was linked *and*
//! [`PROBES_IN_A_ROW`] origin probes in a row, `API_KEY_PROBE_INTERVAL_MS` apart
//! ([`PROBE_PAUSE`] by default), accepted it; a
//! deadline reached first fails the step, and Secrets Manager's retry of the rotation
//! waits again (the key and its links are adopted, not made again).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use crate::deadline::pause_within;
use crate::origin::ProbeError;

/// The default pause between two origin probes (`API_KEY_PROBE_INTERVAL_MS`).
pub const PROBE_PAUSE: Duration = Duration::from_secs(1);
/// How many origin probes in a row must accept the key: one success does not prove
/// every API Gateway node has it yet.
pub(crate) const PROBES_IN_A_ROW: u32 = 3;

/// Why a new key is not known to be accepted everywhere yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAccepted {
    /// The last probe was refused (or failed).
    #[error("the origin refused the new API key: {0}")]
    Rejected(#[source] ProbeError),
    /// Probes pass, but `API_KEY_PROPAGATION_SECS` since the link have not passed.
    #[error("the new API key is still propagating through API Gateway (API_KEY_PROPAGATION_SECS)")]
    Propagating,
}

/// Probe until `PROBES_IN_A_ROW` probes in a row succeed and `not_before` has passed.
/// Fails when the next pause would cross `deadline`.
pub async fn wait_until_accepted<F, Fut>(
    mut probe: F,
    pause: Duration,
    not_before: Instant,
    deadline: Instant,
) -> Result<(), NotAccepted>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u16, ProbeError>>,
{
    let mut in_a_row = 0;
    let mut tries = 0u32;
    // Not `poll_until`: the count of passes in a row lives across polls.
    loop {
        let outcome = tokio::time::timeout_at(deadline, probe())
            .await
            .unwrap_or(Err(ProbeError::Timeout(pause)));
        tries += 1;
        let last = match outcome {
            Ok(_) => {
                in_a_row += 1;
                if in_a_row >= PROBES_IN_A_ROW && Instant::now() >= not_before {
                    info!(tries, "origin accepts the new API key");
                    return Ok(());
                }
                NotAccepted::Propagating
            }
            Err(e) => {
                in_a_row = 0;
                NotAccepted::Rejected(e)
            }
        };
        match pause_within(deadline, pause) {
            Some(pause) => pause.await,
            None => return Err(last),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Short real pauses (tokio's paused clock needs a feature the SDK crates would
    /// then be rebuilt with).
    const PAUSE: Duration = Duration::from_millis(20);

    fn scripted(
        script: &'static [bool],
    ) -> (
        Arc<AtomicU32>,
        impl FnMut() -> std::future::Ready<Result<u16, ProbeError>>,
    ) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&calls);
        let probe = move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) as usize;
            std::future::ready(if script.get(n).copied().unwrap_or(true) {
                Ok(200)
            } else {
                Err(ProbeError::UnexpectedStatus(403))
            })
        };
        (calls, probe)
    }

    use std::sync::Arc;

    #[tokio::test]
    async fn a_key_is_accepted_after_enough_successes_in_a_row() {
        // fail, pass, fail, pass, pass, pass: the flapping of a propagating key.
        let (calls, probe) = scripted(&[false, true, false, true, true, true, false]);
        let now = Instant::now();
        let result = wait_until_accepted(probe, PAUSE, now, now + Duration::from_secs(10)).await;
        assert_eq!(result, Ok(()));
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn successes_before_the_propagation_time_are_not_enough() {
        let (_, probe) = scripted(&[]);
        let not_before = Instant::now() + Duration::from_millis(300);
        let result = wait_until_accepted(
            probe,
            PAUSE,
            not_before,
            not_before + Duration::from_secs(10),
        )
        .await;
        assert_eq!(result, Ok(()));
        assert!(Instant::now() >= not_before);

        let (_, probe) = scripted(&[]);
        let now = Instant::now();
        let result = wait_until_accepted(
            probe,
            PAUSE,
            now + Duration::from_secs(30),
            now + Duration::from_millis(200),
        )
        .await;
        assert_eq!(result, Err(NotAccepted::Propagating));
    }

    #[tokio::test]
    async fn a_key_never_accepted_fails_with_the_last_rejection_by_the_deadline() {
        let (calls, probe) = scripted(&[false; 64]);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(300);
        let result = wait_until_accepted(probe, PAUSE, started, deadline).await;
        assert_eq!(
            result,
            Err(NotAccepted::Rejected(ProbeError::UnexpectedStatus(403)))
        );
        // No pause was started that would end past the deadline: at most one probe per
        // pause that fits before it, plus the first. (Not `now <= deadline`: a sleep may
        // overrun on a loaded machine, which says nothing of this loop.)
        let fits = u32::try_from(300 / PAUSE.as_millis()).unwrap();
        assert!(calls.load(Ordering::SeqCst) <= fits + 1);
        // And it kept probing until the next pause would have crossed the deadline.
        assert!(Instant::now() >= deadline - PAUSE);
    }
}

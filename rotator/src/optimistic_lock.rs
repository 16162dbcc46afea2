//! Writes guarded by an optimistic lock: read a resource with its token, edit it, write
//! it back with the token; AWS refuses the write when someone else wrote in between
//! (CloudFront's `UpdateDistribution` with the `GetDistributionConfig` ETag as
//! `IfMatch`: `PreconditionFailed`; WAFv2's `UpdateWebACL` with the `GetWebACL`
//! `LockToken`: `WAFOptimisticLockException`). Nothing is written then, so the try is
//! read, edited and written again from the start, keeping the other writer's change.

use std::future::Future;

use tokio::time::Instant;

use crate::deadline::pause_within;

/// What an edit of the resource read calls for.
pub(crate) enum Edited<T> {
    /// It already holds what is wanted: nothing to write; `T` says so.
    Unchanged(T),
    /// It was changed: write it.
    Changed,
}

/// How a write with the read's token ended.
pub(crate) enum Written<T> {
    /// Written: `T` says what was done.
    Done(T),
    /// Refused: the token was stale (someone else wrote since the read); nothing was
    /// written.
    Stale,
}

/// Read → edit → write with the read's token, until written or nothing needs writing,
/// at most `attempts` times: `read` gives the resource and its token, `edit` changes
/// the resource in place, `write` (given the try's number, from 1) writes it with the
/// token. After a stale token that another try follows, `on_retry(try)` logs it, then a
/// pause of 100 ms × the try's number lets the other writer finish. `Ok(None)` when
/// every try was stale, or the next pause would cross `deadline`: the caller's
/// contention error. An error of a step ends the retry at once.
pub(crate) async fn retry_stale_token<V, K, T, E, RF, WF>(
    attempts: u32,
    deadline: Instant,
    mut read: impl FnMut() -> RF,
    mut edit: impl FnMut(&mut V) -> Result<Edited<T>, E>,
    mut write: impl FnMut(V, K, u32) -> WF,
    on_retry: impl Fn(u32),
) -> Result<Option<T>, E>
where
    RF: Future<Output = Result<(V, K), E>>,
    WF: Future<Output = Result<Written<T>, E>>,
{
    for attempt in 1..=attempts {
        let (mut resource, token) = read().await?;
        if let Edited::Unchanged(done) = edit(&mut resource)? {
            return Ok(Some(done));
        }
        if let Written::Done(done) = write(resource, token, attempt).await? {
            return Ok(Some(done));
        }
        if attempt == attempts {
            break;
        }
        on_retry(attempt);
        let pause = std::time::Duration::from_millis(100 * u64::from(attempt));
        match pause_within(deadline, pause) {
            Some(pause) => pause.await,
            None => break,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::{Cell, RefCell};
    use std::time::Duration;

    use super::*;

    /// A resource read with a token, edited (to "new" unless it holds "new"), written
    /// while its first `stale` writes find the token stale.
    async fn run(
        attempts: u32,
        held: &str,
        stale: u32,
        deadline: Instant,
    ) -> (Result<Option<u32>, &'static str>, Vec<u32>, u32) {
        let reads = Cell::new(0u32);
        let retried = RefCell::new(Vec::new());
        let result = retry_stale_token(
            attempts,
            deadline,
            || {
                reads.set(reads.get() + 1);
                let token = reads.get();
                async move { Ok((held.to_owned(), token)) }
            },
            |value: &mut String| {
                if value == "new" {
                    return Ok(Edited::Unchanged(0));
                }
                *value = "new".to_owned();
                Ok(Edited::Changed)
            },
            |value, token, attempt| async move {
                assert_eq!(
                    (value.as_str(), token),
                    ("new", attempt),
                    "the read's token"
                );
                Ok(if attempt > stale {
                    Written::Done(attempt)
                } else {
                    Written::Stale
                })
            },
            |attempt| retried.borrow_mut().push(attempt),
        )
        .await;
        (result, retried.into_inner(), reads.get())
    }

    #[tokio::test]
    async fn a_stale_token_is_read_again_and_retried() {
        let deadline = Instant::now() + Duration::from_secs(60);
        // Each try reads again (the write asserts it got that read's token).
        assert_eq!(
            run(3, "old", 2, deadline).await,
            (Ok(Some(3)), vec![1, 2], 3)
        );
        assert_eq!(run(3, "old", 0, deadline).await, (Ok(Some(1)), vec![], 1));
    }

    #[tokio::test]
    async fn nothing_is_written_when_the_edit_changes_nothing() {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(run(3, "new", 3, deadline).await, (Ok(Some(0)), vec![], 1));
    }

    #[tokio::test]
    async fn the_tries_are_bounded_and_the_last_stale_one_is_not_logged_as_a_retry() {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(run(3, "old", 3, deadline).await, (Ok(None), vec![1, 2], 3));
    }

    #[tokio::test]
    async fn no_pause_is_taken_past_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(50);
        // The first pause (100 ms) would cross the deadline: the try is not repeated.
        assert_eq!(run(3, "old", 3, deadline).await, (Ok(None), vec![1], 1));
    }

    #[tokio::test]
    async fn an_error_ends_the_retry_at_once() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let writes = Cell::new(0u32);
        let result: Result<Option<()>, _> = retry_stale_token(
            3,
            deadline,
            || async { Ok(((), ())) },
            |()| Ok(Edited::Changed),
            |(), (), _| {
                writes.set(writes.get() + 1);
                async { Err("denied") }
            },
            |_| {},
        )
        .await;
        assert_eq!((result, writes.get()), (Err("denied"), 1));
    }
}

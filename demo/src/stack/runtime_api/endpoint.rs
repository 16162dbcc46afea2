//! The Runtime API endpoints a process calls: the long-polled next invocation and the
//! response or error it posts back. Each process has its own endpoint, so every request
//! here comes from one known process.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};
use tokio::sync::oneshot;

use super::{API_PREFIX, Handed, INVOCATION_TIMEOUT, InvokeError, Pending, Process, Shared, lock};
use crate::stack::http::{Body, WholeRequest, text};

pub(super) async fn route(
    shared: &Shared,
    process: Process,
    req: WholeRequest,
) -> http::Response<Body> {
    let path = req.parts.uri.path();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return text(StatusCode::NOT_FOUND, "not a runtime API path");
    };
    match (&req.parts.method, rest) {
        (&Method::GET, "/invocation/next") => next_invocation(shared, process).await,
        (&Method::POST, "/init/error") => {
            tracing::error!(function = %shared.function_name, slot = process.slot, body = %String::from_utf8_lossy(&req.body), "function failed to initialise");
            text(StatusCode::ACCEPTED, "")
        }
        (&Method::POST, rest) => {
            let Some((id, outcome)) = rest
                .strip_prefix("/invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return text(StatusCode::NOT_FOUND, "unknown path");
            };
            let Some((held_by, reply)) = lock(&shared.dispatch).in_flight.remove(id) else {
                return text(StatusCode::BAD_REQUEST, "unknown request id");
            };
            if let Some(s) = shared.slots.get(held_by.slot)
                && let Some(life) = lock(&s.lives).last_mut()
            {
                life.answered += 1;
                life.first_response.get_or_insert_with(Instant::now);
            }
            let result = match outcome {
                "response" => Ok(req.body),
                _ => Err(InvokeError::Function(
                    String::from_utf8_lossy(&req.body).into_owned(),
                )),
            };
            let _ = reply.send(result);
            text(StatusCode::ACCEPTED, "")
        }
        _ => text(StatusCode::NOT_FOUND, "unknown path"),
    }
}

pub(super) async fn next_invocation(shared: &Shared, process: Process) -> http::Response<Body> {
    let Some(this) = shared.slots.get(process.slot) else {
        return text(StatusCode::NOT_FOUND, "unknown execution environment");
    };
    let waiting = {
        let mut dispatch = lock(&shared.dispatch);
        if !dispatch.is_serving(process) {
            None
        } else if let Some(pending) = dispatch.queue.pop_front() {
            return invocation_response(shared, dispatch.hand(process, pending));
        } else {
            let (tx, rx) = oneshot::channel();
            dispatch.idle.push_back((process, tx));
            Some(Parked { shared, rx })
        }
    };
    if let Some(mut parked) = waiting
        && let Ok(handed) = (&mut parked.rx).await
    {
        return invocation_response(shared, handed);
    }
    // Retired: this process gets nothing more and is about to be killed. Answer only
    // once a new process runs in the slot (the old one's connection is gone by then).
    let mut generations = this.generation.subscribe();
    let _ = generations
        .wait_for(|g| *g != process.generation || this.down.load(Ordering::Relaxed))
        .await;
    text(StatusCode::GONE, "execution environment shut down")
}

/// A `/next` call waiting for work. Should it be dropped (its connection closed) after
/// an invocation was sent to it but before it took it, the invocation is offered again
/// rather than left for a process that never saw it.
struct Parked<'a> {
    shared: &'a Shared,
    rx: oneshot::Receiver<Handed>,
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        if let Ok(handed) = self.rx.try_recv() {
            let mut dispatch = lock(&self.shared.dispatch);
            if let Some((_, reply)) = dispatch.in_flight.remove(&handed.id) {
                let pending = Pending {
                    event: handed.event,
                    reply,
                };
                dispatch.offer(pending, true);
            }
        }
    }
}

pub(super) fn invocation_response(shared: &Shared, handed: Handed) -> http::Response<Body> {
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + INVOCATION_TIMEOUT.as_millis();
    let mut response = http::Response::new(Body::new(handed.event));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", handed.id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            shared.function_name
        ),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    response
}

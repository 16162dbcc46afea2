//! A Lambda Runtime API emulator: runs a real `provided.al2023` `bootstrap` binary the
//! way Lambda does (the binary long-polls `/runtime/invocation/next` and posts each
//! response back), so the demo exercises the authorizer exactly as it ships.
//!
//! Several processes may serve one function (Lambda's concurrent execution
//! environments); each takes the next queued invocation when it is free.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::http::{Body, WholeRequest, serve, text};

const API_PREFIX: &str = "/2018-06-01/runtime";
/// The deadline a function sees for each invocation.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an error (`/invocation/{id}/error`); the body is its
    /// `{errorType, errorMessage}` document.
    #[error("function error: {0}")]
    Function(String),
    /// No response within the timeout.
    #[error("invocation timed out")]
    Timeout,
    /// The emulator is shutting down.
    #[error("runtime emulator stopped")]
    Stopped,
}

struct Pending {
    event: Bytes,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
}

struct Shared {
    function_name: String,
    queue: Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: std::sync::Mutex<HashMap<String, oneshot::Sender<Result<Bytes, InvokeError>>>>,
    next_id: AtomicU64,
}

/// A function served by one or more real processes.
pub struct LambdaFunction {
    queue: mpsc::UnboundedSender<Pending>,
    children: Vec<Child>,
    server: tokio::task::JoinHandle<()>,
    invocations: AtomicU64,
}

impl LambdaFunction {
    /// Start `processes` copies of `binary` against a fresh Runtime API on loopback.
    /// `env` is the function's configuration; process `n` logs to
    /// `log_dir/{function_name}-{n}.log`.
    pub async fn start(
        function_name: &str,
        binary: &Path,
        env: &[(String, String)],
        processes: usize,
        log_dir: &Path,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_name: function_name.to_owned(),
            queue: Mutex::new(queue_rx),
            in_flight: std::sync::Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        });
        let server = tokio::spawn(serve(listener, move |req| {
            let shared = Arc::clone(&shared);
            async move { route(&shared, req).await }
        }));
        let mut children = Vec::with_capacity(processes);
        for n in 0..processes {
            let log = std::fs::File::create(log_dir.join(format!("{function_name}-{n}.log")))?;
            let child = Command::new(binary)
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
                .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env(
                    "AWS_LAMBDA_LOG_GROUP_NAME",
                    format!("/aws/lambda/{function_name}"),
                )
                .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/{n}"))
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()?;
            children.push(child);
        }
        Ok(Self {
            queue: queue_tx,
            children,
            server,
            invocations: AtomicU64::new(0),
        })
    }

    /// Invoke the function with `event` and wait for its response.
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        let (reply, response) = oneshot::channel();
        self.queue
            .send(Pending {
                event: Bytes::from(event.to_string()),
                reply,
            })
            .map_err(|_| InvokeError::Stopped)?;
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let body = tokio::time::timeout(INVOCATION_TIMEOUT, response)
            .await
            .map_err(|_| InvokeError::Timeout)?
            .map_err(|_| InvokeError::Stopped)??;
        serde_json::from_slice(&body)
            .map_err(|_| InvokeError::Function("response is not JSON".into()))
    }

    /// How many invocations were sent.
    pub fn invocations(&self) -> u64 {
        self.invocations.load(Ordering::Relaxed)
    }

    /// The process ids serving the function (to read their memory from /proc).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(Child::id).collect()
    }

    /// Peak resident set size of each process, in KiB (`VmHWM`), where readable.
    pub fn peak_rss_kib(&self) -> Vec<u64> {
        self.pids()
            .into_iter()
            .filter_map(|pid| {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .collect()
    }

    /// Stop the processes and the API.
    pub async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.kill().await;
        }
        self.server.abort();
    }
}

async fn route(shared: &Shared, req: WholeRequest) -> http::Response<Body> {
    let path = req.parts.uri.path();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return text(StatusCode::NOT_FOUND, "not a runtime API path");
    };
    match (&req.parts.method, rest) {
        (&Method::GET, "/invocation/next") => next_invocation(shared).await,
        (&Method::POST, "/init/error") => {
            tracing::error!(function = %shared.function_name, body = %String::from_utf8_lossy(&req.body), "function failed to initialise");
            text(StatusCode::ACCEPTED, "")
        }
        (&Method::POST, rest) => {
            let Some((id, outcome)) = rest
                .strip_prefix("/invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return text(StatusCode::NOT_FOUND, "unknown path");
            };
            let Ok(mut in_flight) = shared.in_flight.lock() else {
                return text(StatusCode::INTERNAL_SERVER_ERROR, "poisoned");
            };
            let Some(reply) = in_flight.remove(id) else {
                return text(StatusCode::BAD_REQUEST, "unknown request id");
            };
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

async fn next_invocation(shared: &Shared) -> http::Response<Body> {
    let pending = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    let Some(pending) = pending else {
        return text(StatusCode::GONE, "shutting down");
    };
    let id = format!(
        "{:08x}-demo-{}",
        shared.next_id.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    );
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        in_flight.insert(id.clone(), pending.reply);
    }
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + INVOCATION_TIMEOUT.as_millis();
    let mut response = http::Response::new(Body::new(pending.event));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
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

//! One warm Node.js process running one published version of the edge function, the way
//! a CloudFront edge location keeps a Lambda@Edge execution environment warm.
//!
//! The zip is the exact bytes the rotator published (recorded from its Lambda calls);
//! it is unpacked into a directory of its own and its `index.mjs` handler is imported
//! once by `js/edge-worker.mjs`.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, oneshot};

/// The worker script, embedded so the demo binary needs no path to it.
const WORKER_JS: &str = include_str!("../../js/edge-worker.mjs");

/// Why the edge function did not return a request.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// Unpacking or starting failed.
    #[error("cannot start edge worker: {0}")]
    Start(String),
    /// The handler threw.
    #[error("edge handler failed: {0}")]
    Handler(String),
    /// The worker process went away.
    #[error("edge worker exited")]
    Exited,
}

type Waiters = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Result<Value, EdgeError>>>>>;

/// A warm worker for one edge function version.
pub struct EdgeWorker {
    stdin: Mutex<ChildStdin>,
    waiters: Waiters,
    next_id: AtomicU64,
    _child: Child,
}

impl EdgeWorker {
    /// Unpack `zip` under `work_dir/name` and start a warm worker on it.
    pub async fn start(
        zip: &[u8],
        work_dir: &Path,
        name: &str,
        log: &Path,
    ) -> Result<Self, EdgeError> {
        let dir = work_dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| EdgeError::Start(e.to_string()))?;
        zip::ZipArchive::new(Cursor::new(zip))
            .and_then(|mut archive| archive.extract(&dir))
            .map_err(|e| EdgeError::Start(format!("unzip: {e}")))?;
        let script = work_dir.join("edge-worker.mjs");
        std::fs::write(&script, WORKER_JS).map_err(|e| EdgeError::Start(e.to_string()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| EdgeError::Start(e.to_string()))?;
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EdgeError::Start(format!("node: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(EdgeError::Start("no pipes".into()));
        };
        let waiters: Waiters = Arc::default();
        let reader_waiters = Arc::clone(&waiters);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let Some(id) = msg.get("id").and_then(Value::as_u64) else {
                    continue;
                };
                let outcome = match msg.get("result") {
                    Some(result) => Ok(result.clone()),
                    None => Err(EdgeError::Handler(
                        msg.get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown")
                            .to_owned(),
                    )),
                };
                if let Some(tx) = reader_waiters.lock().ok().and_then(|mut w| w.remove(&id)) {
                    let _ = tx.send(outcome);
                }
            }
            // The worker is gone: fail everyone still waiting.
            if let Ok(mut w) = reader_waiters.lock() {
                for (_, tx) in w.drain() {
                    let _ = tx.send(Err(EdgeError::Exited));
                }
            }
        });
        Ok(Self {
            stdin: Mutex::new(stdin),
            waiters,
            next_id: AtomicU64::new(1),
            _child: child,
        })
    }

    /// Run the handler on an origin-request event; returns what it returned (the request
    /// to forward, or a generated response).
    pub async fn handle(&self, event: &Value) -> Result<Value, EdgeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(id, tx);
        }
        let mut line = json!({ "id": id, "event": event }).to_string();
        line.push('\n');
        {
            let mut stdin = self.stdin.lock().await;
            stdin
                .write_all(line.as_bytes())
                .await
                .map_err(|_| EdgeError::Exited)?;
        }
        rx.await.map_err(|_| EdgeError::Exited)?
    }
}

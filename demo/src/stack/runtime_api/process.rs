//! Each execution environment's processes: started with the Lambda environment, each
//! with its own Runtime API endpoint, one after another in their slot until the function
//! stops, each one's in-flight invocation failed when it exits, its peak RSS read from
//! `/proc`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::endpoint::route;
use super::{InvokeError, Launch, Process, ProcessLife, Shared, Slot, lock};
use crate::stack::http::serve;

/// A started process and its Runtime API endpoint.
pub(super) struct Running {
    process: Process,
    child: Child,
    endpoint: Endpoint,
}

/// A process's Runtime API server; dropping it closes the endpoint (no new connection
/// is accepted, so nothing more from that process reaches the emulator).
struct Endpoint(JoinHandle<()>);

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Launch {
    /// Start the slot's next process (its first if `first`) against a Runtime API
    /// endpoint of its own, which hands it invocations from its first `/next` on.
    pub(super) async fn start(
        &self,
        shared: &Arc<Shared>,
        slot: &Slot,
        first: bool,
    ) -> std::io::Result<Running> {
        let generation = if first {
            0
        } else {
            *slot.generation.borrow() + 1
        };
        let process = Process {
            slot: slot.index,
            generation,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let for_server = Arc::clone(shared);
        let endpoint = Endpoint(tokio::spawn(serve(listener, move |req| {
            let shared = Arc::clone(&for_server);
            async move { route(&shared, process, req).await }
        })));
        if let Some(serving) = lock(&shared.dispatch).serving.get_mut(slot.index) {
            *serving = Some(generation);
        }
        let child = match self.spawn(&shared.function_name, slot, &addr, first) {
            Ok(child) => child,
            Err(e) => {
                retire(shared, slot.index);
                return Err(e);
            }
        };
        slot.generation.send_replace(generation);
        Ok(Running {
            process,
            child,
            endpoint,
        })
    }

    pub(super) fn spawn(
        &self,
        function_name: &str,
        slot: &Slot,
        runtime_api: &str,
        first: bool,
    ) -> std::io::Result<Child> {
        let path = self
            .log_dir
            .join(format!("{function_name}-{}.log", slot.index));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(!first)
            .truncate(first)
            .open(path)?;
        let mut command = Command::new(&self.binary);
        command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/{}", slot.index),
            )
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let child = spawn_when_not_busy(&mut command)?;
        slot.pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
        lock(&slot.lives).push(ProcessLife {
            slot: slot.index,
            started: Instant::now(),
            first_response: None,
            answered: 0,
            ended: None,
            peak_rss_kib: None,
        });
        Ok(child)
    }
}

/// Spawn `command`, retrying briefly while its executable is "busy" (`ETXTBSY`): a file
/// written by this process (a test's runtime script) stays open for writing in any child
/// another thread forked before closing it, until that child execs; an exec of the file
/// in that window fails. A known race of multi-threaded Unix processes
/// (rust-lang/rust#114554, golang/go#22315); the writer's copy closes at the child's exec,
/// milliseconds later, so a short retry outlasts it.
pub(super) fn spawn_when_not_busy(command: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

/// Run the slot's processes one after another until the function stops.
pub(super) async fn supervise(
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    launch: Arc<Launch>,
    mut running: Running,
) {
    loop {
        let Running {
            process,
            mut child,
            endpoint,
        } = running;
        let pid = child.id();
        let why = tokio::select! {
            status = child.wait() => match status {
                Ok(s) => format!("exited: {s}"),
                Err(e) => format!("lost: {e}"),
            },
            () = slot.kill.notified() => {
                let rss = pid.and_then(peak_rss_kib);
                if let Some(life) = lock(&slot.lives).last_mut() {
                    life.peak_rss_kib = rss;
                }
                let _ = child.start_kill();
                let _ = child.wait().await;
                "killed (SIGKILL)".to_owned()
            }
        };
        slot.pid.store(0, Ordering::Relaxed);
        // No invocation may go to the dead process, nor to anything still talking to its
        // endpoint (a child it forked outlives a SIGKILL): the endpoint serves nothing
        // more, and closes once the next process has its own (bound first, so that one
        // cannot get the old port). The invocations it held fail now.
        retire(&shared, slot.index);
        fail_in_flight(&shared, process, &why);
        if let Some(life) = lock(&slot.lives).last_mut() {
            life.ended = Some((Instant::now(), why.clone()));
        }
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        tracing::info!(function = %shared.function_name, slot = slot.index, %why, "execution environment ended; starting a new one");
        let next = launch.start(&shared, &slot, false).await;
        drop(endpoint);
        running = match next {
            Ok(running) => running,
            Err(e) => {
                tracing::error!(function = %shared.function_name, slot = slot.index, error = %e, "cannot start a new process");
                // Whoever waits for the slot's next process (`recycle`) waits no more.
                slot.down.store(true, Ordering::Relaxed);
                slot.generation.send_modify(|_| ());
                return;
            }
        };
    }
}

/// Hand the slot's process no more invocations.
pub(super) fn retire(shared: &Shared, slot: usize) {
    let mut dispatch = lock(&shared.dispatch);
    if let Some(serving) = dispatch.serving.get_mut(slot) {
        *serving = None;
    }
    // Dropping its waiters' senders tells its parked `/next` calls there is nothing.
    dispatch.idle.retain(|(p, _)| p.slot != slot);
}

pub(super) fn in_flight(shared: &Shared, slot: usize) -> usize {
    lock(&shared.dispatch)
        .in_flight
        .values()
        .filter(|(p, _)| p.slot == slot)
        .count()
}

pub(super) fn fail_in_flight(shared: &Shared, process: Process, why: &str) {
    let mut dispatch = lock(&shared.dispatch);
    let ids: Vec<String> = dispatch
        .in_flight
        .iter()
        .filter(|(_, (p, _))| *p == process)
        .map(|(id, _)| id.clone())
        .collect();
    for id in ids {
        if let Some((_, reply)) = dispatch.in_flight.remove(&id) {
            let _ = reply.send(Err(InvokeError::RuntimeExited(why.to_owned())));
        }
    }
}

pub(super) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

//! Each execution environment's processes: started with the Lambda environment, one
//! after another in their slot until the function stops, each one's in-flight
//! invocation failed when it exits, its peak RSS read from `/proc`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::{InvokeError, Launch, ProcessLife, Shared, Slot, lock};

impl Launch {
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
    runtime_api: String,
    mut child: Child,
) {
    loop {
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
        // No invocation may go to the dead process; the ones it held fail now.
        retire(&shared, slot.index);
        fail_in_flight(&shared, slot.index, &why);
        if let Some(life) = lock(&slot.lives).last_mut() {
            life.ended = Some((Instant::now(), why.clone()));
        }
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        tracing::info!(function = %shared.function_name, slot = slot.index, %why, "execution environment ended; starting a new one");
        if let Some(r) = lock(&shared.dispatch).retired.get_mut(slot.index) {
            *r = false;
        }
        child = match launch.spawn(&shared.function_name, &slot, &runtime_api, false) {
            Ok(child) => child,
            Err(e) => {
                tracing::error!(function = %shared.function_name, slot = slot.index, error = %e, "cannot start a new process");
                return;
            }
        };
        slot.generation.send_modify(|g| *g += 1);
    }
}

pub(super) fn retire(shared: &Shared, slot: usize) {
    let mut dispatch = lock(&shared.dispatch);
    if let Some(r) = dispatch.retired.get_mut(slot) {
        *r = true;
    }
    // Dropping its waiters' senders tells its parked `/next` calls there is nothing.
    dispatch.idle.retain(|(s, _)| *s != slot);
}

pub(super) fn in_flight(shared: &Shared, slot: usize) -> usize {
    lock(&shared.dispatch)
        .in_flight
        .values()
        .filter(|(s, _)| *s == slot)
        .count()
}

pub(super) fn fail_in_flight(shared: &Shared, slot: usize, why: &str) {
    let mut dispatch = lock(&shared.dispatch);
    let ids: Vec<String> = dispatch
        .in_flight
        .iter()
        .filter(|(_, (s, _))| *s == slot)
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

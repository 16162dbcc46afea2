//! A Lambda Runtime API emulator: runs a real `provided.al2023` `bootstrap` binary the
//! way Lambda does (the binary long-polls `/runtime/invocation/next` and posts each
//! response back), so the demo exercises the authorizer exactly as it ships.
//!
//! Several processes may serve one function (Lambda's concurrent execution
//! environments); each takes the next queued invocation when it is free, and each has
//! its own Runtime API endpoint, as each execution environment does, so the emulator
//! knows which process holds which invocation. A process's endpoint is its own, not its
//! slot's: a new process in a slot gets a new endpoint and the old one closes, so nothing
//! still holding the old address (a child the killed runtime forked: SIGKILL reaches only
//! the runtime's pid) can take an invocation meant for its successor.
//!
//! Execution environments come and go as on Lambda (Developer Guide, "Understanding the
//! Lambda execution environment lifecycle"):
//! - [`LambdaFunction::recycle`] is Lambda's Shutdown phase: no new invocation goes to
//!   the environment, the one in flight finishes, then the process is killed; the next
//!   process in that slot starts cold while the others carry the traffic.
//! - A process that exits on its own (a crash) fails the invocation it held at once, as
//!   Lambda reports `Runtime.ExitError` for it, and a new process starts in its place.

mod endpoint;
mod process;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

use process::{in_flight, peak_rss_kib, retire, supervise};

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
    /// The process holding the invocation exited before answering
    /// (`Runtime.ExitError` on Lambda).
    #[error("Runtime.ExitError: the runtime exited ({0}) during the invocation")]
    RuntimeExited(String),
    /// No response within the timeout.
    #[error("invocation timed out")]
    Timeout,
    /// The emulator is shutting down.
    #[error("runtime emulator stopped")]
    Stopped,
}

type Reply = oneshot::Sender<Result<Bytes, InvokeError>>;

struct Pending {
    event: Bytes,
    reply: Reply,
}

/// An invocation handed to a process.
struct Handed {
    id: String,
    event: Bytes,
}

/// One process: its slot and which of the slot's processes it is (the slot's
/// generation when it started). Each process has its own Runtime API endpoint, which
/// tells every request it makes apart from its predecessors' and successors'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Process {
    slot: usize,
    generation: u64,
}

/// Who holds what. One lock, never held across an await, so handing an invocation to a
/// process, retiring a process and failing a dead process's invocations cannot
/// interleave.
#[derive(Default)]
struct Dispatch {
    queue: VecDeque<Pending>,
    idle: VecDeque<(Process, oneshot::Sender<Handed>)>,
    /// The process each slot hands invocations to; `None` while the slot is retired.
    serving: Vec<Option<u64>>,
    in_flight: HashMap<String, (Process, Reply)>,
    next_id: u64,
}

impl Dispatch {
    fn request_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:08x}-demo-{}", self.next_id, std::process::id())
    }

    fn hand(&mut self, process: Process, pending: Pending) -> Handed {
        let id = self.request_id();
        self.in_flight.insert(id.clone(), (process, pending.reply));
        Handed {
            id,
            event: pending.event,
        }
    }

    /// Whether `process` is the one its slot hands invocations to now.
    fn is_serving(&self, process: Process) -> bool {
        self.serving.get(process.slot).copied().flatten() == Some(process.generation)
    }

    /// Hand `pending` to the first process waiting for work, or queue it (at the front
    /// if it had been handed out before, so it keeps its turn).
    fn offer(&mut self, pending: Pending, again: bool) {
        let Pending { mut event, reply } = pending;
        while let Some((process, waiter)) = self.idle.pop_front() {
            if !self.is_serving(process) || waiter.is_closed() {
                continue;
            }
            let id = self.request_id();
            match waiter.send(Handed {
                id: id.clone(),
                event,
            }) {
                Ok(()) => {
                    self.in_flight.insert(id, (process, reply));
                    return;
                }
                // The process stopped waiting: keep the invocation.
                Err(handed) => event = handed.event,
            }
        }
        let pending = Pending { event, reply };
        if again {
            self.queue.push_front(pending);
        } else {
            self.queue.push_back(pending);
        }
    }
}

/// One execution environment slot and the processes that served it.
struct Slot {
    index: usize,
    /// Bumped whenever a new process starts in the slot.
    generation: watch::Sender<u64>,
    /// Set when no new process could be started in the slot.
    down: AtomicBool,
    kill: Notify,
    pid: AtomicU32,
    lives: Mutex<Vec<ProcessLife>>,
}

/// One process's life in a slot.
#[derive(Clone, Debug)]
pub struct ProcessLife {
    /// The slot (execution environment number).
    pub slot: usize,
    /// When the process was started.
    pub started: Instant,
    /// When it first answered an invocation.
    pub first_response: Option<Instant>,
    /// Invocations it answered.
    pub answered: u64,
    /// When and why it ended, if it did.
    pub ended: Option<(Instant, String)>,
    /// Its peak RSS in KiB (`VmHWM`), read while it ran.
    pub peak_rss_kib: Option<u64>,
}

/// One process's peak RSS, read at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessRss {
    /// The slot (execution environment number).
    pub slot: usize,
    /// The process serving it then (0: none).
    pub pid: u32,
    /// Its peak RSS in KiB (`VmHWM`).
    pub peak_rss_kib: Option<u64>,
}

struct Shared {
    function_name: String,
    dispatch: Mutex<Dispatch>,
    slots: Vec<Arc<Slot>>,
    stopping: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How to start one process of the function.
struct Launch {
    binary: PathBuf,
    env: Vec<(String, String)>,
    log_dir: PathBuf,
}

/// A function served by one or more real processes.
pub struct LambdaFunction {
    shared: Arc<Shared>,
    supervisors: Vec<JoinHandle<()>>,
    invocations: AtomicU64,
}

impl LambdaFunction {
    /// Start `processes` copies of `binary`, each against its own Runtime API endpoint on
    /// loopback. `env` is the function's configuration; slot `n` logs to
    /// `log_dir/{function_name}-{n}.log` (its later processes append).
    pub async fn start(
        function_name: &str,
        binary: &Path,
        env: &[(String, String)],
        processes: usize,
        log_dir: &Path,
    ) -> std::io::Result<Self> {
        let slots: Vec<Arc<Slot>> = (0..processes)
            .map(|index| {
                Arc::new(Slot {
                    index,
                    generation: watch::Sender::new(0),
                    down: AtomicBool::new(false),
                    kill: Notify::new(),
                    pid: AtomicU32::new(0),
                    lives: Mutex::default(),
                })
            })
            .collect();
        let shared = Arc::new(Shared {
            function_name: function_name.to_owned(),
            dispatch: Mutex::new(Dispatch {
                serving: vec![None; processes],
                ..Dispatch::default()
            }),
            slots,
            stopping: AtomicBool::new(false),
        });
        let launch = Arc::new(Launch {
            binary: binary.to_owned(),
            env: env.to_vec(),
            log_dir: log_dir.to_owned(),
        });
        let mut supervisors = Vec::new();
        for slot in &shared.slots {
            // The first process starts here, so a binary that cannot start is an error.
            let first = launch.start(&shared, slot, true).await?;
            supervisors.push(tokio::spawn(supervise(
                Arc::clone(&shared),
                Arc::clone(slot),
                Arc::clone(&launch),
                first,
            )));
        }
        Ok(Self {
            shared,
            supervisors,
            invocations: AtomicU64::new(0),
        })
    }

    /// Invoke the function with `event` and wait for its response.
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        let (reply, response) = oneshot::channel();
        let pending = Pending {
            event: Bytes::from(event.to_string()),
            reply,
        };
        lock(&self.shared.dispatch).offer(pending, false);
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

    /// How many execution environment slots serve the function.
    pub fn slots(&self) -> usize {
        self.shared.slots.len()
    }

    /// The process ids serving the function now (to read their memory from /proc).
    pub fn pids(&self) -> Vec<u32> {
        self.shared
            .slots
            .iter()
            .map(|s| s.pid.load(Ordering::Relaxed))
            .filter(|pid| *pid != 0)
            .collect()
    }

    /// Peak resident set size of each process now serving, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Vec<u64> {
        self.pids().into_iter().filter_map(peak_rss_kib).collect()
    }

    /// Peak resident set size (`VmHWM`, KiB) of the process serving each slot now, with
    /// its slot and pid; `None` where it could not be read.
    pub fn peak_rss_by_process(&self) -> Vec<ProcessRss> {
        self.shared
            .slots
            .iter()
            .map(|s| {
                let pid = s.pid.load(Ordering::Relaxed);
                ProcessRss {
                    slot: s.index,
                    pid,
                    peak_rss_kib: (pid != 0).then(|| peak_rss_kib(pid)).flatten(),
                }
            })
            .collect()
    }

    /// Every process that served the function, slot by slot, in start order.
    pub fn lives(&self) -> Vec<ProcessLife> {
        self.shared
            .slots
            .iter()
            .flat_map(|s| lock(&s.lives).clone())
            .collect()
    }

    /// Lambda's Shutdown of one execution environment: stop handing it invocations, let
    /// the one in flight finish, kill the process (SIGKILL); a new process then starts
    /// cold in the slot, with its own Runtime API endpoint. Returns once the new process
    /// has been started ([`InvokeError::Stopped`] if none could be).
    pub async fn recycle(&self, slot: usize) -> Result<(), InvokeError> {
        let Some(target) = self.shared.slots.get(slot) else {
            return Err(InvokeError::Function(format!(
                "no execution environment {slot}"
            )));
        };
        let generation = *target.generation.borrow();
        retire(&self.shared, slot);
        let drained = Instant::now() + INVOCATION_TIMEOUT;
        while in_flight(&self.shared, slot) > 0 && Instant::now() < drained {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        target.kill.notify_one();
        let mut generations = target.generation.subscribe();
        generations
            .wait_for(|g| *g != generation || target.down.load(Ordering::Relaxed))
            .await
            .map_err(|_| InvokeError::Stopped)?;
        if target.down.load(Ordering::Relaxed) {
            // The supervisor logged why; the slot serves no more.
            return Err(InvokeError::Stopped);
        }
        Ok(())
    }

    /// Stop the processes and the API.
    pub async fn stop(mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        for slot in &self.shared.slots {
            slot.kill.notify_one();
        }
        for task in std::mem::take(&mut self.supervisors) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        // An aborted supervisor drops its child, which kills the process, and the
        // process's Runtime API server, which closes it.
        self.shared.stopping.store(true, Ordering::Relaxed);
        for task in &self.supervisors {
            task.abort();
        }
    }
}

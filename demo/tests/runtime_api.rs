//! The Lambda Runtime API emulator's lifecycle, with a tiny Python runtime as the
//! function (the Runtime API loop: `GET /invocation/next`, then `POST .../response`):
//! a shut-down environment finishes nothing half-way and is replaced by a cold one; a
//! process that dies holding an invocation fails it at once (`Runtime.ExitError`)
//! instead of leaving it to time out, and is replaced too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use edgeseal_demo::{InvokeError, LambdaFunction};
use serde_json::json;

const RUNTIME: &str = r#"#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["lambda-runtime-aws-request-id"]
        event = json.loads(r.read())
    if event.get("crash"):
        os._exit(3)
    body = json.dumps({"pid": os.getpid(), "n": event.get("n")}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"#;

/// [`RUNTIME`], but each process first forks a leftover that outlives it: once its
/// runtime is gone (SIGKILL reaches only the runtime's pid) and the test writes `go`, it
/// asks the runtime's old endpoint for the next invocation, and writes what it got to a
/// file named after the runtime's pid.
const RUNTIME_WITH_LEFTOVER: &str = r#"#!/usr/bin/env python3
import json, os, socket, time, urllib.request
host = os.environ["AWS_LAMBDA_RUNTIME_API"]
marks = os.environ["MARKS"]
api = "http://" + host + "/2018-06-01/runtime/invocation/"
runtime = os.getpid()
if os.fork() == 0:
    while os.getppid() == runtime:
        time.sleep(0.02)
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(marks, "go")) and time.time() < deadline:
        time.sleep(0.02)
    try:
        address, port = host.rsplit(":", 1)
        s = socket.create_connection((address, int(port)), timeout=15)
        s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
        got = "asked: " + s.recv(65536).decode(errors="replace")
    except OSError as e:
        got = "refused: " + str(e)
    mark = os.path.join(marks, str(runtime))
    with open(mark + ".tmp", "w") as f:
        f.write(got)
    os.rename(mark + ".tmp", mark)
    os._exit(0)
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["lambda-runtime-aws-request-id"]
        event = json.loads(r.read())
    body = json.dumps({"pid": os.getpid(), "n": event.get("n")}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"#;

fn runtime(dir: &std::path::Path) -> PathBuf {
    script(dir, RUNTIME)
}

fn script(dir: &std::path::Path, source: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("bootstrap.py");
    std::fs::write(&path, source).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("edgeseal-runtime-{name}-{}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recycled_environment_is_replaced_by_a_cold_process_and_no_invocation_is_lost() {
    let dir = scratch("recycle");
    let function = LambdaFunction::start("f", &runtime(&dir), &[], 2, &dir)
        .await
        .unwrap();
    for n in 0..6 {
        let answer = function.invoke(&json!({ "n": n })).await.unwrap();
        assert_eq!(answer["n"], n);
    }
    let before = function.pids();

    // Invocations keep flowing while environment 1 is shut down.
    let flowing = async {
        for n in 100..140 {
            let answer = function.invoke(&json!({ "n": n })).await;
            assert_eq!(answer.unwrap()["n"], n);
        }
    };
    let (recycled, ()) = tokio::join!(function.recycle(1), flowing);
    recycled.unwrap();
    // The new process joins once it has started (cold) and asks for work.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 200;
    while function.lives().last().is_some_and(|l| l.answered == 0) && Instant::now() < deadline {
        assert_eq!(function.invoke(&json!({ "n": n })).await.unwrap()["n"], n);
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let lives = function.lives();
    let slot1: Vec<_> = lives.iter().filter(|l| l.slot == 1).collect();
    assert_eq!(slot1.len(), 2, "{lives:?}");
    assert!(slot1[0].ended.as_ref().unwrap().1.contains("killed"));
    assert!(slot1[1].answered > 0, "the new process served: {lives:?}");
    let after = function.pids();
    assert_eq!(after[0], before[0]);
    assert_ne!(after[1], before[1]);
    assert!(!PathBuf::from(format!("/proc/{}", before[1])).exists());
    function.stop().await;
}

/// The shut-down environment's endpoint is its own: a `/next` request reaching it after
/// the new process started (here from a child the killed runtime forked) takes no
/// invocation. With one endpoint per slot, the emulator took such a request for the new
/// process's and handed it the next invocation, which nobody answered: the invoke timed
/// out after 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_left_of_a_recycled_environment_takes_an_invocation() {
    let dir = scratch("leftover");
    let marks = dir.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let env = [("MARKS".to_owned(), marks.display().to_string())];
    let function = LambdaFunction::start("f", &script(&dir, RUNTIME_WITH_LEFTOVER), &env, 2, &dir)
        .await
        .unwrap();
    // Both runtimes have started (and forked their leftovers) once both have answered.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while function.lives().iter().any(|l| l.answered == 0) && Instant::now() < deadline {
        assert_eq!(function.invoke(&json!({ "n": n })).await.unwrap()["n"], n);
        n += 1;
    }
    let recycled = function.pids()[1];
    function.recycle(1).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while function.lives().last().is_some_and(|l| l.answered == 0) && Instant::now() < deadline {
        assert_eq!(function.invoke(&json!({ "n": n })).await.unwrap()["n"], n);
        n += 1;
    }

    // The new process serves; now the leftover asks the old endpoint for work.
    std::fs::write(marks.join("go"), "").unwrap();
    let mark = marks.join(recycled.to_string());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !mark.exists() && Instant::now() < deadline {
        let asked = Instant::now();
        let answer = function.invoke(&json!({ "n": n })).await;
        assert!(
            matches!(&answer, Ok(a) if a["n"] == n),
            "invocation {n}: {answer:?} after {:?}",
            asked.elapsed()
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = std::fs::read_to_string(&mark).expect("the leftover asked");
    assert!(
        !got.contains("lambda-runtime-aws-request-id"),
        "an invocation went to the shut-down environment: {got}"
    );
    // And none is lost afterwards either.
    for _ in 0..10 {
        assert_eq!(function.invoke(&json!({ "n": n })).await.unwrap()["n"], n);
        n += 1;
    }
    function.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_dying_mid_invocation_fails_it_at_once_and_is_replaced() {
    let dir = scratch("crash");
    let function = LambdaFunction::start("f", &runtime(&dir), &[], 1, &dir)
        .await
        .unwrap();
    assert_eq!(function.invoke(&json!({ "n": 1 })).await.unwrap()["n"], 1);

    let asked = Instant::now();
    let crashed = function.invoke(&json!({ "crash": true })).await;
    assert!(
        matches!(crashed, Err(InvokeError::RuntimeExited(_))),
        "{crashed:?}"
    );
    // Not the 10 s invocation timeout: the exit itself ends the invocation.
    assert!(asked.elapsed() < Duration::from_secs(5));

    assert_eq!(function.invoke(&json!({ "n": 2 })).await.unwrap()["n"], 2);
    let lives = function.lives();
    assert_eq!(lives.len(), 2, "{lives:?}");
    assert!(lives[0].ended.as_ref().unwrap().1.contains("exited"));
    function.stop().await;
}

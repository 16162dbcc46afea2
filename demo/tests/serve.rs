//! `--serve`: the stack stays up after the scripted run and the CLI works against it as
//! against AWS: `status`; `rotate`, after which the rotation really runs (moto's
//! `RotateSecret` only stages the new version, as AWS does before invoking the function:
//! testkit/moto/server.py; the stack drives the four steps as Secrets Manager would) and
//! a second `rotate` meanwhile is refused as AWS refuses it; requests through the
//! distribution still pass; `sign` and `explain` with the key it installed. Ctrl-C stops
//! every process it started.
//!
//! Needs, besides what `common` needs, the built CLI in `EDGESEAL_CLI_BIN` (`scripts/test`
//! sets it: `cargo test --workspace --no-run` builds `edgeseal` for the CLI's own tests).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[allow(dead_code)] // assert_rotated_cleanly: the other tests use it
mod common;

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the demo printed for the user, read from its stdout.
struct Printed {
    secret: String,
    /// `127.0.0.1:PORT` of the CloudFront stand-in, and the distribution's Host.
    distribution: (String, String),
    origin_host: String,
    stage_path: String,
    /// `AWS_ENDPOINT_URL_CLOUDFRONT`: the stack's CloudFront API.
    cloudfront_api: String,
    /// The printed doctor command line's `--connect-to` values.
    connect_to: Vec<String>,
}

/// Where the CLI finds CloudFront's API, once the demo has said.
static CLOUDFRONT_API: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn read_instructions(child: &mut Child) -> Printed {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut secret = None;
    let mut origin = None;
    let mut distribution = None;
    let mut cloudfront_api = None;
    let mut connect_to = Vec::new();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("demo stdout");
        seen.push(line.clone());
        if let Some(rest) = line.trim().strip_prefix("secret:") {
            secret = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("distribution:") {
            // `http://127.0.0.1:PORT (Host: d111.cloudfront.net, id EDEMO0000001)`
            let (url, rest) = rest
                .trim()
                .split_once(" (Host: ")
                .expect("distribution line");
            let host = rest.split(',').next().expect("host");
            distribution = Some((
                url.trim_start_matches("http://").to_owned(),
                host.to_owned(),
            ));
        }
        if let Some(rest) = line.trim().strip_prefix("origin:") {
            // `http://127.0.0.1:PORT/prod (Host: a1b2c3d4e5.execute-api....)`
            let (url, host) = rest.trim().split_once(" (Host: ").expect("origin line");
            let path = url.splitn(4, '/').nth(3).expect("stage in the origin URL");
            origin = Some((host.trim_end_matches(')').to_owned(), format!("/{path}")));
        }
        if let Some(rest) = line
            .trim()
            .strip_prefix("export AWS_ENDPOINT_URL_CLOUDFRONT=")
        {
            cloudfront_api = rest.split_whitespace().next().map(str::to_owned);
        }
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            if word == "--connect-to" {
                connect_to.extend(words.next().map(str::to_owned));
            }
        }
        if line.starts_with("Not here:") {
            break;
        }
    }
    // Keep draining stdout so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let (origin_host, stage_path) = origin.unwrap_or_else(|| panic!("no origin in {seen:#?}"));
    Printed {
        secret: secret.unwrap_or_else(|| panic!("no secret in {seen:#?}")),
        distribution: distribution.unwrap_or_else(|| panic!("no distribution in {seen:#?}")),
        origin_host,
        stage_path,
        cloudfront_api: cloudfront_api.unwrap_or_else(|| panic!("no CloudFront API in {seen:#?}")),
        connect_to,
    }
}

/// Runs the CLI with the environment the demo prints; returns (exit code, stdout).
fn cli(args: &[&str]) -> (i32, String) {
    let bin = std::env::var("EDGESEAL_CLI_BIN")
        .expect("EDGESEAL_CLI_BIN is not set: run the tests with `bash scripts/test`");
    let mut command = Command::new(bin);
    if let Some(api) = CLOUDFRONT_API.get() {
        command.env("AWS_ENDPOINT_URL_CLOUDFRONT", api);
    }
    let out = command
        .args(args)
        .env("AWS_ENDPOINT_URL", edgeseal_testkit::moto_url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("running edgeseal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out) = cli(&all);
    assert_eq!(code, 0, "edgeseal {args:?}: {out}");
    serde_json::from_str(out.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("edgeseal {args:?}: {e}: {out}"))
}

fn current_version(secret: &str) -> String {
    let status = json(&["status", "--secret-id", secret]);
    status["secret"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| {
            v["stages"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == "AWSCURRENT"))
        })
        .and_then(|v| v["version_id"].as_str())
        .expect("an AWSCURRENT version")
        .to_owned()
}

/// Every live descendant of `pid` (from /proc: field 4 of `stat` is the parent).
fn descendants(pid: u32) -> HashSet<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or_default();
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or_default();
        let ppid = fields
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        if state != "Z" {
            parents.push((child, ppid));
        }
    }
    let mut found = HashSet::from([pid]);
    loop {
        let before = found.len();
        for (child, ppid) in &parents {
            if found.contains(ppid) {
                found.insert(*child);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&pid);
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, a)| a.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// The demo, stopped whatever happens: a failing assertion drops this, which sends SIGTERM
/// (the demo stops its processes in order), then SIGKILLs the demo and everything it
/// started that is still running 10 s later. The test itself stops it with SIGINT first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.0.id();
        let started = descendants(pid);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        for p in started.into_iter().filter(|p| alive(*p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .status();
        }
    }
}

/// `GET path` with `Host: host` to `addr`, as curl would; the status code.
fn get(addr: &str, host: &str, path: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[test]
fn the_cli_works_against_the_served_stack_and_ctrl_c_stops_everything() {
    let settings = common::settings("serve");
    let demo = Command::new(env!("CARGO_BIN_EXE_edgeseal-demo"))
        .args(["--authorizer"])
        .arg(&settings.authorizer_bin)
        .arg("--edge-assets")
        .arg(&settings.edge_assets_dir)
        .arg("--out")
        .arg(&settings.out_dir)
        .args([
            "--seconds",
            "5",
            "--rotations",
            "0",
            "--no-progress",
            "--serve",
        ])
        .env("EDGESEAL_MOTO_URL", edgeseal_testkit::moto_url())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the demo");
    let mut demo = Running(demo);
    let printed = read_instructions(&mut demo.0);
    CLOUDFRONT_API
        .set(printed.cloudfront_api.clone())
        .expect("set once");
    let demo_pid = demo.0.id();
    let started = descendants(demo_pid);
    assert!(
        !started.is_empty(),
        "the stack runs authorizer and edge processes"
    );

    // status: the secret as the demo made it, rotation on, one key.
    let first = current_version(&printed.secret);

    // rotate: RotateSecret on moto; the stack runs the four steps as Secrets Manager would.
    let rotated = json(&["rotate", "--secret-id", &printed.secret]);
    let new_version = rotated["version_id"]
        .as_str()
        .expect("version_id")
        .to_owned();
    assert_ne!(new_version, first);
    // Meanwhile another RotateSecret is refused, as AWS refuses it while AWSPENDING is on
    // a version that is not AWSCURRENT (the steps take seconds; this call, milliseconds).
    let (code, out) = cli(&["rotate", "--secret-id", &printed.secret]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("A previous rotation isn't complete"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while current_version(&printed.secret) != new_version {
        assert!(
            Instant::now() < deadline,
            "the rotation started by `edgeseal rotate` did not complete"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Requests through the distribution still pass after the rotation.
    let (cdn, cdn_host) = &printed.distribution;
    assert_eq!(get(cdn, cdn_host, "/health"), 200);

    // sign with the key the rotation installed, then explain that request: allowed, with
    // the new version as the key id; the same signature over another path: denied.
    let url = format!(
        "https://{}{}/health",
        printed.origin_host, printed.stage_path
    );
    let signed = json(&["sign", "--secret-id", &printed.secret, "--url", &url]);
    let (input, signature) = (
        signed["signature_input"].as_str().expect("signature_input"),
        signed["signature"].as_str().expect("signature"),
    );
    assert!(input.contains(&new_version), "{input}");
    let explained = json(&[
        "explain",
        "--secret-id",
        &printed.secret,
        "--url",
        &url,
        "--signature-input",
        input,
        "--signature",
        signature,
    ]);
    assert_eq!(explained["verdict"], "allow", "{explained}");
    let other = url.replace("/health", "/admin");
    let (code, out) = cli(&[
        "--json",
        "explain",
        "--secret-id",
        &printed.secret,
        "--url",
        &other,
        "--signature-input",
        input,
        "--signature",
        signature,
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("\"deny\""), "{out}");

    doctor_against_the_served_stack(&printed);

    // Ctrl-C: the demo exits 0 and no process it started is left.
    let all = descendants(demo_pid);
    let sent = Command::new("kill")
        .args(["-INT", &demo_pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo ignored SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    std::thread::sleep(Duration::from_millis(500));
    let left: Vec<u32> = all.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left running: {left:?}");
}

/// `edgeseal doctor --json ARGS`: (exit code, the result of each check by id).
fn doctor(args: &[&str]) -> (i32, Vec<(String, String)>, String) {
    let mut all = vec!["--json", "doctor"];
    all.extend_from_slice(args);
    let (code, out) = cli(&all);
    let report: Value = serde_json::from_str(out.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("doctor {args:?}: {e}: {out}"));
    let results = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["result"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (code, results, out)
}

fn result<'a>(results: &'a [(String, String)], id: &str) -> Option<&'a str> {
    results
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, r)| r.as_str())
}

/// doctor as the demo prints it: the distribution read through the stack's CloudFront
/// API, the probes sent to its stand-ins (`--connect-to`). It passes; it fails, naming
/// the check, with a wrong secret id and when the distribution's requests reach the
/// origin unsigned.
fn doctor_against_the_served_stack(printed: &Printed) {
    assert_eq!(printed.connect_to.len(), 2, "{:?}", printed.connect_to);
    let mut args = vec![
        "--secret-id",
        printed.secret.as_str(),
        "--distribution-id",
        "EDEMO0000001",
        "--path",
        "/health",
    ];
    for pin in &printed.connect_to {
        args.extend(["--connect-to", pin.as_str()]);
    }
    let (code, results, out) = doctor(&args);
    assert_eq!(code, 0, "{out}");
    for id in [
        "through-distribution",
        "direct-signed",
        "direct-unsigned",
        "direct-forged",
        "direct-replayed",
        "associations",
        "query-strings",
        "edge-key",
        "rotation",
    ] {
        assert_eq!(result(&results, id), Some("PASS"), "{id}: {out}");
    }

    // status reads the distribution through the same API.
    let status = json(&[
        "status",
        "--secret-id",
        &printed.secret,
        "--distribution-id",
        "EDEMO0000001",
    ]);
    assert_eq!(
        status["distributions"][0]["domain_name"], printed.distribution.1,
        "{status}"
    );

    // A secret that does not exist: the `secret` check fails, exit 1.
    let mut wrong = args.clone();
    wrong[1] = "edgeseal-no-such-secret";
    let (code, results, out) = doctor(&wrong);
    assert_eq!(code, 1, "{out}");
    assert_eq!(result(&results, "secret"), Some("FAIL"), "{out}");

    // The distribution's name pinned to the origin: what a distribution whose behavior
    // runs no signer sends, an unsigned request; `through-distribution` fails (401).
    let origin_pin = printed
        .connect_to
        .iter()
        .find(|p| p.starts_with(&printed.origin_host))
        .expect("the origin's --connect-to");
    let origin_addr = origin_pin.split_once('=').expect("HOST=URL").1;
    let unsigned_pin = format!("{}={origin_addr}", printed.distribution.1);
    let mut unsigned = args.clone();
    let at = unsigned
        .iter()
        .position(|a| a.starts_with(&printed.distribution.1))
        .expect("the distribution's --connect-to");
    unsigned[at] = &unsigned_pin;
    let (code, results, out) = doctor(&unsigned);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        result(&results, "through-distribution"),
        Some("FAIL"),
        "{out}"
    );
    assert!(out.contains("→ 401"), "{out}");
}

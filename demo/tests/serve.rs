//! `--serve`: the stack stays up after the scripted run and the CLI works against it as
//! against AWS (`status`, `rotate`, then the rotation really runs: the stack drives it as
//! Secrets Manager would; `sign` and `explain` with the key it installed); Ctrl-C stops
//! every process it started.
//!
//! Needs, besides what `common` needs, the built CLI in `EDGESEAL_CLI_BIN` (`scripts/test`
//! sets it: `cargo test --workspace --no-run` builds `edgeseal` for the CLI's own tests).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

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
    origin_host: String,
    stage_path: String,
}

fn read_instructions(child: &mut Child) -> Printed {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut secret = None;
    let mut origin = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("demo stdout");
        seen.push(line.clone());
        if let Some(rest) = line.trim().strip_prefix("secret:") {
            secret = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("origin:") {
            // `http://127.0.0.1:PORT/prod (Host: a1b2c3d4e5.execute-api....)`
            let (url, host) = rest.trim().split_once(" (Host: ").expect("origin line");
            let path = url.splitn(4, '/').nth(3).expect("stage in the origin URL");
            origin = Some((host.trim_end_matches(')').to_owned(), format!("/{path}")));
        }
        if line.starts_with("In another shell:") {
            break;
        }
    }
    // Keep draining stdout so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let (origin_host, stage_path) = origin.unwrap_or_else(|| panic!("no origin in {seen:#?}"));
    Printed {
        secret: secret.unwrap_or_else(|| panic!("no secret in {seen:#?}")),
        origin_host,
        stage_path,
    }
}

/// Runs the CLI with the environment the demo prints; returns (exit code, stdout).
fn cli(args: &[&str]) -> (i32, String) {
    let bin = std::env::var("EDGESEAL_CLI_BIN")
        .expect("EDGESEAL_CLI_BIN is not set: run the tests with `bash scripts/test`");
    let out = Command::new(bin)
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

#[test]
fn the_cli_works_against_the_served_stack_and_ctrl_c_stops_everything() {
    let settings = common::settings("serve");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_edgeseal-demo"))
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
    let printed = read_instructions(&mut demo);
    let demo_pid = demo.id();
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while current_version(&printed.secret) != new_version {
        assert!(
            Instant::now() < deadline,
            "the rotation started by `edgeseal rotate` did not complete"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

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

    // Ctrl-C: the demo exits 0 and no process it started is left.
    let all = descendants(demo_pid);
    let sent = Command::new("kill")
        .args(["-INT", &demo_pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.try_wait().expect("wait") {
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

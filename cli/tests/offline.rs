//! The `edgeseal` binary as scripts use it: arguments in, text or JSON and an exit code
//! out. No AWS here; `sign --send` talks to a one-shot HTTP server on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgeseal::{KeyId, KeySet, RequestView, SigningKey, UnixTime, Verifier};

fn edgeseal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgeseal"))
        .args(args)
        // Nothing offline may reach for AWS settings.
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run edgeseal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// A key file in a fresh temp directory, plus the key's base64.
fn key_file(as_secret_json: bool) -> (PathBuf, String) {
    let out = edgeseal(&["keygen", "--format", "base64"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let b64 = stdout(&out).trim().to_owned();
    let dir = std::env::temp_dir().join(format!(
        "edgeseal-cli-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key");
    let contents = if as_secret_json {
        format!(r#"{{"alg":"hmac-sha256","key":"{b64}"}}"#)
    } else {
        format!("{b64}\n")
    };
    std::fs::write(&path, contents).unwrap();
    (path, b64)
}

fn sign_json(
    key: &Path,
    keyid: &str,
    method: &str,
    url: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "--json",
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        keyid,
        "--method",
        method,
        "--url",
        url,
    ];
    args.extend_from_slice(extra);
    let out = edgeseal(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    json(&out)
}

fn verify(
    key: &Path,
    method: &str,
    url: &str,
    signed: &serde_json::Value,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "--json",
        "verify",
        "--key-file",
        key.to_str().unwrap(),
        "--method",
        method,
        "--url",
        url,
        "--signature-input",
        signed["signature_input"].as_str().unwrap(),
        "--signature",
        signed["signature"].as_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    edgeseal(&args)
}

#[test]
fn every_command_has_help_that_lists_the_exit_codes() {
    for command in [
        &[][..],
        &["keygen"],
        &["sign"],
        &["verify"],
        &["status"],
        &["rotate"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = edgeseal(&args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("Usage: edgeseal"), "{args:?}: {text}");
        assert!(text.contains("3  AWS or network error"), "{args:?}: {text}");
    }
}

#[test]
fn keygen_prints_a_fresh_256_bit_key_as_the_secret_json_or_base64() {
    let first = edgeseal(&["keygen"]);
    assert_eq!(code(&first), 0);
    let secret: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(secret["alg"], "hmac-sha256");
    let key = secret["key"].as_str().unwrap();
    assert!(SigningKey::from_base64(key).is_ok());
    assert_eq!(key.len(), 44, "base64 of 32 bytes");
    // The secret JSON is exactly what edgeseal's secret parser reads.
    assert!(
        edgeseal::SecretValue::parse(stdout(&first).trim(), None)
            .unwrap()
            .as_hmac()
            .is_some()
    );

    let second = edgeseal(&["--json", "keygen", "--format", "base64"]);
    assert_eq!(code(&second), 0);
    let other = json(&second)["key"].as_str().unwrap().to_owned();
    assert_ne!(key, other, "two keys must differ");
}

#[test]
fn sign_then_verify_round_trips_with_a_key_file_in_either_format() {
    for as_json in [true, false] {
        let (key, _) = key_file(as_json);
        let url = "https://API.example.com/prod/orders/a%2Fb?b=2&a=1&a=0";
        let signed = sign_json(&key, "v-123", "POST", url, &[]);
        assert!(
            signed["signature_input"]
                .as_str()
                .unwrap()
                .starts_with("edgeseal=(")
        );
        assert!(
            signed["signature_input"]
                .as_str()
                .unwrap()
                .contains(r#"keyid="v-123""#)
        );
        assert_eq!(signed["keyid"], "v-123");

        let out = verify(&key, "POST", url, &signed, &[]);
        assert_eq!(code(&out), 0, "{}", stdout(&out));
        let verdict = json(&out);
        assert_eq!(verdict["valid"], true);
        assert_eq!(verdict["keyid"], "v-123");
    }
}

#[test]
fn sign_output_is_what_the_signing_core_verifies() {
    let (key, b64) = key_file(false);
    let signed = sign_json(
        &key,
        "k1",
        "GET",
        "https://api.example.com/prod/x?q=1",
        &["--created", "1700000000"],
    );
    let request = RequestView::new("GET", "api.example.com", "/prod/x", "q=1")
        .with_header(
            "signature-input",
            signed["signature_input"].as_str().unwrap(),
        )
        .with_header("signature", signed["signature"].as_str().unwrap());
    let mut keys = KeySet::new();
    keys.insert_current(
        KeyId::new("k1").unwrap(),
        SigningKey::from_base64(&b64).unwrap(),
    );
    let verified = Verifier::default()
        .verify_at(UnixTime::from_secs(1_700_000_005), &request, &keys)
        .unwrap();
    assert_eq!(verified.age_secs(), 5);
}

#[test]
fn verify_reports_the_reason_code_and_exits_1() {
    let (key, _) = key_file(true);
    let url = "https://api.example.com/prod/orders?a=1";
    let signed = sign_json(&key, "k", "GET", url, &["--created", "1700000000"]);
    let cases: [(&str, &str, &[&str], &str); 5] = [
        (
            "GET",
            "https://api.example.com/prod/other?a=1",
            &["--at", "1700000001"],
            "bad_signature",
        ),
        ("DELETE", url, &["--at", "1700000001"], "bad_signature"),
        (
            "GET",
            "https://api.example.com/prod/orders?a=2",
            &["--at", "1700000001"],
            "bad_signature",
        ),
        ("GET", url, &["--at", "1700000301"], "too_old"),
        ("GET", url, &["--at", "1699999980"], "from_future"),
    ];
    for (method, target, extra, reason) in cases {
        let out = verify(&key, method, target, &signed, extra);
        assert_eq!(
            code(&out),
            1,
            "{method} {target} {extra:?}: {}",
            stdout(&out)
        );
        let verdict = json(&out);
        assert_eq!(verdict["valid"], false);
        assert_eq!(verdict["reason"], reason, "{method} {target} {extra:?}");
    }
    // Within the age limit it passes.
    let out = verify(&key, "GET", url, &signed, &["--at", "1700000300"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn verify_with_the_wrong_key_or_label_is_rejected() {
    let (key, _) = key_file(true);
    let (other, _) = key_file(true);
    let url = "https://api.example.com/";
    let signed = sign_json(&key, "k", "GET", url, &[]);
    let out = verify(&other, "GET", url, &signed, &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["reason"], "bad_signature");

    let out = verify(&key, "GET", url, &signed, &["--label", "other"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["reason"], "missing");

    let out = verify(&key, "GET", url, &signed, &["--keyid", "not-k"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["reason"], "unknown_key");

    let out = verify(&key, "GET", url, &signed, &["--tag", "someone-else"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["reason"], "wrong_tag");
}

#[test]
fn text_output_is_ready_for_curl_headers() {
    let (key, _) = key_file(true);
    let out = edgeseal(&[
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        "k",
        "--url",
        "https://h.example/",
    ]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("Signature-Input: edgeseal=("));
    assert!(lines[1].starts_with("Signature: edgeseal=:"));
}

#[test]
fn no_command_but_keygen_prints_the_key() {
    let (key, b64) = key_file(true);
    let url = "https://api.example.com/x";
    let sign = edgeseal(&[
        "--json",
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        "k",
        "--url",
        url,
    ]);
    let signed = json(&sign);
    let verify_out = verify(&key, "GET", url, &signed, &[]);
    let bad = verify(&key, "GET", "https://api.example.com/y", &signed, &[]);
    let usage = edgeseal(&["sign", "--key-file", key.to_str().unwrap(), "--url", url]);
    for out in [&sign, &verify_out, &bad, &usage] {
        assert!(!stdout(out).contains(&b64) && !stderr(out).contains(&b64));
    }
}

#[test]
fn usage_and_configuration_errors_exit_2_with_a_clear_message() {
    let (key, _) = key_file(true);
    let key = key.to_str().unwrap();
    let garbage = std::env::temp_dir().join(format!("edgeseal-cli-garbage-{}", std::process::id()));
    std::fs::write(&garbage, "not a key").unwrap();
    let static_secret =
        std::env::temp_dir().join(format!("edgeseal-cli-static-{}", std::process::id()));
    std::fs::write(
        &static_secret,
        r#"{"HTTP_API_KEY":"abcdefghijklmnopqrstuvwxyz012345"}"#,
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "sign",
                "--key-file",
                key,
                "--keyid",
                "k",
                "--url",
                "ftp://h/",
            ],
            "expected http:// or https://",
        ),
        (
            vec![
                "sign",
                "--key-file",
                key,
                "--keyid",
                "k",
                "--url",
                "https://h/",
                "--method",
                "G T",
            ],
            "not an HTTP method",
        ),
        (
            vec!["sign", "--key-file", key, "--url", "https://h/"],
            "--key-file needs --keyid",
        ),
        (
            vec![
                "sign",
                "--key-file",
                "/nonexistent/key",
                "--keyid",
                "k",
                "--url",
                "https://h/",
            ],
            "cannot read key file",
        ),
        (
            vec![
                "sign",
                "--key-file",
                garbage.to_str().unwrap(),
                "--keyid",
                "k",
                "--url",
                "https://h/",
            ],
            "not an edgeseal key",
        ),
        (
            vec![
                "sign",
                "--key-file",
                static_secret.to_str().unwrap(),
                "--keyid",
                "k",
                "--url",
                "https://h/",
            ],
            "static header value",
        ),
        (
            vec![
                "sign",
                "--key-file",
                key,
                "--keyid",
                "k",
                "--url",
                "https://h/",
                "--label",
                "Bad Label",
            ],
            "--label",
        ),
        (vec!["sign", "--url", "https://h/"], "--secret-id"),
        (
            vec![
                "sign",
                "--key-file",
                key,
                "--secret-id",
                "s",
                "--url",
                "https://h/",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "verify",
                "--key-file",
                key,
                "--url",
                "https://h/",
                "--signature",
                "x",
            ],
            "--signature-input",
        ),
        (vec!["status"], "--secret-id"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let out = edgeseal(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}{}", stdout(&out), stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}

#[test]
fn json_errors_are_json_on_stderr() {
    let out = edgeseal(&[
        "--json",
        "sign",
        "--key-file",
        "/nonexistent/key",
        "--keyid",
        "k",
        "--url",
        "https://h/",
    ]);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"], "config");
    assert_eq!(err["exit_code"], 2);
}

/// A one-request HTTP server: answers `status` and hands back the request head.
fn one_shot_server(status: u16) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body).unwrap();
        head.push_str("\r\n");
        head.push_str(&String::from_utf8(body).unwrap());
        let reply =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello");
        let mut stream = stream;
        stream.write_all(reply.as_bytes()).unwrap();
        head
    });
    (format!("http://{addr}"), handle)
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {head}"))
}

#[test]
fn send_delivers_a_request_the_verifier_accepts_and_exits_0_on_2xx() {
    let (key, b64) = key_file(true);
    let (base, server) = one_shot_server(200);
    let url = format!("{base}/prod/items?b=2&a=1");
    let out = edgeseal(&[
        "--json",
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        "k9",
        "--method",
        "POST",
        "--url",
        &url,
        "--send",
        "-H",
        "x-extra: yes",
        "-d",
        "payload",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let result = json(&out);
    assert_eq!(result["status"], 200);
    assert_eq!(result["body"], "hello");

    let head = server.join().unwrap();
    assert!(
        head.starts_with("POST /prod/items?b=2&a=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert_eq!(header(&head, "x-extra"), "yes");
    assert!(head.ends_with("\r\npayload"), "{head}");
    let host = header(&head, "host");
    let request = RequestView::new("POST", host, "/prod/items", "b=2&a=1")
        .with_header("signature-input", header(&head, "signature-input"))
        .with_header("signature", header(&head, "signature"));
    let mut keys = KeySet::new();
    keys.insert_current(
        KeyId::new("k9").unwrap(),
        SigningKey::from_base64(&b64).unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Verifier::default()
        .verify_at(UnixTime::from_secs(now), &request, &keys)
        .expect("the origin receives a valid signature");
}

#[test]
fn send_exits_1_when_the_origin_refuses_and_3_when_unreachable() {
    let (key, _) = key_file(true);
    let (base, server) = one_shot_server(403);
    let out = edgeseal(&[
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        "k",
        "--url",
        &format!("{base}/"),
        "--send",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("HTTP 403\n"), "{}", stdout(&out));
    server.join().unwrap();

    // A port nothing listens on (bound, then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = edgeseal(&[
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        "k",
        "--url",
        &format!("http://127.0.0.1:{port}/"),
        "--send",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("request to the origin failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_signing_profile_is_chosen_on_the_command_line() {
    let (key, b64) = key_file(false);
    let url = "https://alb.example.com/a%2Fb?b=2&a=1";
    let raw = &["--signing-profile", "raw"];
    let signed = sign_json(
        &key,
        "k1",
        "GET",
        url,
        &[&["--created", "1700000000"], &raw[..]].concat(),
    );
    assert_eq!(signed["profile"], "raw");
    assert!(
        signed["signature_input"]
            .as_str()
            .unwrap()
            .ends_with(r#"tag="edgeseal-raw""#)
    );
    // What the core verifies: the path and query byte for byte.
    let request = RequestView::raw("GET", "alb.example.com", "/a%2Fb", "b=2&a=1")
        .with_header(
            "signature-input",
            signed["signature_input"].as_str().unwrap(),
        )
        .with_header("signature", signed["signature"].as_str().unwrap());
    let mut keys = KeySet::new();
    keys.insert_current(
        KeyId::new("k1").unwrap(),
        SigningKey::from_base64(&b64).unwrap(),
    );
    assert!(
        Verifier::default()
            .verify_at(UnixTime::from_secs(1_700_000_001), &request, &keys)
            .is_ok()
    );
    // verify takes the profile too; the other profile is named as the reason.
    let at = &["--at", "1700000001"];
    let out = verify(&key, "GET", url, &signed, &[&at[..], &raw[..]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = verify(&key, "GET", url, &signed, at);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["reason"], "wrong_profile");
    // explain too.
    let out = edgeseal(&[
        "--json",
        "explain",
        "--key-file",
        key.to_str().unwrap(),
        "--url",
        url,
        "--signature-input",
        signed["signature_input"].as_str().unwrap(),
        "--signature",
        signed["signature"].as_str().unwrap(),
        "--at",
        "1700000001",
        "--signing-profile",
        "raw",
    ]);
    assert_eq!(code(&out), 0, "{} {}", stdout(&out), stderr(&out));
    // A body is bound in the raw profile.
    let (server, seen) = one_shot_server(200);
    let out = edgeseal(&[
        "--json",
        "sign",
        "--key-file",
        key.to_str().unwrap(),
        "--keyid",
        "k1",
        "--method",
        "POST",
        "--url",
        &format!("{server}/orders"),
        "--signing-profile",
        "raw",
        "--send",
        "-d",
        "{\"n\":1}",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let head = seen.join().unwrap();
    assert_eq!(
        header(&head, "content-digest"),
        edgeseal::content_digest(b"{\"n\":1}")
    );
    assert!(header(&head, "signature-input").contains(r#""@query" "content-digest")"#));
}

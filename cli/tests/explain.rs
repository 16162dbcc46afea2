//! `edgeseal explain`: an operator's answer to "signature mismatch". The event below is
//! the HTTP API 2.0 fixture (tests/fixtures/apigw/), signed as the edge signs the
//! request it came from, then tampered with as an attacker (or a misconfigured base
//! path) would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Output, Stdio};

use edgeseal::{KeyId, RequestView, Signer, SigningKey, UnixTime};
use serde_json::Value;

const KEY_B64: &str =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
const KEYID: &str = "3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21";
const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";
const SENT: &str =
    "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod/orders/42?b=2&a=1&a=0&q=caf%C3%A9";
const CREATED: u64 = 1_767_225_600;

/// One key file per test process, written once (tests run in parallel threads).
fn key_file() -> &'static std::path::Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("edgeseal-explain-key-{}", std::process::id()));
        std::fs::write(&path, KEY_B64).unwrap();
        path
    })
}

/// The fixture, signed for the request the edge saw, with `rawQueryString` replaced.
fn event(raw_query: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/apigw/http-api-v2-request.json"
    );
    let mut event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let signer = Signer::new(
        "edgeseal",
        KeyId::new(KEYID).unwrap(),
        SigningKey::from_base64(KEY_B64).unwrap(),
    )
    .unwrap();
    let edge = RequestView::new("GET", HOST, "/prod/orders/42", "b=2&a=1&a=0&q=caf%C3%A9");
    let fields = signer.sign_at(UnixTime::from_secs(CREATED), &edge).unwrap();
    event["headers"]["signature-input"] = fields.signature_input().into();
    event["headers"]["signature"] = fields.signature().into();
    event["rawQueryString"] = raw_query.into();
    serde_json::to_string(&event).unwrap()
}

fn explain(event: &str, extra: &[&str]) -> Output {
    let key = key_file();
    let at = (CREATED + 2).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgeseal"))
        .args([
            "explain",
            "--event",
            "-",
            "--key-file",
            key.to_str().unwrap(),
            "--at",
            &at,
        ])
        .args(extra)
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), event.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn help_describes_the_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgeseal"))
        .args(["explain", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for flag in [
        "--event",
        "--url",
        "--sent-url",
        "--signature-input",
        "--key-file",
        "--base-path-map",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_legitimate_event_is_explained_as_allowed() {
    let out = explain(&event("b=2&a=1&a=0&q=caf%C3%A9"), &["--sent-url", SENT]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("(http-api-2.0)"), "{text}");
    assert!(
        text.contains("@query      ?a=1&a=0&b=2&q=caf%C3%A9"),
        "{text}"
    );
    assert!(text.contains("\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"@query\");created=1767225600"), "{text}");
    assert!(text.contains(&format!("keyid: {KEYID}")), "{text}");
    assert!(text.contains("found, AWSCURRENT"), "{text}");
    assert!(text.contains("verdict: allow"), "{text}");
    assert!(text.contains("same components"), "{text}");
}

#[test]
fn a_tampered_query_is_named_as_the_component_that_differs() {
    let out = explain(
        &event("b=2&a=1&a=0&q=caf%C3%A9&admin=1"),
        &["--sent-url", SENT],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict: deny (bad_signature)"), "{text}");
    assert!(
        text.contains(
            "differs: @query: sent ?a=1&a=0&b=2&q=caf%C3%A9, seen ?a=1&a=0&admin=1&b=2&q=caf%C3%A9"
        ),
        "{text}"
    );
    assert!(!text.contains("differs: @path"), "{text}");
    assert!(
        text.contains("the signature verifies over the request as sent"),
        "{text}"
    );

    // The same in JSON, for scripts.
    let out = explain(
        &event("b=2&a=1&a=0&q=caf%C3%A9&admin=1"),
        &["--sent-url", SENT, "--json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "bad_signature");
    assert_eq!(v["differs"][0]["component"], "@query");
    assert_eq!(v["verifies_as_sent"], true);
}

#[test]
fn a_missing_base_path_is_named_and_base_path_map_fixes_it() {
    // The authorizer sees /orders/42 ($default stage, or a REST path without the stage)
    // while the edge signed /prod/orders/42.
    let mut e: Value = serde_json::from_str(&event("b=2&a=1&a=0&q=caf%C3%A9")).unwrap();
    e["rawPath"] = "/orders/42".into();
    let e = serde_json::to_string(&e).unwrap();
    let text = stdout(&explain(&e, &["--sent-url", SENT]));
    assert!(
        text.contains("differs: @path: sent /prod/orders/42, seen /orders/42"),
        "{text}"
    );
    let fixed = explain(&e, &["--base-path-map", "=/prod"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stdout(&fixed));
}

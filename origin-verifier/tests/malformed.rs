//! Malformed input, counted: every payload the hand-made corpus (`tests/malformed/`),
//! generated extremes and the fuzz corpus hold goes through [`Invocation::from_payload`]
//! and [`Authorizer::answer_at`] exactly as the binary runs them, under three
//! configurations, with logs at `trace` and metrics captured. Every outcome must be a
//! deny or the Lambda error `Unauthorized`: never another Lambda error, a panic, or a
//! log line, metric or response carrying a signature or key. Allows are counted too
//! (the fuzz seeds carry valid signatures); no hand-made or generated payload may be
//! allowed. The counts are printed by outcome:
//! `cargo test -p edgeseal-origin-verifier --test malformed -- --nocapture`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use edgeseal::{SigningKey, StaticHeaderValue, UnixTime, edgeseal_secret_json};
use edgeseal_testkit::SharedBuffer;
use origin_verifier::{
    Authorizer, AuthorizerError, Config, Invocation, MetricsSink, SecretsSource, SourceError,
    VersionInfo, logging,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// `shared/tests/vectors/signatures.json`: its signatures (in the fuzz seeds) verify.
const KEYID: &str = "3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21";
const KEY_BASE64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);
const STATIC_KEYID: &str = "b2c3d4e5-6789-4bcd-8ef0-123456789abc";
const STATIC_VALUE: &str = "static-origin-secret-0123456789";

struct InMemory;

impl SecretsSource for InMemory {
    async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
        let version = |id: &str, stage: &str| VersionInfo {
            version_id: id.to_owned(),
            stages: vec![stage.to_owned()],
            created: Some(UnixTime::from_secs(1_700_000_000)),
        };
        Ok(vec![
            version(KEYID, "AWSCURRENT"),
            version(STATIC_KEYID, "AWSPENDING"),
        ])
    }

    async fn get_version(
        &self,
        _: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        Ok(match version_id {
            KEYID => Some(edgeseal_secret_json(
                &SigningKey::from_base64(KEY_BASE64).unwrap(),
            )),
            STATIC_KEYID => Some(edgeseal::static_header_secret_json(
                "HEADERVALUE",
                &StaticHeaderValue::new(STATIC_VALUE.to_owned()).unwrap(),
            )),
            _ => None,
        })
    }
}

/// Run a future that never waits (the source is in memory) to completion.
fn run<F: Future>(future: F) -> F::Output {
    match pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-memory handler waited"),
    }
}

/// The payloads: (origin, bytes).
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = |path: &Path, origin: &str, out: &mut Vec<(String, Vec<u8>)>| {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            if file.extension().is_some_and(|e| e == "md") {
                continue;
            }
            // A running fuzzer replaces corpus files as it shrinks them.
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("{origin}/{name}"), bytes));
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    dir(&root.join("tests/malformed"), "hand-made", &mut out);
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("../tests/fixtures/apigw/http-api-v2-request.json"))
            .unwrap(),
    )
    .unwrap();
    let with_headers = |headers: Value| {
        let mut event = fixture.clone();
        event["headers"] = headers;
        serde_json::to_vec(&event).unwrap()
    };
    let huge = "A".repeat(1 << 20);
    out.push((
        "generated/huge-signature".into(),
        with_headers(json!({"signature-input": "edgeseal=(\"@method\");created=1", "signature": format!("edgeseal=:{huge}:")})),
    ));
    out.push((
        "generated/huge-signature-input".into(),
        with_headers(json!({"signature-input": format!("edgeseal=(\"{huge}\")"), "signature": "edgeseal=:AAAA:"})),
    ));
    let many: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (format!("x-header-{i}"), Value::from("v")))
        .collect();
    out.push((
        "generated/10000-headers".into(),
        with_headers(Value::Object(many)),
    ));
    let mut long_path = fixture.clone();
    long_path["rawPath"] = Value::from(format!("/{}", "a/".repeat(100_000)));
    out.push((
        "generated/long-path".into(),
        serde_json::to_vec(&long_path).unwrap(),
    ));
    let members = (0..1_000)
        .map(|i| format!("l{i}=(\"@method\");created=1"))
        .collect::<Vec<_>>()
        .join(", ");
    out.push((
        "generated/1000-members".into(),
        with_headers(json!({"signature-input": members, "signature": "edgeseal=:AAAA:"})),
    ));
    for target in ["seeds", "corpus"] {
        dir(
            &root.join(format!("../fuzz/{target}/authorizer_event")),
            &format!("fuzz-{target}"),
            &mut out,
        );
    }
    out
}

/// Everything that must never appear in a log line, a metric or a response context
/// for `payload`: the key in its stored forms, the static header value, and every
/// signature-shaped byte sequence (`=:base64:` of 16+ characters) the payload carries.
fn secrets_of(payload: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(payload);
    let mut secrets = vec![KEY_BASE64.to_owned(), STATIC_VALUE.to_owned()];
    for (at, _) in text.match_indices("=:") {
        let value = text[at + 2..].split(':').next().unwrap_or("");
        if value.len() >= 16
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            secrets.push(value.to_owned());
        }
    }
    secrets
}

#[test]
fn signatures_in_a_payload_are_found() {
    let secrets =
        secrets_of(br#"{"signature":"edgeseal=:ezjdR7O94bohF5LDGrC3O8aPpA853Q38bLIvXbEtQJo=:"}"#);
    assert!(secrets.contains(&"ezjdR7O94bohF5LDGrC3O8aPpA853Q38bLIvXbEtQJo=".to_owned()));
}

#[test]
fn every_malformed_payload_is_denied_or_unauthorized_and_nothing_secret_is_logged() {
    let logs = SharedBuffer::default();
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let writer = logs.clone();
    let filter = logging::filter(|name| (name == "RUST_LOG").then(|| "trace".to_owned()));
    let _guard =
        tracing::subscriber::set_default(logging::subscriber(filter, move || writer.clone()));
    let configurations: [(&str, &[(&str, &str)]); 3] = [
        ("signature/simple", &[]),
        ("signature/iam", &[("RESPONSE_MODE", "iam")]),
        (
            "migration/iam",
            &[("AUTH_MODE", "migration"), ("RESPONSE_MODE", "iam")],
        ),
    ];
    let authorizers: Vec<(&str, Authorizer<InMemory>)> = configurations
        .iter()
        .map(|(name, settings)| {
            let config = Config::from_lookup(|var| {
                if var == "SECRET_ID" {
                    return Some("malformed/secret".to_owned());
                }
                settings
                    .iter()
                    .find(|(n, _)| *n == var)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap();
            let authorizer =
                Authorizer::new(&config, InMemory, MetricsSink::Buffer(Arc::clone(&metrics)))
                    .unwrap();
            run(authorizer.cache().refresh_at(NOW)).unwrap();
            (*name, authorizer)
        })
        .collect();
    let _ = logs.take();

    let corpus = corpus();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (origin, payload) in &corpus {
        let secrets = secrets_of(payload);
        for (name, authorizer) in &authorizers {
            let answer = std::panic::catch_unwind(AssertUnwindSafe(|| {
                run(authorizer.answer_at(NOW, &Invocation::from_payload(payload)))
            }));
            let (outcome, reply) = match answer {
                Err(_) => ("panic".to_owned(), String::new()),
                Ok(Ok(response)) => {
                    serde_json::to_string(&response).unwrap();
                    // The context is what reaches the backend; the policy's resource is
                    // API Gateway's own ARN, echoed back as it must be.
                    let reply = serde_json::to_string(response.context()).unwrap();
                    let verdict = match (response.is_allowed(), response.context().reason) {
                        (true, _) => "allow".to_owned(),
                        (false, reason) => format!("deny {}", reason.unwrap_or("-")),
                    };
                    (verdict, reply)
                }
                Ok(Err(AuthorizerError::Unauthorized)) => {
                    ("Unauthorized".to_owned(), "Unauthorized".to_owned())
                }
                Ok(Err(other)) => (format!("lambda error {other}"), String::new()),
            };
            let said = format!(
                "{}{}{reply}",
                logs.take(),
                String::from_utf8_lossy(&std::mem::take(&mut *metrics.lock().unwrap()))
            );
            let leaked = secrets.iter().any(|s| said.contains(s.as_str()));
            let acceptable = outcome == "Unauthorized"
                || outcome.starts_with("deny ")
                || (outcome == "allow" && origin.starts_with("fuzz-"));
            if !acceptable || leaked {
                failures.push(format!(
                    "{origin} [{name}]: {outcome}{}",
                    if leaked { ", leaked a secret" } else { "" }
                ));
            }
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    println!(
        "{} payloads x {} configurations; outcomes:",
        corpus.len(),
        authorizers.len()
    );
    for (outcome, count) in &outcomes {
        println!("  {count:>6}  {outcome}");
    }
    assert!(corpus.len() > 60, "the corpus went missing");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

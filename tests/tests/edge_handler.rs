//! Cross-checks of the Lambda@Edge signer: the real handler (`edge-signer/js/index.mjs` +
//! the built `signer.wasm`) runs under `node` over the CloudFront fixtures, and the Rust
//! verifier must accept exactly what it produced and reject it after any tampering. The
//! zips made by the packaging API and by `scripts/build-edge` are unpacked and run too.
//!
//! Needs `node` and the built assets (`bash scripts/build-edge`; `scripts/test` does it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Cursor, Read as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use edgeseal::{
    KeyId, KeySet, Rejection, RequestView, SecretValue, SigningKey, UnixTime, Verifier,
};
use edgeseal_edge_signer::package::{HANDLER_FILE, WASM_FILE};
use edgeseal_edge_signer::{CONFIG_FILE, EdgeAssets, EdgeConfig, package_zip};
use edgeseal_tests::{assets_dir, cf_header, cf_request, repo, run_edge_handler, temp_dir};
use serde_json::Value;

const CUSTOM_FIXTURES: [&str; 5] = [
    "origin-request-custom",
    "origin-request-origin-path",
    "origin-request-no-host",
    "origin-request-host-forwarded",
    "origin-request-spoofed",
];

fn fixture(name: &str) -> Value {
    let path = repo().join(format!("tests/fixtures/cloudfront/{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn run_handler(dir: &Path, events: &[Value]) -> Vec<Value> {
    run_edge_handler(dir, events).unwrap()
}

fn request(event: &Value) -> &Value {
    cf_request(event)
}

fn header(request: &Value, name: &str) -> Option<String> {
    cf_header(request, name)
}

/// What API Gateway shows the authorizer for the request CloudFront forwards: the Host
/// header CloudFront sends (the request's, else the origin domain), origin path + uri,
/// the query string as sent, and the two signature fields.
#[derive(Clone)]
struct Arrival {
    method: String,
    host: String,
    path: String,
    query: String,
    signature_input: String,
    signature: String,
}

impl Arrival {
    fn of(forwarded: &Value) -> Self {
        let custom = &forwarded["origin"]["custom"];
        let origin_path = custom["path"].as_str().unwrap().trim_end_matches('/');
        Self {
            method: forwarded["method"].as_str().unwrap().to_owned(),
            host: header(forwarded, "host")
                .unwrap_or_else(|| custom["domainName"].as_str().unwrap().to_owned()),
            path: format!("{origin_path}{}", forwarded["uri"].as_str().unwrap()),
            query: forwarded["querystring"].as_str().unwrap().to_owned(),
            signature_input: header(forwarded, "signature-input").expect("signed"),
            signature: header(forwarded, "signature").expect("signed"),
        }
    }

    fn view(&self) -> RequestView {
        RequestView::new(&self.method, &self.host, &self.path, &self.query)
            .with_header("signature-input", &self.signature_input)
            .with_header("signature", &self.signature)
    }
}

fn keyset(config: &EdgeConfig) -> KeySet {
    let mut keys = KeySet::new();
    keys.insert_current(config.keyid.clone(), config.key.clone());
    keys
}

fn test_config(keyid: &str, key_byte: u8) -> EdgeConfig {
    EdgeConfig {
        label: "edgeseal".into(),
        keyid: KeyId::new(keyid).unwrap(),
        key: SigningKey::from_bytes(&[key_byte; 32]).unwrap(),
        max_age_secs: Verifier::DEFAULT_MAX_AGE_SECS,
        profiles: Default::default(),
    }
}

/// Verify every custom-origin output, then show that changing any covered component,
/// the parameters or the MAC, or verifying with another key, is rejected.
fn check_signed(outputs: &[Value], config: &EdgeConfig) {
    let verifier = Verifier::default();
    let keys = keyset(config);
    let t = UnixTime::from_secs(now());
    for (name, out) in CUSTOM_FIXTURES.iter().zip(outputs) {
        let arrival = Arrival::of(out);
        let verified = verifier
            .verify_at(t.plus_secs(1), &arrival.view(), &keys)
            .unwrap_or_else(|r| panic!("{name}: rejected {r}"));
        assert_eq!(verified.keyid(), &config.keyid, "{name}");
        assert!(verified.age_secs() <= 3, "{name}");

        let tampered: [(&str, Arrival); 7] = [
            (
                "method",
                Arrival {
                    method: if arrival.method == "GET" {
                        "HEAD"
                    } else {
                        "GET"
                    }
                    .into(),
                    ..arrival.clone()
                },
            ),
            (
                "authority",
                Arrival {
                    host: format!("x{}", arrival.host),
                    ..arrival.clone()
                },
            ),
            (
                "path",
                Arrival {
                    path: format!("{}/", arrival.path),
                    ..arrival.clone()
                },
            ),
            (
                "query",
                Arrival {
                    query: format!("{}&extra=1", arrival.query),
                    ..arrival.clone()
                },
            ),
            (
                "created",
                Arrival {
                    signature_input: shift_created(&arrival.signature_input),
                    ..arrival.clone()
                },
            ),
            (
                "keyid",
                Arrival {
                    signature_input: arrival
                        .signature_input
                        .replace(&format!("keyid=\"{}\"", config.keyid), "keyid=\"other\""),
                    ..arrival.clone()
                },
            ),
            (
                "mac",
                Arrival {
                    signature: flip_mac_char(&arrival.signature),
                    ..arrival.clone()
                },
            ),
        ];
        for (what, bad) in tampered {
            let result = verifier.verify_at(t.plus_secs(1), &bad.view(), &keys);
            assert!(
                matches!(result, Err(Rejection::BadSignature | Rejection::UnknownKey)),
                "{name}: tampered {what} gave {result:?}"
            );
        }
        let other_key = keyset(&EdgeConfig {
            key: SigningKey::from_bytes(&[0xEE; 32]).unwrap(),
            ..config.clone()
        });
        assert_eq!(
            verifier
                .verify_at(t.plus_secs(1), &arrival.view(), &other_key)
                .unwrap_err(),
            Rejection::BadSignature,
            "{name}"
        );
        let late = verifier.verify_at(
            t.plus_secs(config.max_age_secs + 60),
            &arrival.view(),
            &keys,
        );
        assert!(
            matches!(late, Err(Rejection::Expired | Rejection::TooOld)),
            "{name}: {late:?}"
        );
    }
}

/// Move our member's `created` one second earlier (still fresh, so only the MAC can
/// reject it).
fn shift_created(signature_input: &str) -> String {
    let at = signature_input.rfind(";created=").unwrap() + ";created=".len();
    let digits = signature_input[at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    let created: u64 = signature_input[at..at + digits].parse().unwrap();
    format!(
        "{}{}{}",
        &signature_input[..at],
        created - 1,
        &signature_input[at + digits..]
    )
}

/// Change the first base64 character of our MAC (our member is the last one). Not the
/// last character: its low bits are padding that decoders may ignore.
fn flip_mac_char(signature: &str) -> String {
    let mut bytes = signature.as_bytes().to_vec();
    let i = signature.rfind("edgeseal=:").unwrap() + "edgeseal=:".len();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Check that only the signature fields changed, and that the fixtures' special cases
/// came out right.
fn check_untouched_except_signature(events: &[Value], outputs: &[Value]) {
    for (event, out) in events.iter().zip(outputs) {
        let mut before = request(event).clone();
        let mut after = out.clone();
        for v in [&mut before, &mut after] {
            let headers = v["headers"].as_object_mut().unwrap();
            headers.remove("signature-input");
            headers.remove("signature");
        }
        assert_eq!(before, after);
    }
}

fn function_dir_from_source(config: &EdgeConfig) -> PathBuf {
    edgeseal_tests::function_dir_from_source(config).unwrap()
}

fn unzip(bytes: &[u8], tag: &str) -> PathBuf {
    let dir = temp_dir(tag).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert_eq!(names, [HANDLER_FILE, WASM_FILE, CONFIG_FILE]);
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        std::fs::write(dir.join(file.name()), content).unwrap();
    }
    dir
}

fn all_events() -> Vec<Value> {
    CUSTOM_FIXTURES
        .iter()
        .map(|n| fixture(n))
        .chain([fixture("origin-request-s3")])
        .collect()
}

fn run_and_check(dir: &Path, config: &EdgeConfig) {
    let events = all_events();
    let outputs = run_handler(dir, &events);
    assert_eq!(outputs.len(), events.len());
    check_untouched_except_signature(&events, &outputs);
    check_signed(&outputs[..CUSTOM_FIXTURES.len()], config);
    // S3 origin: exactly as it came.
    assert_eq!(
        &outputs[CUSTOM_FIXTURES.len()],
        request(&fixture("origin-request-s3"))
    );
    // Spoofed: the viewer's member under our label is gone, the foreign one kept first.
    let spoofed = &outputs[4];
    let input = header(spoofed, "signature-input").unwrap();
    assert!(input.starts_with(
        r#"partner=("@method" "@path");created=1767225000;keyid="partner-key", edgeseal=("#
    ));
    assert!(!input.contains("attacker"));
    let signature = header(spoofed, "signature").unwrap();
    assert!(signature.starts_with("partner=:cGFydG5lci1zaWduYXR1cmU=:, edgeseal=:"));
    assert!(!signature.contains("c3Bvb2ZlZC1zaWduYXR1cmUtYnktdmlld2Vy"));
}

#[test]
fn handler_output_verifies_and_every_tampering_is_rejected() {
    let config = test_config("3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21", 0x42);
    let dir = function_dir_from_source(&config);
    run_and_check(&dir, &config);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn zip_from_the_packaging_api_unpacks_and_signs() {
    let assets = EdgeAssets::from_dir(&assets_dir().unwrap()).unwrap();
    let config = test_config("v-packaged", 0x17);
    let bytes = package_zip(&assets, &config).unwrap();
    assert_eq!(bytes, package_zip(&assets, &config).unwrap());
    let dir = unzip(&bytes, "edge-zip");
    run_and_check(&dir, &config);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn zip_from_the_build_command_is_within_budget_and_signs_with_its_dev_key() {
    let zip_path = repo().join("target/edge-signer.zip");
    let bytes = std::fs::read(&zip_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with `bash scripts/build-edge`",
            zip_path.display()
        )
    });
    assert!(bytes.len() <= 256 * 1024, "zip is {} bytes", bytes.len());
    let secret = std::fs::read_to_string(repo().join("target/edge-dev-secret.json")).unwrap();
    let Ok(SecretValue::Hmac(key)) = SecretValue::parse(&secret, None) else {
        panic!("target/edge-dev-secret.json is not an edgeseal key");
    };
    let dir = unzip(&bytes, "edge-built");
    let config = EdgeConfig::from_json(&std::fs::read(dir.join(CONFIG_FILE)).unwrap()).unwrap();
    assert_eq!(
        config.key, key,
        "the zip carries the dev key written beside it"
    );
    run_and_check(&dir, &config);
    // The CLI and the library agree byte for byte on the same assets and config.
    let assets = EdgeAssets::from_dir(&assets_dir().unwrap()).unwrap();
    assert_eq!(package_zip(&assets, &config).unwrap(), bytes);
    std::fs::remove_dir_all(dir).unwrap();
}

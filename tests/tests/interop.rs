//! Interoperability with stock RFC 9421 implementations: PyPI `http-message-signatures`
//! and npm `http-message-signatures` (installed by `bash scripts/test`, see
//! tests/interop/). For a corpus of realistic requests, the REAL edge (under `node`)
//! signs each; each stock library verifies the signature on the request as the origin
//! received it, and signs the request itself for edgeseal's verifier. The test prints
//! the fractions and checks them against the README's statement: a stock verifier
//! agrees with edgeseal exactly when the path and query as sent are already in
//! edgeseal's canonical form.
//!
//! In the `raw` profile (RFC 9421's own `@path` and `@query`, for origins that receive
//! CloudFront's request unchanged) there is no canonical form to disagree about: the
//! second test requires 100% in both directions with every library, and prints the score.
//!
//! Needs `node`, the built edge assets, `.venv` with the PyPI package and
//! `target/interop/node_modules` (override: `EDGESEAL_INTEROP_PYTHON`,
//! `EDGESEAL_INTEROP_DIR`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::path::PathBuf;
use std::process::Command;

use edgeseal::{KeyId, KeySet, Profile, RequestView, SigningKey, UnixTime, Verifier, canonical};
use edgeseal_edge_signer::OriginProfiles;
use edgeseal_tests::{cf_header, repo, sign_with_edge, sign_with_edge_profiles, temp_dir};
use serde_json::{Value, json};

const KEYID: &str = "3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21";
const ORIGIN: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";

/// Realistic origin requests: `(method, origin path + URI, query string)`.
const CORPUS: &[(&str, &str, &str)] = &[
    ("GET", "/prod/orders/42", ""),
    ("GET", "/prod/", ""),
    ("GET", "/prod/health", ""),
    ("POST", "/prod/orders", ""),
    ("DELETE", "/prod/orders/42", ""),
    ("GET", "/prod/orders", "page=2"),
    ("GET", "/prod/items", "a=1&b=2"),
    ("GET", "/prod/items", "b=2&a=1"),
    ("GET", "/prod/items", "tag=z&tag=a"),
    ("GET", "/prod/search", "q=hello+world"),
    ("GET", "/prod/search", "q=hello%20world"),
    ("GET", "/prod/search", "lang=fr&q=caf%C3%A9"),
    ("GET", "/prod/search", "q=caf%c3%a9"),
    ("GET", "/prod/static/app.3f2a.js", "v=1.2.3"),
    ("GET", "/prod/api", "callback=jQuery123_456&_=1700000000"),
    ("GET", "/prod/oauth/callback", "code=abc123&state=xyz"),
    ("GET", "/prod/redirect", "url=https%3A%2F%2Fexample.com%2F"),
    ("GET", "/prod/redirect", "url=https://example.com/"),
    ("GET", "/prod/list", "filter[status]=open"),
    ("GET", "/prod/img/logo.png", "w=200&h=100"),
    ("GET", "/prod/items", "flag"),
    ("GET", "/prod/files/my%20file.pdf", ""),
    ("GET", "/prod/files/caf%C3%A9", ""),
    ("GET", "/prod/files/caf%c3%a9", ""),
    ("GET", "/prod/users/%7Ejohn", ""),
    ("GET", "/prod/a%2Fb", ""),
    ("GET", "/prod/path;jsessionid=abc", ""),
    ("GET", "/prod/files/what%3Fvalue", ""),
];

fn cloudfront_event(method: &str, path: &str, query: &str) -> Value {
    let mut event: Value = serde_json::from_slice(
        &std::fs::read(repo().join("tests/fixtures/cloudfront/origin-request-custom.json"))
            .unwrap(),
    )
    .unwrap();
    let request = &mut event["Records"][0]["cf"]["request"];
    request["method"] = json!(method);
    request["uri"] = json!(path);
    request["querystring"] = json!(query);
    request["origin"]["custom"]["domainName"] = json!(ORIGIN);
    request["origin"]["custom"]["path"] = json!("");
    request["headers"]["host"] = json!([{"key": "Host", "value": ORIGIN}]);
    event
}

fn url(path: &str, query: &str) -> String {
    if query.is_empty() {
        format!("https://{ORIGIN}{path}")
    } else {
        format!("https://{ORIGIN}{path}?{query}")
    }
}

/// What the README states: a stock verifier computes `@path` / `@query` from the bytes
/// as sent, so it agrees with edgeseal exactly when those are already canonical.
fn already_canonical(path: &str, query: &str) -> bool {
    let view = RequestView::new("GET", ORIGIN, path, query);
    view.path() == path && view.query() == format!("?{query}")
        || view.path() == path && query.is_empty()
}

fn stock(tool: &str, mut command: Command) -> Vec<Value> {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{tool}: cannot run ({e}); `bash scripts/test` installs it"));
    assert!(
        output.status.success(),
        "{tool} failed (is the stock library installed? `bash scripts/test` installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn stock_rfc9421_libraries_agree_exactly_on_canonical_requests() {
    let key = SigningKey::from_bytes(&[0x3c; 64]).unwrap();
    let events: Vec<Value> = CORPUS
        .iter()
        .map(|(m, p, q)| cloudfront_event(m, p, q))
        .collect();
    let signed = sign_with_edge(KEYID, &key, &events).unwrap();

    let created = origin_verifier_now() - 2;
    let requests: Vec<Value> = CORPUS
        .iter()
        .zip(&signed)
        .map(|((m, p, q), out)| {
            json!({
                "method": m,
                "url": url(p, q),
                "signature_input": cf_header(out, "signature-input").unwrap(),
                "signature": cf_header(out, "signature").unwrap(),
            })
        })
        .collect();
    let work = temp_dir("interop").unwrap();
    let corpus_file = work.join("corpus.json");
    std::fs::write(
        &corpus_file,
        serde_json::to_vec(&json!({
            "key_base64": key.to_base64().as_str(),
            "keyid": KEYID,
            "created": created,
            "requests": requests,
        }))
        .unwrap(),
    )
    .unwrap();

    let python = std::env::var_os("EDGESEAL_INTEROP_PYTHON")
        .map_or_else(|| repo().join(".venv/bin/python"), PathBuf::from);
    let mut py = Command::new(python);
    py.arg(repo().join("tests/interop/check.py"))
        .arg(&corpus_file);
    let mut node = Command::new("node");
    node.arg(repo().join("tests/interop/check.mjs"))
        .arg(&corpus_file)
        .current_dir(repo());
    // Whether the library refuses signature parameters outside RFC 9421's registry: the
    // PyPI one does, so it cannot check the edge's signature of a path an HTTP API
    // cannot deliver (which records that path in `edgeseal-path`).
    let results = [
        ("PyPI http-message-signatures", true, stock("python", py)),
        ("npm http-message-signatures", false, stock("node", node)),
    ];
    std::fs::remove_dir_all(work).unwrap();

    let mut keys = KeySet::new();
    keys.insert_current(KeyId::new(KEYID).unwrap(), key);
    let verifier = Verifier::default();
    let at = UnixTime::from_secs(created + 1);
    let mut wrong = Vec::new();
    let canonical = CORPUS
        .iter()
        .filter(|(_, p, q)| already_canonical(p, q))
        .count();
    for (tool, refuses_unknown_parameters, outcome) in &results {
        let (mut stock_verified, mut edgeseal_verified) = (0, 0);
        for ((method, path, query), r) in CORPUS.iter().zip(outcome) {
            let expected = already_canonical(path, query);
            let records_path = canonical::http_api_path(&canonical::path(path)).is_some();
            // Edge → stock verifier, on the request as the origin received it.
            let verified = r["verified"].as_bool().unwrap();
            stock_verified += usize::from(verified);
            let expected_verified = expected && !(records_path && *refuses_unknown_parameters);
            if verified != expected_verified {
                wrong.push(format!(
                    "{tool} verified={verified} for {method} {} (expected {expected_verified}; {})",
                    url(path, query),
                    r["error"]
                ));
            }
            // Stock signer → edgeseal's verifier, on the same request (a library may
            // refuse to sign a URL at all: nothing to accept then).
            let (Some(input), Some(signature)) =
                (r["signature_input"].as_str(), r["signature"].as_str())
            else {
                if expected {
                    wrong.push(format!(
                        "{tool} refused to sign {method} {}: {}",
                        url(path, query),
                        r["sign_error"]
                    ));
                }
                continue;
            };
            let view = RequestView::new(method, ORIGIN, path, query)
                .with_header("signature-input", input)
                .with_header("signature", signature);
            let accepted = verifier.verify_at(at, &view, &keys);
            edgeseal_verified += usize::from(accepted.is_ok());
            if accepted.is_ok() != expected {
                wrong.push(format!(
                    "edgeseal accepted={} the {tool} signature of {method} {} (expected {expected}: {accepted:?})",
                    accepted.is_ok(),
                    url(path, query)
                ));
            }
        }
        println!(
            "interop {tool}: verifies {stock_verified}/{n} of the edge's signatures; edgeseal verifies {edgeseal_verified}/{n} of its signatures ({canonical}/{n} requests already canonical)",
            n = CORPUS.len()
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The stock tools on a corpus file: `(name, outcome per request)`.
fn run_stock_tools(corpus_file: &std::path::Path) -> [(&'static str, Vec<Value>); 2] {
    let python = std::env::var_os("EDGESEAL_INTEROP_PYTHON")
        .map_or_else(|| repo().join(".venv/bin/python"), PathBuf::from);
    let mut py = Command::new(python);
    py.arg(repo().join("tests/interop/check.py"))
        .arg(corpus_file);
    let mut node = Command::new("node");
    node.arg(repo().join("tests/interop/check.mjs"))
        .arg(corpus_file)
        .current_dir(repo());
    [
        ("PyPI http-message-signatures", stock("python", py)),
        ("npm http-message-signatures", stock("node", node)),
    ]
}

#[test]
fn raw_profile_interoperates_100_percent_both_ways() {
    let key = SigningKey::from_bytes(&[0x5a; 64]).unwrap();
    let events: Vec<Value> = CORPUS
        .iter()
        .map(|(m, p, q)| cloudfront_event(m, p, q))
        .collect();
    // The distribution's origin is signed in the raw profile.
    let profiles = OriginProfiles::default()
        .with_origin(ORIGIN, Profile::Raw)
        .unwrap();
    let signed = sign_with_edge_profiles(KEYID, &key, &profiles, &events).unwrap();
    let created = origin_verifier_now() - 2;
    let requests: Vec<Value> = CORPUS
        .iter()
        .zip(&signed)
        .map(|((m, p, q), out)| {
            let input = cf_header(out, "signature-input").unwrap();
            assert!(input.ends_with(r#";tag="edgeseal-raw""#), "{input}");
            json!({
                "method": m,
                "url": url(p, q),
                "signature_input": input,
                "signature": cf_header(out, "signature").unwrap(),
            })
        })
        .collect();
    let work = temp_dir("interop-raw").unwrap();
    let corpus_file = work.join("corpus.json");
    std::fs::write(
        &corpus_file,
        serde_json::to_vec(&json!({
            "key_base64": key.to_base64().as_str(),
            "keyid": KEYID,
            "created": created,
            "tag": Profile::Raw.tag(edgeseal::DEFAULT_TAG),
            "requests": requests,
        }))
        .unwrap(),
    )
    .unwrap();
    let results = run_stock_tools(&corpus_file);
    std::fs::remove_dir_all(work).unwrap();

    let mut keys = KeySet::new();
    keys.insert_current(KeyId::new(KEYID).unwrap(), key);
    let at = UnixTime::from_secs(created + 1);
    let mut wrong = Vec::new();
    let n = CORPUS.len();
    for (tool, outcome) in &results {
        let (mut stock_verified, mut edgeseal_verified, mut not_uris) = (0, 0, 0);
        for ((method, path, query), r) in CORPUS.iter().zip(outcome) {
            // A request line that is no RFC 3986 URI (raw `[` `]` in the query, which
            // browsers send and CloudFront forwards): the PyPI library refuses to verify
            // or sign it at all ("Invalid URL"), whatever the signature. Not a
            // disagreement about the signature; counted apart.
            let refused_as_url =
                |field: &str| r[field].as_str().is_some_and(|e| e.contains("Invalid URL"));
            if !is_rfc3986(path, query) && refused_as_url("error") && refused_as_url("sign_error") {
                not_uris += 1;
                continue;
            }
            if r["verified"].as_bool() == Some(true) {
                stock_verified += 1;
            } else {
                wrong.push(format!(
                    "{tool} refused the edge's raw signature of {method} {}: {}",
                    url(path, query),
                    r["error"]
                ));
            }
            let (Some(input), Some(signature)) =
                (r["signature_input"].as_str(), r["signature"].as_str())
            else {
                wrong.push(format!(
                    "{tool} refused to sign {method} {}: {}",
                    url(path, query),
                    r["sign_error"]
                ));
                continue;
            };
            // What an origin behind a load balancer sees: the request line as sent.
            let view = RequestView::raw(method, ORIGIN, path, query)
                .with_header("signature-input", input)
                .with_header("signature", signature);
            match Verifier::default().verify_at(at, &view, &keys) {
                Ok(_) => edgeseal_verified += 1,
                Err(reason) => wrong.push(format!(
                    "edgeseal refused the {tool} signature of {method} {}: {reason}",
                    url(path, query)
                )),
            }
        }
        let m = n - not_uris;
        println!(
            "interop raw profile, {tool}: verifies {stock_verified}/{m} ({:.0}%) of the edge's signatures; edgeseal verifies {edgeseal_verified}/{m} ({:.0}%) of its signatures ({not_uris} of {n} requests refused by the library as no RFC 3986 URI)",
            100.0 * stock_verified as f64 / m as f64,
            100.0 * edgeseal_verified as f64 / m as f64,
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Whether `path?query` is an RFC 3986 path and query: unreserved characters,
/// percent-encodings, sub-delims, `:`, `@`, `/` (and `?` in the query).
fn is_rfc3986(path: &str, query: &str) -> bool {
    let ok = |b: u8, extra: &[u8]| {
        b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@/".contains(&b) || extra.contains(&b)
    };
    path.bytes().all(|b| ok(b, b"")) && query.bytes().all(|b| ok(b, b"?"))
}

fn origin_verifier_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

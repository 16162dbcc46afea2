//! Peak memory of the real authorizer binary under sustained load, and its cold start.
//!
//! Serves the Lambda Runtime API on loopback to the release binary, feeds it a stream of
//! authorizer events (signed HTTP API and REST requests, bad signatures, unsigned REST
//! requests), checks every answer, and reads the process's peak RSS (`VmHWM`) from
//! `/proc`. Keys come from moto's Secrets Manager through the binary's real SDK client.
//!
//! ```text
//! eval "$(bash scripts/moto start)"
//! cargo build --release -p edgeseal-origin-verifier --bin origin-verifier
//! cargo run --release -p edgeseal-origin-verifier --example runtime_harness -- \
//!     "$CARGO_TARGET_DIR/release/origin-verifier" 200000
//! ```
//!
//! It also prints the cold start: process start to the first verdict posted back,
//! keys loaded from moto during init included, split into init (process start to the
//! runtime's first `next` request) and the first invocation. With `1` invocation that is
//! the whole run: repeat it for a median. `HARNESS_VERSIONS=2` (or `3`) gives the secret
//! an AWSPREVIOUS (and an AWSPENDING) version besides AWSCURRENT, as after a rotation
//! (during one), so init reads two (three) keys. With `HARNESS_LOG=info` (the binary's
//! `RUST_LOG`), each log line's arrival time since process start is printed too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeseal::{KeyId, RequestView, Signer, SigningKey, UnixTime, edgeseal_secret_json};
use serde_json::Value;

const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";

#[derive(Default)]
struct Tally {
    served: u64,
    allow: u64,
    deny: u64,
    unauthorized: u64,
    unexpected: Vec<String>,
}

struct Feed {
    total: u64,
    issued: AtomicU64,
    signer: Signer,
    wrong: Signer,
    http: Value,
    rest: Value,
    tally: Mutex<Tally>,
    started: Mutex<Option<Instant>>,
    /// The first event, built before the binary starts so the cold start figure holds
    /// none of the harness's own work.
    first_event: Mutex<Option<(Vec<u8>, Expect)>>,
    first_verdict: Mutex<Option<Instant>>,
    finished: Mutex<Option<Instant>>,
}

/// What each invocation should produce.
#[derive(Clone, Copy)]
enum Expect {
    Allow,
    Deny,
    Unauthorized,
}

impl Feed {
    fn event(&self, n: u64) -> (Vec<u8>, Expect) {
        let now = UnixTime::from_secs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
        let view = RequestView::new("GET", HOST, "/prod/orders/42", "b=2&a=1&a=0&q=caf%C3%A9");
        // The first invocation is a signed HTTP API request: the cold start figure is
        // the time to a real allow.
        let (mut v, rest, signer, expect) = match n % 10 {
            9 => (self.rest.clone(), true, None, Expect::Unauthorized),
            8 => (self.http.clone(), false, Some(&self.wrong), Expect::Deny),
            7 => (self.rest.clone(), true, Some(&self.signer), Expect::Allow),
            _ => (self.http.clone(), false, Some(&self.signer), Expect::Allow),
        };
        if let Some(signer) = signer {
            let fields = signer.sign_at(now, &view).unwrap();
            for (name, value) in [
                ("Signature-Input", fields.signature_input()),
                ("Signature", fields.signature()),
            ] {
                if rest {
                    v["headers"][name] = value.into();
                    v["multiValueHeaders"][name] = Value::Array(vec![value.into()]);
                } else {
                    v["headers"][name.to_ascii_lowercase()] = value.into();
                }
            }
        }
        v["requestContext"]["requestId"] = format!("req-{n}").into();
        (serde_json::to_vec(&v).unwrap(), expect)
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, body })
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(
    stream: TcpStream,
    feed: &Feed,
    expects: &Mutex<std::collections::HashMap<String, Expect>>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        if req.method == "GET" && req.path.ends_with("/runtime/invocation/next") {
            let n = feed.issued.fetch_add(1, Ordering::SeqCst);
            if n >= feed.total {
                // Done: hold the runtime here until the harness stops it.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            if n == 0 {
                *feed.started.lock().unwrap() = Some(Instant::now());
            }
            let prebuilt = if n == 0 {
                feed.first_event.lock().unwrap().take()
            } else {
                None
            };
            let (body, expect) = prebuilt.unwrap_or_else(|| feed.event(n));
            let id = format!("inv-{n}");
            expects.lock().unwrap().insert(id.clone(), expect);
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 3000;
            respond(
                &mut writer,
                "200 OK",
                &[
                    ("Content-Type", "application/json".to_owned()),
                    ("Lambda-Runtime-Aws-Request-Id", id),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:origin-verifier".to_owned(),
                    ),
                ],
                &body,
            );
        } else if req.method == "POST" && req.path.contains("/runtime/invocation/") {
            let id = req.path.split('/').nth(4).unwrap_or("").to_owned();
            let expect = expects.lock().unwrap().remove(&id);
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let is_error = req.path.ends_with("/error");
            let mut tally = feed.tally.lock().unwrap();
            tally.served += 1;
            if tally.served == 1 {
                *feed.first_verdict.lock().unwrap() = Some(Instant::now());
            }
            let allowed = body["isAuthorized"] == true
                || body["policyDocument"]["Statement"][0]["Effect"] == "Allow";
            match (expect, is_error) {
                (Some(Expect::Unauthorized), true)
                    if body
                        == serde_json::json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"}) =>
                {
                    tally.unauthorized += 1;
                }
                (Some(Expect::Allow), false) if allowed => tally.allow += 1,
                (Some(Expect::Deny), false) if !allowed => tally.deny += 1,
                _ => {
                    if tally.unexpected.len() < 5 {
                        tally
                            .unexpected
                            .push(format!("{id} error={is_error} {body}"));
                    }
                }
            }
            if tally.served == feed.total {
                *feed.finished.lock().unwrap() = Some(Instant::now());
            }
            drop(tally);
            respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#);
        } else {
            // /runtime/init/error and anything else: record and acknowledge.
            feed.tally.lock().unwrap().unexpected.push(format!(
                "{} {} {}",
                req.method,
                req.path,
                String::from_utf8_lossy(&req.body)
            ));
            respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#);
        }
    }
}

/// moto's own latency, for comparison with the cold start: the binary's two Secrets
/// Manager requests as bare HTTP/1.1 (no SDK, no signing: moto does not check
/// signatures), `rounds` times each. moto's server answers `Connection: close`, so every
/// request opens a connection, as the binary's do. Returns the medians in ms: (list,
/// get, TCP connect alone).
fn moto_round_trips(moto: &str, secret: &str, version: &str, rounds: usize) -> (f64, f64, f64) {
    let addr = moto
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let request = |target: &str, body: String| {
        format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: secretsmanager.{target}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let list = request(
        "ListSecretVersionIds",
        format!(r#"{{"SecretId":"{secret}","IncludeDeprecated":false}}"#),
    );
    let get = request(
        "GetSecretValue",
        format!(r#"{{"SecretId":"{secret}","VersionId":"{version}"}}"#),
    );
    let exchange = |request: &[u8]| -> Duration {
        let begun = Instant::now();
        let stream = TcpStream::connect(&addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(stream);
        reader.get_mut().write_all(request).unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "moto answered {status}");
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        // The body's length, not the connection's close: moto closes it later.
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        begun.elapsed()
    };
    let median = |mut d: Vec<Duration>| {
        d.sort();
        d[d.len() / 2].as_secs_f64() * 1000.0
    };
    let lists = (0..rounds).map(|_| exchange(&list)).collect();
    let gets = (0..rounds).map(|_| exchange(&get)).collect();
    let connects = (0..rounds)
        .map(|_| {
            let begun = Instant::now();
            drop(TcpStream::connect(&addr).unwrap());
            begun.elapsed()
        })
        .collect();
    (median(lists), median(gets), median(connects))
}

/// Seconds since midnight UTC of an RFC 3339 timestamp as the binary logs it
/// (`2026-11-26T03:40:14.400896Z`).
fn seconds_of_day(timestamp: &str) -> Option<f64> {
    let time = timestamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let hours: f64 = parts.next()?.parse().ok()?;
    let minutes: f64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

fn seconds_of_day_now() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now.as_secs() % 86_400) as f64 + f64::from(now.subsec_nanos()) / 1e9
}

fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .expect("usage: runtime_harness <origin-verifier binary> [invocations]");
    let total: u64 = args.next().map_or(200_000, |n| n.parse().unwrap());
    let moto = edgeseal_testkit::moto_url();

    let versions: u8 = std::env::var("HARNESS_VERSIONS").map_or(1, |v| v.parse().unwrap());
    assert!((1..=3).contains(&versions), "HARNESS_VERSIONS is 1, 2 or 3");

    // The secret, through the SDK, as the rotator would have left it: the signing key is
    // AWSCURRENT; with 2 versions an older key is AWSPREVIOUS, with 3 a newer one is
    // also staged AWSPENDING.
    let key = SigningKey::from_bytes(&[42; 32]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (secret, version) = rt.block_on(async {
        let client = aws_sdk_secretsmanager::Client::new(&edgeseal_testkit::sdk_config().await);
        let name = edgeseal_testkit::unique_name("harness");
        let older = SigningKey::from_bytes(&[41; 32]).unwrap();
        let first = if versions >= 2 { &older } else { &key };
        let out = client
            .create_secret()
            .name(&name)
            .secret_string(edgeseal_secret_json(first).as_str())
            .send()
            .await
            .unwrap();
        let mut current = out.version_id().unwrap().to_owned();
        if versions >= 2 {
            let out = client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(edgeseal_secret_json(&key).as_str())
                .send()
                .await
                .unwrap();
            current = out.version_id().unwrap().to_owned();
        }
        if versions == 3 {
            let newer = SigningKey::from_bytes(&[44; 32]).unwrap();
            client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(edgeseal_secret_json(&newer).as_str())
                .version_stages("AWSPENDING")
                .send()
                .await
                .unwrap();
        }
        (name, current)
    });

    let fixture = |name: &str| -> Value {
        let path = format!(
            "{}/../tests/fixtures/apigw/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let feed = Arc::new(Feed {
        total,
        issued: AtomicU64::new(0),
        signer: Signer::new("edgeseal", KeyId::new(version.as_str()).unwrap(), key).unwrap(),
        wrong: Signer::new(
            "edgeseal",
            KeyId::new(version.as_str()).unwrap(),
            SigningKey::from_bytes(&[43; 32]).unwrap(),
        )
        .unwrap(),
        http: fixture("http-api-v2-request.json"),
        rest: fixture("rest-request.json"),
        tally: Mutex::new(Tally::default()),
        started: Mutex::new(None),
        first_event: Mutex::new(None),
        first_verdict: Mutex::new(None),
        finished: Mutex::new(None),
    });
    let expects = Arc::new(Mutex::new(std::collections::HashMap::new()));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    {
        let feed = Arc::clone(&feed);
        let expects = Arc::clone(&expects);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_nodelay(true);
                let feed = Arc::clone(&feed);
                let expects = Arc::clone(&expects);
                std::thread::spawn(move || serve(stream, &feed, &expects));
            }
        });
    }

    *feed.first_event.lock().unwrap() = Some(feed.event(0));
    let spawned = Instant::now();
    let spawned_at = seconds_of_day_now();
    let mut child = Command::new(&binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "origin-verifier")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &moto)
        .env("SECRET_ID", &secret)
        // Where the system's trusted roots are (a platform bundle: rustls-native-certs
        // then reads that file alone instead of also scanning the certificate directory),
        // as the deployment template sets it for the Lambda function.
        .envs(std::env::var("SSL_CERT_FILE").map(|f| ("SSL_CERT_FILE", f)))
        .env(
            "RUST_LOG",
            std::env::var("HARNESS_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(AtomicU64::new(0));
    let emf = Arc::new(AtomicU64::new(0));
    let leaks = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::<String>::new()));
    let arrivals = Arc::new(Mutex::new(Vec::<(Duration, String)>::new()));
    {
        let (lines, emf, leaks, samples, arrivals) = (
            Arc::clone(&lines),
            Arc::clone(&emf),
            Arc::clone(&leaks),
            Arc::clone(&samples),
            Arc::clone(&arrivals),
        );
        // What must never reach the logs: the key (base64) or a signature member.
        let key_b64 = SigningKey::from_bytes(&[42; 32])
            .unwrap()
            .to_base64()
            .to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let n = lines.fetch_add(1, Ordering::Relaxed);
                if n < 40 {
                    let parsed = serde_json::from_str::<Value>(&line).ok();
                    let message = parsed
                        .as_ref()
                        .and_then(|v| v["message"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| line.chars().take(60).collect());
                    // When the binary says it logged the line (its own clock, in µs),
                    // since process start: arrival through the pipe lags and batches.
                    let logged = parsed
                        .as_ref()
                        .and_then(|v| v["timestamp"].as_str().and_then(seconds_of_day))
                        .map(|t| Duration::from_secs_f64((t - spawned_at).max(0.0)));
                    arrivals
                        .lock()
                        .unwrap()
                        .push((logged.unwrap_or_else(|| spawned.elapsed()), message));
                }
                if line.contains(&key_b64) || line.contains("edgeseal=:") {
                    leaks.fetch_add(1, Ordering::Relaxed);
                }
                if line.starts_with(r#"{"_aws""#) {
                    emf.fetch_add(1, Ordering::Relaxed);
                } else {
                    let mut samples = samples.lock().unwrap();
                    if samples.len() < 4 {
                        samples.push(line);
                    }
                }
            }
        });
    }

    let mut peak_sampled = 0;
    let limit = Instant::now() + Duration::from_secs(600);
    while feed.finished.lock().unwrap().is_none() && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(rss) = proc_status(pid, "VmRSS:") {
            peak_sampled = peak_sampled.max(rss);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the binary exited early: {status}");
        }
    }
    let hwm = proc_status(pid, "VmHWM:").unwrap_or(0);
    let rss = proc_status(pid, "VmRSS:").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();

    let tally = feed.tally.lock().unwrap();
    let started = feed.started.lock().unwrap().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if let Some(first) = *feed.first_verdict.lock().unwrap() {
        println!(
            "process start -> first verdict: {:.1} ms (init, to the first next request: {:.1} ms; first invocation: {:.1} ms; {versions} key version(s))",
            ms(first.duration_since(spawned)),
            ms(started.duration_since(spawned)),
            ms(first.duration_since(started)),
        );
    }
    let (list, get, connect) = moto_round_trips(&moto, &secret, &version, 20);
    println!(
        "moto alone (bare HTTP/1.1, a connection each, medians of 20): ListSecretVersionIds {list:.1} ms, GetSecretValue {get:.1} ms; TCP connect {connect:.2} ms"
    );
    if std::env::var_os("HARNESS_LOG").is_some() {
        for (at, message) in arrivals.lock().unwrap().iter() {
            println!("  logged at {:.2} ms: {message}", ms(*at));
        }
    }
    let finished = feed.finished.lock().unwrap().unwrap_or_else(Instant::now);
    let secs = finished.duration_since(started).as_secs_f64();
    println!(
        "invocations: {} in {secs:.2} s ({:.0}/s through the Runtime API on loopback)",
        tally.served,
        tally.served as f64 / secs
    );
    println!(
        "verdicts as expected: allow {}, deny {}, Unauthorized error {}; unexpected {}",
        tally.allow,
        tally.deny,
        tally.unauthorized,
        tally.unexpected.len()
    );
    for u in &tally.unexpected {
        println!("  unexpected: {u}");
    }
    println!(
        "stdout lines: {} ({} EMF)",
        lines.load(Ordering::Relaxed),
        emf.load(Ordering::Relaxed)
    );
    println!(
        "log lines with key material or a signature: {}",
        leaks.load(Ordering::Relaxed)
    );
    for line in samples.lock().unwrap().iter() {
        println!("  log sample: {line}");
    }
    println!(
        "peak RSS (VmHWM): {hwm} kB; RSS at end: {rss} kB; highest sampled RSS: {peak_sampled} kB"
    );
    assert!(tally.unexpected.is_empty(), "some verdicts were wrong");
    assert_eq!(leaks.load(Ordering::Relaxed), 0, "secrets in the logs");
    assert_eq!(tally.served, total);
}

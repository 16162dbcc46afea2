//! Traffic: steady legitimate requests through the CloudFront stand-in, and attacks sent
//! straight to the origin, each outcome recorded with the time it happened.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt as _, Full};
use serde_json::Value;

use crate::stack::http::HttpClient;

/// What a request was meant to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A viewer request through CloudFront: must be allowed.
    Legitimate,
    /// Straight to the origin with no signature: must be denied.
    Unsigned,
    /// Straight to the origin with a made-up signature: must be denied.
    Forged,
    /// A captured signed request with its path changed: must be denied.
    Tampered,
    /// A captured signed request replayed after the maximum age: must be denied.
    ReplayedExpired,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::Legitimate,
        Kind::Unsigned,
        Kind::Forged,
        Kind::Tampered,
        Kind::ReplayedExpired,
    ];

    /// Name for the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Legitimate => "legitimate (through CloudFront)",
            Kind::Unsigned => "direct, unsigned",
            Kind::Forged => "direct, forged signature",
            Kind::Tampered => "direct, captured and tampered",
            Kind::ReplayedExpired => "direct, replayed after max age",
        }
    }

    /// Whether the origin must let it through.
    pub fn should_pass(self) -> bool {
        self == Kind::Legitimate
    }
}

/// One request's outcome.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Seconds since the run started.
    pub at: f64,
    /// What it was.
    pub kind: Kind,
    /// HTTP status (0 when no response came).
    pub status: u16,
    /// The key id the backend reported, for allowed requests.
    pub keyid: Option<String>,
    /// API Gateway's request id (`apigw-requestid`), when the request reached it: the
    /// key to the authorizer's log line for it.
    pub request_id: Option<String>,
}

impl Outcome {
    /// Whether the origin let it through.
    pub fn allowed(&self) -> bool {
        self.status == 200
    }

    /// Whether the verdict is the one this kind must get.
    pub fn correct(&self) -> bool {
        self.allowed() == self.kind.should_pass()
    }
}

/// Everything recorded during a run.
#[derive(Default)]
pub struct Recorder {
    outcomes: Mutex<Vec<Outcome>>,
}

impl Recorder {
    /// Record one outcome.
    pub fn push(&self, outcome: Outcome) {
        if let Ok(mut o) = self.outcomes.lock() {
            o.push(outcome);
        }
    }

    /// A copy of everything so far.
    pub fn snapshot(&self) -> Vec<Outcome> {
        self.outcomes.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

/// Send one request and record what came back.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    client: &HttpClient,
    recorder: &Recorder,
    started: Instant,
    kind: Kind,
    url: &str,
    host: &str,
    headers: &[(String, String)],
) -> Option<http::HeaderMap> {
    let mut builder = http::Request::builder()
        .method("GET")
        .uri(url)
        .header("host", host);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder.body(Full::new(Bytes::new())).ok()?;
    let (status, keyid, echoed) = match client.request(request).await {
        Ok(response) => {
            let status = response.status();
            let echoed = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let keyid = (status == StatusCode::OK)
                .then(|| serde_json::from_slice::<Value>(&body).ok())
                .flatten()
                .and_then(|v| v.get("keyid").and_then(Value::as_str).map(str::to_owned))
                .filter(|k| !k.is_empty());
            (status.as_u16(), keyid, Some(echoed))
        }
        Err(_) => (0, None, None),
    };
    let request_id = echoed
        .as_ref()
        .and_then(|h| h.get(crate::stack::apigw::REQUEST_ID_HEADER))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    recorder.push(Outcome {
        at: started.elapsed().as_secs_f64(),
        kind,
        status,
        keyid,
        request_id,
    });
    echoed
}

/// A signed origin request seen on the wire (the origin's request log, say), which an
/// attacker may replay or alter.
#[derive(Clone, Debug)]
pub struct Captured {
    /// When it was captured.
    pub at: Instant,
    /// Path and query as sent to the origin.
    pub path_and_query: String,
    /// Host as sent to the origin.
    pub host: String,
    /// `signature-input` and `signature`.
    pub headers: Vec<(String, String)>,
}

/// The most recent signed requests the CloudFront stand-in forwarded.
#[derive(Default)]
pub struct CaptureLog {
    entries: Mutex<std::collections::VecDeque<Captured>>,
}

impl CaptureLog {
    const KEEP: usize = 4096;

    /// Remember a forwarded request.
    pub fn push(&self, captured: Captured) {
        if let Ok(mut e) = self.entries.lock() {
            if e.len() == Self::KEEP {
                e.pop_front();
            }
            e.push_back(captured);
        }
    }

    /// The newest capture at least `older_than` old.
    pub fn older_than(&self, older_than: Duration) -> Option<Captured> {
        let e = self.entries.lock().ok()?;
        e.iter()
            .rev()
            .find(|c| c.at.elapsed() >= older_than)
            .cloned()
    }

    /// The newest capture.
    pub fn newest(&self) -> Option<Captured> {
        self.entries.lock().ok()?.back().cloned()
    }
}

/// Shared handles a traffic task needs.
#[derive(Clone)]
pub struct Targets {
    /// `http://127.0.0.1:port` of the CloudFront stand-in.
    pub cloudfront: String,
    /// The distribution's domain name (viewer Host).
    pub cloudfront_host: String,
    /// `http://127.0.0.1:port` of the API Gateway stand-in.
    pub origin: String,
    /// The execute-api domain (origin Host).
    pub origin_host: String,
    /// The stage, first path segment at the origin.
    pub stage: String,
    /// Recently forwarded signed requests.
    pub captures: Arc<CaptureLog>,
}

/// Viewer paths the legitimate traffic cycles through: encoded characters, repeated and
/// unsorted query parameters, a flag without a value: the cases the canonical form is for.
const VIEWER_PATHS: [&str; 6] = [
    "/orders/{n}?page={m}&sort=desc",
    "/search?q=caf%C3%A9%20au%20lait&tag=b&tag=a",
    "/files/my%20report%20{n}.txt",
    "/items?b=2&a=1&flag",
    "/health",
    "/orders/{n}/items?cursor=eyJpZCI6IjEyMyJ9%3D&limit=50",
];

/// Most requests in flight at once per traffic task.
const MAX_IN_FLIGHT: usize = 128;

fn every(rate: u32) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(rate.max(1)))
}

/// Steady legitimate traffic through the CloudFront stand-in until `stop`.
pub async fn legitimate(
    targets: Targets,
    recorder: Arc<Recorder>,
    started: Instant,
    rate: u32,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = crate::stack::http::client();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut tick = tokio::time::interval(every(rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0usize;
    let mut in_flight = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let template = VIEWER_PATHS
            .get(n % VIEWER_PATHS.len())
            .copied()
            .unwrap_or("/");
        let path = template
            .replace("{n}", &n.to_string())
            .replace("{m}", &(n % 7).to_string());
        let url = format!("{}{path}", targets.cloudfront);
        let (client, recorder, host) = (
            client.clone(),
            Arc::clone(&recorder),
            targets.cloudfront_host.clone(),
        );
        in_flight.push(tokio::spawn(async move {
            send(
                &client,
                &recorder,
                started,
                Kind::Legitimate,
                &url,
                &host,
                &[("user-agent".into(), "edgeseal-demo".into())],
            )
            .await;
            drop(permit);
        }));
        in_flight.retain(|t| !t.is_finished());
        n += 1;
    }
    for t in in_flight {
        let _ = t.await;
    }
}

/// Attacks straight to the origin until `stop`, cycling through the four kinds.
pub async fn attacks(
    targets: Targets,
    recorder: Arc<Recorder>,
    started: Instant,
    rate: u32,
    replay_after: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = crate::stack::http::client();
    let mut tick = tokio::time::interval(every(rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let kinds = [
        Kind::Unsigned,
        Kind::Forged,
        Kind::Tampered,
        Kind::ReplayedExpired,
    ];
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        let kind = kinds
            .get(n % kinds.len())
            .copied()
            .unwrap_or(Kind::Unsigned);
        n += 1;
        let default_path = format!("/{}/orders/{n}", targets.stage);
        let (path, headers) = match kind {
            Kind::Unsigned => (default_path, Vec::new()),
            Kind::Forged => {
                // A well-formed signature under our label, naming a real key id, with a
                // made-up MAC: what an attacker who read one request could try.
                let keyid = targets
                    .captures
                    .newest()
                    .and_then(|c| {
                        c.headers
                            .iter()
                            .find(|(k, _)| k == "signature-input")
                            .map(|(_, v)| v.clone())
                    })
                    .and_then(|v| {
                        v.split("keyid=\"")
                            .nth(1)
                            .and_then(|r| r.split('"').next())
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| "unknown".into());
                let created = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let mut mac = [0u8; 32];
                let _ = getrandom::fill(&mut mac);
                use base64::Engine as _;
                let input = format!(
                    r#"edgeseal=("@method" "@authority" "@path" "@query");created={created};keyid="{keyid}";alg="hmac-sha256";tag="edgeseal""#
                );
                let signature = format!(
                    "edgeseal=:{}:",
                    base64::engine::general_purpose::STANDARD.encode(mac)
                );
                (
                    default_path,
                    vec![
                        ("signature-input".to_owned(), input),
                        ("signature".to_owned(), signature),
                    ],
                )
            }
            Kind::Tampered => match targets.captures.newest() {
                Some(c) => (
                    c.path_and_query
                        .replacen("/orders/", "/admin/", 1)
                        .replacen("/health", "/admin", 1)
                        + if c.path_and_query.contains('?') {
                            "&admin=1"
                        } else {
                            "?admin=1"
                        },
                    c.headers,
                ),
                None => continue,
            },
            Kind::ReplayedExpired => match targets.captures.older_than(replay_after) {
                Some(c) => (c.path_and_query, c.headers),
                None => continue,
            },
            Kind::Legitimate => continue,
        };
        let url = format!("{}{path}", targets.origin);
        let (client, recorder, host) = (
            client.clone(),
            Arc::clone(&recorder),
            targets.origin_host.clone(),
        );
        tokio::spawn(async move {
            send(&client, &recorder, started, kind, &url, &host, &headers).await;
        });
    }
}

//! [`ApiKeyOrigin`]: a loopback REST API stage whose methods require an API key, deciding
//! each request the way API Gateway does, from what moto holds (read through the SDK).
//!
//! API Gateway accepts a request to a method with "API Key Required" only when its
//! `x-api-key` header is the value of an API key that exists, is enabled, and is in a
//! usage plan of the stage; anything else — no header, an unknown, disabled or unlinked
//! key — gets `403 {"message":"Forbidden"}` (gateway response `INVALID_API_KEY`, 403, in
//! "Gateway response types for API Gateway"; the bare `{"message":"Forbidden"}` body in
//! Stack Overflow question 39061041 "Using an API key in Amazon API Gateway", whose
//! answers list exactly those three conditions).
//!
//! Changes do not reach every API Gateway node at once: a newly linked key is refused
//! for "a few seconds" (moduspwnens/boa-chat#1; its fix waits 10 s), with results that
//! flap while it spreads (Stack Overflow question 42194561). AWS documents no bound and
//! nothing about removals, so the same lag is assumed both ways. The stand-in models it
//! with `nodes` nodes taking requests in turn, node `i` seeing moto's state as it was
//! `propagation * i / (nodes - 1)` ago (node 0 sees it at once). With `propagation` zero
//! it is a single up-to-date node.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the stand-in is set up.
#[derive(Clone, Debug)]
pub struct ApiKeyOriginSettings {
    /// The usage plans of the stage.
    pub usage_plans: Vec<String>,
    /// The header carrying the key (API Gateway reads `x-api-key`).
    pub header: String,
    /// How many nodes share the requests.
    pub nodes: usize,
    /// How late the slowest node sees a change.
    pub propagation: Duration,
    /// How often moto is read.
    pub refresh: Duration,
}

impl ApiKeyOriginSettings {
    /// One up-to-date node checking `usage_plans`.
    pub fn new(usage_plans: &[&str]) -> Self {
        Self {
            usage_plans: usage_plans.iter().map(|p| (*p).to_owned()).collect(),
            header: "x-api-key".into(),
            nodes: 1,
            propagation: Duration::ZERO,
            refresh: Duration::from_millis(50),
        }
    }

    /// `nodes` nodes, the slowest seeing changes `propagation` late.
    pub fn propagating(mut self, nodes: usize, propagation: Duration) -> Self {
        self.nodes = nodes.max(1);
        self.propagation = propagation;
        self
    }
}

/// The keys accepted at one moment: (value, key id).
type Accepted = Arc<Vec<(String, String)>>;

struct State {
    settings: ApiKeyOriginSettings,
    history: Mutex<VecDeque<(Instant, Accepted)>>,
    next_node: AtomicUsize,
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl State {
    fn node_delay(&self, node: usize) -> Duration {
        let nodes = self.settings.nodes;
        if nodes <= 1 {
            return Duration::ZERO;
        }
        self.settings.propagation * u32::try_from(node).unwrap_or(u32::MAX)
            / u32::try_from(nodes - 1).unwrap_or(1)
    }

    /// What `node` accepts at `now`.
    fn view(&self, node: usize, now: Instant) -> Accepted {
        let cutoff = now.checked_sub(self.node_delay(node)).unwrap_or(now);
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        history
            .iter()
            .rev()
            .find(|(at, _)| *at <= cutoff)
            .or_else(|| history.front())
            .map(|(_, accepted)| Arc::clone(accepted))
            .unwrap_or_default()
    }

    /// The id of the key whose value is `presented`, if `accepted` has one.
    fn accepts<'a>(accepted: &'a [(String, String)], presented: &str) -> Option<&'a str> {
        // Every value is compared, in constant time: no early exit on a match.
        accepted.iter().fold(None, |found, (value, id)| {
            if bool::from(value.as_bytes().ct_eq(presented.as_bytes())) {
                Some(id.as_str())
            } else {
                found
            }
        })
    }
}

/// API Gateway's API key check for one stage, fed from moto: the data plane without the
/// HTTP (the demo's API Gateway stand-in asks it; [`ApiKeyOrigin`] serves it on
/// loopback). Dropping it stops reading moto.
pub struct ApiKeyStage {
    state: Arc<State>,
    poller: JoinHandle<()>,
}

impl Drop for ApiKeyStage {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

impl ApiKeyStage {
    /// Start reading moto through `client`; returns once the first read is done.
    ///
    /// # Errors
    /// When moto cannot be read.
    pub async fn start(
        client: aws_sdk_apigateway::Client,
        settings: ApiKeyOriginSettings,
    ) -> Result<Self, String> {
        let first = read_accepted(&client, &settings.usage_plans).await?;
        let state = Arc::new(State {
            settings,
            history: Mutex::new(VecDeque::from([(Instant::now(), Arc::new(first))])),
            next_node: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        });
        let poller = tokio::spawn(poll(client, Arc::clone(&state)));
        Ok(Self { state, poller })
    }

    /// The header API Gateway reads the key from.
    pub fn header(&self) -> &str {
        &self.state.settings.header
    }

    /// Decide one request carrying `presented` in the key header (`None`: no header), on
    /// the next node in turn, and count the verdict.
    pub fn admits(&self, presented: Option<&str>) -> bool {
        self.admitted_key(presented).is_some()
    }

    /// As [`ApiKeyStage::admits`], returning the id of the key that let the request
    /// through (what a REST API hands its integration as `$context.identity.apiKeyId`).
    pub fn admitted_key(&self, presented: Option<&str>) -> Option<String> {
        let node = self.state.next_node.fetch_add(1, Ordering::SeqCst) % self.state.settings.nodes;
        let view = self.state.view(node, Instant::now());
        let key_id = presented
            .and_then(|value| State::accepts(&view, value))
            .map(str::to_owned);
        let counter = if key_id.is_some() {
            &self.state.accepted
        } else {
            &self.state.rejected
        };
        counter.fetch_add(1, Ordering::SeqCst);
        key_id
    }

    /// Whether every node accepts `value` now (so whatever node a request reaches).
    pub fn accepted_by_every_node(&self, value: &str) -> bool {
        let now = Instant::now();
        (0..self.state.settings.nodes)
            .all(|node| State::accepts(&self.state.view(node, now), value).is_some())
    }

    /// Whether some node accepts `value` now.
    pub fn accepted_by_some_node(&self, value: &str) -> bool {
        let now = Instant::now();
        (0..self.state.settings.nodes)
            .any(|node| State::accepts(&self.state.view(node, now), value).is_some())
    }

    /// Requests admitted and refused so far.
    pub fn verdicts(&self) -> (u64, u64) {
        (
            self.state.accepted.load(Ordering::SeqCst),
            self.state.rejected.load(Ordering::SeqCst),
        )
    }
}

/// The stand-in REST API stage on loopback: `200 {"ok":true}` for a request
/// [`ApiKeyStage::admits`], else `403 {"message":"Forbidden"}`. Dropping it stops it.
pub struct ApiKeyOrigin {
    /// Its URL (`http://127.0.0.1:PORT/prod/health`).
    pub url: String,
    stage: Arc<ApiKeyStage>,
    server: JoinHandle<()>,
}

impl Drop for ApiKeyOrigin {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::ops::Deref for ApiKeyOrigin {
    type Target = ApiKeyStage;

    fn deref(&self) -> &ApiKeyStage {
        &self.stage
    }
}

impl ApiKeyOrigin {
    /// Start it, reading moto through `client`; returns once the first read is done.
    ///
    /// # Panics
    /// When it cannot listen on loopback or moto cannot be read.
    #[allow(clippy::expect_used)]
    pub async fn start(client: aws_sdk_apigateway::Client, settings: ApiKeyOriginSettings) -> Self {
        let stage = Arc::new(
            ApiKeyStage::start(client, settings)
                .await
                .expect("the API key origin cannot read moto's API keys"),
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot listen on loopback");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let served = Arc::clone(&stage);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let stage = Arc::clone(&served);
                tokio::spawn(async move { serve(stream, &stage).await });
            }
        });
        Self {
            url: format!("http://{addr}/prod/health"),
            stage,
            server,
        }
    }
}

/// The (value, id) of the keys that exist, are enabled and are in one of `plans`.
async fn read_accepted(
    client: &aws_sdk_apigateway::Client,
    plans: &[String],
) -> Result<Vec<(String, String)>, String> {
    let mut linked = Vec::new();
    for plan in plans {
        let keys = client
            .get_usage_plan_keys()
            .usage_plan_id(plan)
            .limit(500)
            .send()
            .await
            .map_err(|e| aws_smithy_types::error::display::DisplayErrorContext(e).to_string())?;
        linked.extend(
            keys.items()
                .iter()
                .filter_map(|k| k.id().map(str::to_owned)),
        );
    }
    let keys = client
        .get_api_keys()
        .include_values(true)
        .limit(500)
        .send()
        .await
        .map_err(|e| aws_smithy_types::error::display::DisplayErrorContext(e).to_string())?;
    Ok(keys
        .items()
        .iter()
        .filter(|k| k.enabled())
        .filter_map(|k| Some((k.value()?.to_owned(), k.id()?.to_owned())))
        .filter(|(_, id)| linked.iter().any(|l| l == id))
        .collect())
}

async fn poll(client: aws_sdk_apigateway::Client, state: Arc<State>) {
    let keep = state.settings.propagation + Duration::from_secs(1);
    loop {
        tokio::time::sleep(state.settings.refresh).await;
        // A failed read keeps the last view (API Gateway keeps serving what it knows).
        let Ok(accepted) = read_accepted(&client, &state.settings.usage_plans).await else {
            continue;
        };
        let now = Instant::now();
        let mut history = state.history.lock().unwrap_or_else(PoisonError::into_inner);
        history.push_back((now, Arc::new(accepted)));
        // Keep what the slowest node may still need, plus one older entry.
        while history.len() > 2
            && history
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) > keep)
        {
            history.pop_front();
        }
    }
}

async fn serve(mut stream: TcpStream, stage: &ApiKeyStage) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&buffer);
    let presented = text
        .split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(stage.header()))
        .map(|(_, value)| value.trim().to_owned());
    let (status, body) = if stage.admits(presented.as_deref()) {
        ("200 OK", r#"{"ok":true}"#)
    } else {
        ("403 Forbidden", r#"{"message":"Forbidden"}"#)
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len(),
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

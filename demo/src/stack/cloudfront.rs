//! A CloudFront stand-in: a viewer-facing HTTP proxy that, for every request, builds the
//! origin-request event, runs the edge function version the distribution's association
//! names (the real published zip, warm in Node.js), applies what it returns and forwards
//! to the origin.
//!
//! The distribution's control plane is the rotator's own faithful fake
//! ([`FakeCloudFront`]: ETags that change on every update, stale `IfMatch` refused,
//! `InProgress` for a propagation window). While a change propagates, each request is
//! served by one of the configs edges may still be running, picked at random, as edges
//! are during a real deployment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_cloudfront::types::{DistributionConfig, EventType};
use bytes::Bytes;
use edgeseal_testkit::FakeCloudFront;
use http::StatusCode;
use http_body_util::Full;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use crate::run::traffic::{CaptureLog, Captured};
use crate::stack::edge_worker::EdgeWorker;
use crate::stack::http::{Body, HttpClient, WholeRequest, text};

/// Published edge function versions, by version ARN: the zip as the Lambda API received
/// it, and a warm worker started on first use.
#[derive(Default)]
pub struct EdgeVersions {
    versions: Mutex<HashMap<String, Arc<EdgeVersion>>>,
    work_dir: PathBuf,
}

struct EdgeVersion {
    zip: Vec<u8>,
    worker: OnceCell<Arc<EdgeWorker>>,
}

impl EdgeVersions {
    /// Versions unpacked under `work_dir`.
    pub fn new(work_dir: PathBuf) -> Self {
        Self {
            versions: Mutex::default(),
            work_dir,
        }
    }

    /// Record a published version's zip.
    pub fn publish(&self, version_arn: &str, zip: Vec<u8>) {
        if let Ok(mut v) = self.versions.lock() {
            v.entry(version_arn.to_owned()).or_insert_with(|| {
                Arc::new(EdgeVersion {
                    zip,
                    worker: OnceCell::new(),
                })
            });
        }
    }

    /// How many versions were recorded.
    pub fn len(&self) -> usize {
        self.versions.lock().map_or(0, |v| v.len())
    }

    /// Whether none was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn worker(&self, version_arn: &str) -> Result<Arc<EdgeWorker>, String> {
        let version = self
            .versions
            .lock()
            .ok()
            .and_then(|v| v.get(version_arn).cloned())
            .ok_or_else(|| format!("no published zip for {version_arn}"))?;
        let name = version_arn.rsplit(':').next().unwrap_or("x").to_owned();
        let dir = self.work_dir.clone();
        version
            .worker
            .get_or_try_init(|| async {
                let log = dir.join(format!("edge-v{name}.log"));
                EdgeWorker::start(&version.zip, &dir, &format!("edge-v{name}"), &log)
                    .await
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .await
            .cloned()
    }
}

/// The proxy.
pub struct CloudFront {
    /// The control plane the rotator talks to.
    pub control: FakeCloudFront,
    /// The distribution's id.
    pub distribution_id: String,
    /// `dxxxxxxxx.cloudfront.net`.
    pub domain_name: String,
    /// Published edge versions.
    pub edges: Arc<EdgeVersions>,
    /// Origin domain names and where they listen on loopback.
    pub origins: HashMap<String, SocketAddr>,
    /// Signed requests as forwarded (what an attacker at the origin could log).
    pub captures: Arc<CaptureLog>,
    client: HttpClient,
    requests: AtomicU64,
    seed: Mutex<u64>,
}

impl CloudFront {
    /// A stand-in for distribution `distribution_id`.
    pub fn new(
        control: FakeCloudFront,
        distribution_id: &str,
        edges: Arc<EdgeVersions>,
        origins: HashMap<String, SocketAddr>,
        captures: Arc<CaptureLog>,
    ) -> Self {
        Self {
            control,
            distribution_id: distribution_id.to_owned(),
            domain_name: format!("d{}.cloudfront.net", distribution_id.to_ascii_lowercase()),
            edges,
            origins,
            captures,
            client: crate::stack::http::client(),
            requests: AtomicU64::new(0),
            seed: Mutex::new(0x9E37_79B9_7F4A_7C15),
        }
    }

    /// A uniform pick in `0..n` (xorshift; the demo needs spread, not secrecy).
    fn pick(&self, n: usize) -> usize {
        let Ok(mut s) = self.seed.lock() else {
            return 0;
        };
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        usize::try_from(*s % (n.max(1) as u64)).unwrap_or(0)
    }

    /// Serve one viewer request.
    pub async fn handle(&self, req: WholeRequest) -> http::Response<Body> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let live = self.control.live_configs(&self.distribution_id);
        let Some(config) = live.get(self.pick(live.len())) else {
            return text(StatusCode::BAD_GATEWAY, "distribution not found");
        };
        let Some(origin) = Origin::of(config) else {
            return text(StatusCode::BAD_GATEWAY, "distribution has no usable origin");
        };
        let event = self.origin_request_event(&req, &origin, n);
        let request = match &origin.origin_request_function {
            None => event
                .pointer("/Records/0/cf/request")
                .cloned()
                .unwrap_or_default(),
            Some(arn) => {
                let worker = match self.edges.worker(arn).await {
                    Ok(worker) => worker,
                    Err(e) => {
                        return text(
                            StatusCode::BAD_GATEWAY,
                            &format!("LambdaExecutionError: {e}"),
                        );
                    }
                };
                match worker.handle(&event).await {
                    Ok(result) => result,
                    Err(e) => {
                        return text(
                            StatusCode::BAD_GATEWAY,
                            &format!("LambdaExecutionError: {e}"),
                        );
                    }
                }
            }
        };
        if request.get("status").is_some() {
            return generated_response(&request);
        }
        self.forward(&origin, &request).await
    }

    fn origin_request_event(&self, req: &WholeRequest, origin: &Origin, n: u64) -> Value {
        let mut headers = Map::new();
        for (name, value) in &req.parts.headers {
            if name == http::header::HOST {
                continue;
            }
            let entry = headers
                .entry(name.as_str().to_owned())
                .or_insert_with(|| json!([]));
            if let Value::Array(list) = entry {
                list.push(json!({"key": name.as_str(), "value": String::from_utf8_lossy(value.as_bytes())}));
            }
        }
        // The origin request policy forwards no viewer Host: CloudFront sends the origin's.
        headers.insert(
            "host".into(),
            json!([{"key": "Host", "value": origin.domain_name}]),
        );
        let custom_headers: Map<String, Value> = origin
            .custom_headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), json!([{"key": k, "value": v}])))
            .collect();
        json!({"Records": [{"cf": {
            "config": {
                "distributionDomainName": self.domain_name,
                "distributionId": self.distribution_id,
                "eventType": "origin-request",
                "requestId": format!("demo-{n:012}"),
            },
            "request": {
                "clientIp": "127.0.0.1",
                "headers": headers,
                "method": req.parts.method.as_str(),
                "origin": {"custom": {
                    "customHeaders": custom_headers,
                    "domainName": origin.domain_name,
                    "keepaliveTimeout": 5,
                    "path": origin.path,
                    "port": 443,
                    "protocol": "https",
                    "readTimeout": 30,
                    "sslProtocols": ["TLSv1.2"],
                }},
                "querystring": req.parts.uri.query().unwrap_or(""),
                "uri": req.parts.uri.path(),
            },
        }}]})
    }

    async fn forward(&self, origin: &Origin, request: &Value) -> http::Response<Body> {
        let Some(addr) = self.origins.get(&origin.domain_name) else {
            return text(StatusCode::BAD_GATEWAY, "origin not reachable");
        };
        let uri = request["uri"].as_str().unwrap_or("/");
        let query = request["querystring"].as_str().unwrap_or("");
        let path_and_query = if query.is_empty() {
            format!("{}{uri}", origin.path)
        } else {
            format!("{}{uri}?{query}", origin.path)
        };
        let mut builder = http::Request::builder()
            .method(request["method"].as_str().unwrap_or("GET"))
            .uri(format!("http://{addr}{path_and_query}"));
        let mut host = origin.domain_name.clone();
        let mut signature_headers = Vec::new();
        if let Some(headers) = request["headers"].as_object() {
            for (name, values) in headers {
                for v in values.as_array().into_iter().flatten() {
                    let value = v["value"].as_str().unwrap_or("");
                    if name == "host" {
                        value.clone_into(&mut host);
                        continue;
                    }
                    if name == "signature-input" || name == "signature" {
                        signature_headers.push((name.clone(), value.to_owned()));
                    }
                    builder = builder.header(name.as_str(), value);
                }
            }
        }
        for (name, value) in &origin.custom_headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder = builder.header("host", host.as_str());
        if !signature_headers.is_empty() {
            self.captures.push(Captured {
                at: Instant::now(),
                path_and_query: path_and_query.clone(),
                host: host.clone(),
                headers: signature_headers,
            });
        }
        let Ok(outgoing) = builder.body(Full::new(Bytes::new())) else {
            return text(StatusCode::BAD_GATEWAY, "edge returned an unusable request");
        };
        match self.client.request(outgoing).await {
            Ok(response) => crate::stack::http::whole(response).await,
            Err(_) => text(StatusCode::BAD_GATEWAY, "origin did not answer"),
        }
    }
}

/// What the proxy needs of a config: the default behavior's origin and its
/// origin-request function version.
struct Origin {
    domain_name: String,
    path: String,
    custom_headers: Vec<(String, String)>,
    origin_request_function: Option<String>,
}

impl Origin {
    fn of(config: &DistributionConfig) -> Option<Self> {
        let behavior = config.default_cache_behavior.as_ref()?;
        let origin = config
            .origins
            .as_ref()?
            .items
            .iter()
            .find(|o| o.id == behavior.target_origin_id)?;
        let custom_headers = origin
            .custom_headers
            .as_ref()
            .and_then(|h| h.items.as_ref())
            .map(|items| {
                items
                    .iter()
                    .map(|h| (h.header_name.clone(), h.header_value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let origin_request_function = behavior
            .lambda_function_associations
            .as_ref()
            .and_then(|a| a.items.as_ref())
            .and_then(|items| {
                items
                    .iter()
                    .find(|a| a.event_type == EventType::OriginRequest)
            })
            .map(|a| a.lambda_function_arn.clone());
        Some(Self {
            domain_name: origin.domain_name.clone(),
            path: origin.origin_path.clone().unwrap_or_default(),
            custom_headers,
            origin_request_function,
        })
    }
}

fn generated_response(result: &Value) -> http::Response<Body> {
    let status = result["status"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| {
            result["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
        })
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    text(status, result["body"].as_str().unwrap_or(""))
}

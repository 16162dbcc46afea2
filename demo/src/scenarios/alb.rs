//! `--origin alb`: the same traffic, attacks and rotations, with the origin behind an
//! Application Load Balancer instead of API Gateway.
//!
//! ```text
//! viewer ─> CloudFront stand-in (real edge zip, raw profile for this origin)
//!              ─> load-balancer stand-in ─> axum service with edgeseal-tower's layer
//! ```
//!
//! The edge signs this origin in the `raw` profile (`EDGE_ORIGIN_PROFILES`, packaged into
//! every edge version the rotator publishes); the layer verifies with the authorizer's
//! key rules against the same secret; the rotator's origin test goes through the load
//! balancer in the raw profile (`ORIGIN_TEST_PROFILE`).
//!
//! ## What the load-balancer stand-in reproduces
//!
//! An ALB forwards the request line (method, path and query) and the body as received,
//! and the headers, adding or changing only its own (Elastic Load Balancing guide,
//! "HTTP headers and Application Load Balancers"): `X-Forwarded-For` (appended, the
//! default `routing.http.xff_header_processing.mode=append`), `X-Forwarded-Proto`,
//! `X-Forwarded-Port`, and `X-Amzn-Trace-Id`. By default it rewrites `Host` to carry the
//! listener port (`Host: www.amazon.com` → `www.amazon.com:8443`), unless the load
//! balancer attribute `routing.http.preserve_host_header.enabled` is true (AWS launch
//! announcement "New ALB enhancements provide options to specify how to process Host
//! header and X-Forwarded-For header", re:Post). The stand-in does both, by setting.
//! With a listener on 443 the appended `:443` is the default port, which `@authority`
//! drops (RFC 9421 §2.2.3), so the signature still verifies; a listener on another port
//! changes `@authority` and needs `preserve_host_header` (tested below). The demo's
//! load balancer preserves the Host: its loopback port is not the 443 CloudFront
//! connects to.
//!
//! No evidence was found on whether an ALB normalizes the path (dot segments, escapes)
//! before forwarding; the stand-in forwards it byte for byte, and the `raw` profile
//! would turn any rewriting into a `bad_signature` deny, never into a pass.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeseal::{Profile, Verified};
use edgeseal_edge_signer::{EdgeAssets, OriginProfiles};
use edgeseal_rotator::aws::sdk::{SdkLambda, SdkSecrets};
use edgeseal_rotator::{Rotator, SignedTarget};
use edgeseal_testkit::{FakeCloudFront, Hooked};
use edgeseal_tower::{EdgesealLayer, LayerConfig};
use http::StatusCode;
use http_body_util::Full;
use origin_verifier::{MetricsSink, SdkSource};

use crate::chaos::FaultableCloudFront;
use crate::cloudfront::{CloudFront, EdgeVersions};
use crate::http::{Body, HttpClient, WholeRequest, text};
use crate::rotation::Driver;
use crate::traffic::{CaptureLog, Kind, Recorder, Targets};
use crate::world::{DemoRotator, Recording};
use crate::{DISTRIBUTION_ID, DemoError, LABEL, Report, STAGE, Settings, listen, report};

/// The load balancer's DNS name: the distribution's origin domain.
pub const ALB_DOMAIN: &str = "internal-edgeseal-demo-1234567890.us-east-1.elb.amazonaws.com";

/// The load-balancer stand-in: forwards every request to one target, unchanged but for
/// the headers an ALB sets (see the module docs).
pub struct LoadBalancer {
    target: SocketAddr,
    client: HttpClient,
    /// The listener port an ALB writes into `Host` when it does not preserve it.
    listener_port: u16,
    /// `routing.http.preserve_host_header.enabled`.
    preserve_host_header: bool,
    traces: AtomicU64,
}

impl LoadBalancer {
    /// A load balancer with a listener on `listener_port`, forwarding to `target`.
    pub fn new(target: SocketAddr, listener_port: u16, preserve_host_header: bool) -> Self {
        Self {
            target,
            client: crate::http::client(),
            listener_port,
            preserve_host_header,
            traces: AtomicU64::new(0),
        }
    }

    /// The request the target receives for `req`.
    pub fn forwarded(&self, req: &WholeRequest) -> Result<http::Request<Body>, http::Error> {
        let path_and_query = req
            .parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut builder = http::Request::builder()
            .method(req.parts.method.clone())
            .uri(format!("http://{}{path_and_query}", self.target));
        let mut forwarded_for = None;
        for (name, value) in &req.parts.headers {
            match name.as_str() {
                // Hop-by-hop and framing: the forwarded request has its own.
                "host" | "connection" | "keep-alive" | "transfer-encoding" | "content-length" => {}
                "x-forwarded-for" => forwarded_for = value.to_str().ok().map(str::to_owned),
                _ => builder = builder.header(name, value),
            }
        }
        let host = req
            .parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let host = if self.preserve_host_header {
            host.to_owned()
        } else {
            let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
            format!("{name}:{}", self.listener_port)
        };
        let client_ip = "127.0.0.1";
        let n = self.traces.fetch_add(1, Ordering::Relaxed);
        builder
            .header(http::header::HOST, host)
            .header(
                "x-forwarded-for",
                forwarded_for.map_or_else(|| client_ip.to_owned(), |f| format!("{f}, {client_ip}")),
            )
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-port", self.listener_port.to_string())
            .header("x-amzn-trace-id", format!("Root=1-6752b2a0-{n:024x}"))
            .body(Full::new(req.body.clone()))
    }

    /// Serve one request.
    pub async fn handle(&self, req: WholeRequest) -> http::Response<Body> {
        let Ok(outgoing) = self.forwarded(&req) else {
            return text(StatusCode::BAD_REQUEST, "");
        };
        match self.client.request(outgoing).await {
            Ok(response) => crate::http::whole(response).await,
            // An ALB answers 502 when the target fails.
            Err(_) => text(StatusCode::BAD_GATEWAY, "502 Bad Gateway"),
        }
    }
}

/// The application behind the layer: answers what the backend of the default demo
/// answers, the key id that let the request through.
async fn app(request: axum::extract::Request) -> axum::response::Response {
    let keyid = request
        .extensions()
        .get::<Verified>()
        .map(|v| v.keyid().as_str().to_owned())
        .unwrap_or_default();
    let body = serde_json::json!({ "ok": true, "keyid": keyid, "path": request.uri().path() });
    axum::response::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Start the axum service with the layer, keys from `secrets_manager_url`; returns its
/// address and the buffer its metric lines go to.
async fn start_service(
    settings: &Settings,
    secret: &str,
    secrets_manager_url: &str,
) -> Result<(SocketAddr, Arc<Mutex<Vec<u8>>>), DemoError> {
    let env: HashMap<&str, String> = HashMap::from([
        ("SECRET_ID", secret.to_owned()),
        ("MAX_AGE_SECS", settings.max_age_secs.to_string()),
        (
            "PREVIOUS_KEY_GRACE_SECS",
            crate::previous_grace_secs(settings).to_string(),
        ),
        // As for the authorizer: rotations here are seconds apart.
        ("UNKNOWN_KEY_MIN_INTERVAL_SECS", "1".to_owned()),
        ("AWS_ENDPOINT_URL", secrets_manager_url.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let config =
        LayerConfig::from_lookup(lookup).map_err(|e| DemoError::Config(format!("layer: {e}")))?;
    let client = origin_verifier::secrets_manager_client(
        lookup,
        Duration::from_millis(config.authorizer.secrets_manager_timeout_ms),
    )
    .map_err(|e| DemoError::Config(format!("layer: {e}")))?;
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let layer = EdgesealLayer::new(
        &config,
        SdkSource::new(client),
        MetricsSink::Buffer(Arc::clone(&metrics)),
    )
    .map_err(|e| DemoError::Config(format!("layer: {e}")))?;
    let router = axum::Router::new().fallback(app).layer(layer);
    let (listener, addr) = listen().await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, metrics))
}

/// The layer's verdicts counted by `"{verdict} {reason}"`, from its metric lines.
fn by_reason(metrics: &Mutex<Vec<u8>>) -> BTreeMap<String, u64> {
    let bytes = metrics.lock().map(|m| m.clone()).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in String::from_utf8_lossy(&bytes).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |name: &str| {
            v.get(name)
                .and_then(|f| f.as_str())
                .unwrap_or("?")
                .to_owned()
        };
        *counts
            .entry(format!("{} {}", field("Verdict"), field("Reason")))
            .or_default() += 1;
    }
    counts
}

/// Run the demo with the origin behind the load balancer (`--target signed` only).
pub async fn run(settings: &Settings) -> Result<Report, DemoError> {
    if settings.mode != edgeseal_rotator::TargetKind::Signed || settings.chaos.is_some() {
        return Err(DemoError::Config(
            "--origin alb runs the signed target without --chaos".into(),
        ));
    }
    std::fs::create_dir_all(&settings.out_dir)
        .map_err(|e| DemoError::Config(format!("{}: {e}", settings.out_dir.display())))?;
    let assets = EdgeAssets::from_dir(&settings.edge_assets_dir)
        .map_err(|e| DemoError::Config(format!("edge assets (run scripts/build-edge): {e}")))?;
    let sdk = edgeseal_testkit::sdk_config_for(&settings.moto_url).await;
    let edges = Arc::new(EdgeVersions::new(settings.out_dir.join("edge")));
    let profiles = OriginProfiles::default()
        .with_origin(ALB_DOMAIN, Profile::Raw)
        .map_err(|e| DemoError::Config(e.to_string()))?;
    let aws = crate::world::create_with_profiles(
        &sdk,
        &assets,
        LABEL,
        settings.max_age_secs,
        profiles,
        &edges,
    )
    .await?;

    let (service_addr, metrics) = start_service(settings, &aws.secret, &settings.moto_url).await?;
    let balancer = Arc::new(LoadBalancer::new(service_addr, 443, true));
    let (lb_listener, lb_addr) = listen().await?;
    tokio::spawn(crate::http::serve(lb_listener, move |req| {
        let balancer = Arc::clone(&balancer);
        async move { balancer.handle(req).await }
    }));

    let control = FakeCloudFront::new(settings.propagation);
    let rotator_cloudfront = FaultableCloudFront::new(control.clone());
    control.insert(
        DISTRIBUTION_ID,
        crate::world::distribution_config(ALB_DOMAIN, STAGE, &aws.first_version_arn)?,
    );
    let captures = Arc::new(CaptureLog::default());
    let cdn = Arc::new(CloudFront::new(
        control.clone(),
        DISTRIBUTION_ID,
        Arc::clone(&edges),
        HashMap::from([(ALB_DOMAIN.to_owned(), lb_addr)]),
        Arc::clone(&captures),
    ));
    let (cdn_listener, cdn_addr) = listen().await?;
    let cdn_for_server = Arc::clone(&cdn);
    tokio::spawn(crate::http::serve(cdn_listener, move |req| {
        let cdn = Arc::clone(&cdn_for_server);
        async move { cdn.handle(req).await }
    }));

    let rotator_env: HashMap<String, String> = [
        ("CLOUDFRONT_DISTRIBUTION_ID", DISTRIBUTION_ID.to_owned()),
        (
            "EDGE_ASSETS_DIR",
            settings.edge_assets_dir.display().to_string(),
        ),
        ("EDGE_FUNCTION_NAME", aws.function.clone()),
        ("EDGE_ORIGIN_PROFILES", format!("{ALB_DOMAIN}=raw")),
        ("ORIGIN_URL", format!("http://{lb_addr}")),
        ("ORIGIN_TEST_PATH", format!("/{STAGE}/health")),
        // The probe's URL is the load balancer's loopback address, not its DNS name.
        ("ORIGIN_TEST_PROFILE", "raw".to_owned()),
        ("SIGNATURE_LABEL", LABEL.to_owned()),
        ("SIGNATURE_MAX_AGE_SECS", settings.max_age_secs.to_string()),
        ("DEADLINE_MARGIN_MS", "0".to_owned()),
        ("EDGE_KEEP_VERSIONS", "3".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = edgeseal_rotator::Config::from_lookup(|name| rotator_env.get(name).cloned())
        .map_err(|e| DemoError::Config(format!("rotator: {e}")))?;
    let lambda = Hooked::with_hooks(SdkLambda::new(&sdk), Recording::new(Arc::clone(&edges)));
    let target = SignedTarget::from_config(&config, lambda, rotator_cloudfront.clone(), assets)
        .map_err(|e| DemoError::Setup(format!("rotator: {e}")))?;
    let rotator: DemoRotator = Box::new(Rotator::new(config, SdkSecrets::new(&sdk), target));

    let targets = Targets {
        cloudfront: format!("http://{cdn_addr}"),
        cloudfront_host: cdn.domain_name.clone(),
        origin: format!("http://{lb_addr}"),
        origin_host: ALB_DOMAIN.to_owned(),
        stage: STAGE.to_owned(),
        captures,
    };
    crate::warm_up(&targets).await?;

    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![
        tokio::spawn(crate::traffic::legitimate(
            targets.clone(),
            Arc::clone(&recorder),
            started,
            settings.rate,
            Arc::clone(&stop),
        )),
        tokio::spawn(crate::traffic::attacks(
            targets.clone(),
            Arc::clone(&recorder),
            started,
            settings.attack_rate,
            Duration::from_secs(settings.max_age_secs + 1),
            Arc::clone(&stop),
        )),
    ];
    if settings.progress {
        tasks.push(tokio::spawn(crate::progress(
            Arc::clone(&recorder),
            Arc::clone(&stop),
            Arc::clone(&phase),
            settings.rotations,
        )));
    }
    let mut timeline = Vec::new();
    let mut failed_rotations = Vec::new();
    let mut step_timings = Vec::new();
    let mut driver = Driver {
        rotator: &rotator,
        aws: &aws,
        timeout: settings.rotator_timeout,
        started,
        timeline: &mut timeline,
        timings: &mut step_timings,
    };
    // The default demo's schedule: evenly spread, each retried until it completes.
    let plan = crate::schedule::Plan::even(
        settings.rotations,
        settings.duration,
        crate::schedule::overtime_bound(settings.propagation, settings.rotator_timeout),
        crate::schedule::RetryCadence::DEMO,
    );
    let rotations = crate::schedule::run_rotations(&mut driver, &plan, None, &phase).await;
    failed_rotations.extend(rotations.iter().filter_map(|r| match &r.fate {
        crate::schedule::Fate::Failed { error, .. } => {
            Some(DemoError::Rotation(r.rotation, error.clone()).to_string())
        }
        _ => None,
    }));
    tokio::time::sleep(settings.duration.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let outcomes = recorder.snapshot();
    let reasons = by_reason(&metrics);
    let chart = settings.out_dir.join("timeline.svg");
    std::fs::write(&chart, report::svg(&outcomes, &timeline, seconds))
        .map_err(|e| DemoError::Setup(format!("writing the chart: {e}")))?;
    let mut summary = report::summary(&outcomes, &reasons, &timeline, seconds)
        .replace(
            "Authorizer verdicts by reason (from its CloudWatch EMF log lines):",
            "edgeseal-tower layer verdicts by reason (its EMF metric lines, the authorizer's shape):",
        )
        .replace(
            "401 at API Gateway (no identity source)",
            "of which 401 (no signature)            ",
        );
    summary.push_str(&format!(
        "\nOrigin: axum + edgeseal-tower behind a load balancer (raw profile); unsigned attacks answered 401: {}\n",
        outcomes
            .iter()
            .filter(|o| o.kind == Kind::Unsigned && o.status == 401)
            .count()
    ));
    summary.push_str(&report::longest_step_line(&step_timings));
    summary.push_str(&report::rotations(
        &rotations,
        settings.duration.as_secs_f64(),
        seconds,
        plan.overtime.as_secs_f64(),
    ));
    Ok(Report {
        outcomes,
        timeline,
        reasons,
        seconds,
        summary,
        chart,
        edge_versions: edges.len(),
        authorizer_peak_rss_kib: Vec::new(),
        authorizer_rss: report::RssAtStartAndEnd::default(),
        failed_rotations,
        rotations,
        chaos: None,
        step_timings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use bytes::Bytes;
    use edgeseal::{KeyId, KeySet, RequestView, Signer, SigningKey, UnixTime, Verifier};
    use http_body_util::BodyExt as _;

    use super::*;

    fn incoming(
        method: &str,
        host: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> WholeRequest {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("host", host)
            .header("x-forwarded-for", "203.0.113.7");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        WholeRequest {
            parts,
            body: Bytes::from_static(b"{\"n\":1}"),
        }
    }

    fn target() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9))
    }

    #[tokio::test]
    async fn forwards_the_request_line_and_body_unchanged_and_adds_its_headers() {
        let lb = LoadBalancer::new(target(), 443, true);
        let raw = "/prod/a%2Fb/caf%c3%a9/./x?b=2&a=1+1&a=%7E&flag";
        let out = lb
            .forwarded(&incoming(
                "POST",
                ALB_DOMAIN,
                raw,
                &[("signature", "edgeseal=:AAAA:")],
            ))
            .unwrap();
        assert_eq!(out.uri().path_and_query().map(|p| p.as_str()), Some(raw));
        assert_eq!(out.method(), "POST");
        let header = |name: &str| out.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("host"), ALB_DOMAIN);
        assert_eq!(header("signature"), "edgeseal=:AAAA:");
        assert_eq!(header("x-forwarded-for"), "203.0.113.7, 127.0.0.1");
        assert_eq!(header("x-forwarded-proto"), "https");
        assert!(header("x-amzn-trace-id").starts_with("Root=1-"));
        let body = out.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{\"n\":1}");
    }

    /// ALB's default Host processing: the listener port is appended. On 443 the raw
    /// signature still verifies (RFC 9421 §2.2.3 drops the default port); on 8443 it
    /// does not, and `preserve_host_header` is the fix.
    #[test]
    fn the_listener_port_in_host_matters_only_off_443() {
        let key = SigningKey::from_bytes(&[4; 64]).unwrap();
        let keyid = KeyId::new("v1").unwrap();
        let now = UnixTime::from_secs(1_767_225_600);
        let signed = Signer::new("edgeseal", keyid.clone(), key.clone())
            .unwrap()
            .sign_at(now, &RequestView::raw("GET", ALB_DOMAIN, "/prod/x", ""))
            .unwrap();
        let mut keys = KeySet::new();
        keys.insert_current(keyid, key);
        let verdict = |lb: LoadBalancer| {
            let out = lb
                .forwarded(&incoming(
                    "GET",
                    ALB_DOMAIN,
                    "/prod/x",
                    &[
                        ("signature-input", signed.signature_input()),
                        ("signature", signed.signature()),
                    ],
                ))
                .unwrap();
            let host = out.headers()["host"].to_str().unwrap().to_owned();
            let mut view = RequestView::raw("GET", &host, out.uri().path(), "");
            for name in ["signature-input", "signature"] {
                view.push_header(name, out.headers()[name].to_str().unwrap());
            }
            (
                host,
                Verifier::default().verify_at(now, &view, &keys).map(|_| ()),
            )
        };
        let (host, ok) = verdict(LoadBalancer::new(target(), 443, false));
        assert_eq!(host, format!("{ALB_DOMAIN}:443"));
        assert_eq!(ok, Ok(()));
        let (host, bad) = verdict(LoadBalancer::new(target(), 8443, false));
        assert_eq!(host, format!("{ALB_DOMAIN}:8443"));
        assert_eq!(bad, Err(edgeseal::Rejection::BadSignature));
        assert_eq!(verdict(LoadBalancer::new(target(), 8443, true)).1, Ok(()));
    }
}

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
//! The load balancer itself is a stand-in of the stack (`stack/alb.rs`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeseal::{Profile, Verified};
use edgeseal_edge_signer::{EdgeAssets, OriginProfiles};
use edgeseal_rotator::{Rotator, SignedTarget};
use edgeseal_rotator::{SdkLambda, SdkSecrets};
use edgeseal_testkit::{FakeCloudFront, Hooked};
use edgeseal_tower::{EdgesealLayer, LayerConfig};
use origin_verifier::{MetricsSink, SdkSource};

use crate::report::{self, Report};
use crate::run::rotation::Driver;
use crate::run::traffic::{CaptureLog, Kind, Recorder, Targets};
use crate::scenarios::chaos::FaultableCloudFront;
use crate::stack::alb::{ALB_DOMAIN, LoadBalancer};
use crate::stack::aws::{DemoRotator, Recording};
use crate::stack::cloudfront::{CloudFront, EdgeVersions};
use crate::stack::{DISTRIBUTION_ID, LABEL, STAGE, listen};
use crate::{DemoError, Settings};

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
            crate::settings::previous_grace_secs(settings).to_string(),
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
pub async fn run_alb_origin(settings: &Settings) -> Result<Report, DemoError> {
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
    let aws = crate::stack::aws::create_with_profiles(
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
    tokio::spawn(crate::stack::http::serve(lb_listener, move |req| {
        let balancer = Arc::clone(&balancer);
        async move { balancer.handle(req).await }
    }));

    let control = FakeCloudFront::new(settings.propagation);
    let rotator_cloudfront = FaultableCloudFront::new(control.clone());
    control.insert(
        DISTRIBUTION_ID,
        crate::stack::aws::distribution_config(ALB_DOMAIN, STAGE, &aws.first_version_arn)?,
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
    tokio::spawn(crate::stack::http::serve(cdn_listener, move |req| {
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
    crate::run::warm_up(&targets).await?;

    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let tasks = crate::run::spawn_traffic(&targets, &recorder, started, settings, &stop, &phase);
    let mut timeline = Vec::new();
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
    let plan = crate::run::schedule::Plan::for_settings(settings);
    let crate::run::Rotated {
        rotations,
        failed: failed_rotations,
        seconds,
    } = crate::run::rotate_then_stop(
        &mut driver,
        &plan,
        None,
        &phase,
        settings.duration,
        &stop,
        tasks,
    )
    .await;
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

//! # edgeseal demo: the whole system on one machine, rotating under load
//!
//! - **CloudFront stand-in** ([`cloudfront`]): builds each origin-request event, runs the
//!   real edge zip of the version the distribution names (warm in Node.js), forwards to
//!   the origin. Its control plane is the rotator's faithful CloudFront fake, with a
//!   propagation window during which old and new edge versions both serve.
//! - **API Gateway stand-in** ([`apigw`]): HTTP API payload 2.0 events for the **real
//!   authorizer binary**, run under a Lambda Runtime API emulator ([`runtime_api`]).
//! - **moto** for Secrets Manager, Lambda and IAM, through the real SDK.
//! - **Traffic** ([`traffic`]): steady signed requests through CloudFront, and direct
//!   requests to the origin (unsigned, forged, tampered, replayed after expiry).
//! - **Rotations** in the middle of the traffic: the real rotator, in-process, driven
//!   step by step as Secrets Manager drives it ([`world`]).
//! - **Chaos** (`--chaos`, [`chaos`]): a Secrets Manager outage ([`outage`]), an
//!   authorizer process shut down and started cold, a failed rotation step; the
//!   authorizer's verdicts are read back from its log ([`authorizer_log`]).
//!
//! - **`--origin alb`** ([`alb`]): the origin behind a load-balancer stand-in, an axum
//!   service verifying with `edgeseal-tower`'s layer (raw signing profile).
//!
//! - **The stack comes out of `deploy/template.yaml`** ([`template`], [`stack`]): the
//!   new-stack path's parameters through the SAM transform; the functions run with the
//!   environment the template gives them, with the local overrides of [`overrides`].
//!
//! [`run`] returns a [`Report`]; `edgeseal-demo` prints it and writes the timeline SVG.

pub mod alb;
pub mod api_key;
pub mod apigw;
pub mod appsync;
pub mod authorizer_log;
pub mod chaos;
pub mod cloudfront;
pub mod cloudfront_api;
pub mod edge_worker;
pub mod http;
pub mod iam;
pub mod jwt;
pub mod modes;
pub mod outage;
pub mod overrides;
pub mod report;
pub mod rotation;
pub mod runtime_api;
pub mod schedule;
pub mod serve;
pub mod stack;
pub mod template;
pub mod traffic;
pub mod waf;
pub mod world;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edgeseal_edge_signer::EdgeAssets;
use edgeseal_rotator::aws::sdk::{SdkLambda, SdkSecrets};
use edgeseal_rotator::targets::waf::SdkWaf;
use edgeseal_rotator::{
    ApiKeyTarget, Rotator, SignedTarget, StaticHeaderTarget, TargetKind, WafTarget,
};
use edgeseal_testkit::FakeCloudFront;
use tokio::net::TcpListener;

use crate::apigw::ApiGateway;
use crate::chaos::{Chaos, ChaosReport, ChaosSettings, FaultableCloudFront};
use crate::cloudfront::{CloudFront, EdgeVersions};
use crate::report::TimelineEvent;
use crate::rotation::{Driver, FirstRotation, StepTiming};
use crate::runtime_api::LambdaFunction;
use crate::traffic::{CaptureLog, Kind, Outcome, Recorder, Targets};
use crate::world::{AwsWorld, DemoRotator, Recording};
use edgeseal_testkit::Hooked;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A setting or an input file is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// Creating the local world failed.
    #[error("setup: {0}")]
    Setup(String),
    /// An AWS call (to moto) failed.
    #[error("AWS: {0}")]
    Aws(String),
    /// A rotation did not complete after its retries.
    #[error("rotation {0} did not complete: {1}")]
    Rotation(usize, String),
    /// The stack built from `deploy/template.yaml` is refused, or does not work: the
    /// message names the template and says why.
    #[error("template: {0}")]
    Template(String),
    /// `RotateSecret` refused: the rotation of this AWSPENDING version is incomplete.
    #[error("RotateSecret refused: {msg} (version {0} is still AWSPENDING)", msg = world::PREVIOUS_ROTATION_INCOMPLETE)]
    PreviousRotationIncomplete(String),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// moto server, e.g. `http://127.0.0.1:5000`.
    pub moto_url: String,
    /// The authorizer's `bootstrap` binary (`target/release/origin-verifier`).
    pub authorizer_bin: PathBuf,
    /// The built edge assets (`target/edge-assets`: `index.mjs`, `signer.wasm`).
    pub edge_assets_dir: PathBuf,
    /// Where logs, unpacked edge versions and the chart go.
    pub out_dir: PathBuf,
    /// How long traffic runs.
    pub duration: Duration,
    /// How many rotations happen during the traffic.
    pub rotations: usize,
    /// Legitimate requests per second through CloudFront.
    pub rate: u32,
    /// Attack requests per second straight to the origin.
    pub attack_rate: u32,
    /// How long a distribution change takes to reach every edge.
    pub propagation: Duration,
    /// The authorizer's and the edge's maximum signature age.
    pub max_age_secs: u64,
    /// How long AWSPREVIOUS verifies after a rotation (raised to cover the propagation,
    /// see `previous_grace_secs`).
    pub previous_grace_secs: u64,
    /// Authorizer execution environments (processes).
    pub authorizer_processes: usize,
    /// Print a live progress line to stderr.
    pub progress: bool,
    /// Run under failures (`--chaos`; see [`chaos`]).
    pub chaos: Option<ChaosSettings>,
    /// The rotator Lambda's timeout: the deadline of each step (`--rotator-timeout-secs`).
    pub rotator_timeout: Duration,
    /// `signed` or `static-header` (`--mode`).
    pub mode: TargetKind,
    /// How the stack starts rotating (`--first-rotation`).
    pub first_rotation: FirstRotation,
    /// More authorizer environment (`--jwt`: the bearer-token settings; its `JWT_*`
    /// become the template's `Jwt*` parameters).
    pub authorizer_env: Vec<(String, String)>,
    /// The template the stack is built from, and the path whose parameters are the base
    /// (default: this checkout's `deploy/template.yaml`, new-stack).
    pub template: template::TemplateSource,
}

impl Settings {
    /// Defaults for `settings.moto_url` etc. given; a one-minute run with three rotations.
    pub fn new(
        moto_url: String,
        authorizer_bin: PathBuf,
        edge_assets_dir: PathBuf,
        out_dir: PathBuf,
    ) -> Self {
        Self {
            moto_url,
            authorizer_bin,
            edge_assets_dir,
            out_dir,
            duration: Duration::from_secs(60),
            rotations: 3,
            rate: 100,
            attack_rate: 10,
            propagation: Duration::from_secs(4),
            max_age_secs: 5,
            previous_grace_secs: 30,
            authorizer_processes: 2,
            progress: true,
            chaos: None,
            rotator_timeout: Duration::from_secs(120),
            mode: TargetKind::Signed,
            first_rotation: FirstRotation::Immediate,
            authorizer_env: Vec::new(),
            template: template::TemplateSource::default(),
        }
    }
}

/// What happened.
pub struct Report {
    /// Every request and its outcome.
    pub outcomes: Vec<Outcome>,
    /// Rotation steps with their times.
    pub timeline: Vec<TimelineEvent>,
    /// Authorizer verdicts by `allow` / reason code, from its EMF log lines.
    pub reasons: BTreeMap<String, u64>,
    /// Seconds of traffic.
    pub seconds: f64,
    /// The text summary.
    pub summary: String,
    /// Where the chart was written.
    pub chart: PathBuf,
    /// Edge versions published (including the first).
    pub edge_versions: usize,
    /// Peak RSS of each authorizer process, KiB.
    pub authorizer_peak_rss_kib: Vec<u64>,
    /// Peak RSS of each authorizer process when the traffic started and at the end.
    pub authorizer_rss: report::RssAtStartAndEnd,
    /// Rotations that did not complete, with why.
    pub failed_rotations: Vec<String>,
    /// Each scheduled rotation: when it was due, and when it completed (or why not).
    pub rotations: Vec<schedule::RotationRecord>,
    /// What the chaos did, in a `--chaos` run.
    pub chaos: Option<ChaosReport>,
    /// Every rotation step's wall time.
    pub step_timings: Vec<StepTiming>,
}

impl Report {
    /// (legitimate requests rejected, attacks let through).
    pub fn mistakes(&self) -> (u64, u64) {
        report::mistakes(&self.outcomes)
    }

    /// Legitimate requests rejected for a reason other than the configured stale window
    /// running out during a Secrets Manager outage (in a run without chaos: all of them).
    pub fn unexpected_rejections(&self) -> u64 {
        let (legit_rejected, _) = self.mistakes();
        legit_rejected.saturating_sub(self.chaos.as_ref().map_or(0, |c| c.stale_window_denials))
    }

    /// How many requests of `kind` were sent.
    pub fn count(&self, kind: Kind) -> usize {
        self.outcomes.iter().filter(|o| o.kind == kind).count()
    }
}

/// The example API's stage (the distribution's origin path).
pub const STAGE: &str = "prod";
const API_ID: &str = "a1b2c3d4e5";
/// The distribution's id in the CloudFront control-plane fake.
pub const DISTRIBUTION_ID: &str = "EDEMO0000001";
const LABEL: &str = edgeseal::DEFAULT_LABEL;
/// The authorizer's function name (and the stem of its log files).
pub(crate) const AUTHORIZER_FUNCTION: &str = "origin-verifier";

async fn listen() -> Result<(TcpListener, std::net::SocketAddr), DemoError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Setup(format!("bind: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    Ok((listener, addr))
}

/// The local stack, up and answering, before any traffic or rotation: what [`run`]
/// drives, and what `edgeseal doctor`'s tests inspect.
pub struct Stack {
    /// The SDK configuration for moto.
    pub sdk: aws_config::SdkConfig,
    /// The secret, the edge function and its first version on moto.
    pub aws: AwsWorld,
    /// CloudFront's control plane (the rotator's faithful fake).
    pub control: FakeCloudFront,
    /// Edge versions CloudFront can run, by version ARN.
    pub edges: Arc<EdgeVersions>,
    /// The authorizer processes.
    pub authorizer: Arc<LambdaFunction>,
    /// The API Gateway stand-in.
    pub api: Arc<ApiGateway>,
    /// The CloudFront stand-in.
    pub cdn: Arc<CloudFront>,
    /// Where to send traffic.
    pub targets: Targets,
    /// The rotator, in-process.
    pub rotator: DemoRotator,
    /// The failures to inject, in a `--chaos` run.
    pub chaos: Option<Arc<Chaos>>,
    /// The template the stack was built from, rendered.
    pub template: template::Rendered,
    /// `SecretRotation`'s settings (whether the first rotation is a full one).
    pub rotation: template::RotationSettings,
}

/// Start the stack built from the template and send one request through it (fails if
/// that is not allowed). Every failure after the render names the template.
pub async fn start(settings: &Settings) -> Result<Stack, DemoError> {
    let parameters = stack::base_parameters(settings, previous_grace_secs(settings), STAGE)?;
    let rendered = template::Rendered::render(&settings.template, &parameters).await?;
    let blame = rendered.clone();
    start_from(settings, rendered).await.map_err(|e| match e {
        DemoError::Template(_) => e,
        other => blame.error(format!("the stack built from it did not start: {other}")),
    })
}

async fn start_from(
    settings: &Settings,
    mut rendered: template::Rendered,
) -> Result<Stack, DemoError> {
    std::fs::create_dir_all(&settings.out_dir)
        .map_err(|e| DemoError::Config(format!("{}: {e}", settings.out_dir.display())))?;
    let assets = EdgeAssets::from_dir(&settings.edge_assets_dir)
        .map_err(|e| DemoError::Config(format!("edge assets (run scripts/build-edge): {e}")))?;
    if !settings.authorizer_bin.is_file() {
        return Err(DemoError::Config(format!(
            "authorizer binary {} not found",
            settings.authorizer_bin.display()
        )));
    }
    let sdk = edgeseal_testkit::sdk_config_for(&settings.moto_url).await;

    // AWS side.
    let edges = Arc::new(EdgeVersions::new(settings.out_dir.join("edge")));
    let rotation = template::rotation(&rendered)?;
    let signing = stack::edge_signing(&rendered)?;
    let aws = world::create_from_template(
        &sdk,
        &assets,
        &rendered,
        (signing.0.as_str(), signing.1),
        &edges,
    )
    .await?;
    let static_value = match settings.mode {
        TargetKind::Signed => None,
        TargetKind::StaticHeader | TargetKind::ApiKey | TargetKind::Waf => {
            Some(modes::use_static_header_secret(&aws).await?)
        }
        TargetKind::AppSyncApiKey => {
            return Err(DemoError::Config(
                "--target appsync-api-key runs its own world (appsync::run)".into(),
            ));
        }
    };
    let control = FakeCloudFront::new(settings.propagation);
    let rotator_cloudfront = FaultableCloudFront::new(control.clone());
    let chaos = match &settings.chaos {
        None => None,
        Some(c) => Some(Arc::new(
            Chaos::start(c.clone(), &settings.moto_url, rotator_cloudfront.clone())
                .await
                .map_err(|e| DemoError::Setup(format!("Secrets Manager proxy: {e}")))?,
        )),
    };
    // Every Secrets Manager client of the system under test goes through the chaos
    // proxy when there is one.
    let secrets_manager_url = chaos
        .as_ref()
        .map_or_else(|| settings.moto_url.clone(), |c| c.secrets_manager_url());

    // Backend, API Gateway with the real authorizer, CloudFront.
    let (backend_listener, backend_addr) = listen().await?;
    tokio::spawn(http::serve(backend_listener, apigw::backend));
    // The resources some targets' parameters name, then the template rendered with them.
    let api_domain = format!("{API_ID}.execute-api.us-east-1.amazonaws.com");
    let keyed_stage = match (settings.mode, &static_value) {
        (TargetKind::ApiKey, Some(value)) => Some(api_key::create(&sdk, value).await?),
        _ => None,
    };
    let web_acl = match (settings.mode, &static_value) {
        (TargetKind::Waf, Some(value)) => {
            Some(waf::create_web_acl(&aws_sdk_wafv2::Client::new(&sdk), value).await?)
        }
        _ => None,
    };
    let mut target_parameters = Vec::new();
    if let Some(acl) = &web_acl {
        target_parameters.extend(stack::waf_parameters(acl, &api_domain, DISTRIBUTION_ID)?);
    }
    if let Some(keyed) = &keyed_stage {
        target_parameters.extend(stack::api_key_parameters(
            keyed,
            &api_domain,
            DISTRIBUTION_ID,
            &aws.secret_arn,
        )?);
    }
    if !target_parameters.is_empty() {
        let mut all = rendered.demo_parameters.clone();
        all.extend(target_parameters);
        rendered = template::Rendered::render(&settings.template, &all).await?;
    }
    let physical = stack::physical(&rendered, &aws, API_ID, DISTRIBUTION_ID)?;
    let authorizer_env = stack::authorizer_env(
        &rendered,
        &physical,
        settings,
        stack::AuthorizerLocal {
            secrets_manager_url: &secrets_manager_url,
            chaos: chaos
                .as_ref()
                .map(|c| c.settings().authorizer_env())
                .unwrap_or_default(),
        },
    )?;
    let authorizer = Arc::new(
        LambdaFunction::start(
            AUTHORIZER_FUNCTION,
            &settings.authorizer_bin,
            &authorizer_env,
            settings.authorizer_processes,
            &settings.out_dir,
        )
        .await
        .map_err(|e| DemoError::Setup(format!("starting the authorizer: {e}")))?,
    );
    // The api-gateway-api-key target: a REST stage checking API keys, no authorizer.
    let identity_headers = template::identity_headers(&rendered)?;
    let identity_headers: Vec<&str> = identity_headers.iter().map(String::as_str).collect();
    let mut api = ApiGateway::new(Arc::clone(&authorizer), backend_addr, API_ID, STAGE)
        .with_identity_sources(&identity_headers);
    if api.domain_name() != api_domain {
        return Err(DemoError::Setup(format!(
            "the API's domain {} is not {api_domain}",
            api.domain_name()
        )));
    }
    if let Some(keyed) = &keyed_stage {
        api = api.with_api_keys(Arc::clone(&keyed.stage));
    }
    let api = Arc::new(api);
    let (api_listener, api_addr) = listen().await?;
    let api_for_server = Arc::clone(&api);
    tokio::spawn(http::serve(api_listener, move |req| {
        let api = Arc::clone(&api_for_server);
        async move { api.handle(req).await }
    }));

    // The WAF target: a regional web ACL in front of the API, allowing the header value.
    let origin_addr = match &web_acl {
        Some(acl) => {
            let client = aws_sdk_wafv2::Client::new(&sdk);
            let gate = Arc::new(waf::WafGate::start(client, acl, api_addr).await);
            let (gate_listener, gate_addr) = listen().await?;
            tokio::spawn(http::serve(gate_listener, move |req| {
                let gate = Arc::clone(&gate);
                async move { gate.handle(req).await }
            }));
            gate_addr
        }
        None => api_addr,
    };

    let mut distribution =
        world::distribution_config(&api.domain_name(), STAGE, &aws.first_version_arn)?;
    if let Some(value) = &static_value {
        distribution = modes::static_header_distribution(
            distribution,
            modes::origin_header_name(settings.mode),
            value,
        )?;
    }
    control.insert(DISTRIBUTION_ID, distribution);
    let captures = Arc::new(CaptureLog::default());
    let cdn = Arc::new(CloudFront::new(
        control.clone(),
        DISTRIBUTION_ID,
        Arc::clone(&edges),
        HashMap::from([(api.domain_name(), origin_addr)]),
        Arc::clone(&captures),
    ));
    let (cdn_listener, cdn_addr) = listen().await?;
    let cdn_for_server = Arc::clone(&cdn);
    tokio::spawn(http::serve(cdn_listener, move |req| {
        let cdn = Arc::clone(&cdn_for_server);
        async move { cdn.handle(req).await }
    }));

    // The rotator, in-process, against moto and the CloudFront fake.
    let rotator_env = stack::rotator_env(
        &rendered,
        &physical,
        stack::RotatorLocal {
            api_domain: &api_domain,
            origin_addr,
            edge_assets_dir: &settings.edge_assets_dir,
            target: web_acl
                .iter()
                .flat_map(waf::rotator_env)
                .chain(
                    keyed_stage
                        .iter()
                        .flat_map(|k| api_key::rotator_env(k, previous_grace_secs(settings))),
                )
                .collect(),
        },
    )?;
    let config = edgeseal_rotator::Config::from_lookup(|name| rotator_env.get(name).cloned())
        .map_err(|e| rendered.error(format!("the rotator refuses its environment: {e}")))?;
    world::record_rotator_environment(
        &aws_sdk_lambda::Client::new(&sdk),
        &aws.rotation_lambda_arn,
        &rotator_env,
    )
    .await?;
    let secrets_sdk = edgeseal_testkit::sdk_config_for(&secrets_manager_url).await;
    let lambda = Hooked::with_hooks(SdkLambda::new(&sdk), Recording::new(Arc::clone(&edges)));
    let secrets = SdkSecrets::new(&secrets_sdk);
    let rotator_cdn = rotator_cloudfront.clone();
    let setup = |e: edgeseal_rotator::SetupError| DemoError::Setup(format!("rotator: {e}"));
    let rotator: DemoRotator = match settings.mode {
        TargetKind::Waf => {
            let target = WafTarget::from_config(&config, rotator_cdn, SdkWaf::new(&sdk, None))
                .map_err(setup)?;
            Box::new(Rotator::new(config, secrets, target))
        }
        TargetKind::ApiKey => {
            let keys = api_key::usage_plan_keys(&sdk);
            let target = ApiKeyTarget::from_config(&config, keys, rotator_cdn).map_err(setup)?;
            Box::new(Rotator::new(config, secrets, target))
        }
        TargetKind::Signed => {
            let target =
                SignedTarget::from_config(&config, lambda, rotator_cdn, assets).map_err(setup)?;
            Box::new(Rotator::new(config, secrets, target))
        }
        TargetKind::StaticHeader => {
            let target = StaticHeaderTarget::from_config(&config, rotator_cdn).map_err(setup)?;
            Box::new(Rotator::new(config, secrets, target))
        }
        TargetKind::AppSyncApiKey => {
            return Err(DemoError::Config(
                "--target appsync-api-key runs its own world (appsync::run)".into(),
            ));
        }
    };

    // Warm up: one request through the whole path before the clock starts.
    let targets = Targets {
        cloudfront: format!("http://{cdn_addr}"),
        cloudfront_host: cdn.domain_name.clone(),
        origin: format!("http://{origin_addr}"),
        origin_host: api.domain_name(),
        stage: STAGE.to_owned(),
        captures: Arc::clone(&captures),
    };
    let init_failure = || {
        stack::authorizer_init_failure(
            &settings.out_dir,
            AUTHORIZER_FUNCTION,
            settings.authorizer_processes,
        )
    };
    warm_up_checked(&targets, &init_failure, settings.propagation).await?;
    Ok(Stack {
        sdk,
        aws,
        control,
        edges,
        authorizer,
        api,
        cdn,
        targets,
        rotator,
        chaos,
        template: rendered,
        rotation,
    })
}

/// Run the demo.
pub async fn run(settings: &Settings) -> Result<Report, DemoError> {
    let stack = start(settings).await?;
    let report = run_on(&stack, settings).await;
    if let Ok(a) = Arc::try_unwrap(stack.authorizer) {
        a.stop().await;
    }
    report
}

/// The scripted run (traffic, attacks, rotations) on a stack [`start`] started, which
/// stays up afterwards (`--serve` keeps answering on it).
pub async fn run_on(stack: &Stack, settings: &Settings) -> Result<Report, DemoError> {
    let Stack {
        aws,
        authorizer,
        api,
        targets,
        rotator,
        edges,
        chaos,
        template: rendered,
        rotation: rotation_settings,
        ..
    } = stack;
    let chaos = chaos.clone();

    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(traffic::legitimate(
        targets.clone(),
        Arc::clone(&recorder),
        started,
        settings.rate,
        Arc::clone(&stop),
    )));
    tasks.push(tokio::spawn(traffic::attacks(
        targets.clone(),
        Arc::clone(&recorder),
        started,
        settings.attack_rate,
        Duration::from_secs(settings.max_age_secs + 1),
        Arc::clone(&stop),
    )));
    if settings.progress {
        tasks.push(tokio::spawn(progress(
            Arc::clone(&recorder),
            Arc::clone(&stop),
            Arc::clone(&phase),
            settings.rotations,
        )));
    }

    if let Some(c) = &chaos {
        tasks.push(tokio::spawn(Arc::clone(c).run(
            Arc::clone(authorizer),
            started,
            settings.duration,
        )));
    }

    // Rotations, evenly spread over the middle of the run, each retried until it
    // completes (the run may go on past `--seconds` for the last one, within a bound).
    let authorizer_rss_at_start = authorizer.peak_rss_by_process();
    let mut timeline = Vec::new();
    let mut failed_rotations = Vec::new();
    let mut step_timings = Vec::new();
    let mut driver = Driver {
        rotator,
        aws,
        timeout: settings.rotator_timeout,
        started,
        timeline: &mut timeline,
        timings: &mut step_timings,
    };
    if !rotation_settings.rotate_immediately
        && let Err(e) = driver.configuration_test().await
    {
        failed_rotations.push(e.to_string());
    }
    let plan = schedule::Plan::even(
        settings.rotations,
        settings.duration,
        schedule::overtime_bound(settings.propagation, settings.rotator_timeout),
        schedule::RetryCadence::DEMO,
    );
    let rotations = schedule::run_rotations(&mut driver, &plan, chaos.as_deref(), &phase).await;
    failed_rotations.extend(rotations.iter().filter_map(|r| match &r.fate {
        schedule::Fate::Failed { error, .. } => {
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
    let authorizer_peak_rss_kib = authorizer.peak_rss_kib();
    let authorizer_rss = report::RssAtStartAndEnd {
        start: authorizer_rss_at_start,
        end: authorizer.peak_rss_by_process(),
    };
    let verdicts = authorizer_log::verdicts(
        &settings.out_dir,
        AUTHORIZER_FUNCTION,
        settings.authorizer_processes,
    );
    let reasons = authorizer_log::by_reason(&verdicts);
    let chart = settings.out_dir.join("timeline.svg");
    std::fs::write(&chart, report::svg(&outcomes, &timeline, seconds))
        .map_err(|e| DemoError::Setup(format!("writing the chart: {e}")))?;
    let chaos = chaos.map(|c| c.report(&outcomes, &verdicts, authorizer.lives(), started));
    let mut summary = template::summary_line(rendered, rotation_settings);
    summary.push_str(&report::summary(&outcomes, &reasons, &timeline, seconds));
    if let Some(keys) = &api.api_keys {
        // With API keys, API Gateway decides and the authorizer is never invoked.
        let (admitted, refused) = keys.verdicts();
        summary.push_str(&format!(
            "\nAPI Gateway's API key check (no authorizer): admitted {admitted}, refused {refused} (403)\n"
        ));
    }
    if let Some(c) = &chaos {
        summary.push_str(&c.summary());
    }
    summary.push_str(&report::longest_step_line(&step_timings));
    summary.push_str(&report::rotations(
        &rotations,
        settings.duration.as_secs_f64(),
        seconds,
        plan.overtime.as_secs_f64(),
    ));
    let edge_versions = edges.len();
    Ok(Report {
        outcomes,
        timeline,
        reasons,
        seconds,
        summary,
        chart,
        edge_versions,
        authorizer_peak_rss_kib,
        authorizer_rss,
        failed_rotations,
        rotations,
        chaos,
        step_timings,
    })
}

/// The verifier's previous-key grace, scaled as in production (see the rotator README's
/// timing model): at least the propagation plus the max age plus time for the
/// rotation itself, so `--propagation-secs` beyond the default grace stays safe.
fn previous_grace_secs(settings: &Settings) -> u64 {
    let rotation_secs = 4 * settings.rotator_timeout.as_secs().min(10);
    settings
        .previous_grace_secs
        .max(settings.propagation.as_secs() + settings.max_age_secs + rotation_secs)
}

async fn warm_up(targets: &Targets) -> Result<(), DemoError> {
    warm_up_checked(targets, &|| None, Duration::ZERO).await
}

/// One request through the whole path before the clock starts, retried while the
/// stack settles (within CloudFront's propagation plus 10 s); an authorizer that cannot
/// start ends it at once.
async fn warm_up_checked(
    targets: &Targets,
    init_failure: &dyn Fn() -> Option<String>,
    propagation: Duration,
) -> Result<(), DemoError> {
    let client = http::client();
    let recorder = Recorder::default();
    let started = Instant::now();
    let until = Instant::now() + propagation + Duration::from_secs(10);
    while Instant::now() < until {
        if let Some(why) = init_failure() {
            return Err(DemoError::Setup(format!(
                "the authorizer cannot start: {why}"
            )));
        }
        traffic::send(
            &client,
            &recorder,
            started,
            Kind::Legitimate,
            &format!("{}/health", targets.cloudfront),
            &targets.cloudfront_host,
            &[],
        )
        .await;
        if recorder.snapshot().last().is_some_and(Outcome::allowed) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last = recorder.snapshot().last().map_or(0, |o| o.status);
    Err(DemoError::Setup(format!(
        "the first request through the stack did not succeed (last status {last}); see the logs in the output directory"
    )))
}

async fn progress(
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicUsize>,
    rotations: usize,
) {
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let outcomes = recorder.snapshot();
        let legit_ok = outcomes
            .iter()
            .filter(|o| o.kind == Kind::Legitimate && o.allowed())
            .count();
        let (legit_rejected, attacks_passed) = report::mistakes(&outcomes);
        let attacks_denied = outcomes
            .iter()
            .filter(|o| o.kind != Kind::Legitimate && !o.allowed())
            .count();
        eprint!(
            "\r{:>5.1}s  requests {:>6}  legitimate ok {:>6} rejected {:>3}  attacks denied {:>5} passed {:>2}  rotation {}/{}   ",
            started.elapsed().as_secs_f64(),
            outcomes.len(),
            legit_ok,
            legit_rejected,
            attacks_denied,
            attacks_passed,
            phase.load(Ordering::Relaxed),
            rotations
        );
    }
    eprintln!();
}

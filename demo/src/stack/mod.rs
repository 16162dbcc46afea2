//! The local stack, built as `deploy/template.yaml` says: the AWS side on moto
//! ([`aws`], [`iam`]), the template and each function's environment ([`template`],
//! [`environment`]), and the stand-ins for what moto lacks: CloudFront ([`cloudfront`],
//! its control plane over HTTP [`cloudfront_api`], the edge's Node.js workers
//! [`edge_worker`]), API Gateway ([`apigw`]) with the real authorizer under a Lambda
//! Runtime API emulator ([`runtime_api`], its verdicts read back by [`authorizer_log`]),
//! the load balancer of `--origin alb` ([`alb`]), and the loopback HTTP plumbing they
//! share ([`http`]).

pub mod alb;
pub mod apigw;
pub mod authorizer_log;
pub mod aws;
pub mod cloudfront;
pub mod cloudfront_api;
pub mod edge_worker;
pub mod environment;
pub mod http;
pub mod iam;
pub mod runtime_api;
pub mod template;

use std::collections::HashMap;
use std::sync::Arc;

use edgeseal_edge_signer::EdgeAssets;
use edgeseal_rotator::SdkWaf;
use edgeseal_rotator::{
    ApiKeyTarget, Rotator, SignedTarget, StaticHeaderTarget, TargetKind, WafTarget,
};
use edgeseal_rotator::{SdkLambda, SdkSecrets};
use edgeseal_testkit::{FakeCloudFront, Hooked};
use tokio::net::TcpListener;

use crate::DemoError;
use crate::run::traffic::{CaptureLog, Targets};
use crate::scenarios;
use crate::scenarios::chaos::{Chaos, FaultableCloudFront};
use crate::settings::{Settings, previous_grace_secs};
use apigw::ApiGateway;
use aws::{AwsWorld, DemoRotator, Recording};
use cloudfront::{CloudFront, EdgeVersions};
use runtime_api::LambdaFunction;

/// The example API's stage (the distribution's origin path).
pub const STAGE: &str = "prod";
/// The example API's id (its execute-api domain's first label).
pub(crate) const API_ID: &str = "a1b2c3d4e5";
/// The distribution's id in the CloudFront control-plane fake.
pub const DISTRIBUTION_ID: &str = "EDEMO0000001";
/// The signature label the edge and the verifiers use.
pub(crate) const LABEL: &str = edgeseal::DEFAULT_LABEL;
/// The authorizer's function name (and the stem of its log files).
pub(crate) const AUTHORIZER_FUNCTION: &str = "origin-verifier";

/// A loopback listener on a free port, and its address.
pub(crate) async fn listen() -> Result<(TcpListener, std::net::SocketAddr), DemoError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Setup(format!("bind: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    Ok((listener, addr))
}

/// The local stack, up and answering, before any traffic or rotation: what
/// [`crate::run_on`] drives, and what `edgeseal doctor`'s tests inspect.
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
    let parameters = environment::base_parameters(settings, previous_grace_secs(settings), STAGE)?;
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
    let signing = environment::edge_signing(&rendered)?;
    let aws = aws::create_from_template(
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
            Some(scenarios::static_header::use_static_header_secret(&aws).await?)
        }
        TargetKind::AppSyncApiKey => {
            return Err(DemoError::Config(
                "--target appsync-api-key runs its own world (run_appsync)".into(),
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
        (TargetKind::ApiKey, Some(value)) => Some(scenarios::api_key::create(&sdk, value).await?),
        _ => None,
    };
    let web_acl = match (settings.mode, &static_value) {
        (TargetKind::Waf, Some(value)) => {
            Some(scenarios::waf::create_web_acl(&aws_sdk_wafv2::Client::new(&sdk), value).await?)
        }
        _ => None,
    };
    let mut target_parameters = Vec::new();
    if let Some(acl) = &web_acl {
        target_parameters.extend(environment::waf_parameters(
            acl,
            &api_domain,
            DISTRIBUTION_ID,
        )?);
    }
    if let Some(keyed) = &keyed_stage {
        target_parameters.extend(environment::api_key_parameters(
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
    let physical = environment::physical(&rendered, &aws, API_ID, DISTRIBUTION_ID)?;
    let authorizer_env = environment::authorizer_env(
        &rendered,
        &physical,
        settings,
        environment::AuthorizerLocal {
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
            let gate = Arc::new(scenarios::waf::WafGate::start(client, acl, api_addr).await);
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
        aws::distribution_config(&api.domain_name(), STAGE, &aws.first_version_arn)?;
    if let Some(value) = &static_value {
        distribution = scenarios::static_header::static_header_distribution(
            distribution,
            scenarios::origin_header_name(settings.mode),
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
    let rotator_env = environment::rotator_env(
        &rendered,
        &physical,
        environment::RotatorLocal {
            api_domain: &api_domain,
            origin_addr,
            edge_assets_dir: &settings.edge_assets_dir,
            target: web_acl
                .iter()
                .flat_map(scenarios::waf::rotator_env)
                .chain(keyed_stage.iter().flat_map(|k| {
                    scenarios::api_key::rotator_env(k, previous_grace_secs(settings))
                }))
                .collect(),
        },
    )?;
    let config = edgeseal_rotator::Config::from_lookup(|name| rotator_env.get(name).cloned())
        .map_err(|e| rendered.error(format!("the rotator refuses its environment: {e}")))?;
    aws::record_rotator_environment(
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
            let keys = scenarios::api_key::usage_plan_keys(&sdk);
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
                "--target appsync-api-key runs its own world (run_appsync)".into(),
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
        environment::authorizer_init_failure(
            &settings.out_dir,
            AUTHORIZER_FUNCTION,
            settings.authorizer_processes,
        )
    };
    crate::run::warm_up_checked(&targets, &init_failure, settings.propagation).await?;
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

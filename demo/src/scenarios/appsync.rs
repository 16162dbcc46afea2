//! `--target appsync-api-key`: an AppSync API whose clients read their API key from the
//! secret, rotating under load.
//!
//! moto holds the GraphQL API, its keys and the secret; `edgeseal_testkit`'s GraphQL
//! endpoint accepts exactly the keys AppSync would (listed and unexpired). Clients are
//! built as the AWS blog's are: each reads `{"APIKEY": …}` from AWSCURRENT through a cache
//! with a TTL (as AWS's Secrets Manager caching clients do) and sends it in `x-api-key`.
//! A rotation must never leave one of them holding a key AppSync refuses. One more
//! client keeps the key it read first forever (a leaked or forgotten copy): it must be
//! refused once the grace after that key's retirement is over and a rotation deleted it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use edgeseal::StaticHeaderValue;
use edgeseal_rotator::{AppSyncKeys as _, GraphqlProbe, SdkAppSync};
use edgeseal_testkit::appsync::{GraphqlEndpoint, SecretKeyClient, SkewedClock};
use edgeseal_testkit::world::{self, NewSecret};

use crate::DemoError;

/// The secret's JSON field (the blog's).
pub const SECRET_FIELD: &str = "APIKEY";
/// How long clients cache the secret: well inside the demo's grace.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);
/// The demo's `PREVIOUS_KEY_GRACE_SECS`: short, so that a 40-second run sees an old key
/// deleted; longer than [`CLIENT_CACHE_TTL`], so no client holds it then.
pub const DEMO_GRACE_SECS: u64 = 8;

/// The AWS side on moto.
pub struct AppSyncWorld {
    /// Secrets Manager client.
    pub sm: aws_sdk_secretsmanager::Client,
    /// AppSync through the SDK.
    pub appsync: SdkAppSync,
    /// The GraphQL API's id.
    pub api_id: String,
    /// The secret's name.
    pub secret: String,
    /// The key the blog's stack made before edgeseal took over.
    pub first_key: StaticHeaderValue,
    /// The loopback GraphQL endpoint.
    pub endpoint: GraphqlEndpoint<SdkAppSync>,
}

/// Create the API, its first key (as the blog's setup made it: AppSync's default 7
/// days) and the secret holding it.
pub async fn create_world(
    sdk: &aws_config::SdkConfig,
    run: &str,
) -> Result<AppSyncWorld, DemoError> {
    let raw = aws_sdk_appsync::Client::new(sdk);
    let api_id = world::create_api_key_graphql_api(&raw, &format!("edgeseal-demo-{run}"))
        .await
        .map_err(|e| DemoError::Setup(format!("AppSync {e}")))?;
    let appsync = SdkAppSync::new(sdk);
    let week = edgeseal::UnixTime::now().plus_secs(7 * 86_400);
    let first_key = appsync
        .create_api_key(&api_id, "made by the blog's rotation setup", week)
        .await
        .map_err(|e| DemoError::Setup(format!("AppSync CreateApiKey: {e}")))?
        .key;
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let secret = format!("edgeseal-demo-appsync-{run}");
    let token = crate::stack::aws::new_token()?;
    let value = edgeseal::static_header_secret_json(SECRET_FIELD, &first_key);
    world::create_secret(&sm, &NewSecret::new(&secret, value.as_str()).token(&token))
        .await
        .map_err(|e| DemoError::Setup(format!("Secrets Manager {e}")))?;
    let endpoint = GraphqlEndpoint::start(appsync.clone(), &api_id, SkewedClock::new())
        .await
        .map_err(|e| DemoError::Setup(format!("GraphQL endpoint: {e}")))?;
    Ok(AppSyncWorld {
        sm,
        appsync,
        api_id,
        secret,
        first_key,
        endpoint,
    })
}

/// Requests and their verdicts, counted as they happen.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests of clients reading the secret.
    pub sent: AtomicU64,
    /// Of those, refused.
    pub refused: AtomicU64,
    /// Of those, failed otherwise (transport, secret unreadable).
    pub failed: AtomicU64,
    /// Requests of the client that kept the first key.
    pub stale_sent: AtomicU64,
    /// Of those, refused.
    pub stale_refused: AtomicU64,
    /// Seconds since the start at which the stale key was first refused (0: never).
    pub stale_refused_at_ms: AtomicU64,
}

/// Legitimate clients (`clients` of them, `rate` requests a second in all) and the
/// stale one, until `stop`.
pub async fn traffic(
    world: Arc<AppSyncWorld>,
    counts: Arc<Counts>,
    clients: usize,
    rate: u32,
    started: Instant,
    stop: Arc<AtomicBool>,
) {
    let probe = GraphqlProbe::new(
        edgeseal_rotator::testing::appsync::DEFAULT_TEST_QUERY,
        Duration::from_secs(5),
    );
    let url: http::Uri = match world.endpoint.url().parse() {
        Ok(url) => url,
        Err(_) => return,
    };
    let clients = clients.max(1);
    let interval = Duration::from_secs_f64(clients as f64 / f64::from(rate.max(1)))
        .max(Duration::from_millis(1));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = SecretKeyClient::new(
            world.sm.clone(),
            &world.secret,
            SECRET_FIELD,
            CLIENT_CACHE_TTL,
        );
        let (probe, url, counts, stop) = (
            probe.clone(),
            url.clone(),
            Arc::clone(&counts),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                counts.sent.fetch_add(1, Ordering::Relaxed);
                match client.key().await {
                    Ok(key) => match probe.query(&url, &key).await {
                        Ok(()) => {}
                        Err(e) if e.is_refused_key() => {
                            counts.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                    Err(_) => {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let stale = world.first_key.clone();
    let stale_interval = Duration::from_millis(250);
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(stale_interval);
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            counts.stale_sent.fetch_add(1, Ordering::Relaxed);
            if probe
                .query(&url, &stale)
                .await
                .is_err_and(|e| e.is_refused_key())
            {
                counts.stale_refused.fetch_add(1, Ordering::Relaxed);
                let at = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let _ = counts.stale_refused_at_ms.compare_exchange(
                    0,
                    at,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }));
    for task in tasks {
        let _ = task.await;
    }
}

/// What to run (`--target appsync-api-key`).
#[derive(Clone, Debug)]
pub struct AppSyncDemoSettings {
    /// moto server.
    pub moto_url: String,
    /// How long traffic runs.
    pub duration: Duration,
    /// Rotations, evenly spread over the run.
    pub rotations: usize,
    /// Legitimate requests per second, in all.
    pub rate: u32,
    /// The rotator Lambda's timeout: each step's deadline.
    pub rotator_timeout: Duration,
}

/// What happened.
#[derive(Debug)]
pub struct AppSyncReport {
    /// The text summary.
    pub summary: String,
    /// Legitimate requests refused or failed.
    pub legitimate_failures: u64,
    /// Rotations that did not complete, with why.
    pub failed_rotations: Vec<String>,
    /// Whether the key kept by the stale client was refused by the end (expected once a
    /// rotation after its grace deleted it).
    pub stale_key_refused: bool,
}

impl AppSyncReport {
    /// Whether the run showed what it should: no legitimate request refused, every
    /// rotation completed, and (with two rotations or more) the forgotten key refused.
    pub fn passed(&self, rotations: usize) -> bool {
        self.legitimate_failures == 0
            && self.failed_rotations.is_empty()
            && (rotations < 2 || self.stale_key_refused)
    }
}

/// Run the AppSync demo: the world, the clients, the rotations, the summary.
pub async fn run_appsync(settings: &AppSyncDemoSettings) -> Result<AppSyncReport, DemoError> {
    use edgeseal_rotator::{Config, RotationEvent, Rotator, Step};

    let sdk = edgeseal_testkit::sdk_config_for(&settings.moto_url).await;
    let run = crate::stack::aws::run_id();
    let world = Arc::new(create_world(&sdk, &run).await?);
    let role = crate::stack::iam::create_lambda_role(&sdk, &format!("edgeseal-demo-{run}")).await?;
    let lambda_arn =
        crate::stack::aws::rotation_function(&aws_sdk_lambda::Client::new(&sdk), &role, &run)
            .await?;

    let grace = DEMO_GRACE_SECS.to_string();
    let vars = [
        ("ROTATION_TARGET", "appsync-api-key"),
        ("AppSyncApiId", world.api_id.as_str()),
        ("APPSYNC_GRAPHQL_URL", world.endpoint.url()),
        ("PREVIOUS_KEY_GRACE_SECS", grace.as_str()),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .map_err(|e| DemoError::Config(e.to_string()))?;
    // No distribution configured: the demo's clients call the GraphQL endpoint directly.
    let target = edgeseal_rotator::AppSyncTarget::from_config(
        &config,
        world.appsync.clone(),
        edgeseal_rotator::SdkCloudFront::new(&sdk),
    )
    .map_err(|e| DemoError::Config(e.to_string()))?;
    let rotator = Rotator::new(config, edgeseal_rotator::SdkSecrets::new(&sdk), target);

    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let traffic = tokio::spawn(traffic(
        Arc::clone(&world),
        Arc::clone(&counts),
        4,
        settings.rate,
        started,
        Arc::clone(&stop),
    ));

    let mut timeline = Vec::new();
    let mut failed_rotations = Vec::new();
    let mut longest = Duration::ZERO;
    let spacing = settings.duration.div_f64(settings.rotations as f64 + 1.0);
    for rotation in 1..=settings.rotations {
        tokio::time::sleep(
            spacing
                .mul_f64(rotation as f64)
                .saturating_sub(started.elapsed()),
        )
        .await;
        let token = edgeseal_testkit::start_rotation(&world.sm, &world.secret, &lambda_arn)
            .await
            .map_err(DemoError::Aws)?;
        let mut completed = false;
        let mut last_error = String::new();
        // A failed step restarts the rotation a moment later, as Secrets Manager retries.
        'attempts: for _ in 0..3 {
            for step in Step::ALL {
                let event = RotationEvent {
                    step,
                    secret_id: world.secret.clone(),
                    client_request_token: token.clone(),
                    rotation_token: None,
                };
                let began = Instant::now();
                let deadline = tokio::time::Instant::now() + settings.rotator_timeout;
                let result = rotator.run(&event, deadline).await;
                longest = longest.max(began.elapsed());
                let at = started.elapsed().as_secs_f64();
                match result {
                    Ok(_) => {
                        timeline.push(format!("  {at:6.1} s  rotation {rotation}: {step} done"))
                    }
                    Err(e) => {
                        last_error = format!("{step}: {e} [{}]", e.error_type());
                        timeline.push(format!("  {at:6.1} s  rotation {rotation}: {last_error}"));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue 'attempts;
                    }
                }
            }
            completed = true;
            break;
        }
        if !completed {
            failed_rotations.push(format!("rotation {rotation}: {last_error}"));
        }
    }
    tokio::time::sleep(settings.duration.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    let _ = traffic.await;

    let listed = world
        .appsync
        .list_api_keys(&world.api_id)
        .await
        .map_err(|e| DemoError::Aws(e.to_string()))?;
    let made_by_edgeseal = listed
        .iter()
        .filter(|k| {
            k.description
                .as_deref()
                .is_some_and(|d| d.starts_with("edgeseal key for"))
        })
        .count();
    let first_key_listed = listed.iter().any(|k| k.key == world.first_key);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let (sent, refused, failed) = (
        load(&counts.sent),
        load(&counts.refused),
        load(&counts.failed),
    );
    let (stale_sent, stale_refused) = (load(&counts.stale_sent), load(&counts.stale_refused));
    let stale_since = load(&counts.stale_refused_at_ms);
    let mut summary = format!(
        "edgeseal demo, target appsync-api-key: an AppSync API (moto) whose clients read their key from the secret\n\
         Rotations: {} of {} completed; longest step {} ms; grace {DEMO_GRACE_SECS} s; client cache {} s\n",
        settings.rotations - failed_rotations.len(),
        settings.rotations,
        longest.as_millis(),
        CLIENT_CACHE_TTL.as_secs(),
    );
    for line in &timeline {
        summary.push_str(line);
        summary.push('\n');
    }
    summary.push_str(&format!(
        "Legitimate requests: {sent} sent, {refused} refused by AppSync, {failed} failed otherwise\n\
         Forgotten copy of the first key: {stale_sent} sent, {stale_refused} refused{}\n\
         API keys at the end: {} listed ({made_by_edgeseal} made by edgeseal); the first key {}\n",
        if stale_since > 0 {
            format!(" (from {:.1} s on)", stale_since as f64 / 1000.0)
        } else {
            String::new()
        },
        listed.len(),
        if first_key_listed { "still exists" } else { "was deleted after its grace" },
    ));
    Ok(AppSyncReport {
        summary,
        legitimate_failures: refused + failed,
        failed_rotations,
        stale_key_refused: stale_refused > 0 && !first_key_listed,
    })
}

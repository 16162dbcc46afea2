//! Target `appsync-api-key`, whole rotations through the rotator: moto (Secrets Manager,
//! AppSync API keys) through the real SDK, AppSync's rules moto lacks applied by
//! `edgeseal_testkit::appsync::AwsKeyRules`, and a loopback GraphQL endpoint that accepts
//! exactly the keys AppSync would. Clients read the key from the secret as the AWS blog's
//! clients do; the invariant checked after every step is that AppSync accepts the key
//! such a client holds (AWSCURRENT, or AWSPREVIOUS while its cache may still hold it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgeseal::StaticHeaderValue;
use edgeseal_rotator::Op;
use edgeseal_rotator::SdkSecrets;
use edgeseal_rotator::testing::appsync::{KeyMarker, PendingRetry};
use edgeseal_rotator::{AppSyncKeys, AppSyncTarget, GraphqlProbe, SdkAppSync};
use edgeseal_rotator::{Config, Outcome, RotationEvent, Rotator, Step};
use edgeseal_testkit::appsync::{AwsKeyRules, GraphqlEndpoint, SecretKeyClient, SkewedClock};
use edgeseal_testkit::world::{self, NewFunction, NewSecret};
use edgeseal_testkit::{FakeCloudFront, FaultPlan, FaultTiming, Faulty};

type Keys = Faulty<AwsKeyRules<SdkAppSync>>;
type TestRotator = Rotator<Faulty<SdkSecrets>, AppSyncTarget<Faulty<FakeCloudFront>, Keys>>;

const FIELD: &str = "APIKEY";
const GRACE_SECS: u64 = 3600;
const QUICK: PendingRetry = PendingRetry {
    attempts: 3,
    delay: Duration::from_millis(200),
};

struct World {
    sdk: aws_config::SdkConfig,
    sm: aws_sdk_secretsmanager::Client,
    keys: AwsKeyRules<SdkAppSync>,
    api_id: String,
    secret: String,
    rotation_lambda_arn: String,
    clock: SkewedClock,
    endpoint: GraphqlEndpoint<SdkAppSync>,
    /// The key the prior art's stack stored before edgeseal.
    prior_key: StaticHeaderValue,
    cdn: FakeCloudFront,
    /// When AppSync sits behind CloudFront: the distribution sending the key as
    /// `x-api-key` (set up as the operator would: the current key already in it).
    distribution: Option<String>,
    /// How many of the distribution's configs the invariant has seen.
    seen_history: Mutex<usize>,
}

/// A distribution whose one origin is the GraphQL endpoint, sending `key` as the origin
/// custom header `x-api-key` (the only header AppSync reads a key from).
fn appsync_distribution(
    endpoint: &str,
    key: &str,
) -> aws_sdk_cloudfront::types::DistributionConfig {
    let domain = endpoint
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("127.0.0.1");
    world::Distribution::new("appsync", domain, "AppSync behind CloudFront")
        .header("x-api-key", key)
        .build()
        .unwrap()
}

impl World {
    async fn new() -> Self {
        Self::build(false).await
    }

    /// AppSync behind CloudFront: a distribution sends the current key as `x-api-key`,
    /// deploying for an hour after each change (AWS's minutes, never finished inside a
    /// rotation) until [`FakeCloudFront::complete_deployments`].
    async fn behind_cloudfront() -> Self {
        Self::build(true).await
    }

    async fn build(behind_cloudfront: bool) -> Self {
        let sdk = edgeseal_testkit::sdk_config().await;
        let raw = aws_sdk_appsync::Client::new(&sdk);
        let api_id = world::create_api_key_graphql_api(&raw, &edgeseal_testkit::unique_name("api"))
            .await
            .unwrap();
        let clock = SkewedClock::new();
        let keys = AwsKeyRules::new(SdkAppSync::new(&sdk), clock.clone());
        // As the blog's stack made it: AppSync's default 7 days, its own description.
        let prior_key = keys
            .create_api_key(
                &api_id,
                "AppSync API key",
                clock.now().plus_secs(7 * 86_400),
            )
            .await
            .unwrap()
            .key;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let secret = edgeseal_testkit::unique_name("edgeseal/appsync");
        let value = edgeseal::static_header_secret_json(FIELD, &prior_key);
        world::create_secret(&sm, &NewSecret::new(&secret, value.as_str()))
            .await
            .unwrap();
        let iam = aws_sdk_iam::Client::new(&sdk);
        let role = iam
            .create_role()
            .role_name(edgeseal_testkit::unique_name("role"))
            .assume_role_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .arn;
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let rotation_lambda_arn = world::create_function(
            &lambda,
            NewFunction::rotation_stand_in(&edgeseal_testkit::unique_name("rotator"), &role),
        )
        .await
        .unwrap()
        .arn;
        let endpoint = GraphqlEndpoint::start(SdkAppSync::new(&sdk), &api_id, clock.clone())
            .await
            .unwrap();
        let cdn = FakeCloudFront::new(Duration::from_secs(3600));
        let distribution = behind_cloudfront.then(|| {
            let id: String = edgeseal_testkit::unique_name("E")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_uppercase();
            cdn.insert(
                &id,
                appsync_distribution(endpoint.url(), prior_key.expose()),
            );
            id
        });
        Self {
            cdn,
            distribution,
            seen_history: Mutex::new(0),
            sdk,
            sm,
            keys,
            api_id,
            secret,
            rotation_lambda_arn,
            clock,
            endpoint,
            prior_key,
        }
    }

    fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars: BTreeMap<String, String> = [
            ("ROTATION_TARGET", "appsync-api-key"),
            ("AppSyncApiId", self.api_id.as_str()),
            ("APPSYNC_GRAPHQL_URL", self.endpoint.url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let grace = GRACE_SECS.to_string();
        vars.insert("PREVIOUS_KEY_GRACE_SECS".into(), grace);
        if let Some(id) = &self.distribution {
            vars.insert("CLOUDFRONT_DISTRIBUTION_ID".into(), id.clone());
        }
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
    }

    fn rotator_with(&self, config: Config, plan: Arc<FaultPlan>) -> TestRotator {
        let keys: Keys = Faulty::new(
            AwsKeyRules::new(SdkAppSync::new(&self.sdk), self.clock.clone())
                .with_graphql_url(self.endpoint.url()),
            plan.clone(),
        );
        let clock = self.clock.clone();
        let cdn = Faulty::new(self.cdn.clone(), plan.clone());
        let target = AppSyncTarget::from_config(&config, keys, cdn)
            .unwrap()
            .with_clock(Arc::new(move || clock.now()))
            .with_retry(QUICK);
        Rotator::new(
            config,
            Faulty::new(SdkSecrets::new(&self.sdk), plan),
            target,
        )
    }

    fn rotator(&self, plan: Arc<FaultPlan>) -> TestRotator {
        self.rotator_with(self.config(&[]), plan)
    }

    async fn start_rotation(&self) -> String {
        edgeseal_testkit::start_rotation(&self.sm, &self.secret, &self.rotation_lambda_arn)
            .await
            .unwrap()
    }

    fn event(&self, step: Step, token: &str) -> RotationEvent {
        RotationEvent {
            step,
            secret_id: self.secret.clone(),
            client_request_token: token.to_owned(),
            rotation_token: None,
        }
    }

    async fn run(&self, rotator: &TestRotator, step: Step, token: &str) -> Result<Outcome, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        rotator
            .run(&self.event(step, token), deadline)
            .await
            .map_err(|e| format!("{} [{}]", e, e.error_type()))
    }

    /// The key a stage's version holds, if any.
    async fn key_of(&self, stage: &str) -> Option<StaticHeaderValue> {
        let value = self
            .sm
            .get_secret_value()
            .secret_id(&self.secret)
            .version_stage(stage)
            .send()
            .await
            .ok()?;
        match edgeseal::SecretValue::parse(value.secret_string()?, Some(FIELD)).ok()? {
            edgeseal::SecretValue::StaticHeader(key) => Some(key),
            edgeseal::SecretValue::Hmac(_) => None,
        }
    }

    async fn current_version(&self) -> String {
        self.version_with("AWSCURRENT").await.unwrap()
    }

    async fn version_with(&self, stage: &str) -> Option<String> {
        let described = self
            .sm
            .describe_secret()
            .secret_id(&self.secret)
            .send()
            .await
            .unwrap();
        described
            .version_ids_to_stages()
            .unwrap()
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.clone())
    }

    async fn listed(&self) -> Vec<edgeseal_rotator::AppSyncApiKey> {
        self.keys.list_api_keys(&self.api_id).await.unwrap()
    }

    /// Keys edgeseal made for `token`.
    async fn keys_for(&self, token: &str) -> usize {
        self.listed()
            .await
            .iter()
            .filter_map(|k| k.description.as_deref().and_then(KeyMarker::parse))
            .filter(|m| m.belongs_to(&self.secret) && m.version_id == token)
            .count()
    }

    async fn accepted(&self, key: &StaticHeaderValue) -> bool {
        let probe = GraphqlProbe::new("{ __typename }", Duration::from_secs(5));
        probe
            .query(&self.endpoint.url().parse().unwrap(), key)
            .await
            .is_ok()
    }

    /// What a client may hold right now: AWSCURRENT, and AWSPREVIOUS (a cache filled
    /// before the labels moved). AppSync must accept both. Behind CloudFront, also every
    /// key an edge may send: each config edges may run, and each set since the last
    /// check.
    async fn check_invariants(&self) {
        for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
            if let Some(key) = self.key_of(stage).await {
                assert!(
                    self.accepted(&key).await,
                    "AppSync refuses the {stage} key a client may hold"
                );
            }
        }
        for key in self.keys_edges_may_send() {
            assert!(
                self.accepted(&key).await,
                "AppSync refuses a key CloudFront may send"
            );
        }
    }

    /// The `x-api-key` values of the configs edges may run now, and of every config set
    /// since the last call.
    fn keys_edges_may_send(&self) -> Vec<StaticHeaderValue> {
        let Some(id) = &self.distribution else {
            return Vec::new();
        };
        let history = self.cdn.history(id);
        let mut configs = self.cdn.live_configs(id);
        {
            let mut seen = self.seen_history.lock().unwrap();
            configs.extend(history.iter().skip(*seen).cloned());
            *seen = history.len();
        }
        configs
            .iter()
            .flat_map(|c| {
                edgeseal_rotator::custom_headers(c, "x-api-key")
                    .map(|v| StaticHeaderValue::new(v.to_owned()).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The key the distribution's latest config sends.
    fn sent(&self) -> StaticHeaderValue {
        let config = self
            .cdn
            .config(self.distribution.as_ref().unwrap())
            .unwrap();
        let sent: Vec<&str> = edgeseal_rotator::custom_headers(&config, "x-api-key").collect();
        assert_eq!(sent.len(), 1);
        StaticHeaderValue::new(sent[0].to_owned()).unwrap()
    }

    /// Secrets Manager's driving: the four steps in order; a failed step restarts the
    /// rotation with the same token. Checks the invariant after every step.
    async fn rotate_like_secrets_manager(
        &self,
        rotator: &TestRotator,
        token: &str,
        max_attempts: usize,
    ) -> (usize, Vec<String>) {
        self.rotate(rotator, token, max_attempts, true).await
    }

    /// [`Self::rotate_like_secrets_manager`], checking the invariant only when `check`
    /// (a world whose current key is already dead starts outside it).
    async fn rotate(
        &self,
        rotator: &TestRotator,
        token: &str,
        max_attempts: usize,
        check: bool,
    ) -> (usize, Vec<String>) {
        edgeseal_testkit::rotate_like_secrets_manager(
            max_attempts,
            |step| async move { self.run(rotator, step, token).await.map(drop) },
            || async move {
                if check {
                    self.check_invariants().await;
                }
            },
        )
        .await
        .unwrap_or_else(|errors| {
            panic!("rotation did not converge in {max_attempts} attempts: {errors:?}")
        })
    }

    async fn assert_rotated(&self, token: &str, previous: &str) {
        assert_eq!(self.current_version().await, token);
        assert_eq!(
            self.version_with("AWSPREVIOUS").await.as_deref(),
            Some(previous)
        );
        assert_eq!(self.keys_for(token).await, 1, "one API key per rotation");
        let current = self.key_of("AWSCURRENT").await.unwrap();
        assert!(self.accepted(&current).await);
    }
}

/// Clients reading the key from the secret (cache TTL 1 s) send requests until `stop`;
/// returns (sent, refused).
fn clients(w: &World, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, u64)> {
    let client = SecretKeyClient::new(w.sm.clone(), &w.secret, FIELD, Duration::from_secs(1));
    let url: http::Uri = w.endpoint.url().parse().unwrap();
    tokio::spawn(async move {
        let probe = GraphqlProbe::new("{ __typename }", Duration::from_secs(5));
        let (mut sent, mut refused) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let key = client.key().await.unwrap();
            sent += 1;
            if probe.query(&url, &key).await.is_err() {
                refused += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (sent, refused)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_with_every_step_run_twice_never_refuse_a_client() {
    let w = World::new().await;
    let rotator = w.rotator(FaultPlan::none());
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = clients(&w, stop.clone());
    let mut demoted = w.prior_key.clone();
    for _ in 0..2 {
        let token = w.start_rotation().await;
        let previous = w.current_version().await;
        for step in Step::ALL {
            assert_eq!(
                w.run(&rotator, step, &token).await,
                Ok(Outcome::Done),
                "{step}"
            );
            let keys = w.listed().await.len();
            let again = w.run(&rotator, step, &token).await;
            let expected = if step == Step::Finish {
                Outcome::AlreadyCurrent
            } else {
                Outcome::Done
            };
            assert_eq!(again, Ok(expected), "{step} run twice");
            assert_eq!(w.listed().await.len(), keys, "{step} run twice made a key");
            w.check_invariants().await;
            if step != Step::Finish {
                assert!(
                    w.accepted(&demoted).await,
                    "the old key lives through {step}"
                );
            }
        }
        w.assert_rotated(&token, &previous).await;
        let retired = w
            .listed()
            .await
            .into_iter()
            .find(|k| k.key == demoted)
            .unwrap();
        let marker = KeyMarker::parse(retired.description.as_deref().unwrap()).unwrap();
        assert_eq!(marker.version_id, previous);
        assert!(marker.retired_at.is_some());
        assert!(retired.expires <= w.clock.now().plus_secs(86_400 + 3_600));
        assert!(w.accepted(&demoted).await, "within the grace");
        demoted = w.key_of("AWSCURRENT").await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, refused) = traffic.await.unwrap();
    assert!(sent > 10, "{sent}");
    assert_eq!(refused, 0, "clients refused during the rotations");
    assert_eq!(
        w.listed().await.len(),
        3,
        "prior (retired), first (retired), current"
    );

    // Past the grace the next rotation deletes both retired keys.
    w.clock.advance(Duration::from_secs(GRACE_SECS + 1));
    let token = w.start_rotation().await;
    w.rotate_like_secrets_manager(&rotator, &token, 1).await;
    assert!(!w.accepted(&w.prior_key).await, "deleted after the grace");
    assert_eq!(
        w.listed().await.len(),
        2,
        "the last demoted key and the current one"
    );
}

type Case = (Op, usize, FaultTiming);

/// A world where the next rotation retires one key and deletes another (its grace
/// over), so that a clean rotation makes every AppSync call.
async fn prepared_world(behind_cloudfront: bool) -> World {
    let w = World::build(behind_cloudfront).await;
    let rotator = w.rotator(FaultPlan::none());
    let token = w.start_rotation().await;
    w.rotate_like_secrets_manager(&rotator, &token, 1).await;
    w.clock.advance(Duration::from_secs(GRACE_SECS + 1));
    w
}

async fn run_cases(w: World, cases: Vec<Case>) -> Vec<(Case, usize)> {
    let mut results = Vec::new();
    for (op, occurrence, timing) in cases {
        let plan = FaultPlan::fail(op, occurrence, timing);
        let rotator = w.rotator_with(w.config(&[("APPSYNC_GRAPHQL_URL", "")]), plan.clone());
        // Days apart: CloudFront finished the last rotation's change.
        w.cdn.complete_deployments();
        let token = w.start_rotation().await;
        let previous = w.current_version().await;
        let (attempts, _) = w.rotate_like_secrets_manager(&rotator, &token, 3).await;
        assert!(plan.fired(), "{op} #{occurrence} {timing:?} never happened");
        w.assert_rotated(&token, &previous).await;
        results.push(((op, occurrence, timing), attempts));
        // The next case's finishSecret deletes the key this one retired.
        w.clock.advance(Duration::from_secs(GRACE_SECS + 1));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_every_aws_call_converges_and_never_refuses_a_client() {
    fault_matrix(false).await;
}

/// The same behind CloudFront: also every CloudFront call fails once, and no edge ever
/// sends a key AppSync refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_a_failure_at_every_aws_call_converges() {
    fault_matrix(true).await;
}

async fn fault_matrix(behind_cloudfront: bool) {
    let first = prepared_world(behind_cloudfront).await;
    let plan = FaultPlan::none();
    let rotator = first.rotator_with(first.config(&[("APPSYNC_GRAPHQL_URL", "")]), plan.clone());
    first.cdn.complete_deployments();
    let token = first.start_rotation().await;
    let previous = first.current_version().await;
    first.rotate_like_secrets_manager(&rotator, &token, 1).await;
    first.assert_rotated(&token, &previous).await;
    first.clock.advance(Duration::from_secs(GRACE_SECS + 1));
    let calls = plan.calls();
    let mut seen: BTreeMap<Op, usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for op in &calls {
        let occurrence = seen.entry(*op).or_default();
        cases.push((*op, *occurrence, FaultTiming::Before));
        if op.mutates() {
            cases.push((*op, *occurrence, FaultTiming::After));
        }
        *occurrence += 1;
    }
    let mut expected = vec![
        Op::ListApiKeys,
        Op::CreateApiKey,
        Op::UpdateApiKey,
        Op::GetGraphqlApi,
    ];
    if behind_cloudfront {
        // Nothing is deleted in a finishSecret right after its own setSecret: CloudFront
        // is still deploying (the retired key waits for its expiry).
        expected.extend([
            Op::GetDistributionConfig,
            Op::UpdateDistribution,
            Op::GetDistribution,
        ]);
    } else {
        expected.push(Op::DeleteApiKey);
    }
    for op in expected {
        assert!(
            seen.contains_key(&op),
            "a clean rotation calls {op}: {calls:?}"
        );
    }
    let second = prepared_world(behind_cloudfront).await;
    let (a, b): (Vec<_>, Vec<_>) = cases.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let a: Vec<Case> = a.into_iter().map(|(_, c)| *c).collect();
    let b: Vec<Case> = b.into_iter().map(|(_, c)| *c).collect();
    let (ra, rb) = tokio::join!(run_cases(first, a), run_cases(second, b));
    let results: Vec<_> = ra.into_iter().chain(rb).collect();
    assert_eq!(results.len(), cases.len());
    let retried = results.iter().filter(|(_, attempts)| *attempts > 1).count();
    let before = cases.iter().filter(|c| c.2 == FaultTiming::Before).count();
    eprintln!(
        "appsync-api-key fault matrix{}: {} calls in a clean rotation ({} distinct operations), {} cases ({} before the call, {} after it took effect), all converged; {} needed Secrets Manager's retry, {} completed in one pass (failures after the labels moved are logged, not fatal)",
        if behind_cloudfront {
            " (behind CloudFront)"
        } else {
            ""
        },
        calls.len(),
        seen.len(),
        cases.len(),
        before,
        cases.len() - before,
        retried,
        results.len() - retried
    );
    let per_op: BTreeMap<Op, usize> = cases.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.0).or_default() += 1;
        m
    });
    eprintln!("  per operation: {per_op:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_current_key_deleted_by_hand_is_replaced_by_the_rotation() {
    let w = World::new().await;
    w.keys
        .delete_api_key(&w.api_id, &w.prior_key)
        .await
        .unwrap();
    assert!(!w.accepted(&w.prior_key).await);
    let rotator = w.rotator(FaultPlan::none());
    let token = w.start_rotation().await;
    let previous = w.current_version().await;
    let (attempts, errors) = w.rotate(&rotator, &token, 1, false).await;
    assert_eq!((attempts, errors.len()), (1, 0), "{errors:?}");
    w.assert_rotated(&token, &previous).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_key_deleted_by_hand_fails_the_rotation_with_the_remedy() {
    let w = World::new().await;
    let rotator = w.rotator(FaultPlan::none());
    let token = w.start_rotation().await;
    w.run(&rotator, Step::Create, &token).await.unwrap();
    w.run(&rotator, Step::Set, &token).await.unwrap();
    let pending = w.key_of("AWSPENDING").await.unwrap();
    w.keys.delete_api_key(&w.api_id, &pending).await.unwrap();
    for step in [Step::Test, Step::Finish] {
        let err = w.run(&rotator, step, &token).await.unwrap_err();
        assert!(err.contains("[AppSyncPendingKeyGone]"), "{step}: {err}");
        assert!(err.contains("remove AWSPENDING"), "{step}: {err}");
    }
    assert_ne!(
        w.current_version().await,
        token,
        "AWSCURRENT never moves to it"
    );
    assert!(w.accepted(&w.prior_key).await);
}

/// Behind CloudFront: the pending key deleted by hand after setSecret pointed the
/// distribution at it. testSecret fails with the remedy and points the distribution back
/// at the current key, which AppSync accepts; a rerun of setSecret then refuses to point
/// it at the gone key again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_a_pending_key_gone_after_set_points_the_edges_back() {
    let w = World::behind_cloudfront().await;
    let rotator = w.rotator(FaultPlan::none());
    let token = w.start_rotation().await;
    w.run(&rotator, Step::Create, &token).await.unwrap();
    w.run(&rotator, Step::Set, &token).await.unwrap();
    let pending = w.key_of("AWSPENDING").await.unwrap();
    assert_eq!(w.sent(), pending);
    w.keys.delete_api_key(&w.api_id, &pending).await.unwrap();
    let err = w.run(&rotator, Step::Test, &token).await.unwrap_err();
    assert!(err.contains("[AppSyncPendingKeyGone]"), "{err}");
    assert_eq!(w.sent(), w.prior_key, "pointed back at the current key");
    assert!(w.accepted(&w.prior_key).await);
    let err = w.run(&rotator, Step::Set, &token).await.unwrap_err();
    assert!(err.contains("[AppSyncPendingKeyGone]"), "{err}");
    assert_eq!(w.sent(), w.prior_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validity_shorter_than_the_schedule_plus_grace_is_refused() {
    let w = World::new().await;
    // testkit's start_rotation schedules every 30 days.
    let rotator = w.rotator_with(
        w.config(&[("APPSYNC_KEY_VALIDITY_DAYS", "30")]),
        FaultPlan::none(),
    );
    let token = w.start_rotation().await;
    let err = w.run(&rotator, Step::Create, &token).await.unwrap_err();
    assert!(err.contains("APPSYNC_KEY_VALIDITY_DAYS"), "{err}");
    assert_eq!(w.listed().await.len(), 1, "no key made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_secret_really_tests_unlike_the_prior_art() {
    let w = World::new().await;
    // A query the schema lacks: AppSync answers 200 with errors; the blog's testSecret
    // raised NotImplementedError and so tested nothing.
    let rotator = w.rotator_with(
        w.config(&[("APPSYNC_TEST_QUERY", "{ health }")]),
        FaultPlan::none(),
    );
    let token = w.start_rotation().await;
    w.run(&rotator, Step::Create, &token).await.unwrap();
    w.run(&rotator, Step::Set, &token).await.unwrap();
    let err = w.run(&rotator, Step::Test, &token).await.unwrap_err();
    assert!(err.contains("FieldUndefined"), "{err}");
    w.endpoint.answer("health", serde_json::json!("ok"));
    assert_eq!(w.run(&rotator, Step::Test, &token).await, Ok(Outcome::Done));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_test_checks_the_current_key_and_changes_nothing() {
    let w = World::new().await;
    let rotator = w.rotator(FaultPlan::none());
    for healthy in [true, false] {
        if !healthy {
            w.keys
                .delete_api_key(&w.api_id, &w.prior_key)
                .await
                .unwrap();
        }
        let token = edgeseal_testkit::start_configuration_test(
            &w.sm,
            &w.secret,
            &w.rotation_lambda_arn,
            edgeseal_testkit::PendingValue::Empty,
        )
        .await
        .unwrap();
        let result = w.run(&rotator, Step::Test, &token).await;
        edgeseal_testkit::end_configuration_test(&w.sm, &w.secret, &token)
            .await
            .unwrap();
        if healthy {
            assert_eq!(result, Ok(Outcome::ConfigurationTested));
            assert_eq!(w.listed().await.len(), 1, "nothing made");
        } else {
            let err = result.unwrap_err();
            assert!(err.contains("[ConfigurationTestFailed]"), "{err}");
            assert!(err.contains("AWSCURRENT API key"), "{err}");
        }
    }
}

/// AppSync behind CloudFront (the key sent as the origin custom header `x-api-key`),
/// with AWS's timing: CloudFront deploys for minutes, AppSync takes a moment to accept a
/// new key (undocumented; 300 ms here). Two rotations, every step run twice: setSecret
/// proves AppSync accepts the pending key before CloudFront sends it; a watcher checks
/// every 5 ms that every key an edge may send is accepted; reruns write no distribution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_every_key_an_edge_sends_is_accepted_and_reruns_write_nothing() {
    let w = World::behind_cloudfront().await;
    // The prior key has been in use for long: the endpoint has seen it for longer than
    // the delay before the delay is set.
    assert!(w.accepted(&w.prior_key).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.endpoint.set_acceptance_delay(Duration::from_millis(300));
    let rotator = w.rotator(FaultPlan::none());
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let (cdn, id) = (w.cdn.clone(), w.distribution.clone().unwrap());
        let url: http::Uri = w.endpoint.url().parse().unwrap();
        let (stop, refused) = (Arc::clone(&stop), Arc::clone(&refused));
        tokio::spawn(async move {
            let probe = GraphqlProbe::new("{ __typename }", Duration::from_secs(5));
            while !stop.load(Ordering::Relaxed) {
                for config in cdn.live_configs(&id) {
                    for value in edgeseal_rotator::custom_headers(&config, "x-api-key") {
                        let key = StaticHeaderValue::new(value.to_owned()).unwrap();
                        if let Err(e) = probe.query(&url, &key).await {
                            refused.lock().unwrap().push(e.to_string());
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut previous = w.current_version().await;
    for round in 0..2 {
        w.cdn.complete_deployments();
        let token = w.start_rotation().await;
        for step in Step::ALL {
            for run in 0..2 {
                let updates = w.cdn.update_count();
                w.run(&rotator, step, &token)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, {step} #{run}: {e}"));
                w.check_invariants().await;
                if run == 1 {
                    assert_eq!(
                        w.cdn.update_count(),
                        updates,
                        "round {round}: a rerun of {step} wrote"
                    );
                }
            }
            if step == Step::Set {
                assert_eq!(w.sent(), w.key_of("AWSPENDING").await.unwrap());
            }
        }
        w.assert_rotated(&token, &previous).await;
        assert_eq!(w.sent(), w.key_of("AWSCURRENT").await.unwrap());
        previous = token;
    }
    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let refused = refused.lock().unwrap();
    assert!(
        refused.is_empty(),
        "AppSync refused what an edge sent: {refused:?}"
    );
}

/// Behind CloudFront, a retired key whose grace is over is not deleted while a
/// distribution may still send it (not `Deployed`): with `PREVIOUS_KEY_GRACE_SECS=0`
/// the prior key would go at the first finishSecret, while edges still send it. It is
/// marked (expiry brought forward to AppSync's one-day minimum) and deleted once expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_a_key_an_edge_may_send_is_never_deleted() {
    let w = World::behind_cloudfront().await;
    let rotator = w.rotator_with(
        w.config(&[("PREVIOUS_KEY_GRACE_SECS", "0")]),
        FaultPlan::none(),
    );
    let initial = w.current_version().await;
    w.cdn.complete_deployments();
    let first = w.start_rotation().await;
    w.rotate_like_secrets_manager(&rotator, &first, 1).await;
    w.assert_rotated(&first, &initial).await;
    // CloudFront still deploys the change away from the prior key: edges may send it.
    let listed = w.listed().await;
    let prior = listed
        .iter()
        .find(|k| k.key == w.prior_key)
        .expect("the prior key was deleted while edges may still send it");
    assert!(w.accepted(&w.prior_key).await);
    assert!(
        prior.expires.as_secs() <= w.clock.now().as_secs() + 86_400 + 3_600,
        "marked: expiry brought forward"
    );

    // A day later the prior key has expired: the next finishSecret deletes it, even
    // though that finishSecret, too, follows its own change to CloudFront.
    w.cdn.complete_deployments();
    w.clock.advance(Duration::from_secs(86_400 + 3_600));
    let second = w.start_rotation().await;
    // Not the clients' invariant: with no grace, a client still holding the expired
    // AWSPREVIOUS key is refused, as configured. What edges send is checked instead.
    w.rotate(&rotator, &second, 1, false).await;
    for key in w.keys_edges_may_send() {
        assert!(
            w.accepted(&key).await,
            "AppSync refuses a key CloudFront may send"
        );
    }
    assert!(
        !w.listed().await.iter().any(|k| k.key == w.prior_key),
        "an expired key is deleted"
    );
    // The first rotation's key (now AWSPREVIOUS, grace 0) is valid and may be sent by
    // edges still running the config before this rotation's change: kept.
    assert_eq!(w.keys_for(&first).await, 1);
}

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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use edgeseal::StaticHeaderValue;
use edgeseal_rotator::aws::Op;
use edgeseal_rotator::aws::sdk::{SdkLambda, SdkSecrets};
use edgeseal_rotator::target::AnyTarget;
use edgeseal_rotator::target::appsync::{
    AppSyncKeys, AppSyncTarget, GraphqlProbe, KeyMarker, PendingRetry, SdkAppSync,
};
use edgeseal_rotator::{Config, Outcome, RotationEvent, Rotator, Step, error_type};
use edgeseal_testkit::appsync::{AwsKeyRules, GraphqlEndpoint, SecretKeyClient, SkewedClock};
use edgeseal_testkit::{FakeCloudFront, FaultPlan, FaultTiming, Faulty};

type Keys = Faulty<AwsKeyRules<SdkAppSync>>;
type TestRotator = Rotator<Faulty<SdkSecrets>, SdkLambda, Arc<FakeCloudFront>>;

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
}

/// An empty zip archive: moto stores a function's code without running it.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

impl World {
    async fn new() -> Self {
        let sdk = edgeseal_testkit::sdk_config().await;
        let raw = aws_sdk_appsync::Client::new(&sdk);
        let api_id = raw
            .create_graphql_api()
            .name(edgeseal_testkit::unique_name("api"))
            .authentication_type(aws_sdk_appsync::types::AuthenticationType::ApiKey)
            .send()
            .await
            .unwrap()
            .graphql_api()
            .unwrap()
            .api_id()
            .unwrap()
            .to_owned();
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
        sm.create_secret()
            .name(&secret)
            .secret_string(edgeseal::static_header_secret_json(FIELD, &prior_key).as_str())
            .send()
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
        let rotation_lambda_arn = lambda
            .create_function()
            .function_name(edgeseal_testkit::unique_name("rotator"))
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .role(role)
            .handler("bootstrap")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(EMPTY_ZIP.to_vec().into())
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .function_arn
            .unwrap();
        let endpoint = GraphqlEndpoint::start(SdkAppSync::new(&sdk), &api_id, clock.clone())
            .await
            .unwrap();
        Self {
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
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
    }

    fn rotator_with(&self, config: Config, plan: Arc<FaultPlan>) -> TestRotator {
        let settings = config.appsync().unwrap().clone();
        let keys: Keys = Faulty::new(
            AwsKeyRules::new(SdkAppSync::new(&self.sdk), self.clock.clone())
                .with_graphql_url(self.endpoint.url()),
            plan.clone(),
        );
        let clock = self.clock.clone();
        let target = AppSyncTarget::new(&config, settings, keys)
            .with_clock(Arc::new(move || clock.now()))
            .with_retry(QUICK);
        Rotator::with_target(
            config,
            Faulty::new(SdkSecrets::new(&self.sdk), plan),
            AnyTarget::AppSync(Box::new(target)),
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
            .map_err(|e| format!("{} [{}]", e, error_type(&e)))
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

    async fn listed(&self) -> Vec<edgeseal_rotator::target::appsync::ApiKey> {
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
    /// before the labels moved). AppSync must accept both.
    async fn check_invariants(&self) {
        for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
            if let Some(key) = self.key_of(stage).await {
                assert!(
                    self.accepted(&key).await,
                    "AppSync refuses the {stage} key a client may hold"
                );
            }
        }
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
        let mut errors = Vec::new();
        for attempt in 1..=max_attempts {
            let mut failed = false;
            for step in Step::ALL {
                let result = self.run(rotator, step, token).await;
                if check {
                    self.check_invariants().await;
                }
                if let Err(e) = result {
                    errors.push(format!("{step}: {e}"));
                    failed = true;
                    break;
                }
            }
            if !failed {
                return (attempt, errors);
            }
        }
        panic!("rotation did not converge in {max_attempts} attempts: {errors:?}");
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
async fn prepared_world() -> World {
    let w = World::new().await;
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
    let first = prepared_world().await;
    let plan = FaultPlan::none();
    let rotator = first.rotator_with(first.config(&[("APPSYNC_GRAPHQL_URL", "")]), plan.clone());
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
    for op in [
        Op::ListApiKeys,
        Op::CreateApiKey,
        Op::UpdateApiKey,
        Op::DeleteApiKey,
        Op::GetGraphqlApi,
    ] {
        assert!(
            seen.contains_key(&op),
            "a clean rotation calls {op}: {calls:?}"
        );
    }
    let second = prepared_world().await;
    let (a, b): (Vec<_>, Vec<_>) = cases.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let a: Vec<Case> = a.into_iter().map(|(_, c)| *c).collect();
    let b: Vec<Case> = b.into_iter().map(|(_, c)| *c).collect();
    let (ra, rb) = tokio::join!(run_cases(first, a), run_cases(second, b));
    let results: Vec<_> = ra.into_iter().chain(rb).collect();
    assert_eq!(results.len(), cases.len());
    let retried = results.iter().filter(|(_, attempts)| *attempts > 1).count();
    let before = cases.iter().filter(|c| c.2 == FaultTiming::Before).count();
    eprintln!(
        "appsync-api-key fault matrix: {} calls in a clean rotation ({} distinct operations), {} cases ({} before the call, {} after it took effect), all converged; {} needed Secrets Manager's retry, {} completed in one pass (failures after the labels moved are logged, not fatal)",
        calls.len(),
        seen.len(),
        cases.len(),
        before,
        cases.len() - before,
        retried,
        results.len() - retried
    );
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

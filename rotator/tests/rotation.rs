//! Full rotations in signed mode: moto (Secrets Manager, Lambda, IAM) through the real
//! SDK, the CloudFront fake for associations and ETags, a loopback origin verifying
//! like the authorizer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use edgeseal_rotator::{Outcome, Step, TargetKind};
use edgeseal_testkit::FaultPlan;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_publish_point_test_and_finish() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    world.check_invariants().await;

    let first = world.start_rotation().await;
    let (attempts, errors) = world.rotate_like_secrets_manager(&rotator, &first, 1).await;
    assert_eq!((attempts, errors.len()), (1, 0));
    world.assert_rotated(&first, &world.initial_token).await;
    assert_eq!(world.edgeseal_versions_for(&first).await, 1);

    let second = world.start_rotation().await;
    world
        .rotate_like_secrets_manager(&rotator, &second, 1)
        .await;
    world.assert_rotated(&second, &first).await;

    // Every origin test carried the configured query string.
    let requests = world.origin.requests.lock().unwrap().clone();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r == "/prod/health?b=2&a=1&empty="),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_is_a_no_op_once_the_token_is_current() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    let updates = world.cdn.update_count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for step in Step::ALL {
        assert_eq!(
            rotator
                .run(&world.event(step, &token), deadline)
                .await
                .unwrap(),
            Outcome::AlreadyCurrent
        );
    }
    assert_eq!(world.cdn.update_count(), updates);
}

/// AWS's timing: CloudFront deploys for minutes, so a rerun of a step (Secrets Manager
/// retries a failed one with the same token) finds the distribution `InProgress` with
/// the rotation's own change; between two rotations it finishes. Every step run twice:
/// the rerun writes no distribution and publishes no edge version, and the rotations
/// complete. (With the world's 30 ms deploy a rerun usually found it `Deployed`: see the
/// waf target's fix of stop 18, which this guards against for the other targets.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_run_twice_while_cloudfront_deploys_writes_nothing_again() {
    for kind in [TargetKind::Signed, TargetKind::StaticHeader] {
        let world = World::new(kind).await;
        world.cdn.set_deploy_delay(Duration::from_secs(3600));
        let rotator = world.rotator(FaultPlan::none());
        let mut previous = world.initial_token.clone();
        for round in 0..2 {
            world.cdn.complete_deployments();
            let token = world.start_rotation().await;
            for step in Step::ALL {
                if step == Step::Test && kind == TargetKind::StaticHeader {
                    // This world's origin accepts current and pending only (the prior
                    // art's authorizer), so testSecret waits for `Deployed`
                    // (WAIT_FOR_DEPLOYED): the try that passes is one after CloudFront
                    // finished (`set_secret_runs_while_in_progress_and_test_secret_waits_for_deployed`
                    // covers the tries before).
                    world.cdn.complete_deployments();
                }
                for run in 0..2 {
                    let updates = world.cdn.update_count();
                    let versions = world.edgeseal_versions_for(&token).await;
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                    rotator
                        .run(&world.event(step, &token), deadline)
                        .await
                        .unwrap_or_else(|e| panic!("{kind:?} round {round}, {step} #{run}: {e}"));
                    world.check_invariants().await;
                    if run == 1 {
                        assert_eq!(
                            (
                                world.cdn.update_count(),
                                world.edgeseal_versions_for(&token).await
                            ),
                            (updates, versions),
                            "{kind:?} round {round}: a rerun of {step} wrote"
                        );
                    }
                }
            }
            world.assert_rotated(&token, &previous).await;
            previous = token;
        }
    }
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::{DistributionConfig, EventType, LambdaFunctionAssociation};
use edgeseal_rotator::{ApiError, DeployStatus, DistributionApi, ProbeError, RotationError};
use edgeseal_testkit::FakeCloudFront;

fn soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_refuse_what_is_not_a_rotation_in_progress() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    // Rotation never turned on for this secret.
    let err = rotator
        .run(&world.event(Step::Create, &new_token()), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::RotationDisabled), "{err}");

    let token = world.start_rotation().await;
    let err = rotator
        .run(&world.event(Step::Set, &new_token()), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::UnknownVersion(_)), "{err}");
    // setSecret before createSecret: the AWSPENDING version has no value yet.
    let err = rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::NoPendingValue(_)), "{err}");

    world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    // The old version is AWSPREVIOUS now: not a rotation in progress.
    let err = rotator
        .run(&world.event(Step::Create, &world.initial_token), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::NotPending(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_secret_never_rewrites_an_existing_pending_value() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    let first = uncached_secret_value(&world.sm, &world.secret, &token)
        .await
        .unwrap();
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    let again = uncached_secret_value(&world.sm, &world.secret, &token)
        .await
        .unwrap();
    assert_eq!(
        first, again,
        "moto would silently accept a second value; the rotator must not send one"
    );
    let key = edgeseal::SecretValue::parse(&first, None).unwrap();
    assert!(key.as_hmac().is_some());
    assert!(first.starts_with(r#"{"alg":"hmac-sha256","key":""#));
}

/// Someone else edits the distribution between our read and our write, `times` times.
struct Meddler {
    inner: FakeCloudFront,
    times: AtomicUsize,
}

impl DistributionApi for Meddler {
    async fn get_config(&self, id: &str) -> Result<(DistributionConfig, String), ApiError> {
        self.inner.get_config(id).await
    }

    async fn update_config(
        &self,
        id: &str,
        config: DistributionConfig,
        etag: &str,
    ) -> Result<String, ApiError> {
        if self
            .times
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.inner
                .touch(id, |c| c.comment = "edited by someone else".into());
        }
        self.inner.update_config(id, config, etag).await
    }

    async fn status(&self, id: &str) -> Result<DeployStatus, ApiError> {
        self.inner.status(id).await
    }

    async fn domain_name(&self, id: &str) -> Result<String, ApiError> {
        self.inner.domain_name(id).await
    }

    async fn policy_forwards_all_query_strings(
        &self,
        policy: &edgeseal_rotator::PolicyRef,
    ) -> Result<bool, ApiError> {
        self.inner.policy_forwards_all_query_strings(policy).await
    }

    async fn staging_domain_names(&self, policy_id: &str) -> Result<Vec<String>, ApiError> {
        self.inner.staging_domain_names(policy_id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_etag_is_retried_and_keeps_the_concurrent_edit() {
    let world = World::new(TargetKind::Signed).await;
    let meddler = Meddler {
        inner: world.cdn.clone(),
        times: AtomicUsize::new(2),
    };
    let rotator = world.rotator_with(world.config_with(&[]), FaultPlan::none(), meddler);
    let token = world.start_rotation().await;
    let (attempts, _) = world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    assert_eq!(
        attempts, 1,
        "two stale ETags are absorbed by the bounded retry"
    );
    world.assert_rotated(&token, &world.initial_token).await;
    assert_eq!(
        world.cdn.config(&world.distribution).unwrap().comment,
        "edited by someone else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ever_stale_etag_fails_set_secret_and_keeps_the_current_key() {
    let world = World::new(TargetKind::Signed).await;
    let meddler = Meddler {
        inner: world.cdn.clone(),
        times: AtomicUsize::new(usize::MAX),
    };
    let config = world.config_with(&[("DISTRIBUTION_UPDATE_ATTEMPTS", "3")]);
    let rotator = world.rotator_with(config, FaultPlan::none(), meddler);
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    let err = rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationError::StaleEtag { attempts: 3, .. }),
        "{err}"
    );
    // Finishing now would be unsafe; the step refuses.
    let err = rotator
        .run(&world.event(Step::Finish, &token), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::NotPointed(_)), "{err}");
    assert_eq!(world.current_version().await, world.initial_token);
    world.check_invariants().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_secret_runs_while_in_progress_and_test_secret_waits_for_deployed() {
    let world = World::new(TargetKind::Signed).await;
    // An unrelated change is still rolling out (the prior art refused to run now).
    world.cdn.set_deploy_delay(Duration::from_secs(3600));
    world.cdn.touch(&world.distribution, |c| {
        c.comment = "unrelated change".into()
    });
    assert_eq!(
        world.cdn.status(&world.distribution).await.unwrap(),
        DeployStatus::InProgress
    );
    // WAIT_FOR_DEPLOYED (for verifiers without a previous-key grace): testSecret waits.
    let rotator = world.rotator_with(
        world.config_with(&[("WAIT_FOR_DEPLOYED", "true")]),
        FaultPlan::none(),
        world.cdn.clone(),
    );
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap();
    world.check_invariants().await;

    // Not deployed before the (short) deadline: the step fails so Secrets Manager retries.
    let started = Instant::now();
    let short = tokio::time::Instant::now() + Duration::from_millis(300);
    let err = rotator
        .run(&world.event(Step::Test, &token), short)
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::NotDeployed(..)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the deadline"
    );
    assert_eq!(world.current_version().await, world.initial_token);

    world.cdn.set_deploy_delay(Duration::from_millis(50));
    let (attempts, _) = world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    assert_eq!(attempts, 1);
    world.assert_rotated(&token, &world.initial_token).await;
    // testSecret waited: only the new config is live when AWSCURRENT moved.
    assert_eq!(world.cdn.live_configs(&world.distribution).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_pending_key_rolls_the_distribution_back_and_blocks_set_secret() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    let before = world.edge_arns(&world.cdn.config(&world.distribution).unwrap());
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap();
    assert_ne!(
        world.edge_arns(&world.cdn.config(&world.distribution).unwrap()),
        before
    );

    // The origin stops accepting the new key (say, a verifier that cannot read it).
    *world.origin.reject_keyid.lock().unwrap() = Some(token.clone());
    let err = rotator
        .run(&world.event(Step::Test, &token), soon())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RotationError::Origin {
                stage: "AWSPENDING",
                source: ProbeError::UnexpectedStatus(403)
            }
        ),
        "{err}"
    );
    assert_eq!(
        world.edge_arns(&world.cdn.config(&world.distribution).unwrap()),
        before,
        "rolled back"
    );
    world.check_invariants().await;

    // Secrets Manager retries: setSecret's pre-flight keeps CloudFront on the old key.
    let updates = world.cdn.update_count();
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    let err = rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RotationError::Origin {
                stage: "AWSPENDING",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(world.cdn.update_count(), updates);
    assert_eq!(world.current_version().await, world.initial_token);

    // Fixed: the retry converges.
    *world.origin.reject_keyid.lock().unwrap() = None;
    world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    world.assert_rotated(&token, &world.initial_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_origin_fails_the_step_within_the_timeout() {
    let world = World::new(TargetKind::Signed).await;
    let config = world.config_with(&[("ORIGIN_TEST_TIMEOUT_MS", "300")]);
    let rotator = world.rotator_with(config, FaultPlan::none(), world.cdn.clone());
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    world.origin.silent.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let err = rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            &err,
            RotationError::Origin {
                source: ProbeError::Timeout(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(world.cdn.update_count(), 0, "CloudFront untouched");

    world.origin.silent.store(false, Ordering::SeqCst);
    world.origin.fail_next.store(1, Ordering::SeqCst);
    let (attempts, errors) = world.rotate_like_secrets_manager(&rotator, &token, 3).await;
    assert_eq!(
        attempts, 2,
        "one 500 from the origin costs one retry: {errors:?}"
    );
    world.assert_rotated(&token, &world.initial_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_without_the_association_fails_loudly() {
    let world = World::new(TargetKind::Signed).await;
    world.cdn.touch(&world.distribution, |c| {
        c.default_cache_behavior
            .as_mut()
            .unwrap()
            .lambda_function_associations = None;
        c.cache_behaviors = None;
    });
    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    let err = rotator
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::NoAssociation { .. }), "{err}");
    let err = rotator
        .run(&world.event(Step::Finish, &token), soon())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::NotPointed(_)), "{err}");
    assert_eq!(world.current_version().await, world.initial_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_the_newest_and_any_version_a_distribution_names() {
    let world = World::new(TargetKind::Signed).await;
    // An origin-response association still names version 1 (the ancient one).
    let ancient = format!("{}:1", world.function_arn);
    world.cdn.touch(&world.distribution, |c| {
        let list = c
            .default_cache_behavior
            .as_mut()
            .unwrap()
            .lambda_function_associations
            .as_mut()
            .unwrap();
        list.items.as_mut().unwrap().push(
            LambdaFunctionAssociation::builder()
                .lambda_function_arn(&ancient)
                .event_type(EventType::OriginResponse)
                .build()
                .unwrap(),
        );
        list.quantity += 1;
    });
    let rotator = world.rotator_with(
        world.config_with(&[("EDGE_KEEP_VERSIONS", "2")]),
        FaultPlan::none(),
        world.cdn.clone(),
    );
    // Four rotations: pruning deletes between them, and no number comes back (moto
    // numbers versions as Lambda does, testkit/moto/server.py).
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let token = world.start_rotation().await;
        world.rotate_like_secrets_manager(&rotator, &token, 1).await;
        tokens.push(token);
    }
    let listed = world
        .lambda
        .list_versions_by_function()
        .function_name(&world.function)
        .send()
        .await
        .unwrap();
    let mut left: Vec<String> = listed
        .versions()
        .iter()
        .filter_map(|v| v.version())
        .filter(|v| *v != "$LATEST")
        .map(str::to_owned)
        .collect();
    left.sort();
    // 1 = named by the origin-response association; 5 and 6 = the two newest (keep 2);
    // 2 (the initial key's), 3 and 4 pruned.
    assert_eq!(left, ["1", "5", "6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_distributions_are_all_pointed() {
    let world = World::new(TargetKind::Signed).await;
    let second = "E2SECONDDIST00";
    world
        .cdn
        .insert(second, world.cdn.config(&world.distribution).unwrap());
    let ids = format!("{},{second}", world.distribution);
    let rotator = world.rotator_with(
        world.config_with(&[("CLOUDFRONT_DISTRIBUTION_ID", &ids)]),
        FaultPlan::none(),
        world.cdn.clone(),
    );
    let token = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    let a = world.edge_arns(&world.cdn.config(&world.distribution).unwrap());
    let b = world.edge_arns(&world.cdn.config(second).unwrap());
    assert_eq!(a, b);
    world.assert_rotated(&token, &world.initial_token).await;
}

/// Lambda still applying the code update for a while (or failing it).
struct SlowLambda {
    inner: edgeseal_rotator::SdkLambda,
    in_progress: AtomicUsize,
    then_fail: bool,
}

impl edgeseal_rotator::EdgeFunctionApi for SlowLambda {
    async fn update_code(&self, function: &str, zip: Vec<u8>) -> Result<String, ApiError> {
        self.inner.update_code(function, zip).await
    }
    async fn update_status(
        &self,
        function: &str,
    ) -> Result<edgeseal_rotator::UpdateStatus, ApiError> {
        if self
            .in_progress
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(edgeseal_rotator::UpdateStatus::InProgress);
        }
        if self.then_fail {
            return Ok(edgeseal_rotator::UpdateStatus::Failed(
                "InvalidZipFileException: test".into(),
            ));
        }
        self.inner.update_status(function).await
    }
    async fn publish_version(
        &self,
        function: &str,
        description: &str,
        code_sha256: &str,
    ) -> Result<edgeseal_rotator::FunctionVersion, ApiError> {
        self.inner
            .publish_version(function, description, code_sha256)
            .await
    }
    async fn version_state(
        &self,
        function: &str,
        version: &str,
    ) -> Result<edgeseal_rotator::VersionState, ApiError> {
        self.inner.version_state(function, version).await
    }
    async fn version_code_sha256(&self, function: &str, version: &str) -> Result<String, ApiError> {
        self.inner.version_code_sha256(function, version).await
    }
    async fn list_versions(
        &self,
        function: &str,
    ) -> Result<Vec<edgeseal_rotator::FunctionVersion>, ApiError> {
        self.inner.list_versions(function).await
    }
    async fn delete_version(&self, function: &str, version: &str) -> Result<(), ApiError> {
        self.inner.delete_version(function, version).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_secret_waits_for_the_code_update_before_publishing() {
    use edgeseal_rotator::{SdkLambda, SdkSecrets};
    let world = World::new(TargetKind::Signed).await;
    let build = |in_progress: usize, then_fail: bool| {
        let config = world.config_with(&[]);
        let lambda = SlowLambda {
            inner: SdkLambda::new(&world.sdk),
            in_progress: AtomicUsize::new(in_progress),
            then_fail,
        };
        let target = edgeseal_rotator::SignedTarget::from_config(
            &config,
            lambda,
            world.cdn.clone(),
            assets(),
        )
        .unwrap();
        edgeseal_rotator::Rotator::new(config, SdkSecrets::new(&world.sdk), target)
    };
    let token = world.start_rotation().await;
    let failing = build(1, true);
    failing
        .run(&world.event(Step::Create, &token), soon())
        .await
        .unwrap();
    let err = failing
        .run(&world.event(Step::Set, &token), soon())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RotationError::EdgeUpdateFailed(reason) if reason.contains("InvalidZip")),
        "{err}"
    );
    assert_eq!(
        world.edgeseal_versions_for(&token).await,
        0,
        "nothing published from a failed update"
    );

    let started = Instant::now();
    let too_slow = build(usize::MAX, false);
    let short = tokio::time::Instant::now() + Duration::from_millis(500);
    let err = too_slow
        .run(&world.event(Step::Set, &token), short)
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::EdgeUpdateTimeout), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));

    let slow = build(2, false);
    let (attempts, _) = world.rotate_like_secrets_manager(&slow, &token, 1).await;
    assert_eq!(attempts, 1);
    world.assert_rotated(&token, &world.initial_token).await;
    assert_eq!(world.edgeseal_versions_for(&token).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_from_a_static_header_secret_to_a_signing_key() {
    let world = World::new(TargetKind::Signed).await;
    // The secret still holds the static header of the setup being replaced; the
    // distribution already has the edge association (step one of the migration).
    let legacy = new_token();
    let legacy_value = "legacyStaticValue0123456789abcdefXYZ";
    world
        .sm
        .put_secret_value()
        .secret_id(&world.secret)
        .client_request_token(&legacy)
        .secret_string(format!(r#"{{"HTTP_API_KEY":"{legacy_value}"}}"#))
        .version_stages("AWSCURRENT")
        .send()
        .await
        .unwrap();
    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    for step in Step::ALL {
        assert_eq!(
            rotator
                .run(&world.event(step, &token), soon())
                .await
                .unwrap(),
            Outcome::Done,
            "{step}"
        );
    }
    world.assert_rotated(&token, &legacy).await;
    // testSecret presented the legacy current value as the static header.
    assert_eq!(
        *world.origin.static_presented.lock().unwrap(),
        [legacy_value]
    );
    let stored = uncached_secret_value(&world.sm, &world.secret, &token)
        .await
        .unwrap();
    assert!(
        edgeseal::SecretValue::parse(&stored, None)
            .unwrap()
            .as_hmac()
            .is_some()
    );
}

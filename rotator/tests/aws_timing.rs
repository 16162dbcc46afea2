//! Rotations on AWS's real timing and semantics, against stand-ins made as unkind as AWS
//! (each cited in `edgeseal_testkit`): testSecret-only configuration tests,
//! versions that start `Pending`, propagation longer than the rotator Lambda runs,
//! throttling, behaviors hiding the query string, staging distributions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use edgeseal_rotator::{
    Outcome, PolicyRef, ProbeError, RotationError, Rotator, SignedTarget, Step, TargetKind,
};
use edgeseal_rotator::{SdkLambda, SdkSecrets};
use edgeseal_testkit::{
    BoxedRotator, FaultPlan, PendingValue, PendingVersions, RunStep, VersionStates,
    end_configuration_test, start_configuration_test,
};

/// The rotator Lambda's timeout in these tests: every step must end well within it.
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(3);

fn lambda_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + LAMBDA_TIMEOUT
}

/// Run the four steps once, each under the Lambda timeout, checking the invariants after
/// each; returns the first error and the longest step.
async fn rotate_once(
    world: &World,
    rotator: &dyn RunStep,
    token: &str,
) -> (Result<(), (Step, RotationError)>, Duration) {
    let mut longest = Duration::ZERO;
    for step in Step::ALL {
        let started = Instant::now();
        let result = rotator
            .run(&world.event(step, token), lambda_deadline())
            .await;
        longest = longest.max(started.elapsed());
        world.check_invariants().await;
        if let Err(e) = result {
            return (Err((step, e)), longest);
        }
    }
    (Ok(()), longest)
}

// ---- 1. RotateImmediately=false: testSecret alone, as a configuration test ----------

async fn configuration_test(world: &World, value: PendingValue) -> Result<Outcome, RotationError> {
    let rotator = world.rotator(FaultPlan::none());
    let token =
        start_configuration_test(&world.sm, &world.secret, &world.rotation_lambda_arn, value)
            .await
            .unwrap();
    let result = rotator
        .run(&world.event(Step::Test, &token), lambda_deadline())
        .await;
    end_configuration_test(&world.sm, &world.secret, &token)
        .await
        .unwrap();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_test_passes_and_touches_nothing_in_every_mode() {
    for mode in [TargetKind::Signed, TargetKind::StaticHeader] {
        for value in [PendingValue::Empty, PendingValue::CopyOfCurrent] {
            let world = World::new(mode).await;
            let versions_before = world.edgeseal_versions_for(&world.initial_token).await;
            let config_before = world.cdn.config(&world.distribution).unwrap();
            let outcome = configuration_test(&world, value).await;
            assert_eq!(
                outcome.unwrap(),
                Outcome::ConfigurationTested,
                "{mode:?} {value:?}"
            );
            assert_eq!(world.cdn.update_count(), 0, "no distribution written");
            assert_eq!(
                world.cdn.config(&world.distribution).unwrap(),
                config_before
            );
            assert_eq!(
                world.edgeseal_versions_for(&world.initial_token).await,
                versions_before
            );
            assert_eq!(world.current_version().await, world.initial_token);
            assert_eq!(
                world.origin.requests.lock().unwrap().len(),
                1,
                "one origin test with the current key"
            );
            world.check_invariants().await;
            // A real rotation still works afterwards.
            let rotator = world.rotator(FaultPlan::none());
            let token = world.start_rotation().await;
            world.rotate_like_secrets_manager(&rotator, &token, 1).await;
            world.assert_rotated(&token, &world.initial_token).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_test_passes_while_migrating_from_a_static_header() {
    let world = World::new(TargetKind::Signed).await;
    let legacy = new_token();
    world
        .sm
        .put_secret_value()
        .secret_id(&world.secret)
        .client_request_token(&legacy)
        .secret_string(r#"{"HTTP_API_KEY":"legacyStaticValue0123456789abcdefXYZ"}"#)
        .version_stages("AWSCURRENT")
        .send()
        .await
        .unwrap();
    let outcome = configuration_test(&world, PendingValue::Empty).await;
    assert_eq!(outcome.unwrap(), Outcome::ConfigurationTested);
    assert_eq!(
        *world.origin.static_presented.lock().unwrap(),
        ["legacyStaticValue0123456789abcdefXYZ"],
        "the current static value was presented as the header"
    );
    assert_eq!(world.cdn.update_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_test_before_the_association_passes_and_the_rotation_waits_for_it() {
    // docs/deployment.md sections 2 and 3: the stack (RotateImmediately=false) runs the
    // configuration test when it creates the schedule, before the user can associate
    // the bootstrap version the same stack creates. That test failed the stack
    // (NoAssociation); it passes now, changing nothing, and the first rotation still
    // refuses to run until the distribution names the edge function.
    let world = World::new(TargetKind::Signed).await;
    let associated = world.cdn.config(&world.distribution).unwrap();
    world.cdn.touch(&world.distribution, |c| {
        c.default_cache_behavior
            .as_mut()
            .unwrap()
            .lambda_function_associations = None;
        c.cache_behaviors = None;
    });
    let before = world.cdn.config(&world.distribution).unwrap();
    let updates = world.cdn.update_count();
    let outcome = configuration_test(&world, PendingValue::Empty).await;
    assert_eq!(outcome.unwrap(), Outcome::ConfigurationTested);
    assert_eq!(world.cdn.update_count(), updates, "no distribution written");
    assert_eq!(world.cdn.config(&world.distribution).unwrap(), before);

    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    let err = rotator
        .run(&world.event(Step::Create, &token), lambda_deadline())
        .await
        .and(
            rotator
                .run(&world.event(Step::Set, &token), lambda_deadline())
                .await,
        )
        .unwrap_err();
    assert!(
        matches!(err, RotationError::NoAssociation { ref distribution, .. } if *distribution == world.distribution),
        "{err}"
    );
    assert_eq!(world.current_version().await, world.initial_token);

    // Associated (guide step 2), the rotation goes through.
    world
        .cdn
        .touch(&world.distribution, |c| *c = associated.clone());
    // The association has reached every edge before the rotation (guide step 3 waits
    // for it); the unassociated configs, the user's own, never sent an edgeseal key and
    // are no rotator output for the invariants to judge.
    world.cdn.complete_deployments();
    world.forget_history();
    world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    world.assert_rotated(&token, &world.initial_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_test_names_what_is_wrong() {
    // The origin rejects the current key.
    let world = World::new(TargetKind::Signed).await;
    *world.origin.reject_keyid.lock().unwrap() = Some(world.initial_token.clone());
    let err = configuration_test(&world, PendingValue::CopyOfCurrent)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RotationError::ConfigurationTest(inner) if matches!(**inner, RotationError::Origin {
                stage: "AWSCURRENT",
                source: ProbeError::UnexpectedStatus(403),
            })
        ),
        "{err}"
    );

    // Static-header mode: the distribution has no origin with the header.
    let world = World::new(TargetKind::StaticHeader).await;
    world.cdn.touch(&world.distribution, |c| {
        for origin in c.origins.as_mut().unwrap().items.iter_mut() {
            origin.custom_headers = None;
        }
    });
    let err = configuration_test(&world, PendingValue::Empty)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("x-origin-verify"), "{err}");
}

// ---- 2. Published versions start Pending -------------------------------------------

fn pending_rotator(world: &World, activation: Duration) -> BoxedRotator {
    let states = Arc::new(VersionStates::default());
    world.cdn.refuse_inactive_versions(states.clone());
    let config = world.config_with(&[]);
    let lambda = PendingVersions::new(SdkLambda::new(&world.sdk), activation, states);
    let target = SignedTarget::from_config(&config, lambda, world.cdn.clone(), assets()).unwrap();
    Box::new(Rotator::new(config, SdkSecrets::new(&world.sdk), target))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_version_is_associated_once_it_is_active() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = pending_rotator(&world, Duration::from_millis(1200));
    let token = world.start_rotation().await;
    let (result, longest) = rotate_once(&world, &rotator, &token).await;
    result.unwrap_or_else(|(step, e)| panic!("{step}: {e}"));
    assert!(longest < LAMBDA_TIMEOUT, "{longest:?}");
    world.assert_rotated(&token, &world.initial_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_pending_past_the_deadline_fails_the_step_and_the_retry_reuses_it() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = pending_rotator(&world, Duration::from_secs(4));
    let token = world.start_rotation().await;
    let (result, longest) = rotate_once(&world, &rotator, &token).await;
    let (step, err) = result.unwrap_err();
    assert_eq!(step, Step::Set);
    assert!(
        matches!(err, RotationError::VersionNotActive { .. }),
        "{err}"
    );
    assert_eq!(err.error_type(), "VersionNotActive");
    assert!(longest < LAMBDA_TIMEOUT, "{longest:?}");
    assert_eq!(world.cdn.update_count(), 0, "nothing associated");
    // Secrets Manager retries later; the version published the first time is reused.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (result, _) = rotate_once(&world, &rotator, &token).await;
    result.unwrap_or_else(|(step, e)| panic!("{step}: {e}"));
    assert_eq!(world.edgeseal_versions_for(&token).await, 1);
    world.assert_rotated(&token, &world.initial_token).await;
}

// ---- 3. Propagation longer than the Lambda runs ---------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_completes_while_cloudfront_is_still_propagating() {
    let world = World::new(TargetKind::Signed).await;
    // Reported worst cases are 15-45 minutes; an hour is longer than any Lambda runs.
    world.cdn.set_deploy_delay(Duration::from_secs(3600));
    let rotator = world.rotator(FaultPlan::none());
    let first = world.start_rotation().await;
    let (result, longest) = rotate_once(&world, &rotator, &first).await;
    result.unwrap_or_else(|(step, e)| panic!("{step}: {e}"));
    assert!(longest < LAMBDA_TIMEOUT, "{longest:?}");
    world.assert_rotated(&first, &world.initial_token).await;
    assert_eq!(
        world.cdn.live_configs(&world.distribution).len(),
        2,
        "edges still run the old version, signing with what is now AWSPREVIOUS"
    );

    // A second rotation right away must not retire the key those edges still sign with.
    let second = world.start_rotation().await;
    let updates = world.cdn.update_count();
    let started = Instant::now();
    let (result, _) = rotate_once(&world, &rotator, &second).await;
    let (step, err) = result.unwrap_err();
    assert_eq!(step, Step::Set);
    assert!(
        matches!(&err, RotationError::PreviousRotationPropagating(d) if *d == world.distribution),
        "{err}"
    );
    assert_eq!(err.error_type(), "PreviousRotationPropagating");
    assert!(started.elapsed() < LAMBDA_TIMEOUT, "refused quickly");
    assert_eq!(world.cdn.update_count(), updates, "nothing pointed");
    assert_eq!(world.current_version().await, first);

    // Once CloudFront reports Deployed, Secrets Manager's retry goes through.
    world.cdn.set_deploy_delay(Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (result, _) = rotate_once(&world, &rotator, &second).await;
    result.unwrap_or_else(|(step, e)| panic!("{step}: {e}"));
    world.assert_rotated(&second, &first).await;
}

// ---- 4. Throttling -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_updates_are_retried_with_backoff_within_the_step() {
    let world = World::new(TargetKind::Signed).await;
    let mut ids = vec![world.distribution.clone()];
    for n in 0..2 {
        let id = format!("E{n}THROTTLED0{n}");
        world
            .cdn
            .insert(&id, world.cdn.config(&world.distribution).unwrap());
        ids.push(id);
    }
    // One accepted update per 1.5 s: the second and third distributions are throttled.
    world.cdn.throttle_updates(1, Duration::from_millis(1500));
    let rotator = world.rotator_with(
        world.config_with(&[("CLOUDFRONT_DISTRIBUTION_ID", &ids.join(","))]),
        FaultPlan::none(),
        world.cdn.clone(),
    );
    let token = world.start_rotation().await;
    let started = Instant::now();
    let (attempts, errors) = world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    assert_eq!((attempts, errors.len()), (1, 0), "{errors:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the throttle really held the updates back"
    );
    let arns: Vec<_> = ids
        .iter()
        .map(|id| world.edge_arns(&world.cdn.config(id).unwrap()))
        .collect();
    assert!(arns.iter().all(|a| *a == arns[0]), "{arns:?}");
    world.assert_rotated(&token, &world.initial_token).await;

    // Throttled past the step's deadline: the step fails with its own error type.
    let next = world.start_rotation().await;
    let short = world.rotator_with(
        world.config_with(&[
            ("CLOUDFRONT_DISTRIBUTION_ID", &ids.join(",")),
            ("MAX_STEP_SECS", "1"),
        ]),
        FaultPlan::none(),
        world.cdn.clone(),
    );
    world.cdn.throttle_updates(1, Duration::from_secs(30));
    rotator
        .run(&world.event(Step::Create, &next), lambda_deadline())
        .await
        .unwrap();
    let started = Instant::now();
    let err = short
        .run(&world.event(Step::Set, &next), lambda_deadline())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "MAX_STEP_SECS bounds the step"
    );
}

// ---- 6. Query strings hidden from the edge -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_behavior_that_hides_query_strings_is_refused_by_its_path_pattern() {
    let world = World::new(TargetKind::Signed).await;
    world
        .cdn
        .insert_policy(PolicyRef::Cache("allow-list-page-sort".into()), false);
    world.cdn.touch(&world.distribution, |c| {
        let behavior = &mut c.cache_behaviors.as_mut().unwrap().items.as_mut().unwrap()[0];
        behavior.cache_policy_id = Some("allow-list-page-sort".into());
        behavior.origin_request_policy_id = None;
    });
    let before = world.cdn.update_count();
    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &token), lambda_deadline())
        .await
        .unwrap();
    let err = rotator
        .run(&world.event(Step::Set, &token), lambda_deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RotationError::QueryStringsHidden { path_patterns, .. } if path_patterns == &["/v2/*"]),
        "{err}"
    );
    assert!(err.to_string().contains("/v2/*"), "{err}");
    assert_eq!(
        world.cdn.update_count(),
        before,
        "the signer was not associated"
    );
    world.check_invariants().await;
}

// ---- 7. Continuous deployment: staging distributions ---------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staging_distribution_must_be_rotated_with_its_primary() {
    let world = World::new(TargetKind::Signed).await;
    let staging = "E9STAGING00001";
    let mut staging_config = world.cdn.config(&world.distribution).unwrap();
    staging_config.staging = Some(true);
    world.cdn.insert(staging, staging_config);
    world.cdn.insert_continuous_deployment_policy(
        "cdp-1",
        &[edgeseal_testkit::FakeCloudFront::domain_of(staging)],
    );
    world.cdn.touch(&world.distribution, |c| {
        c.continuous_deployment_policy_id = Some("cdp-1".into());
    });

    let only_primary = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    only_primary
        .run(&world.event(Step::Create, &token), lambda_deadline())
        .await
        .unwrap();
    let err = only_primary
        .run(&world.event(Step::Set, &token), lambda_deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RotationError::StagingNotRotated { staging_domain, .. }
            if *staging_domain == edgeseal_testkit::FakeCloudFront::domain_of(staging)),
        "{err}"
    );
    assert!(
        err.to_string().contains("CLOUDFRONT_DISTRIBUTION_ID"),
        "{err}"
    );

    let both = world.rotator_with(
        world.config_with(&[(
            "CLOUDFRONT_DISTRIBUTION_ID",
            &format!("{},{staging}", world.distribution),
        )]),
        FaultPlan::none(),
        world.cdn.clone(),
    );
    world.rotate_like_secrets_manager(&both, &token, 1).await;
    world.assert_rotated(&token, &world.initial_token).await;
    assert_eq!(
        world.edge_arns(&world.cdn.config(staging).unwrap()),
        world.edge_arns(&world.cdn.config(&world.distribution).unwrap()),
        "staging re-pointed too"
    );
}

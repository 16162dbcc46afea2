//! Full rotations in signed mode: moto (Secrets Manager, Lambda, IAM) through the real
//! SDK, the CloudFront fake for associations and ETags, a loopback origin verifying
//! like the authorizer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use edgeseal_rotator::testing::FaultPlan;
use edgeseal_rotator::{Mode, Outcome, Step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_publish_point_test_and_finish() {
    let world = World::new(Mode::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    world.check_invariants().await;

    let first = world.start_rotation().await;
    let (attempts, errors) = world.rotate_like_secrets_manager(&rotator, &first, 1).await;
    assert_eq!((attempts, errors.len()), (1, 0));
    world.assert_rotated(&first, &world.initial_token).await;
    assert_eq!(world.edgeseal_versions_for(&first).await, 1);

    let second = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &second, 1).await;
    world.assert_rotated(&second, &first).await;

    // Every origin test carried the configured query string.
    let requests = world.origin.requests.lock().unwrap().clone();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r == "/prod/health?b=2&a=1&empty="), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_is_a_no_op_once_the_token_is_current() {
    let world = World::new(Mode::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    let token = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    let updates = world.cdn.update_count();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    for step in Step::ALL {
        assert_eq!(rotator.run(&world.event(step, &token), deadline).await.unwrap(), Outcome::AlreadyCurrent);
    }
    assert_eq!(world.cdn.update_count(), updates);
}

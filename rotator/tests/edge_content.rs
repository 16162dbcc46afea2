//! The rotator proves what an edge version runs, not what it is called: the number
//! PublishVersion answers and the numbers the distributions name are read back
//! (`GetFunctionConfiguration`) and compared with the package built for the key.
//!
//! Issue 23: moto 5.2.6 reused a deleted version's number, so from the fourth rotation
//! on (three versions kept by pruning) the rotator pointed CloudFront at a number that
//! still ran an older key, and finishSecret moved AWSCURRENT to a key no edge sent.
//! `scripts/moto` now numbers versions as AWS does; [`MisnumberedVersions`] keeps
//! moto 5.2.6's answers available on demand for the rotator's own checks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use edgeseal_rotator::{Rotator, SignedTarget, Step, TargetKind, unqualified};
use edgeseal_rotator::{SdkLambda, SdkSecrets};
use edgeseal_testkit::{FaultPlan, Faulty, MisnumberedVersions, Misnumbering};

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(20)
}

/// Six rotations against EDGE_KEEP_VERSIONS' default of 3: every rotation publishes
/// its own version, and after each the distribution runs the new key's package (the
/// world's invariants read each named version's code by its number). Failed on the
/// bare moto 5.2.6 at the fourth rotation: "distribution names an edge version with
/// the new key" (it named a reused number running rotation 3's key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_rotations_than_pruning_keeps_each_run_their_own_version() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    let mut previous = world.initial_token.clone();
    let mut named = HashSet::new();
    for rotation in 1..=6 {
        let token = world.start_rotation().await;
        world.rotate_like_secrets_manager(&rotator, &token, 1).await;
        world.assert_rotated(&token, &previous).await;
        let config = world.cdn.config(&world.distribution).unwrap();
        let arns: HashSet<String> = world.edge_arns(&config).into_iter().collect();
        assert_eq!(arns.len(), 1, "rotation {rotation}: one version everywhere");
        assert!(
            named.is_disjoint(&arns),
            "rotation {rotation} names a version an earlier rotation named: {arns:?}"
        );
        named.extend(arns);
        previous = token;
    }
    assert_eq!(named.len(), 6);
}

type MisnumberingRotator = Rotator<
    Faulty<SdkSecrets>,
    SignedTarget<MisnumberedVersions<SdkLambda>, Faulty<edgeseal_testkit::FakeCloudFront>>,
>;

fn misnumbering_rotator(world: &World) -> (MisnumberingRotator, Misnumbering) {
    let plan = FaultPlan::none();
    let (lambda, numbers) = MisnumberedVersions::new(SdkLambda::new(&world.sdk));
    let config = world.config_with(&[]);
    let cdn = Faulty::new(world.cdn.clone(), plan.clone());
    let target = SignedTarget::from_config(&config, lambda, cdn, assets()).unwrap();
    let secrets = Faulty::new(SdkSecrets::new(&world.sdk), plan);
    (Rotator::new(config, secrets, target), numbers)
}

fn version_of(arn: &str) -> &str {
    arn.rsplit_once(':').unwrap().1
}

/// PublishVersion answers a number that already runs the last rotation's package (as
/// moto 5.2.6 did after a prune; on AWS, a concurrent publish): setSecret reads the
/// number back and fails with `EdgeVersionMismatch`, pointing nothing at it. Failed
/// before the read-back: setSecret pointed the distribution at the old number, and
/// finishSecret moved AWSCURRENT to a key no edge sent (the invariants caught it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_number_that_runs_other_code_fails_set_secret() {
    let world = World::new(TargetKind::Signed).await;
    let (rotator, numbers) = misnumbering_rotator(&world);
    let first = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &first, 1).await;
    let config = world.cdn.config(&world.distribution).unwrap();
    let running = world.edge_arns(&config)[0].clone();

    let second = world.start_rotation().await;
    rotator
        .run(&world.event(Step::Create, &second), deadline())
        .await
        .unwrap();
    numbers.publish_next_as(version_of(&running));
    let err = rotator
        .run(&world.event(Step::Set, &second), deadline())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "EdgeVersionMismatch", "{err}");
    let message = err.to_string();
    assert!(message.contains(&running), "{message}");
    assert!(message.contains(&second), "names the key's id: {message}");
    world.check_invariants().await;
    assert_eq!(
        world.edge_arns(&world.cdn.config(&world.distribution).unwrap()),
        vec![running.clone(); 2],
        "nothing was pointed at the misnumbered version"
    );

    // The number shows its own code again (on AWS: the next try publishes anew); the
    // rotation Secrets Manager retries completes and the edges run the new key.
    numbers.clear();
    world
        .rotate_like_secrets_manager(&rotator, &second, 1)
        .await;
    world.assert_rotated(&second, &first).await;
}

/// A distribution names a number the listing shows with the pending package but that
/// runs the last rotation's (moto 5.2.6's duplicate listing; an operator's association
/// on AWS): finishSecret fails with `EdgeVersionMismatch` naming the distribution, and
/// AWSCURRENT does not move. Failed before: the check trusted the listing, and the
/// labels moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_reads_what_each_named_version_runs_before_the_labels_move() {
    let world = World::new(TargetKind::Signed).await;
    let (rotator, numbers) = misnumbering_rotator(&world);
    let first = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &first, 1).await;
    let old = world.edge_arns(&world.cdn.config(&world.distribution).unwrap())[0].clone();

    let second = world.start_rotation().await;
    for step in [Step::Create, Step::Set] {
        rotator
            .run(&world.event(step, &second), deadline())
            .await
            .unwrap();
    }
    let new = world.edge_arns(&world.cdn.config(&world.distribution).unwrap())[0].clone();
    assert_ne!(new, old);
    // The listing now shows the new package under the old number too, and the
    // distribution is put back on the old number (by hand, as an operator would).
    numbers.list_as(version_of(&new), version_of(&old));
    world.cdn.touch(&world.distribution, |config| {
        edgeseal_rotator::testing::point_associations(config, unqualified(&old), &old);
    });
    let err = rotator
        .run(&world.event(Step::Finish, &second), deadline())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "EdgeVersionMismatch", "{err}");
    assert!(
        err.to_string()
            .contains(&format!("named by distribution {}", world.distribution)),
        "{err}"
    );
    assert_eq!(
        world.current_version().await,
        first,
        "AWSCURRENT did not move"
    );
}

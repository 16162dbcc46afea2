//! A rotation that completes long after it began, then a cold start of the authorizer.
//!
//! Secrets Manager retries a failed rotation (after `PreviousRotationPropagating`, a
//! step past the Lambda's deadline, …) on its own undocumented cadence, so finishSecret
//! can demote the old key long after createSecret made the new version. Edges send the
//! old key until the switch reaches them, so its grace must run from the demotion, which
//! Secrets Manager records as `LastRotatedDate` ("the most recent date and time that the
//! Secrets Manager rotation process was successfully completed", API reference,
//! SecretListEntry; testkit's moto sets it then, testkit/moto/README.md). An authorizer
//! started after the rotation that counted from the new version's `CreatedDate` ended the
//! grace early by the rotation's whole duration.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use edgeseal::{Stage, UnixTime};
use edgeseal_rotator::{Step, TargetKind};
use edgeseal_testkit::FaultPlan;
use origin_verifier::{CacheSettings, CountingSource, KeyCache, SdkSource};

/// The gap between the rotation's start and its completion. Real retries are minutes
/// apart; the rule under test only needs the two dates to differ, and every figure
/// below scales with the measured gap.
const RETRY_GAP: Duration = Duration::from_secs(3);

async fn last_rotated(world: &World) -> Option<UnixTime> {
    let described = world
        .sm
        .describe_secret()
        .secret_id(&world.secret)
        .send()
        .await
        .unwrap();
    described
        .last_rotated_date()
        .map(|d| UnixTime::from_secs(u64::try_from(d.secs()).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_after_a_late_completion_accepts_the_previous_key_for_the_whole_grace() {
    let world = World::new(TargetKind::Signed).await;
    let rotator = world.rotator(FaultPlan::none());
    let before = last_rotated(&world).await;
    let token = world.start_rotation().await;
    // RotateSecret starts the rotation; it has not completed.
    assert_eq!(last_rotated(&world).await, before, "dated when it began");
    for step in [Step::Create, Step::Set] {
        rotator
            .run(
                &world.event(step, &token),
                tokio::time::Instant::now() + Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    // Secrets Manager's retry comes later; testSecret and finishSecret run then.
    tokio::time::sleep(RETRY_GAP).await;
    for step in [Step::Test, Step::Finish] {
        rotator
            .run(
                &world.event(step, &token),
                tokio::time::Instant::now() + Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    world.assert_rotated(&token, &world.initial_token).await;

    let created = secret_created(&world, &token).await;
    let completed = last_rotated(&world)
        .await
        .expect("LastRotatedDate after the rotation");
    let gap = completed.as_secs().saturating_sub(created.as_secs());
    assert!(
        gap >= RETRY_GAP.as_secs() - 1,
        "completed {gap} s after it began"
    );

    // A grace as long as the rotation took: counted from the start it is already over
    // when the rotation completes; counted from the completion it has just begun.
    let grace = gap;
    let cold_start = |secret: &str| {
        let mut settings =
            CacheSettings::from_config(&origin_verifier::Config::with_secret_id(secret));
        settings.previous_grace_secs = grace;
        let source = CountingSource::new(SdkSource::new(world.sm.clone()));
        KeyCache::new(source, settings)
    };
    let previous = world.initial_token.as_str();
    let at = completed;
    let cache = cold_start(&world.secret);
    let snapshot = cache.refresh_at(at).await.unwrap();
    assert_eq!(
        snapshot
            .keys()
            .find_at(previous, at)
            .ok()
            .map(|(_, stage)| stage),
        Some(Stage::Previous),
        "a cold start at the completion refused the key edges still send"
    );
    let last = at.plus_secs(grace - 1);
    assert_eq!(
        snapshot
            .keys()
            .find_at(previous, last)
            .ok()
            .map(|(_, stage)| stage),
        Some(Stage::Previous)
    );
    assert!(
        snapshot
            .keys()
            .find_at(previous, at.plus_secs(grace))
            .is_err()
    );
    // What it cost: the listing, AWSCURRENT by label, AWSPREVIOUS by id, one
    // DescribeSecret. A later refresh of the same environment lists only.
    let source = cache.source();
    assert_eq!(
        (
            source.list_calls(),
            source.get_calls(),
            source.describe_calls()
        ),
        (1, 2, 1)
    );
    cache.refresh_at(at.plus_secs(300)).await.unwrap();
    assert_eq!(
        (
            source.list_calls(),
            source.get_calls(),
            source.describe_calls()
        ),
        (2, 2, 1)
    );
}

/// The version's `CreatedDate` as `GetSecretValue` reports it.
async fn secret_created(world: &World, version: &str) -> UnixTime {
    let out = world
        .sm
        .get_secret_value()
        .secret_id(&world.secret)
        .version_id(version)
        .send()
        .await
        .unwrap();
    UnixTime::from_secs(u64::try_from(out.created_date().unwrap().secs()).unwrap())
}

//! Static-header mode, the drop-in for the `x-origin-verify` rotators: the prior art's
//! environment, and a rotation against moto's own CloudFront (which keeps origin custom
//! headers). Association/ETag semantics and fault convergence: see `faults.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use aws_sdk_cloudfront::types::DistributionConfig;
use common::*;
use edgeseal::SecretValue;
use edgeseal_rotator::SdkCloudFront;
use edgeseal_rotator::{Step, TargetKind, custom_headers};
use edgeseal_testkit::FaultPlan;

fn soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(10)
}

async fn moto_distribution(world: &World, value: &str) -> (String, aws_sdk_cloudfront::Client) {
    let cf = aws_sdk_cloudfront::Client::new(&world.sdk);
    let config = distribution_config("api.example.com", vec![], Some(value));
    let created = cf
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    (created.distribution().unwrap().id().to_owned(), cf)
}

async fn moto_config(cf: &aws_sdk_cloudfront::Client, id: &str) -> DistributionConfig {
    cf.get_distribution_config()
        .id(id)
        .send()
        .await
        .unwrap()
        .distribution_config
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_in_rotation_rewrites_the_header_in_moto_cloudfront() {
    let world = World::new(TargetKind::StaticHeader).await;
    let (id, cf) = moto_distribution(&world, "initialStaticValue0123456789abcdef").await;
    // Only the prior art's variable names (plus test timings).
    let config = world.config_with(&[
        ("CLOUDFRONT_DISTRIBUTION_ID", &id),
        ("HEADER_NAME", "X-Origin-Verify"),
        ("SECRET_KEY_NAME", "HTTP_API_KEY"),
        ("SECRET_KEY_LENGTH", "48"),
        ("ROTATION_TARGET", ""),
    ]);
    assert_eq!(config.kind(), TargetKind::StaticHeader);
    let rotator = world.rotator_with(config, FaultPlan::none(), SdkCloudFront::new(&world.sdk));

    let token = world.start_rotation().await;
    for step in Step::ALL {
        rotator
            .run(&world.event(step, &token), soon())
            .await
            .unwrap();
        // What moto's CloudFront holds is always a value the prior art's authorizer
        // (current + pending) accepts.
        let accepted = accepted_static_values(&world.sm, &world.secret).await;
        let config = moto_config(&cf, &id).await;
        let sent: Vec<&str> = custom_headers(&config, HEADER).collect();
        assert_eq!(sent.len(), 1);
        assert!(accepted.iter().any(|a| a == sent[0]), "after {step}");
    }
    let stored = secret_value(&world.sm, &world.secret, &token)
        .await
        .unwrap();
    let SecretValue::StaticHeader(value) = SecretValue::parse(&stored, Some(FIELD)).unwrap() else {
        panic!()
    };
    assert!(stored.starts_with(r#"{"HTTP_API_KEY":""#));
    assert_eq!(value.expose().len(), 48);
    assert!(value.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
    let config = moto_config(&cf, &id).await;
    assert_eq!(
        custom_headers(&config, HEADER).collect::<Vec<_>>(),
        [value.expose()]
    );
    assert_eq!(
        custom_headers(&config, "x-other").collect::<Vec<_>>(),
        ["keep-me"]
    );
    assert_eq!(world.current_version().await, token);

    // Every origin test presented the header with the URL's query string.
    let requests = world.origin.requests.lock().unwrap().clone();
    assert!(
        requests.len() >= 3 && requests.iter().all(|r| r.ends_with("?b=2&a=1&empty=")),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_rotation_against_the_fake_twice() {
    let world = World::new(TargetKind::StaticHeader).await;
    let rotator = world.rotator(FaultPlan::none());
    let first = world.start_rotation().await;
    world.rotate_like_secrets_manager(&rotator, &first, 1).await;
    world.assert_rotated(&first, &world.initial_token).await;
    let second = world.start_rotation().await;
    world
        .rotate_like_secrets_manager(&rotator, &second, 1)
        .await;
    world.assert_rotated(&second, &first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_without_the_header_fails_loudly() {
    let world = World::new(TargetKind::StaticHeader).await;
    // A distribution whose origin has no x-origin-verify header.
    let cf = aws_sdk_cloudfront::Client::new(&world.sdk);
    let bare = cf
        .create_distribution()
        .distribution_config(distribution_config("api.example.com", vec![], None))
        .send()
        .await
        .unwrap()
        .distribution()
        .unwrap()
        .id()
        .to_owned();
    let config = world.config_with(&[("CLOUDFRONT_DISTRIBUTION_ID", &bare)]);
    let rotator = world.rotator_with(config, FaultPlan::none(), SdkCloudFront::new(&world.sdk));
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
        matches!(err, edgeseal_rotator::RotationError::NoHeader { .. }),
        "{err}"
    );
    assert_eq!(world.current_version().await, world.initial_token);
}

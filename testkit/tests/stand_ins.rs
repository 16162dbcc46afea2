//! The stand-ins behave as the AWS behaviour they cite: CloudFront's ETag and
//! association rules and propagation, and fault injection striking exactly once.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, EventType, LambdaFunctionAssociation,
    LambdaFunctionAssociations, Origin, Origins, ViewerProtocolPolicy,
};

use std::time::Duration;

use edgeseal_rotator::{ApiError, DeployStatus, DistributionApi, Op};
use edgeseal_testkit::{FakeCloudFront, FaultPlan, FaultTiming, Faulty, injected};

fn config(arn: &str) -> DistributionConfig {
    let association = LambdaFunctionAssociation::builder()
        .lambda_function_arn(arn)
        .event_type(EventType::OriginRequest)
        .build()
        .unwrap();
    DistributionConfig::builder()
        .caller_reference("r")
        .comment("c")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("o")
                        .domain_name("api.example.com")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("o")
                .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                .lambda_function_associations(
                    LambdaFunctionAssociations::builder()
                        .quantity(1)
                        .items(association)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

#[tokio::test]
async fn etag_changes_on_every_update_and_stale_or_missing_if_match_fails() {
    let fake = FakeCloudFront::new(Duration::ZERO);
    fake.insert("E1", config(&format!("{ARN}:1")));
    let (cfg, etag1) = fake.get_config("E1").await.unwrap();
    let etag2 = fake.update_config("E1", cfg.clone(), &etag1).await.unwrap();
    assert_ne!(etag1, etag2);
    assert_eq!(
        fake.update_config("E1", cfg.clone(), &etag1)
            .await
            .unwrap_err(),
        ApiError::PreconditionFailed(Op::UpdateDistribution)
    );
    assert!(matches!(
        fake.update_config("E1", cfg.clone(), "").await.unwrap_err(),
        ApiError::Service { code, .. } if code == "InvalidIfMatchVersion"
    ));
    fake.touch("E1", |c| c.comment = "other".into());
    assert_eq!(
        fake.update_config("E1", cfg, &etag2).await.unwrap_err(),
        ApiError::PreconditionFailed(Op::UpdateDistribution)
    );
    assert!(matches!(
        fake.get_config("E9").await.unwrap_err(),
        ApiError::NotFound { .. }
    ));
}

/// `Distribution.LastModifiedTime` moves on with every change that lands (an update or
/// someone else's edit), never with a refused one.
#[tokio::test]
async fn last_modified_time_moves_with_every_accepted_change() {
    use std::time::SystemTime;
    let fake = FakeCloudFront::new(Duration::ZERO);
    fake.insert("E1", config(&format!("{ARN}:1")));
    let inserted = fake.last_modified("E1").unwrap();
    assert!(inserted <= SystemTime::now() - Duration::from_secs(3599));
    let before_update = SystemTime::now();
    let (cfg, etag) = fake.get_config("E1").await.unwrap();
    fake.update_config("E1", cfg.clone(), &etag).await.unwrap();
    let updated = fake.last_modified("E1").unwrap();
    assert!(updated >= before_update, "{updated:?} < {before_update:?}");
    fake.update_config("E1", config(ARN), &etag)
        .await
        .unwrap_err();
    assert_eq!(fake.last_modified("E1").unwrap(), updated);
    let before_touch = SystemTime::now();
    fake.touch("E1", |c| c.comment = "other".into());
    assert!(fake.last_modified("E1").unwrap() >= before_touch);
    assert_eq!(fake.last_modified("E9"), None);
}

#[tokio::test]
async fn associations_must_name_a_numbered_version() {
    let fake = FakeCloudFront::new(Duration::ZERO);
    fake.insert("E1", config(&format!("{ARN}:1")));
    for bad in [
        ARN.to_owned(),
        format!("{ARN}:$LATEST"),
        format!("{ARN}:live"),
    ] {
        let (_, etag) = fake.get_config("E1").await.unwrap();
        let err = fake
            .update_config("E1", config(&bad), &etag)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApiError::Service { ref code, .. } if code == "InvalidLambdaFunctionAssociation"),
            "{bad}"
        );
    }
    assert_eq!(fake.update_count(), 0);
}

#[tokio::test]
async fn status_is_in_progress_until_the_delay_and_old_configs_stay_live_until_then() {
    let fake = FakeCloudFront::new(Duration::from_millis(80));
    fake.insert("E1", config(&format!("{ARN}:1")));
    assert_eq!(fake.status("E1").await.unwrap(), DeployStatus::Deployed);
    let (_, etag) = fake.get_config("E1").await.unwrap();
    fake.update_config("E1", config(&format!("{ARN}:2")), &etag)
        .await
        .unwrap();
    assert_eq!(fake.status("E1").await.unwrap(), DeployStatus::InProgress);
    assert_eq!(fake.live_configs("E1").len(), 2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.status("E1").await.unwrap(), DeployStatus::Deployed);
    let live = fake.live_configs("E1");
    assert_eq!(live.len(), 1);
    assert_eq!(
        edgeseal_rotator::associations(&live[0])
            .next()
            .unwrap()
            .lambda_function_arn,
        format!("{ARN}:2")
    );
    assert_eq!(fake.history("E1").len(), 2);
}

#[tokio::test]
async fn a_fault_strikes_exactly_the_chosen_occurrence_once() {
    let fake = FakeCloudFront::new(Duration::ZERO);
    fake.insert("E1", config(&format!("{ARN}:1")));
    let plan = FaultPlan::fail(Op::GetDistributionConfig, 1, FaultTiming::Before);
    let faulty = Faulty::new(fake.clone(), plan.clone());
    assert!(faulty.get_config("E1").await.is_ok());
    assert_eq!(
        faulty.get_config("E1").await.unwrap_err(),
        injected(Op::GetDistributionConfig)
    );
    assert!(faulty.get_config("E1").await.is_ok());
    assert!(plan.fired());

    // After: the update takes effect, the answer is lost.
    let plan = FaultPlan::fail(Op::UpdateDistribution, 0, FaultTiming::After);
    let faulty = Faulty::new(fake.clone(), plan);
    let (cfg, etag) = faulty.get_config("E1").await.unwrap();
    let err = faulty
        .update_config("E1", config(&format!("{ARN}:5")), &etag)
        .await
        .unwrap_err();
    assert_eq!(err, injected(Op::UpdateDistribution));
    assert_ne!(fake.config("E1").unwrap(), cfg);
    assert_eq!(fake.update_count(), 1);
}

//! The edge version record against moto's SSM (real SDK, real Parameter Store API) and
//! the in-process CloudFront (`edgeseal_testkit::FakeCloudFront`: moto's CloudFront drops
//! LambdaFunctionAssociations, see docs/design.md, "Facts measured on these machines").
//!
//! The parameter starts as the template creates it (holding the bootstrap version); the
//! tests then move the distribution as rotation steps do and check the parameter always
//! ends up naming what the distribution names, and is left alone when that is unclear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, EventType, LambdaFunctionAssociation,
    LambdaFunctionAssociations, Origin, Origins, ViewerProtocolPolicy,
};
use edgeseal_rotator::DistributionApi as _;
use edgeseal_rotator::testing::{ParameterApi as _, RecordError, Recorded};
use edgeseal_rotator::{EdgeVersionRecord, SdkParameters};
use edgeseal_testkit::FakeCloudFront;

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:edgeseal-edge-a1b2c3d4";

fn version(n: u32) -> String {
    format!("{FUNCTION}:{n}")
}

fn distribution(associations: &[(&str, EventType)]) -> DistributionConfig {
    let items: Vec<_> = associations
        .iter()
        .map(|(arn, event)| {
            LambdaFunctionAssociation::builder()
                .lambda_function_arn(*arn)
                .event_type(event.clone())
                .build()
                .unwrap()
        })
        .collect();
    DistributionConfig::builder()
        .caller_reference("edge-version-test")
        .comment("edge version record")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("api")
                        .domain_name("abc123.execute-api.us-east-1.amazonaws.com")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("api")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .lambda_function_associations(
                    LambdaFunctionAssociations::builder()
                        .quantity(i32::try_from(items.len()).unwrap())
                        .set_items(Some(items))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Point the distribution's origin-request association at `arn` (what setSecret and a
/// testSecret roll-back do), through the DistributionApi.
async fn point(cdn: &FakeCloudFront, id: &str, arn: &str) {
    let (mut config, etag) = cdn.get_config(id).await.unwrap();
    if let Some(b) = config.default_cache_behavior.as_mut() {
        for a in b
            .lambda_function_associations
            .as_mut()
            .unwrap()
            .items
            .iter_mut()
            .flatten()
        {
            if a.event_type == EventType::OriginRequest {
                a.lambda_function_arn = arn.to_owned();
            }
        }
    }
    cdn.update_config(id, config, &etag).await.unwrap();
}

struct Setup {
    record: EdgeVersionRecord,
    store: SdkParameters,
    name: String,
}

/// A fresh parameter holding the bootstrap version, as the template creates it.
async fn setup() -> Setup {
    let sdk = edgeseal_testkit::sdk_config().await;
    let name = format!(
        "/edgeseal/{}/edge-version",
        edgeseal_testkit::unique_name("stack")
    );
    let store = SdkParameters::new(&sdk);
    store.put(&name, &version(1)).await.unwrap();
    let record = EdgeVersionRecord::from_lookup(|var| {
        (var == edgeseal_rotator::PARAMETER_VAR).then(|| name.clone())
    })
    .unwrap()
    .unwrap();
    Setup {
        record,
        store,
        name,
    }
}

#[tokio::test]
async fn the_parameter_follows_the_distribution_through_a_rotation_and_a_roll_back() {
    let s = setup().await;
    let cdn = FakeCloudFront::new(Duration::ZERO);
    cdn.insert(
        "E1",
        distribution(&[
            (&version(1), EventType::OriginRequest),
            // A viewer-request function of the same name is not the signer's association.
            (&version(9), EventType::ViewerRequest),
        ]),
    );
    let ids = ["E1".to_owned()];

    // Nothing moved yet: the bootstrap version is recorded and stays.
    assert_eq!(
        s.record.record(&cdn, &s.store, &ids, FUNCTION).await,
        Ok(Recorded::Unchanged(version(1)))
    );

    // setSecret points the distribution at version 2: recorded, by function name too.
    point(&cdn, "E1", &version(2)).await;
    assert_eq!(
        s.record
            .record(&cdn, &s.store, &ids, "edgeseal-edge-a1b2c3d4")
            .await,
        Ok(Recorded::Written(version(2)))
    );
    assert_eq!(s.store.get(&s.name).await.unwrap(), Some(version(2)));

    // A later rotation publishes 3, its test fails and it rolls back to 2: the parameter
    // ends on 2, what the edges send, not on the version the rotation tried.
    point(&cdn, "E1", &version(3)).await;
    s.record
        .record(&cdn, &s.store, &ids, FUNCTION)
        .await
        .unwrap();
    point(&cdn, "E1", &version(2)).await;
    assert_eq!(
        s.record.record(&cdn, &s.store, &ids, FUNCTION).await,
        Ok(Recorded::Written(version(2)))
    );
    assert_eq!(s.store.get(&s.name).await.unwrap(), Some(version(2)));
}

#[tokio::test]
async fn distributions_that_disagree_leave_the_parameter_alone() {
    let s = setup().await;
    let cdn = FakeCloudFront::new(Duration::ZERO);
    cdn.insert(
        "E1",
        distribution(&[(&version(4), EventType::OriginRequest)]),
    );
    cdn.insert(
        "E2",
        distribution(&[(&version(5), EventType::OriginRequest)]),
    );
    let ids = ["E1".to_owned(), "E2".to_owned()];
    let err = s
        .record
        .record(&cdn, &s.store, &ids, FUNCTION)
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::Disagree { .. }), "{err}");
    assert_eq!(s.store.get(&s.name).await.unwrap(), Some(version(1)));
}

#[tokio::test]
async fn no_association_of_the_function_leaves_the_parameter_alone() {
    let s = setup().await;
    let cdn = FakeCloudFront::new(Duration::ZERO);
    let other = "arn:aws:lambda:us-east-1:123456789012:function:someone-else:3";
    cdn.insert("E1", distribution(&[(other, EventType::OriginRequest)]));
    let err = s
        .record
        .record(&cdn, &s.store, &["E1".to_owned()], FUNCTION)
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::NoAssociation { .. }), "{err}");
    assert_eq!(s.store.get(&s.name).await.unwrap(), Some(version(1)));
}

#[tokio::test]
async fn a_missing_parameter_is_created_and_ssm_errors_are_reported() {
    let sdk = edgeseal_testkit::sdk_config().await;
    let store = SdkParameters::new(&sdk);
    let name = format!(
        "/edgeseal/{}/edge-version",
        edgeseal_testkit::unique_name("gone")
    );
    assert_eq!(store.get(&name).await.unwrap(), None);
    let record = EdgeVersionRecord::from_lookup(|_| Some(name.clone()))
        .unwrap()
        .unwrap();
    let cdn = FakeCloudFront::new(Duration::ZERO);
    cdn.insert(
        "E1",
        distribution(&[(&version(6), EventType::OriginRequest)]),
    );
    assert_eq!(
        record
            .record(&cdn, &store, &["E1".to_owned()], FUNCTION)
            .await,
        Ok(Recorded::Written(version(6)))
    );
    // A name SSM refuses ("aws" prefixes are reserved) comes back as a typed error.
    let err = store.put("/aws/reserved", "x").await;
    assert!(
        matches!(
            err,
            Err(RecordError::Parameter {
                op: "PutParameter",
                ..
            })
        ),
        "{err:?}"
    );
}

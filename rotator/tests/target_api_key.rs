//! Target `api-gateway-api-key`: the API key work of the steps through the real SDK
//! against moto's API Gateway, behind the stand-in that adds the checks moto skips
//! (`edgeseal_testkit::api_gateway::AwsLikeUsagePlanKeys`), with a loopback stage that
//! decides requests as API Gateway does (`ApiKeyOrigin`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use edgeseal::StaticHeaderValue;
use edgeseal_rotator::ApiError;
use edgeseal_rotator::SecretMetadata;
use edgeseal_rotator::testing::api_key::{KeyRotation, RetireGuard};
use edgeseal_rotator::testing::api_key::{PROBE_PAUSE, wait_until_accepted};
use edgeseal_rotator::testing::api_key::{TAG_SECRET, TAG_VERSION, secret_tag};
use edgeseal_rotator::{
    ApiKey, ApiKeyError, ApiKeySettings, NewApiKey, SdkUsagePlanKeys, UsagePlanKeys,
};
use edgeseal_rotator::{Credential, OriginProbe};
use edgeseal_rotator::{ExpectedStatus, OriginTest};
use edgeseal_testkit::api_gateway::{ApiKeyOrigin, ApiKeyOriginSettings, AwsLikeUsagePlanKeys};
use edgeseal_testkit::unique_name;
use edgeseal_testkit::world::{self, NewFunction, NewSecret};
use tokio::time::Instant;

mod common;

type Keys = AwsLikeUsagePlanKeys<SdkUsagePlanKeys>;

struct Moto {
    client: aws_sdk_apigateway::Client,
    keys: Keys,
}

async fn moto() -> Moto {
    let sdk = edgeseal_testkit::sdk_config().await;
    let client = aws_sdk_apigateway::Client::new(&sdk);
    let keys = AwsLikeUsagePlanKeys::new(SdkUsagePlanKeys::new(&sdk));
    Moto { client, keys }
}

impl Moto {
    async fn usage_plan(&self) -> String {
        world::create_usage_plan(&self.client, &unique_name("CloudFront_only"))
            .await
            .unwrap()
    }

    async fn plan_exists(&self, id: &str) -> bool {
        self.keys.usage_plan_exists(id).await.unwrap()
    }

    async fn keys_named(&self, prefix: &str) -> Vec<ApiKey> {
        self.keys.api_keys_named(prefix).await.unwrap()
    }

    async fn linked(&self, plan: &str) -> Vec<String> {
        self.keys.plan_key_ids(plan).await.unwrap()
    }
}

fn settings(plans: &[&str], prefix: &str) -> ApiKeySettings {
    let plans = plans.join(",");
    ApiKeySettings::from_lookup(&|name| match name {
        "USAGE_PLAN_ID" => Some(plans.clone()),
        "API_KEY_NAME_PREFIX" => Some(prefix.to_owned()),
        _ => None,
    })
    .unwrap()
}

/// A fresh API key value: 40 alphanumeric characters.
fn value() -> StaticHeaderValue {
    let hex = |_| edgeseal_testkit::new_version_id().unwrap().replace('-', "");
    StaticHeaderValue::new((0..2).map(hex).collect::<String>()[..40].to_owned()).unwrap()
}

fn probe_for(origin: &ApiKeyOrigin) -> OriginProbe {
    OriginProbe::new(OriginTest {
        url: origin.url.parse().unwrap(),
        method: http::Method::GET,
        expected: ExpectedStatus::Success,
        timeout: Duration::from_secs(5),
        profile: edgeseal::Profile::default(),
    })
}

async fn probe(
    probe: &OriginProbe,
    value: &StaticHeaderValue,
) -> Result<u16, edgeseal_rotator::ProbeError> {
    probe
        .probe(Credential::Header {
            name: "x-api-key",
            value,
        })
        .await
}

/// Long enough for the stand-in stage to read moto again.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn meta(versions: &[(&str, &[&str])]) -> SecretMetadata {
    SecretMetadata {
        rotation_enabled: true,
        versions: versions
            .iter()
            .map(|(id, stages)| {
                (
                    (*id).to_owned(),
                    stages.iter().map(|s| (*s).to_owned()).collect(),
                )
            })
            .collect(),
        rotation_interval: None,
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_value_becomes_an_enabled_linked_key_the_stage_accepts_and_reruns_adopt_it() {
    let moto = moto().await;
    let (plan_a, plan_b) = (moto.usage_plan().await, moto.usage_plan().await);
    let prefix = unique_name("CloudFront-");
    let settings = settings(&[&plan_a, &plan_b], &prefix);
    let origin =
        ApiKeyOrigin::start(moto.client.clone(), ApiKeyOriginSettings::new(&[&plan_a])).await;
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:edge-AbCdEf";
    let rotation = KeyRotation::new(&moto.keys, &settings, secret);
    let pending = value();
    assert!(!origin.accepted_by_some_node(pending.expose()));

    let before = SystemTime::now();
    let placed = rotation
        .ensure_accepted("v2", &pending, far())
        .await
        .unwrap();
    let id = placed.key_id.clone();
    // Counted from after the link, rounded up to a whole second.
    assert!(placed.since >= before, "{placed:?}");
    assert!(placed.since <= SystemTime::now() + Duration::from_secs(1));
    settle().await;
    assert!(origin.accepted_by_every_node(pending.expose()));
    assert_eq!(probe(&probe_for(&origin), &pending).await, Ok(200));

    let keys = moto.keys_named(&prefix).await;
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        (key.id.as_str(), key.name.as_str()),
        (id.as_str(), format!("{prefix}v2").as_str())
    );
    assert!(key.enabled);
    assert_eq!(key.tags.get(TAG_VERSION).map(String::as_str), Some("v2"));
    assert_eq!(key.tags.get(TAG_SECRET), Some(&secret_tag(secret)));
    assert_eq!(moto.linked(&plan_a).await, std::slice::from_ref(&id));
    assert_eq!(moto.linked(&plan_b).await, std::slice::from_ref(&id));

    // Secrets Manager retries with the same token: the same key, no second link, no plan.
    for _ in 0..2 {
        let again = rotation
            .ensure_accepted("v2", &pending, far())
            .await
            .unwrap();
        // Found in place: counted from when the first call recorded it, not from now.
        assert_eq!(again, placed);
    }
    assert_eq!(moto.keys_named(&prefix).await.len(), 1);
    assert_eq!(moto.linked(&plan_a).await, std::slice::from_ref(&id));

    // A key disabled by hand meanwhile is enabled again: the stage refuses disabled keys.
    moto.client
        .update_api_key()
        .api_key(&id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
    settle().await;
    assert_eq!(
        probe(&probe_for(&origin), &pending).await,
        Err(edgeseal_rotator::ProbeError::UnexpectedStatus(403))
    );
    let enabled = rotation
        .ensure_accepted("v2", &pending, far())
        .await
        .unwrap();
    assert_eq!(enabled.key_id, id);
    assert!(
        enabled.since >= SystemTime::now() - Duration::from_secs(1),
        "changed now: counts from now"
    );
    settle().await;
    assert!(origin.accepted_by_every_node(pending.expose()));
}

/// A try creates the key and fails before linking it (Secrets Manager retries the step
/// later); the next links it; a third finds it in place. API Gateway's propagation counts
/// from the link, so the third must too, not from the key's creation (what `createdDate`
/// would say), and not from now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_linked_by_a_later_try_counts_from_the_link_not_its_creation() {
    let moto = moto().await;
    let plan = moto.usage_plan().await;
    let prefix = unique_name("CloudFront-");
    let settings = settings(&[&plan], &prefix);
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:edge-AbCdEf";
    let pending = value();

    let faults = FaultPlan::fail(Op::CreateUsagePlanKey, 0, FaultTiming::Before);
    let failing = Faulty::new(moto.keys.clone(), faults.clone());
    let err = KeyRotation::new(&failing, &settings, secret)
        .ensure_accepted("v2", &pending, far())
        .await
        .unwrap_err();
    assert!(faults.fired(), "{err}");
    let created = moto.keys_named(&prefix).await;
    assert_eq!(created.len(), 1);
    assert!(moto.linked(&plan).await.is_empty());

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let rotation = KeyRotation::new(&moto.keys, &settings, secret);
    let linking = SystemTime::now();
    let linked = rotation
        .ensure_accepted("v2", &pending, far())
        .await
        .unwrap();
    assert_eq!(linked.key_id, created[0].id);
    assert!(linked.since >= linking, "{linked:?}");
    let adopted = rotation
        .ensure_accepted("v2", &pending, far())
        .await
        .unwrap();
    assert_eq!(adopted, linked);
    let created_at = created[0].created.expect("moto reports createdDate");
    assert!(
        adopted.since >= created_at + Duration::from_secs(2),
        "counted from the creation: {adopted:?}, created {created_at:?}"
    );

    // The try that linked it failed before recording when (its UpdateApiKey lost): the
    // next try records a time of its own, never the creation.
    let unrecorded = KeyRotation::new(&moto.keys, &settings, secret);
    let other = value();
    let faults = FaultPlan::fail(Op::UpdateApiKey, 0, FaultTiming::Before);
    let failing = Faulty::new(moto.keys.clone(), faults.clone());
    KeyRotation::new(&failing, &settings, secret)
        .ensure_accepted("v3", &other, far())
        .await
        .unwrap_err();
    assert!(faults.fired());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let retrying = SystemTime::now();
    let again = unrecorded
        .ensure_accepted("v3", &other, far())
        .await
        .unwrap();
    assert!(again.since >= retrying, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_usage_plan_is_refused_never_created() {
    let moto = moto().await;
    let prefix = unique_name("CloudFront-");
    let settings = settings(&["nosuchplan1"], &prefix);
    let rotation = KeyRotation::new(&moto.keys, &settings, "secret");
    let err = rotation
        .ensure_accepted("v1", &value(), far())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiKeyError::UsagePlanNotFound(ref p) if p == "nosuchplan1"),
        "{err}"
    );
    assert!(err.to_string().contains("USAGE_PLAN_ID"));
    assert!(
        !moto.plan_exists("nosuchplan1").await,
        "adopted, never created"
    );
    assert!(
        moto.keys_named(&prefix).await.is_empty(),
        "no key made for nothing"
    );
}

/// The listing lags (or an earlier try's answer was lost): `CreateApiKey` says the value
/// exists, and the key found by value is edgeseal's own for this version: adopted.
struct NameListingLags(Keys);

impl UsagePlanKeys for NameListingLags {
    async fn usage_plan_exists(&self, plan: &str) -> Result<bool, ApiError> {
        self.0.usage_plan_exists(plan).await
    }
    async fn api_keys_named(&self, _: &str) -> Result<Vec<ApiKey>, ApiError> {
        Ok(Vec::new())
    }
    async fn api_key_with_value(&self, value: &str) -> Result<Option<ApiKey>, ApiError> {
        self.0.api_key_with_value(value).await
    }
    async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKey, ApiError> {
        self.0.create_api_key(key).await
    }
    async fn enable_api_key(&self, id: &str) -> Result<(), ApiError> {
        self.0.enable_api_key(id).await
    }
    async fn describe_api_key(&self, id: &str, description: &str) -> Result<(), ApiError> {
        self.0.describe_api_key(id, description).await
    }
    async fn delete_api_key(&self, id: &str) -> Result<(), ApiError> {
        self.0.delete_api_key(id).await
    }
    async fn plan_key_ids(&self, plan: &str) -> Result<Vec<String>, ApiError> {
        self.0.plan_key_ids(plan).await
    }
    async fn link(&self, plan: &str, id: &str) -> Result<(), ApiError> {
        self.0.link(plan, id).await
    }
    async fn unlink(&self, plan: &str, id: &str) -> Result<(), ApiError> {
        self.0.unlink(plan, id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_value_is_adopted_when_it_is_our_key_and_refused_when_it_is_not() {
    let moto = moto().await;
    let plan = moto.usage_plan().await;
    let prefix = unique_name("CloudFront-");
    let settings = settings(&[&plan], &prefix);
    let secret = "secret-a";

    // Ours, made by an earlier try whose answer was lost; the listing does not show it.
    let pending = value();
    let first = KeyRotation::new(&moto.keys, &settings, secret)
        .ensure_accepted("v7", &pending, far())
        .await
        .unwrap()
        .key_id;
    let lagging = NameListingLags(moto.keys.clone());
    let again = KeyRotation::new(&lagging, &settings, secret)
        .ensure_accepted("v7", &pending, far())
        .await
        .unwrap()
        .key_id;
    assert_eq!(again, first);
    assert_eq!(moto.keys_named(&prefix).await.len(), 1);

    // Another secret's rotation (other tag) holding that value: refused, nothing changed.
    let err = KeyRotation::new(&lagging, &settings, "secret-b")
        .ensure_accepted("v7", &pending, far())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiKeyError::ValueTaken { ref key_id } if *key_id == first),
        "{err}"
    );

    // A key made by hand (the blog's CloudFormation key) with the value: refused.
    let foreign = value();
    moto.keys
        .create_api_key(&NewApiKey {
            name: &format!("{prefix}2018-04-03"),
            description: "CloudFormation API Key 2018-04-03",
            value: foreign.expose(),
            tags: BTreeMap::new(),
        })
        .await
        .unwrap();
    let err = KeyRotation::new(&moto.keys, &settings, secret)
        .ensure_accepted("v8", &foreign, far())
        .await
        .unwrap_err();
    assert!(matches!(err, ApiKeyError::ValueTaken { .. }), "{err}");
    assert!(!err.to_string().contains(foreign.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retirement_deletes_only_our_keys_nothing_may_send_any_more() {
    let moto = moto().await;
    let plan = moto.usage_plan().await;
    let prefix = unique_name("CloudFront-");
    let settings = settings(&[&plan], &prefix);
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:retire-AbCdEf";
    let origin =
        ApiKeyOrigin::start(moto.client.clone(), ApiKeyOriginSettings::new(&[&plan])).await;
    let rotation = KeyRotation::new(&moto.keys, &settings, secret);
    let mut values = BTreeMap::new();
    for version in ["old", "previous", "current", "pending", "abandoned"] {
        let v = value();
        rotation.ensure_accepted(version, &v, far()).await.unwrap();
        values.insert(version, v);
        // CreateApiKey: 5 a second per account (the stand-in enforces it).
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The blog's CloudFormation key in the same plan, under a name with our prefix.
    let blog = value();
    let blog_key = moto
        .keys
        .create_api_key(&NewApiKey {
            name: &format!("{prefix}2018-04-03"),
            description: "CloudFormation API Key 2018-04-03",
            value: blog.expose(),
            tags: BTreeMap::new(),
        })
        .await
        .unwrap();
    moto.keys.link(&plan, &blog_key.id).await.unwrap();
    let labels = meta(&[
        ("previous", &["AWSPREVIOUS"]),
        ("current", &["AWSCURRENT"]),
        ("pending", &["AWSPENDING"]),
    ]);
    let now = SystemTime::now();
    let current_created = Some(now - Duration::from_secs(60));
    let settled = |sent: &[&str]| RetireGuard::Settled {
        sent: sent
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>(),
    };

    // An edge may still run an older config: nothing goes.
    let none = rotation
        .retire(
            &labels,
            current_created,
            now,
            &RetireGuard::Unsettled,
            far(),
        )
        .await;
    assert!(none.deleted.is_empty() && none.failed.is_empty());

    // A distribution still sends "old" (an unlabelled value): kept.
    let kept = rotation
        .retire(
            &labels,
            current_created,
            now,
            &settled(&["current", "old"]),
            far(),
        )
        .await;
    assert_eq!(kept.deleted, ["abandoned"]);
    assert!(
        kept.kept
            .contains(&("old".to_owned(), "sent by a distribution"))
    );

    // Settled on current: the unlabelled key goes; previous stays within the grace.
    let retired = rotation
        .retire(&labels, current_created, now, &settled(&["current"]), far())
        .await;
    assert_eq!(retired.deleted, ["old"]);
    assert!(
        retired
            .kept
            .contains(&("previous".to_owned(), "AWSPREVIOUS within the grace"))
    );
    settle().await;
    for (version, accepted) in [
        ("old", false),
        ("abandoned", false),
        ("previous", true),
        ("current", true),
        ("pending", true),
    ] {
        assert_eq!(
            origin.accepted_by_some_node(values[version].expose()),
            accepted,
            "{version}"
        );
    }
    assert!(
        origin.accepted_by_every_node(blog.expose()),
        "not ours: never touched"
    );

    // The grace ends (counted from AWSCURRENT's creation): previous goes too.
    let later = now + settings.previous_grace;
    let retired = rotation
        .retire(
            &labels,
            current_created,
            later,
            &settled(&["current"]),
            far(),
        )
        .await;
    assert_eq!(retired.deleted, ["previous"]);
    // Unknown creation date: the grace is never assumed over.
    let unknown = meta(&[("current", &["AWSCURRENT"]), ("pending", &["AWSPENDING"])]);
    let retired = rotation
        .retire(&unknown, None, later, &settled(&["current"]), far())
        .await;
    assert!(retired.deleted.is_empty());

    let names: BTreeSet<String> = moto
        .keys_named(&prefix)
        .await
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(
        names,
        ["current", "pending", "2018-04-03"]
            .iter()
            .map(|v| format!("{prefix}{v}"))
            .collect()
    );
    assert_eq!(moto.linked(&plan).await.len(), 3);
}

/// A stage of 8 nodes, the slowest `lag` behind, and a key just put in place.
async fn propagating(lag: Duration) -> (ApiKeyOrigin, StaticHeaderValue, std::time::Instant) {
    let moto = moto().await;
    let plan = moto.usage_plan().await;
    let settings = settings(&[&plan], &unique_name("CloudFront-"));
    let origin = ApiKeyOrigin::start(
        moto.client.clone(),
        ApiKeyOriginSettings::new(&[&plan]).propagating(8, lag),
    )
    .await;
    let pending = value();
    let linked_at = std::time::Instant::now();
    KeyRotation::new(&moto.keys, &settings, "secret")
        .ensure_accepted("v1", &pending, far())
        .await
        .unwrap();
    settle().await;
    assert!(origin.accepted_by_some_node(pending.expose()));
    assert!(
        !origin.accepted_by_every_node(pending.expose()),
        "the slow nodes lag"
    );
    (origin, pending, linked_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_in_a_row_alone_would_point_cloudfront_while_slow_nodes_still_refuse() {
    // The stand-in is not kinder than the evidence: three passing probes come from the
    // fast nodes while the slowest still refuses the key.
    let (origin, pending, _) = propagating(Duration::from_secs(6)).await;
    let prober = probe_for(&origin);
    wait_until_accepted(
        || probe(&prober, &pending),
        PROBE_PAUSE,
        Instant::now(),
        far(),
    )
    .await
    .unwrap();
    assert!(!origin.accepted_by_every_node(pending.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_out_the_propagation_time_leaves_no_node_refusing_the_key() {
    let lag = Duration::from_millis(2500);
    let (origin, pending, linked_at) = propagating(lag).await;
    let prober = probe_for(&origin);
    // API_KEY_PROPAGATION_SECS covering the lag, counted from the link.
    let not_before = Instant::from_std(linked_at) + lag + Duration::from_millis(300);
    wait_until_accepted(|| probe(&prober, &pending), PROBE_PAUSE, not_before, far())
        .await
        .unwrap();
    assert!(origin.accepted_by_every_node(pending.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_what_aws_refuses_and_moto_lets_through() {
    let moto = moto().await;
    let plan = moto.usage_plan().await;
    let raw = SdkUsagePlanKeys(moto.client.clone());
    let key = moto
        .keys
        .create_api_key(&NewApiKey {
            name: &unique_name("CloudFront-"),
            description: "",
            value: value().expose(),
            tags: BTreeMap::new(),
        })
        .await
        .unwrap();

    // Linking to a plan that does not exist: moto makes the link, AWS says NotFound.
    raw.link("nosuchplan2", &key.id).await.unwrap();
    assert!(matches!(
        moto.keys.link("nosuchplan3", &key.id).await,
        Err(ApiError::NotFound { .. })
    ));
    // Linking twice: moto re-links silently, the stand-in answers ConflictException.
    moto.keys.link(&plan, &key.id).await.unwrap();
    raw.link(&plan, &key.id).await.unwrap();
    assert!(matches!(
        moto.keys.link(&plan, &key.id).await,
        Err(ApiError::Conflict { .. })
    ));
    // Unlinking a key not in the plan: NotFound (moto answers 500).
    moto.keys.unlink(&plan, &key.id).await.unwrap();
    assert!(matches!(
        moto.keys.unlink(&plan, &key.id).await,
        Err(ApiError::NotFound { .. })
    ));
    // Values API Gateway does not take.
    for bad in ["x".repeat(129), format!("{}-dash", "a".repeat(30))] {
        let err = moto
            .keys
            .create_api_key(&NewApiKey {
                name: "bad",
                description: "",
                value: &bad,
                tags: BTreeMap::new(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApiError::Service { ref code, .. } if code == "BadRequestException"),
            "{err}"
        );
        assert!(!err.to_string().contains(&bad));
    }
    // CreateApiKey past 5 a second: throttled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut throttled = 0;
    for _ in 0..7 {
        let made = moto
            .keys
            .create_api_key(&NewApiKey {
                name: &unique_name("CloudFront-burst-"),
                description: "",
                value: value().expose(),
                tags: BTreeMap::new(),
            })
            .await;
        throttled += usize::from(matches!(made, Err(ApiError::Throttled { .. })));
    }
    assert_eq!(throttled, 2);
}

// ---------------------------------------------------------------------------------
// The whole rotation: moto's Secrets Manager and API Gateway, the CloudFront fake
// (a deploy takes a moment, so edges run old and new configs side by side), the stage
// with its propagation lag, and the rotator driven as Secrets Manager drives it.

use edgeseal_rotator::{ApiKeyTarget, Op, Rotator, Step, custom_headers};
use edgeseal_testkit::{FakeCloudFront, FaultPlan, FaultTiming, Faulty};

type KeysUnderTest = Faulty<Keys>;
type ApiKeyRotator = Rotator<
    Faulty<edgeseal_rotator::SdkSecrets>,
    ApiKeyTarget<Faulty<FakeCloudFront>, KeysUnderTest>,
>;

struct KeyWorld {
    moto: Moto,
    sm: aws_sdk_secretsmanager::Client,
    sdk: aws_config::SdkConfig,
    secret: String,
    plan: String,
    prefix: String,
    distribution: String,
    cdn: FakeCloudFront,
    origin: ApiKeyOrigin,
    rotation_lambda_arn: String,
    blog_value: StaticHeaderValue,
}

impl KeyWorld {
    /// `deploy`: how long the CloudFront fake takes to deploy a change.
    async fn new(deploy: Duration) -> Self {
        let moto = moto().await;
        let sdk = common::sdk_config().await;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let plan = moto.usage_plan().await;
        let prefix = unique_name("CloudFront-");
        // The blog's setup: a key its stack made (not edgeseal's), in the plan, sent by
        // CloudFront as x-api-key, its value in the secret.
        let blog_value = value();
        let blog = moto
            .keys
            .create_api_key(&NewApiKey {
                name: &format!("{prefix}2018-04-03"),
                description: "CloudFormation API Key 2018-04-03",
                value: blog_value.expose(),
                tags: BTreeMap::new(),
            })
            .await
            .unwrap();
        moto.keys.link(&plan, &blog.id).await.unwrap();
        let secret = unique_name("edgeseal/api-key");
        let value = format!(r#"{{"HTTP_API_KEY":"{}"}}"#, blog_value.expose());
        world::create_secret(&sm, &NewSecret::new(&secret, &value))
            .await
            .unwrap();
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let zip = common::zip_for("x", &edgeseal::SigningKey::from_bytes(&[2; 32]).unwrap());
        let role = common::role_arn(&sdk).await;
        let rotator_fn = world::create_function(
            &lambda,
            NewFunction::edge(&unique_name("rotator"), &role, zip),
        )
        .await
        .unwrap();
        let cdn = FakeCloudFront::new(deploy);
        let distribution = format!(
            "E{}",
            unique_name("K").replace(['-', '_'], "")[..12].to_ascii_uppercase()
        );
        let config = world::Distribution::new("api", "api.example.com", "edgeseal test")
            .cache_policy(edgeseal_testkit::CACHING_DISABLED)
            .origin_request_policy(edgeseal_testkit::ALL_VIEWER_EXCEPT_HOST_HEADER)
            .header("X-Other", "keep-me")
            .header("x-api-key", blog_value.expose())
            .build()
            .unwrap();
        cdn.insert(&distribution, config);
        let origin = ApiKeyOrigin::start(
            moto.client.clone(),
            ApiKeyOriginSettings::new(&[&plan]).propagating(4, Duration::from_millis(600)),
        )
        .await;
        Self {
            moto,
            sm,
            sdk,
            secret,
            plan,
            prefix,
            distribution,
            cdn,
            origin,
            rotation_lambda_arn: rotator_fn.arn,
            blog_value,
        }
    }

    fn rotator(&self, plan: Arc<FaultPlan>, extra: &[(&str, &str)]) -> ApiKeyRotator {
        let mut vars: BTreeMap<&str, String> = [
            ("ROTATION_TARGET", "api-gateway-api-key".to_owned()),
            ("CLOUDFRONT_DISTRIBUTION_ID", self.distribution.clone()),
            ("ORIGIN_URL", self.origin.url.clone()),
            ("USAGE_PLAN_ID", self.plan.clone()),
            ("API_KEY_NAME_PREFIX", self.prefix.clone()),
            ("API_KEY_PROPAGATION_SECS", "1".to_owned()),
            // Probes 100 ms apart: the propagation wait above still covers the stage's
            // 600 ms lag, and the fault matrix runs in a fraction of the time.
            ("API_KEY_PROBE_INTERVAL_MS", "100".to_owned()),
            ("PREVIOUS_KEY_GRACE_SECS", "0".to_owned()),
            ("DEADLINE_MARGIN_MS", "0".to_owned()),
        ]
        .into_iter()
        .collect();
        for (k, v) in extra {
            vars.insert(k, (*v).to_owned());
        }
        let config = edgeseal_rotator::Config::from_lookup(|n| vars.get(n).cloned()).unwrap();
        let target = ApiKeyTarget::from_config(
            &config,
            KeysUnderTest::new(self.moto.keys.clone(), Arc::clone(&plan)),
            Faulty::new(self.cdn.clone(), Arc::clone(&plan)),
        )
        .unwrap();
        Rotator::new(
            config,
            Faulty::new(edgeseal_rotator::SdkSecrets::new(&self.sdk), plan),
            target,
        )
    }

    async fn start_rotation(&self) -> String {
        edgeseal_testkit::start_rotation(&self.sm, &self.secret, &self.rotation_lambda_arn)
            .await
            .unwrap()
    }

    fn event(&self, step: Step, token: &str) -> edgeseal_rotator::RotationEvent {
        edgeseal_rotator::RotationEvent {
            step,
            secret_id: self.secret.clone(),
            client_request_token: token.to_owned(),
            rotation_token: None,
        }
    }

    /// The invariant: every value an edge may send now (every config not yet replaced
    /// everywhere) is accepted by every node of the stage.
    fn check_invariant(&self, when: &str) {
        for config in self.cdn.live_configs(&self.distribution) {
            for sent in custom_headers(&config, "x-api-key") {
                assert!(
                    self.origin.accepted_by_every_node(sent),
                    "{when}: CloudFront may send a key the stage refuses"
                );
            }
        }
    }

    async fn labels(&self) -> std::collections::HashMap<String, Vec<String>> {
        common::version_stages(&self.sm, &self.secret).await
    }

    async fn value_of(&self, version: &str) -> String {
        let stored = common::uncached_secret_value(&self.sm, &self.secret, version)
            .await
            .unwrap();
        match edgeseal::SecretValue::parse(&stored, Some("HTTP_API_KEY")).unwrap() {
            edgeseal::SecretValue::StaticHeader(v) => v.expose().to_owned(),
            edgeseal::SecretValue::Hmac(_) => panic!("a signing key"),
        }
    }

    /// Drive the four steps like Secrets Manager (a failed step retries the whole
    /// rotation), checking the invariant around every step; each step runs `runs` times.
    async fn rotate(
        &self,
        rotator: &ApiKeyRotator,
        token: &str,
        runs: usize,
        attempts: usize,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        for _ in 0..attempts {
            let mut failed = false;
            for step in Step::ALL {
                for run in 0..runs {
                    self.check_invariant(&format!("before {step}"));
                    let updates = self.cdn.update_count();
                    let result = rotator
                        .run(
                            &self.event(step, token),
                            Instant::now() + Duration::from_secs(20),
                        )
                        .await;
                    self.check_invariant(&format!("after {step}"));
                    if let Err(e) = result {
                        errors.push(format!("{step}: {e}"));
                        failed = true;
                        break;
                    }
                    if run > 0 {
                        // The rerun found its work done: no distribution written again.
                        assert_eq!(self.cdn.update_count(), updates, "a rerun of {step} wrote");
                    }
                }
                if failed {
                    break;
                }
            }
            if !failed {
                return errors;
            }
            // Secrets Manager retries later.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("rotation did not converge in {attempts} attempts: {errors:?}");
    }

    async fn assert_rotated(&self, token: &str) {
        let labels = self.labels().await;
        assert!(
            labels[token].iter().any(|l| l == "AWSCURRENT"),
            "{labels:?}"
        );
        let value = self.value_of(token).await;
        let config = self.cdn.config(&self.distribution).unwrap();
        let sent: Vec<&str> = custom_headers(&config, "x-api-key").collect();
        assert_eq!(sent, [value.as_str()]);
        assert!(self.origin.accepted_by_every_node(&value));
    }

    /// Wait until CloudFront is Deployed (the fake's deploy delay).
    async fn deployed(&self) {
        tokio::time::sleep(Duration::from_millis(800)).await;
    }

    async fn own_keys(&self) -> Vec<String> {
        self.moto
            .keys_named(&self.prefix)
            .await
            .into_iter()
            .filter(|k| k.tags.contains_key(TAG_VERSION))
            .map(|k| k.tags[TAG_VERSION].clone())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rotations_every_step_twice_keep_every_sent_key_accepted_and_retire_old_keys() {
    // AWS's timing: CloudFront deploys for minutes, so within a rotation every rerun finds
    // it `InProgress` with the rotation's own change; between two rotations it finishes.
    let world = KeyWorld::new(Duration::from_secs(3600)).await;
    let rotator = world.rotator(FaultPlan::none(), &[]);
    let mut tokens = Vec::new();
    for rotation in 0..3 {
        world.cdn.complete_deployments();
        let token = world.start_rotation().await;
        let errors = world.rotate(&rotator, &token, 2, 1).await;
        assert!(errors.is_empty(), "{errors:?}");
        world.assert_rotated(&token).await;
        world
            .origin
            .accepted_by_every_node(world.blog_value.expose());
        tokens.push(token);
        let own = world.own_keys().await;
        // Never more than current, previous (in grace or still propagating) and the one
        // before, which the next createSecret retires.
        assert!(own.len() <= 3, "rotation {rotation}: {own:?}");
    }
    // The third rotation's createSecret retired the first rotation's key (grace 0, the
    // distribution Deployed on the second's): unlinked and deleted.
    let own: BTreeSet<String> = world.own_keys().await.into_iter().collect();
    assert!(!own.contains(&tokens[0]), "{own:?}");
    assert!(own.contains(&tokens[2]));
    // The blog's key is not edgeseal's: never deleted (the operator retires it).
    let names: Vec<String> = world
        .moto
        .keys_named(&world.prefix)
        .await
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert!(names.contains(&format!("{}2018-04-03", world.prefix)));
    let linked = world.moto.linked(&world.plan).await;
    assert!(linked.len() <= 4, "{linked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_each_aws_call_converges_without_cloudfront_sending_a_refused_key() {
    // Deploys with no delay: which calls a rotation makes must not depend on whether a
    // 300 ms deploy happened to finish before finishSecret (retirement reads the labelled
    // values only then); the three-rotation test covers slow deploys. Retirement's
    // unlink and delete run once CloudFront is Deployed, seldom inside these quick
    // rotations; their failures are logged, never fail a step (the retirement tests
    // cover them).
    let world = KeyWorld::new(Duration::ZERO).await;
    // The calls of a clean rotation (the second: the first has no key of ours to retire).
    let warm = world.start_rotation().await;
    world
        .rotate(&world.rotator(FaultPlan::none(), &[]), &warm, 1, 1)
        .await;
    world.deployed().await;
    let plan = FaultPlan::none();
    let token = world.start_rotation().await;
    world
        .rotate(&world.rotator(Arc::clone(&plan), &[]), &token, 1, 1)
        .await;
    world.assert_rotated(&token).await;
    world.deployed().await;
    let mut seen: BTreeMap<Op, usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for op in plan.calls() {
        let occurrence = seen.entry(op).or_default();
        cases.push((op, *occurrence, FaultTiming::Before));
        if op.mutates() {
            cases.push((op, *occurrence, FaultTiming::After));
        }
        *occurrence += 1;
    }
    let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
    let mut unfired = Vec::new();
    for (op, occurrence, timing) in &cases {
        let plan = FaultPlan::fail(*op, *occurrence, *timing);
        let rotator = world.rotator(Arc::clone(&plan), &[]);
        let token = world.start_rotation().await;
        world.rotate(&rotator, &token, 1, 4).await;
        if !plan.fired() {
            // A read whose count depends on what earlier cases left behind (more or
            // fewer labelled versions to read): the rotation converged without it.
            assert!(
                !op.mutates(),
                "{op} #{occurrence} {timing:?} never happened"
            );
            unfired.push(format!("{op} #{occurrence}"));
            world.assert_rotated(&token).await;
            continue;
        }
        world.assert_rotated(&token).await;
        *per_op.entry(op.as_str().to_owned()).or_default() += 1;
        world.deployed().await;
    }
    println!(
        "fault matrix (api-gateway-api-key): {} cases, {} fired: {per_op:?}; not reached: {unfired:?}",
        cases.len(),
        per_op.values().sum::<usize>()
    );
    for op in [
        Op::CreateApiKey,
        Op::CreateUsagePlanKey,
        Op::GetApiKeys,
        Op::GetUsagePlanKeys,
        Op::UpdateDistribution,
        Op::PutSecretValue,
    ] {
        assert!(
            per_op.contains_key(op.as_str()),
            "no case for {op}: {per_op:?}"
        );
    }
}

//! The `appsync-api-key` target's AppSync layer through the real SDK against moto, with
//! AppSync's rules moto lacks applied by `edgeseal_testkit::appsync` (sources cited there)
//! and a loopback GraphQL endpoint that accepts exactly the keys AppSync would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use edgeseal::{Stage, StaticHeaderValue, UnixTime};
use edgeseal_rotator::ApiError;
use edgeseal_rotator::testing::appsync::{
    CurrentKey, KeyMarker, PendingRetry, create_key, floor_hour, graphql_endpoint, new_key_expiry,
    retired_key_expiry, test_keys,
};
use edgeseal_rotator::testing::appsync::{EdgeKeys, Retirement, retire_keys};
use edgeseal_rotator::{
    AppSyncKeys, AppSyncSettings, AppSyncStepError, GraphqlProbe, GraphqlProbeError, SdkAppSync,
};
use edgeseal_testkit::appsync::{AwsKeyRules, GraphqlEndpoint, SkewedClock};

const DAY: u64 = 86_400;
const QUICK: PendingRetry = PendingRetry {
    attempts: 3,
    delay: Duration::from_millis(300),
};

type Keys = AwsKeyRules<SdkAppSync>;

struct World {
    keys: Keys,
    clock: SkewedClock,
    endpoint: GraphqlEndpoint<SdkAppSync>,
    settings: AppSyncSettings,
    secret: String,
    probe: GraphqlProbe,
}

impl World {
    async fn new() -> Self {
        let sdk = edgeseal_testkit::sdk_config().await;
        let raw = aws_sdk_appsync::Client::new(&sdk);
        let api_id = edgeseal_testkit::world::create_api_key_graphql_api(
            &raw,
            &edgeseal_testkit::unique_name("api"),
        )
        .await
        .unwrap();
        let clock = SkewedClock::new();
        let keys = AwsKeyRules::new(SdkAppSync::new(&sdk), clock.clone());
        let endpoint = GraphqlEndpoint::start(SdkAppSync::new(&sdk), &api_id, clock.clone())
            .await
            .unwrap();
        let url = endpoint.url().to_owned();
        let settings = AppSyncSettings::from_lookup(&|name| match name {
            "APPSYNC_API_ID" => Some(api_id.clone()),
            "APPSYNC_GRAPHQL_URL" => Some(url.clone()),
            _ => None,
        })
        .unwrap();
        let probe = GraphqlProbe::new(&settings.test_query, settings.test_timeout);
        Self {
            keys,
            clock,
            endpoint,
            settings,
            secret: format!(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
                edgeseal_testkit::unique_name("appsync")
            ),
            probe,
        }
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    async fn listed(&self) -> Vec<edgeseal_rotator::AppSyncApiKey> {
        self.keys
            .list_api_keys(&self.settings.api_id)
            .await
            .unwrap()
    }

    async fn create(&self, token: &str) -> StaticHeaderValue {
        create_key(
            &self.keys,
            &self.settings,
            &self.secret,
            token,
            self.now(),
            None,
        )
        .await
        .unwrap()
    }

    /// A key made outside edgeseal (or by hand), valid `days`.
    async fn make_key(&self, description: &str, days: u64) -> StaticHeaderValue {
        self.keys
            .create_api_key(
                &self.settings.api_id,
                description,
                self.now().plus_secs(days * DAY),
            )
            .await
            .unwrap()
            .key
    }

    async fn delete(&self, key: &StaticHeaderValue) {
        self.keys
            .delete_api_key(&self.settings.api_id, key)
            .await
            .unwrap();
    }

    async fn retire(
        &self,
        settings: &AppSyncSettings,
        keep: &StaticHeaderValue,
        previous: (&str, &StaticHeaderValue),
    ) -> Retirement {
        let report = retire_keys(
            &self.keys,
            settings,
            &self.secret,
            &[keep],
            Some(previous),
            &EdgeKeys::Settled(Vec::new()),
            self.now(),
        )
        .await;
        assert!(report.failures.is_empty(), "{report:?}");
        report
    }

    async fn accepted(&self, key: &StaticHeaderValue) -> bool {
        let url: http::Uri = self.endpoint.url().parse().unwrap();
        self.probe.query(&url, key).await.is_ok()
    }

    async fn test(
        &self,
        pending: &StaticHeaderValue,
        current: Option<&StaticHeaderValue>,
    ) -> Result<CurrentKey, AppSyncStepError> {
        let url = graphql_endpoint(&self.keys, &self.settings).await.unwrap();
        test_keys(
            &self.keys,
            &self.probe,
            &url,
            &self.settings,
            "pending-version",
            pending,
            current,
            self.now(),
            QUICK,
        )
        .await
    }
}

#[tokio::test]
async fn the_sdk_layer_reads_and_writes_keys_and_applies_appsyncs_expiry_rules() {
    let w = World::new().await;
    let api = &w.settings.api_id;
    let now = w.now();

    // Less than a day ahead, or more than 365 days: refused, as AppSync does.
    for expires in [now.plus_secs(12 * 3600), now.plus_secs(366 * DAY)] {
        let err = w.keys.create_api_key(api, "x", expires).await.unwrap_err();
        assert!(
            matches!(&err, ApiError::Service { code, .. } if code == "ApiKeyValidityOutOfBoundsException"),
            "{err}"
        );
    }
    // Off the hour: stored rounded down.
    let created = w
        .keys
        .create_api_key(api, "first", now.plus_secs(2 * DAY + 1234))
        .await
        .unwrap();
    assert_eq!(created.expires.as_secs() % 3600, 0);
    assert!(created.expires <= now.plus_secs(2 * DAY + 1234));

    let listed = w.listed().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, created.key);
    assert_eq!(listed[0].description.as_deref(), Some("first"));

    let updated = w
        .keys
        .update_api_key(api, &created.key, "second", Some(now.plus_secs(3 * DAY)))
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("second"));
    assert_eq!(updated.expires, floor_hour(now.plus_secs(3 * DAY)));
    // No expiry given: the expiry is kept.
    let kept = w
        .keys
        .update_api_key(api, &created.key, "third", None)
        .await
        .unwrap();
    assert_eq!(kept.expires, updated.expires);

    w.keys.delete_api_key(api, &created.key).await.unwrap();
    assert!(w.listed().await.is_empty());
    let again = w.keys.delete_api_key(api, &created.key).await.unwrap_err();
    assert!(matches!(again, ApiError::NotFound { .. }), "{again}");

    // The key is the secret: its Debug never shows it.
    let debug = format!("{created:?}");
    assert!(!debug.contains(created.key.expose()), "{debug}");
}

#[tokio::test]
async fn create_secret_makes_one_key_per_token_and_a_rerun_reuses_it() {
    let w = World::new().await;
    let first = w.create("token-1").await;
    let rerun = w.create("token-1").await;
    assert_eq!(
        first, rerun,
        "a rerun for the same token must reuse the key"
    );
    assert_eq!(w.listed().await.len(), 1);

    let listed = &w.listed().await[0];
    assert_eq!(
        listed.description.as_deref(),
        Some(KeyMarker::new(&w.secret, "token-1").to_string().as_str())
    );
    // 365 days by default, on the hour, and AppSync accepted it.
    assert_eq!(
        listed.expires,
        new_key_expiry(w.now(), 365 * DAY),
        "expires"
    );

    let second = w.create("token-2").await;
    assert_ne!(first, second);
    assert_eq!(w.listed().await.len(), 2);
    assert!(w.accepted(&first).await && w.accepted(&second).await);
}

#[tokio::test]
async fn create_secret_made_before_a_lost_answer_is_found_by_the_rerun() {
    let w = World::new().await;
    // CreateApiKey took effect, its answer was lost: the key exists with the marker.
    let made = w
        .make_key(&KeyMarker::new(&w.secret, "token-lost").to_string(), 30)
        .await;
    let stored = w.create("token-lost").await;
    assert_eq!(stored, made);
    assert_eq!(w.listed().await.len(), 1);
}

#[tokio::test]
async fn create_secret_refuses_a_validity_that_would_lapse_before_the_next_rotation() {
    let mut w = World::new().await;
    w.settings.key_validity_days = 30;
    let err = create_key(
        &w.keys,
        &w.settings,
        &w.secret,
        "token",
        w.now(),
        edgeseal_rotator::testing::rotation_interval(Some(30), None),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("APPSYNC_KEY_VALIDITY_DAYS"),
        "{err}"
    );
    assert!(w.listed().await.is_empty(), "no key made");
    // 29 days + 1 h of grace fit in 30 days.
    create_key(
        &w.keys,
        &w.settings,
        &w.secret,
        "token",
        w.now(),
        edgeseal_rotator::testing::rotation_interval(Some(29), None),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn test_secret_accepts_working_keys_and_goes_on_when_the_current_key_is_already_dead() {
    let w = World::new().await;
    let current = w.create("v1").await;
    let pending = w.create("v2").await;
    assert_eq!(
        w.test(&pending, Some(&current)).await,
        Ok(CurrentKey::Accepted)
    );
    assert_eq!(w.test(&pending, None).await, Ok(CurrentKey::Absent));
    assert_eq!(
        w.test(&pending, Some(&pending)).await,
        Ok(CurrentKey::SameAsPending)
    );

    // Deleted by hand: clients already fail; the rotation is the repair, so it goes on.
    w.delete(&current).await;
    assert!(!w.accepted(&current).await);
    assert_eq!(w.test(&pending, Some(&current)).await, Ok(CurrentKey::Gone));

    // A current key from the prior art with AppSync's default 7 days, now past them.
    let old = w.make_key("prior art", 7).await;
    let expires = floor_hour(w.now().plus_secs(7 * DAY));
    w.clock.advance(Duration::from_secs(8 * DAY));
    assert!(!w.accepted(&old).await, "AppSync refuses expired keys");
    assert_eq!(
        w.test(&pending, Some(&old)).await,
        Ok(CurrentKey::Expired(expires))
    );
}

#[tokio::test]
async fn test_secret_fails_with_a_clear_error_when_the_pending_key_is_gone_or_expired() {
    let w = World::new().await;
    let pending = w.create("v2").await;
    w.delete(&pending).await;
    let err = w.test(&pending, None).await.unwrap_err();
    assert_eq!(
        err,
        AppSyncStepError::PendingKeyGone {
            version_id: "pending-version".into()
        }
    );
    assert!(err.to_string().contains("remove AWSPENDING"), "{err}");

    let short = w.make_key("short", 2).await;
    w.clock.advance(Duration::from_secs(3 * DAY));
    assert!(matches!(
        w.test(&short, None).await,
        Err(AppSyncStepError::PendingKeyExpired { .. })
    ));
}

#[tokio::test]
async fn test_secret_retries_a_key_appsync_does_not_accept_yet() {
    let w = World::new().await;
    w.endpoint.set_acceptance_delay(Duration::from_millis(400));
    let pending = w.create("v2").await;
    assert_eq!(w.test(&pending, None).await, Ok(CurrentKey::Absent));
    let refused = w.endpoint.verdicts().iter().filter(|v| !v.accepted).count();
    assert!(refused >= 1, "the first try was refused");

    // Never accepted within the tries: the step fails, naming the pending key.
    w.endpoint.set_acceptance_delay(Duration::from_secs(3600));
    let later = w.create("v3").await;
    let err = w.test(&later, None).await.unwrap_err();
    match err {
        AppSyncStepError::Rejected {
            stage: Stage::Pending,
            source,
        } => assert!(source.is_refused_key(), "{source}"),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn test_secret_fails_when_the_query_fails_or_the_endpoint_is_wrong() {
    let mut w = World::new().await;
    let pending = w.create("v2").await;
    w.settings.test_query = "{ health }".into();
    w.probe = GraphqlProbe::new(&w.settings.test_query, w.settings.test_timeout);
    match w.test(&pending, None).await.unwrap_err() {
        AppSyncStepError::Rejected {
            source: GraphqlProbeError::QueryErrors { message, .. },
            ..
        } => assert!(message.contains("FieldUndefined"), "{message}"),
        other => panic!("{other}"),
    }
    w.endpoint.answer("health", serde_json::json!("ok"));
    assert_eq!(w.test(&pending, None).await, Ok(CurrentKey::Absent));

    // Without APPSYNC_GRAPHQL_URL the API's own endpoint is used (moto's is a
    // placeholder, `http://graphql.uri`, that nothing answers).
    w.settings.graphql_url = None;
    let url = graphql_endpoint(&w.keys, &w.settings).await.unwrap();
    assert_eq!(url.host(), Some("graphql.uri"));
}

#[tokio::test]
async fn finish_secret_retires_the_previous_key_then_deletes_it_after_the_grace() {
    let w = World::new().await;
    // The key the prior art stored (no marker), then two rotations' keys.
    let prior = w.make_key("made by the blog's function", 300).await;
    let other_secret = w
        .make_key(
            &KeyMarker::new("arn:aws:secretsmanager:us-east-1:1:secret:other", "v9").to_string(),
            300,
        )
        .await;
    let by_hand = w.make_key("operator's key", 300).await;
    let v1 = w.create("v1").await;

    // Rotation v0 (prior) -> v1 finished: the prior key is AWSPREVIOUS.
    let report = w.retire(&w.settings, &v1, ("v0", &prior)).await;
    assert_eq!((report.retired, report.deleted), (1, 0), "{report:?}");
    let prior_listed = w
        .listed()
        .await
        .into_iter()
        .find(|k| k.key == prior)
        .unwrap();
    assert_eq!(
        prior_listed.expires,
        retired_key_expiry(w.now(), w.settings.previous_key_grace)
    );
    let marker = KeyMarker::parse(prior_listed.description.as_deref().unwrap()).unwrap();
    assert_eq!(marker.version_id, "v0");
    assert!(marker.retired_at.is_some());
    assert!(w.accepted(&prior).await, "still valid within the grace");

    // A rerun of finishSecret within the grace changes nothing.
    let rerun = w.retire(&w.settings, &v1, ("v0", &prior)).await;
    assert_eq!((rerun.retired, rerun.deleted), (0, 0), "{rerun:?}");
    assert!(w.accepted(&prior).await);

    // Past the grace, the next finishSecret (rotation v1 -> v2) deletes it and retires v1.
    w.clock
        .advance(w.settings.previous_key_grace + Duration::from_secs(1));
    let v2 = w.create("v2").await;
    let report = w.retire(&w.settings, &v2, ("v1", &v1)).await;
    assert_eq!((report.retired, report.deleted), (1, 1), "{report:?}");
    assert!(!w.accepted(&prior).await);
    assert!(w.accepted(&v1).await && w.accepted(&v2).await);

    // Never touched: another secret's key and a hand-made one.
    let listed = w.listed().await;
    for untouched in [&other_secret, &by_hand] {
        let k = listed.iter().find(|k| &k.key == untouched).unwrap();
        assert!(!k.description.as_deref().unwrap().contains("retired"));
    }

    // A retired key AppSync let expire is deleted even inside a longer grace.
    let mut long = w.settings.clone();
    long.previous_key_grace = Duration::from_secs(10 * DAY);
    w.clock.advance(Duration::from_secs(2 * DAY));
    let report = w.retire(&long, &v2, ("v1", &v1)).await;
    assert_eq!((report.retired, report.deleted), (0, 1), "{report:?}");
    assert_eq!(
        w.listed().await.len(),
        3,
        "v2, the other secret's, the hand-made"
    );
}

#[tokio::test]
async fn create_secret_names_appsyncs_key_limit_when_the_api_is_full() {
    let w = World::new().await;
    for n in 0..edgeseal_testkit::appsync::MAX_KEYS_PER_API {
        w.make_key(&format!("key {n}"), 2).await;
    }
    let err = create_key(&w.keys, &w.settings, &w.secret, "token", w.now(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("ApiKeyLimitExceededException"),
        "{err}"
    );
}

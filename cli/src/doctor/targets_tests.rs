//! The target checks against a fake distribution and origin (API Gateway's key check).
use aws_sdk_cloudfront::types::{
    CustomHeaders, DefaultCacheBehavior, DistributionConfig, Origin, OriginCustomHeader, Origins,
    ViewerProtocolPolicy,
};

use super::*;
use crate::doctor::{
    Authorizer, EdgeVersion, PolicyRef, Secret, Verdict, edge_code::PublishedVersion,
};
use edgeseal::UnixTime;

/// A distribution sending `sent` as `x-api-key` to an origin whose check accepts
/// `accepted` only (API Gateway's: 403 otherwise).
struct KeyOrigin {
    sent: &'static str,
    accepted: &'static str,
}

impl Environment for KeyOrigin {
    async fn distribution(&self, _: &str) -> Result<Distribution, String> {
        let header = OriginCustomHeader::builder()
            .header_name("x-api-key")
            .header_value(self.sent)
            .build()
            .map_err(|e| e.to_string())?;
        let origin = Origin::builder()
            .id("api")
            .domain_name("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com")
            .origin_path("/prod")
            .custom_headers(
                CustomHeaders::builder()
                    .quantity(1)
                    .items(header)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        let config = DistributionConfig::builder()
            .caller_reference("t")
            .comment("")
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(1)
                    .items(origin)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("api")
                    .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Distribution {
            domain_name: "d1.cloudfront.net".into(),
            status: "Deployed".into(),
            last_modified: None,
            config,
        })
    }
    async fn policy_forwards_all_query_strings(&self, _: &PolicyRef) -> Result<bool, String> {
        Ok(true)
    }
    async fn secret(&self, _: &str) -> Result<Secret, String> {
        Err("not read by the target checks".into())
    }
    async fn edge_version(&self, _: &str) -> Result<EdgeVersion, String> {
        Err("not read by the target checks".into())
    }
    async fn published_versions(&self, _: &str) -> Result<Vec<PublishedVersion>, String> {
        Err("not read by the target checks".into())
    }
    async fn authorizers(&self, _: &str) -> Result<Vec<Authorizer>, String> {
        Err("not read by the target checks".into())
    }
    async fn send(&self, request: &Request) -> Result<u16, String> {
        let key = if request.authority.ends_with(".cloudfront.net") {
            Some(self.sent)
        } else {
            request
                .headers
                .iter()
                .find(|(n, _)| n == "x-api-key")
                .map(|(_, v)| v.as_str())
        };
        Ok(if key == Some(self.accepted) { 200 } else { 403 })
    }
}

fn facts(current: &str) -> TargetFacts {
    let env: std::collections::HashMap<&str, &str> = [
        ("ROTATION_TARGET", "api-gateway-api-key"),
        ("USAGE_PLAN_ID", "plan1"),
        ("CLOUDFRONT_DISTRIBUTION_ID", "E1"),
        (
            "ORIGIN_URL",
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        ),
        ("ORIGIN_TEST_PATH", "/prod/health"),
    ]
    .into();
    TargetFacts {
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:rotator".into(),
        config: Config::from_lookup(|n| env.get(n).map(|v| (*v).to_owned())).unwrap(),
        current: Some(zeroize::Zeroizing::new(format!(
            "{{\"HTTP_API_KEY\":\"{current}\"}}"
        ))),
    }
}

fn settings() -> Settings {
    Settings {
        distribution_id: "E1".into(),
        secret_id: "s".into(),
        path: "/health".into(),
        method: "GET".into(),
        expect: Expect::Success,
        label: "edgeseal".into(),
        tag: None,
        max_age_secs: 300,
        previous_grace_secs: 3600,
        now: UnixTime::from_secs(1_800_000_000),
    }
}

const KEY: &str = "k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1";
const OLD: &str = "k0k0k0k0k0k0k0k0k0k0k0k0k0k0k0k0k0k0k0k0";

fn verdicts(report: &Report) -> Vec<(&'static str, Verdict)> {
    report.findings.iter().map(|f| (f.id, f.verdict)).collect()
}

#[tokio::test]
async fn a_working_api_key_setup_passes_every_check() {
    let env = KeyOrigin {
        sent: KEY,
        accepted: KEY,
    };
    let report = run_all(&env, &settings(), &facts(KEY)).await;
    assert!(report.ok(), "{:?}", verdicts(&report));
    assert_eq!(report.findings.len(), 6, "{:?}", verdicts(&report));
}

#[tokio::test]
async fn a_distribution_sending_a_stale_key_fails() {
    let env = KeyOrigin {
        sent: OLD,
        accepted: KEY,
    };
    let report = run_all(&env, &settings(), &facts(KEY)).await;
    assert_eq!(
        report.get("origin-header").map(|f| f.verdict),
        Some(Verdict::Fail)
    );
    assert_eq!(
        report.get("through-distribution").map(|f| f.verdict),
        Some(Verdict::Fail)
    );
    assert_eq!(
        report.get("direct-current").map(|f| f.verdict),
        Some(Verdict::Pass)
    );
}

#[tokio::test]
async fn an_origin_that_does_not_check_the_key_fails() {
    let env = KeyOrigin {
        sent: KEY,
        accepted: KEY,
    };
    let report = run_all(&OpenOrigin(env), &settings(), &facts(KEY)).await;
    assert_eq!(
        report.get("direct-without-key").map(|f| f.verdict),
        Some(Verdict::Fail)
    );
}

#[tokio::test]
async fn a_signing_key_in_the_secret_fails_the_shape() {
    let env = KeyOrigin {
        sent: KEY,
        accepted: KEY,
    };
    let mut facts = facts(KEY);
    facts.current = Some(zeroize::Zeroizing::new(
        r#"{"alg":"hmac-sha256","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#.into(),
    ));
    let report = run_all(&env, &settings(), &facts).await;
    assert_eq!(
        report.get("secret-shape").map(|f| f.verdict),
        Some(Verdict::Fail)
    );
}

/// Every request accepted, as an origin with no key check.
struct OpenOrigin(KeyOrigin);

impl Environment for OpenOrigin {
    async fn distribution(&self, id: &str) -> Result<Distribution, String> {
        self.0.distribution(id).await
    }
    async fn policy_forwards_all_query_strings(&self, p: &PolicyRef) -> Result<bool, String> {
        self.0.policy_forwards_all_query_strings(p).await
    }
    async fn secret(&self, id: &str) -> Result<Secret, String> {
        self.0.secret(id).await
    }
    async fn edge_version(&self, arn: &str) -> Result<EdgeVersion, String> {
        self.0.edge_version(arn).await
    }
    async fn published_versions(&self, arn: &str) -> Result<Vec<PublishedVersion>, String> {
        self.0.published_versions(arn).await
    }
    async fn authorizers(&self, d: &str) -> Result<Vec<Authorizer>, String> {
        self.0.authorizers(d).await
    }
    async fn send(&self, _: &Request) -> Result<u16, String> {
        Ok(200)
    }
}

fn value(s: &str) -> StaticHeaderValue {
    StaticHeaderValue::new(s.to_owned()).unwrap()
}

#[test]
fn each_target_refuses_another_targets_value() {
    assert!(shape(TargetKind::ApiKey, &value("short")).is_err());
    assert!(shape(TargetKind::ApiKey, &value(&"a".repeat(40))).is_ok());
    assert!(shape(TargetKind::Waf, &value(&"a".repeat(201))).is_err());
    assert!(shape(TargetKind::Waf, &value(&"a".repeat(200))).is_ok());
    assert!(shape(TargetKind::AppSyncApiKey, &value(&"a".repeat(40))).is_err());
    assert!(shape(TargetKind::AppSyncApiKey, &value("da2-abcdefghijklmnop")).is_ok());
}

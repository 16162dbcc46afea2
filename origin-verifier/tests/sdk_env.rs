//! The Secrets Manager client the binary builds from the Lambda environment alone
//! (`origin_verifier::secrets_manager_client`), against moto through the real SDK:
//! the variables Lambda sets are enough to list and read a secret's versions, and the
//! service-specific endpoint variable wins over the general one, as in the AWS SDKs'
//! "service-specific endpoints" rule (AWS SDKs and Tools Reference Guide).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use origin_verifier::{SdkSource, SecretsSource, secrets_manager_client};

/// What Lambda puts in a function's environment (keys as moto accepts them), plus the
/// endpoint overrides under test.
fn lambda_env(endpoints: &[(&'static str, String)]) -> impl Fn(&str) -> Option<String> {
    let mut vars: Vec<(&'static str, String)> = vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_SESSION_TOKEN", "testing".to_owned()),
    ];
    vars.extend(endpoints.iter().cloned());
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

#[tokio::test]
async fn the_lambda_environment_reaches_secrets_manager() {
    let (name, version) = create_secret(&sm_client().await, &hmac_json(&key(1))).await;
    for endpoints in [
        vec![("AWS_ENDPOINT_URL", edgeseal_testkit::moto_url())],
        // The service-specific variable wins: the general one points nowhere.
        vec![
            ("AWS_ENDPOINT_URL", closed_port_url()),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                edgeseal_testkit::moto_url(),
            ),
        ],
    ] {
        let client =
            secrets_manager_client(lambda_env(&endpoints), Duration::from_secs(2)).unwrap();
        let source = SdkSource::new(client);
        let versions = source.list_versions(&name).await.unwrap();
        assert_eq!(versions.len(), 1, "{endpoints:?}");
        assert_eq!(versions[0].version_id, version);
        let value = source.get_version(&name, &version).await.unwrap().unwrap();
        assert_eq!(value.as_str(), hmac_json(&key(1)));
    }
}

//! The Secrets Manager client, configured from the Lambda environment alone.
//!
//! `aws-config`'s default provider chain would bring STS, SSO, IMDS, ECS, profile-file
//! and web-identity credential providers (and their HTTP and parsing code) into the
//! authorizer, yet on Lambda the chain never gets past its first link, the environment:
//! Lambda sets `AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` in every function's environment
//! (AWS Lambda Developer Guide, "Defined runtime environment variables"; they are
//! reserved, a function cannot override them). So the client is built from exactly
//! those, plus the endpoint override the SDKs read, `AWS_ENDPOINT_URL_SECRETS_MANAGER`
//! or `AWS_ENDPOINT_URL` (moto in tests and the demo; on AWS a VPC endpoint needs none).
//! A variable that is missing fails the cold start with its name.
//!
//! HTTPS is rustls over ring rather than the SDK's default aws-lc: the one TLS peer is
//! Secrets Manager, and ring is a fraction of aws-lc's size in the binary. The trusted
//! roots are the system's (Amazon Linux 2023's CA bundle on `provided.al2023`), read
//! when the client makes its first connection.

use std::time::Duration;

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::config::ConfigError;

/// Names the credentials in the SDK's own logs and errors.
const PROVIDER_NAME: &str = "lambda-environment";

/// A Secrets Manager client from `lookup` (the process environment in production).
///
/// A Secrets Manager hiccup must not hold a request for long: each attempt is bounded by
/// `attempt_timeout` (connect and whole attempt), with one retry, and the key cache
/// serves stale keys meanwhile.
pub fn secrets_manager_client(
    lookup: impl Fn(&str) -> Option<String>,
    attempt_timeout: Duration,
) -> Result<aws_sdk_secretsmanager::Client, ConfigError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
    let region = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .ok_or(ConfigError::Missing("AWS_REGION"))?;
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        PROVIDER_NAME,
    );
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(attempt_timeout)
                .operation_attempt_timeout(attempt_timeout)
                .operation_timeout(attempt_timeout.saturating_mul(2))
                .build(),
        );
    if let Some(url) = get("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| get("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(url);
    }
    Ok(aws_sdk_secretsmanager::Client::from_conf(config.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "example-secret"),
        ("AWS_SESSION_TOKEN", "example-token"),
    ];

    fn without(var: &str) -> Result<aws_sdk_secretsmanager::Client, ConfigError> {
        secrets_manager_client(
            |name| {
                LAMBDA
                    .iter()
                    .find(|(n, _)| *n == name && *n != var)
                    .map(|(_, v)| (*v).to_owned())
            },
            Duration::from_secs(1),
        )
    }

    #[test]
    fn the_lambda_environment_is_enough() {
        let client = without("none").unwrap();
        let config = client.config();
        assert_eq!(config.region().map(Region::as_ref), Some("us-east-1"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        for var in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            match without(var) {
                Err(ConfigError::Missing(named)) => assert_eq!(named, var),
                other => panic!("{var}: {:?}", other.map(|_| ())),
            }
        }
        // A session token is optional (long-term keys, moto).
        assert!(without("AWS_SESSION_TOKEN").is_ok());
    }
}

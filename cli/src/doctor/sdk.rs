//! Doctor's reads through the AWS SDK. The CLI uses all of them; the tests use the
//! Secrets Manager, Lambda and API Gateway (both flavours) ones against moto (the demo's
//! CloudFront and API Gateway data plane are local stand-ins).

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use edgeseal::{SecretValue, UnixTime};

use super::ops::{Alarm, Operations, Rotation, Rule};
use super::{
    Authorizer, AuthorizerKind, Distribution, EdgeVersion, PolicyRef, Secret, SecretVersion,
};

fn aws_error<E, R>(operation: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
        (Some(code), None) => format!("{operation}: {code}"),
        _ => format!(
            "{operation}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(err)
        ),
    }
}

/// The environment a Lambda function's code runs with: `configured` (its
/// `GetFunctionConfiguration` variables) plus the reserved variables Lambda sets at run
/// time that the rotator reads: `AWS_REGION`, from the function's ARN, and
/// `LAMBDA_TASK_ROOT`, always `/var/task` (the base of `EDGE_ASSETS_DIR`'s default). So
/// the rotator's parser (`edgeseal_rotator::Config::from_lookup`) judges it as at the
/// function's cold start.
pub fn runtime_environment(
    function_arn: &str,
    mut configured: HashMap<String, String>,
) -> HashMap<String, String> {
    if let Ok(arn) = edgeseal::FunctionArn::parse(function_arn) {
        configured
            .entry("AWS_REGION".into())
            .or_insert_with(|| arn.region().to_owned());
    }
    configured
        .entry("LAMBDA_TASK_ROOT".into())
        .or_insert_with(|| "/var/task".to_owned());
    configured
}

/// Lambda's `LastModified` (`2026-01-01T00:00:00.000+0000`, no colon in the offset).
pub fn lambda_time(text: &str) -> Option<UnixTime> {
    let normalized = text
        .strip_suffix("+0000")
        .map_or_else(|| text.to_owned(), |s| format!("{s}Z"));
    aws_smithy_types::DateTime::from_str(&normalized, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .and_then(|d| u64::try_from(d.secs()).ok())
        .map(UnixTime::from_secs)
}

fn unix(d: Option<&aws_smithy_types::DateTime>) -> Option<UnixTime> {
    d.and_then(|d| u64::try_from(d.secs()).ok())
        .map(UnixTime::from_secs)
}

/// The AWS clients doctor reads with.
#[derive(Clone, Debug)]
pub struct Sdk {
    secrets: aws_sdk_secretsmanager::Client,
    lambda: aws_sdk_lambda::Client,
    cloudfront: aws_sdk_cloudfront::Client,
    http_apis: aws_sdk_apigatewayv2::Client,
    rest_apis: aws_sdk_apigateway::Client,
    events: aws_sdk_eventbridge::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Sdk {
    /// Clients from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            cloudfront: aws_sdk_cloudfront::Client::new(config),
            http_apis: aws_sdk_apigatewayv2::Client::new(config),
            rest_apis: aws_sdk_apigateway::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
        }
    }

    /// `DescribeSecret`, then `GetSecretValue` of every staged version.
    pub async fn secret(&self, id: &str) -> Result<Secret, String> {
        let described = self
            .secrets
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecret", &e))?;
        let mut secret = Secret {
            rotation_enabled: described.rotation_enabled().unwrap_or(false),
            last_rotated: unix(described.last_rotated_date()),
            versions: Vec::new(),
        };
        let listed = self
            .secrets
            .list_secret_version_ids()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| aws_error("ListSecretVersionIds", &e))?;
        for v in listed.versions() {
            let (Some(version_id), false) = (v.version_id(), v.version_stages().is_empty()) else {
                continue;
            };
            let mut value = self
                .secrets
                .get_secret_value()
                .secret_id(id)
                .version_id(version_id)
                .send()
                .await
                .map_err(|e| aws_error("GetSecretValue", &e))?;
            let text = value.secret_string.take().map(zeroize::Zeroizing::new);
            let key = match text.as_deref().map(|s| SecretValue::parse(s, None)) {
                Some(Ok(SecretValue::Hmac(key))) => Some(key),
                _ => None,
            };
            secret.versions.push(SecretVersion {
                id: version_id.to_owned(),
                stages: v.version_stages().to_vec(),
                // GetSecretValue's CreatedDate first: the same date on AWS, and moto's
                // ListSecretVersionIds answers the time of the call for every version
                // (moto/secretsmanager/models.py, list_secret_version_ids).
                created: unix(value.created_date()).or_else(|| unix(v.created_date())),
                key,
            });
        }
        Ok(secret)
    }

    /// `GetFunctionConfiguration` of a qualified version ARN.
    pub async fn edge_version(&self, arn: &str) -> Result<EdgeVersion, String> {
        let out = self
            .lambda
            .get_function_configuration()
            .function_name(arn)
            .send()
            .await
            .map_err(|e| aws_error("GetFunctionConfiguration", &e))?;
        Ok(EdgeVersion {
            state: out
                .state()
                .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
            description: out.description().unwrap_or_default().to_owned(),
            published: out.last_modified().and_then(lambda_time),
            code_sha256: out.code_sha256().unwrap_or_default().to_owned(),
        })
    }

    /// The environment of a function (`GetFunctionConfiguration`) as its code sees it
    /// ([`runtime_environment`]): the rotator's settings, which name its target.
    pub async fn function_environment(&self, arn: &str) -> Result<HashMap<String, String>, String> {
        let out = self
            .lambda
            .get_function_configuration()
            .function_name(arn)
            .send()
            .await
            .map_err(|e| aws_error("GetFunctionConfiguration", &e))?;
        let configured = out
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        Ok(runtime_environment(arn, configured))
    }

    /// AWSCURRENT's `SecretString` (the stage named: AWS's default, and moto's answer
    /// without a stage can be a rotation's new version).
    pub async fn current_value(&self, id: &str) -> Result<zeroize::Zeroizing<String>, String> {
        let mut out = self
            .secrets
            .get_secret_value()
            .secret_id(id)
            .version_stage(edgeseal::Stage::Current.label())
            .send()
            .await
            .map_err(|e| aws_error("GetSecretValue", &e))?;
        out.secret_string
            .take()
            .map(zeroize::Zeroizing::new)
            .ok_or_else(|| "AWSCURRENT has no SecretString".to_owned())
    }

    /// `ListVersionsByFunction`, every page, without `$LATEST`.
    pub async fn published_versions(
        &self,
        function_arn: &str,
    ) -> Result<Vec<super::edge_code::PublishedVersion>, String> {
        let mut versions = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .lambda
                .list_versions_by_function()
                .function_name(function_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_error("ListVersionsByFunction", &e))?;
            versions.extend(
                out.versions()
                    .iter()
                    .filter(|v| v.version() != Some("$LATEST"))
                    .map(|v| super::edge_code::PublishedVersion {
                        version: v.version().unwrap_or_default().to_owned(),
                        description: v.description().unwrap_or_default().to_owned(),
                        code_sha256: v.code_sha256().unwrap_or_default().to_owned(),
                    }),
            );
            marker = out.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(versions);
            }
        }
    }

    /// `GetDistribution`.
    pub async fn distribution(&self, id: &str) -> Result<Distribution, String> {
        let out = self
            .cloudfront
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| aws_error("GetDistribution", &e))?;
        let d = out
            .distribution
            .ok_or_else(|| "GetDistribution: no distribution in the answer".to_owned())?;
        Ok(Distribution {
            last_modified: u64::try_from(d.last_modified_time.secs())
                .ok()
                .map(UnixTime::from_secs),
            domain_name: d.domain_name,
            status: d.status,
            config: d
                .distribution_config
                .ok_or_else(|| "GetDistribution: no config in the answer".to_owned())?,
        })
    }

    /// `GetCachePolicy` / `GetOriginRequestPolicy`: all query strings included? The
    /// rotator's read, so both answer alike.
    pub async fn policy_forwards_all_query_strings(
        &self,
        policy: &PolicyRef,
    ) -> Result<bool, String> {
        use edgeseal_rotator::DistributionApi as _;
        edgeseal_rotator::SdkCloudFront(self.cloudfront.clone())
            .policy_forwards_all_query_strings(policy)
            .await
            .map_err(|e| e.to_string())
    }

    /// The Lambda authorizers of the API behind an `execute-api` domain (whose first
    /// label is the API id). REST APIs and HTTP APIs share that domain, so the REST API
    /// is asked first (`apigateway GetAuthorizers`) and, when no REST API has that id
    /// (`NotFoundException`), the HTTP API (`apigatewayv2 GetAuthorizers`). REST first
    /// because moto has no `apigatewayv2 GetAuthorizers` (only `GetAuthorizer`), so only
    /// this order is testable there. JWT and Cognito authorizers run no Lambda function
    /// and are left out.
    pub async fn authorizers(&self, origin_domain: &str) -> Result<Vec<Authorizer>, String> {
        let api_id = execute_api_id(origin_domain)?;
        match self
            .rest_apis
            .get_authorizers()
            .rest_api_id(api_id)
            // The most one page holds; an API has at most 10 authorizers by default.
            .limit(500)
            .send()
            .await
        {
            Ok(out) => return Ok(rest_authorizers(api_id, out.items())),
            Err(e) if e.code() == Some("NotFoundException") => {}
            Err(e) => return Err(aws_error("GetAuthorizers (REST API)", &e)),
        }
        let out = self
            .http_apis
            .get_authorizers()
            .api_id(api_id)
            .send()
            .await
            .map_err(|e| aws_error("GetAuthorizers (HTTP API)", &e))?;
        Ok(out
            .items()
            .iter()
            .filter(|a| {
                a.authorizer_type() == Some(&aws_sdk_apigatewayv2::types::AuthorizerType::Request)
            })
            .map(|a| Authorizer {
                api_id: api_id.to_owned(),
                id: a.authorizer_id().unwrap_or_default().to_owned(),
                name: a.name().unwrap_or_default().to_owned(),
                kind: AuthorizerKind::HttpRequest,
                ttl_secs: a
                    .authorizer_result_ttl_in_seconds()
                    .and_then(|t| u32::try_from(t).ok()),
                identity_sources: a.identity_source().to_vec(),
            })
            .collect())
    }
}

/// A REST API's `TOKEN` and `REQUEST` authorizers.
fn rest_authorizers(
    api_id: &str,
    items: &[aws_sdk_apigateway::types::Authorizer],
) -> Vec<Authorizer> {
    use aws_sdk_apigateway::types::AuthorizerType;
    items
        .iter()
        .filter_map(|a| {
            let kind = match a.r#type()? {
                AuthorizerType::Request => AuthorizerKind::RestRequest,
                AuthorizerType::Token => AuthorizerKind::RestToken,
                _ => return None,
            };
            Some(Authorizer {
                api_id: api_id.to_owned(),
                id: a.id().unwrap_or_default().to_owned(),
                name: a.name().unwrap_or_default().to_owned(),
                kind,
                ttl_secs: a
                    .authorizer_result_ttl_in_seconds()
                    .and_then(|t| u32::try_from(t).ok()),
                // One string, comma-separated (`method.request.header.A, ...`).
                identity_sources: a
                    .identity_source()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect()
}

/// The API id of `<id>.execute-api.<region>.amazonaws.com`.
pub fn execute_api_id(origin_domain: &str) -> Result<&str, String> {
    origin_domain
        .strip_suffix(".amazonaws.com")
        .filter(|d| d.contains(".execute-api."))
        .and_then(|d| d.split('.').next())
        .ok_or_else(|| {
            format!("{origin_domain} is not an execute-api domain (custom domain?): check the authorizer's cache settings by hand")
        })
}

/// The operations checks' reads: `DescribeSecret`, `events:ListRules`,
/// `cloudwatch:DescribeAlarms` (every page of each).
impl Operations for Sdk {
    async fn rotation(&self, secret_id: &str) -> Result<Rotation, String> {
        let described = self
            .secrets
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecret", &e))?;
        Ok(Rotation {
            secret_arn: described.arn().unwrap_or(secret_id).to_owned(),
            function_arn: described.rotation_lambda_arn().map(str::to_owned),
        })
    }

    async fn rules(&self) -> Result<Vec<Rule>, String> {
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .events
                .list_rules()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("ListRules", &e))?;
            rules.extend(page.rules().iter().map(|r| Rule {
                name: r.name().unwrap_or_default().to_owned(),
                state: r.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                event_pattern: r.event_pattern().map(str::to_owned),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(rules),
            }
        }
    }

    async fn alarms(&self) -> Result<Vec<Alarm>, String> {
        let mut alarms = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .cloudwatch
                .describe_alarms()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("DescribeAlarms", &e))?;
            alarms.extend(page.metric_alarms().iter().map(|a| {
                Alarm {
                    name: a.alarm_name().unwrap_or_default().to_owned(),
                    namespace: a.namespace().unwrap_or_default().to_owned(),
                    metric: a.metric_name().unwrap_or_default().to_owned(),
                    dimensions: a
                        .dimensions()
                        .iter()
                        .map(|d| {
                            (
                                d.name().unwrap_or_default().to_owned(),
                                d.value().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                    state: a
                        .state_value()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    state_reason: a.state_reason().unwrap_or_default().to_owned(),
                    actions: a.alarm_actions().to_vec(),
                    actions_enabled: a.actions_enabled().unwrap_or(true),
                }
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(alarms),
            }
        }
    }
}

//! The edge version record: after every rotation step, write the edge version the
//! distributions name into an SSM parameter (`EDGE_VERSION_PARAMETER`).
//!
//! Why: a CloudFormation stack that owns a distribution writes the distribution's whole
//! config on every update of it, associations included. If the template names the
//! bootstrap version, any such update puts back an edge version whose key no secret
//! holds, and every request is denied until the next rotation. The template instead
//! reads the association from this parameter with an unversioned `{{resolve:ssm:...}}`,
//! which CloudFormation resolves to the latest value in the stack operation, so an
//! update writes back what the rotator last set (see `deploy/template.yaml`,
//! `EdgeVersionParameter`, and `deploy/test_template.py`).
//!
//! What is recorded is read back from CloudFront after the step, not remembered from
//! inside it: after a setSecret that pointed the distributions, after a testSecret that
//! rolled them back, or after a step that failed halfway, the parameter holds what the
//! distributions name now. When they disagree (several distributions mid-rotation) or
//! none names the function, nothing is written and the reason is returned.
//!
//! The record is best effort: a failure to write it is logged by the caller and never
//! fails a rotation step (a rotation must not be retried because of bookkeeping).

use std::future::Future;

use edgeseal::function_name;

use crate::associations;
use crate::aws::{ApiError, DistributionApi};
use crate::env::ConfigError;

/// The variable naming the parameter; unset disables the record.
pub const PARAMETER_VAR: &str = "EDGE_VERSION_PARAMETER";

/// Where to record: the parameter's name. Read once at cold start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeVersionRecord {
    parameter: String,
}

impl EdgeVersionRecord {
    /// `EDGE_VERSION_PARAMETER` through `lookup`: `None` when unset or empty.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(name) = lookup(PARAMETER_VAR).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        // SSM parameter names: letters, digits and _.-/ ; at most 1011 characters for a
        // name with a hierarchy (PutParameter API reference, Name).
        let valid = name.len() <= 1011
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
        if !valid {
            return Err(ConfigError::invalid(
                PARAMETER_VAR,
                "not an SSM parameter name (letters, digits, _ . - /)",
            ));
        }
        Ok(Some(Self { parameter: name }))
    }

    /// `EDGE_VERSION_PARAMETER` from the process environment.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The parameter's name.
    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    /// Read the version `distributions` name for `function` (name or ARN) and write it
    /// to the parameter unless it already holds it.
    pub async fn record<C: DistributionApi, P: ParameterApi>(
        &self,
        cdn: &C,
        store: &P,
        distributions: &[String],
        function: &str,
    ) -> Result<Recorded, RecordError> {
        let wanted = function_name(function);
        let mut named: Option<String> = None;
        for distribution in distributions {
            let (config, _) = cdn
                .get_config(distribution)
                .await
                .map_err(RecordError::Distribution)?;
            for association in associations(&config) {
                let arn = &association.lambda_function_arn;
                if association.event_type != aws_sdk_cloudfront::types::EventType::OriginRequest
                    || function_name(arn) != wanted
                {
                    continue;
                }
                match &named {
                    None => named = Some(arn.clone()),
                    Some(seen) if seen == arn => {}
                    Some(seen) => {
                        return Err(RecordError::Disagree {
                            first: seen.clone(),
                            second: arn.clone(),
                        });
                    }
                }
            }
        }
        let arn = named.ok_or_else(|| RecordError::NoAssociation {
            function: wanted.to_owned(),
        })?;
        if store.get(&self.parameter).await?.as_deref() == Some(arn.as_str()) {
            return Ok(Recorded::Unchanged(arn));
        }
        store.put(&self.parameter, &arn).await?;
        Ok(Recorded::Written(arn))
    }
}

/// What [`EdgeVersionRecord::record`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The parameter already held this version ARN.
    Unchanged(String),
    /// The parameter now holds this version ARN.
    Written(String),
}

/// Why nothing was recorded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Reading a distribution's config failed.
    #[error("cannot read the distribution: {0}")]
    Distribution(ApiError),
    /// No origin-request association names the function.
    #[error("no origin-request association names {function}")]
    NoAssociation {
        /// The function's name.
        function: String,
    },
    /// The distributions name different versions (a rotation stopped between them).
    #[error("the distributions name different edge versions ({first}, {second})")]
    Disagree {
        /// One version ARN.
        first: String,
        /// Another.
        second: String,
    },
    /// The SSM call failed.
    #[error("{op} failed ({code}): {message}")]
    Parameter {
        /// `GetParameter` or `PutParameter`.
        op: &'static str,
        /// The service's error code, or `transport`.
        code: String,
        /// The service's message.
        message: String,
    },
}

/// SSM Parameter Store, as the record uses it.
pub trait ParameterApi: Send + Sync {
    /// `GetParameter`: the value, `None` when the parameter does not exist.
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<String>, RecordError>> + Send;
    /// `PutParameter` of a `String`, overwriting.
    fn put(&self, name: &str, value: &str) -> impl Future<Output = Result<(), RecordError>> + Send;
}

/// SSM through the AWS SDK.
#[derive(Clone, Debug)]
pub struct SdkParameters(pub aws_sdk_ssm::Client);

impl SdkParameters {
    /// A client from the shared SDK configuration (the stack's region: the template
    /// creates the parameter next to the rotator).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_ssm::Client::new(config))
    }
}

fn ssm_error<E, R>(op: &'static str, err: &aws_sdk_ssm::error::SdkError<E, R>) -> RecordError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        aws_sdk_ssm::error::SdkError::ServiceError(service) => RecordError::Parameter {
            op,
            code: service.err().code().unwrap_or("unknown").to_owned(),
            message: service.err().message().unwrap_or_default().to_owned(),
        },
        other => RecordError::Parameter {
            op,
            code: "transport".to_owned(),
            message: aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
        },
    }
}

impl ParameterApi for SdkParameters {
    async fn get(&self, name: &str) -> Result<Option<String>, RecordError> {
        match self.0.get_parameter().name(name).send().await {
            Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(err) => Err(ssm_error("GetParameter", &err)),
        }
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), RecordError> {
        self.0
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| ssm_error("PutParameter", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(value: Option<&str>) -> impl Fn(&str) -> Option<String> {
        let value = value.map(str::to_owned);
        move |name| (name == PARAMETER_VAR).then(|| value.clone()).flatten()
    }

    #[test]
    fn unset_or_empty_disables_the_record() {
        assert_eq!(EdgeVersionRecord::from_lookup(lookup(None)), Ok(None));
        assert_eq!(EdgeVersionRecord::from_lookup(lookup(Some(""))), Ok(None));
    }

    #[test]
    fn a_bad_name_fails_naming_the_variable() {
        let err = EdgeVersionRecord::from_lookup(lookup(Some("/a b"))).unwrap_err();
        assert!(err.to_string().contains(PARAMETER_VAR), "{err}");
    }

    #[test]
    fn function_names_come_from_arns_with_or_without_a_version() {
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:edge:7"),
            "edge"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:edge"),
            "edge"
        );
        assert_eq!(function_name("edge"), "edge");
    }
}

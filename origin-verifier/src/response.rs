//! What the authorizer returns to API Gateway.

use lambda_runtime::Diagnostic;
use serde::Serialize;

use crate::event::EventError;

/// A verdict in one of the three formats API Gateway understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AuthorizerResponse {
    /// HTTP API simple response.
    Simple(SimpleResponse),
    /// IAM policy (REST APIs; HTTP APIs with `RESPONSE_MODE=iam`).
    Policy(PolicyResponse),
}

impl AuthorizerResponse {
    /// Whether this response lets the request through.
    pub fn is_allowed(&self) -> bool {
        match self {
            AuthorizerResponse::Simple(s) => s.is_authorized,
            AuthorizerResponse::Policy(p) => p
                .policy_document
                .statement
                .iter()
                .all(|s| s.effect == "Allow"),
        }
    }

    /// The context passed to the backend.
    pub fn context(&self) -> &Context {
        match self {
            AuthorizerResponse::Simple(s) => &s.context,
            AuthorizerResponse::Policy(p) => &p.context,
        }
    }
}

/// `{"isAuthorized": bool, "context": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleResponse {
    /// The verdict.
    pub is_authorized: bool,
    /// Passed to the backend as `$context.authorizer.*`.
    pub context: Context,
}

/// `{"principalId", "policyDocument", "context"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResponse {
    /// Always `edgeseal`: the caller is the edge, not a user.
    pub principal_id: &'static str,
    /// One statement allowing or denying `execute-api:Invoke` on the route / method.
    pub policy_document: PolicyDocument,
    /// Passed to the backend as `$context.authorizer.*`.
    pub context: Context,
}

/// An IAM policy document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDocument {
    /// `2012-10-17`.
    #[serde(rename = "Version")]
    pub version: &'static str,
    /// The statements.
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// One policy statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// `execute-api:Invoke`.
    #[serde(rename = "Action")]
    pub action: &'static str,
    /// `Allow` or `Deny`.
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    /// The `methodArn` / `routeArn`.
    #[serde(rename = "Resource")]
    pub resource: String,
}

/// The authorizer context. Values are strings and numbers only, as REST APIs require,
/// except the bearer token's claims in HTTP API simple responses (JSON values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// `signature` or `static-header`, on allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    /// The key's Secrets Manager VersionId, on allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// `current`, `pending` or `previous`, on allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'static str>,
    /// Seconds since the signature's `created`, on allow by signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_age: Option<u64>,
    /// The reason code, on deny (visible in access logs as `$context.authorizer.reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The bearer token's claims and scopes on allow, when `JWT_ISSUERS` is set:
    /// `jwt_<claim>` and `jwt_scopes` (see `jwt/claims.rs`).
    #[serde(flatten)]
    pub jwt: std::collections::BTreeMap<String, serde_json::Value>,
}

impl PolicyResponse {
    /// A one-statement policy.
    pub fn new(allow: bool, resource: &str, context: Context) -> Self {
        Self {
            principal_id: "edgeseal",
            policy_document: PolicyDocument {
                version: "2012-10-17",
                statement: vec![Statement {
                    action: "execute-api:Invoke",
                    effect: if allow { "Allow" } else { "Deny" },
                    resource: resource.to_owned(),
                }],
            },
            context,
        }
    }
}

/// An invocation that ends in a Lambda error rather than a verdict.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizerError {
    /// A REST API request without any credential: API Gateway answers 401 when the
    /// error message is exactly `Unauthorized`.
    #[error("Unauthorized")]
    Unauthorized,
    /// The event is not one this authorizer understands (API Gateway answers 500, which
    /// blocks the request too).
    #[error("{0}")]
    BadEvent(#[from] EventError),
}

impl From<AuthorizerError> for Diagnostic {
    fn from(err: AuthorizerError) -> Self {
        let error_type = match err {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::BadEvent(_) => "BadEvent",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

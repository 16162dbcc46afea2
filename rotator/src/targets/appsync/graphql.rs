//! testSecret's GraphQL request: `POST <endpoint>` with `{"query": …}` and the key in
//! `x-api-key`, as AppSync clients send it, bounded by one timeout.
//!
//! AppSync answers an accepted key with HTTP 200 and a GraphQL response; a missing,
//! unknown or expired key with HTTP 401 and
//! `{"errors":[{"errorType":"UnauthorizedException","message":"You are not authorized to make this call."}]}`
//! (observed by users after the 7-day default expiry: aws-amplify/amplify-cli#3416,
//! aws-amplify/amplify-studio#1003; the body shape: aws-amplify/amplify-js#4373). A
//! query the schema rejects still answers 200, with `errors`. So success is HTTP 200,
//! a JSON body, and no `errors` in it.

use std::time::Duration;

use bytes::Bytes;
use edgeseal::StaticHeaderValue;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// The most of a response body read: a GraphQL answer to a test query is small, and
/// nothing more is needed to judge it.
const MAX_BODY: usize = 64 * 1024;

/// Why a GraphQL test request did not succeed. Never carries the key.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphqlProbeError {
    /// No complete response within the timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// Connection or protocol failure.
    #[error("request failed: {0}")]
    Transport(String),
    /// AppSync refused the key (HTTP 401/403, `UnauthorizedException`).
    #[error("the key was refused (HTTP {status}, {})", error_type.as_deref().unwrap_or("no errorType"))]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The first error's `errorType`.
        error_type: Option<String>,
    },
    /// Another status than 200.
    #[error("HTTP {status} ({})", error_type.as_deref().unwrap_or("no errorType"))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The first error's `errorType`.
        error_type: Option<String>,
    },
    /// HTTP 200 with GraphQL errors: the key was accepted, the query was not.
    #[error("the query failed: {}: {message}", error_type.as_deref().unwrap_or("no errorType"))]
    QueryErrors {
        /// The first error's `errorType`.
        error_type: Option<String>,
        /// The first error's `message` (shortened).
        message: String,
    },
    /// The body is not a GraphQL response.
    #[error("the answer is not a GraphQL response")]
    NotGraphql,
}

impl GraphqlProbeError {
    /// Whether AppSync refused the key itself (as opposed to the query or the network).
    pub fn is_refused_key(&self) -> bool {
        matches!(self, GraphqlProbeError::Unauthorized { .. })
    }
}

/// Sends the test query. Built once at cold start (TLS roots loaded once).
#[derive(Clone)]
pub struct GraphqlProbe {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    body: Bytes,
    timeout: Duration,
}

impl std::fmt::Debug for GraphqlProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlProbe")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GraphqlProbe {
    /// A probe sending `query`, each exchange bounded by `timeout`.
    pub fn new(query: &str, timeout: Duration) -> Self {
        let body = serde_json::json!({ "query": query }).to_string();
        Self {
            client: crate::origin::test_client(),
            body: Bytes::from(body),
            timeout,
        }
    }

    /// Send the query to `url` with `key`; `Ok(())` when AppSync answered 200 with a
    /// GraphQL response free of errors.
    pub async fn query(
        &self,
        url: &http::Uri,
        key: &StaticHeaderValue,
    ) -> Result<(), GraphqlProbeError> {
        let mut api_key = http::HeaderValue::from_str(key.expose()).map_err(|_| {
            GraphqlProbeError::Transport("the key is not a valid header value".into())
        })?;
        api_key.set_sensitive(true);
        let request = http::Request::post(url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "edgeseal-rotator/appsync-test")
            .header("x-api-key", api_key)
            .body(Full::new(self.body.clone()))
            .map_err(|e| GraphqlProbeError::Transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| GraphqlProbeError::Transport(crate::origin::error_chain(&e)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| GraphqlProbeError::Transport(e.to_string()))?
                .to_bytes();
            Ok::<_, GraphqlProbeError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| GraphqlProbeError::Timeout(self.timeout))??;
        judge(status, &body, key)
    }
}

/// Judge an answer (see the module docs for what AppSync sends).
fn judge(status: u16, body: &[u8], key: &StaticHeaderValue) -> Result<(), GraphqlProbeError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let first_error = json
        .as_ref()
        .and_then(|j| j.get("errors"))
        .and_then(serde_json::Value::as_array)
        .and_then(|errors| errors.first());
    let error_type = first_error
        .and_then(|e| e.get("errorType"))
        .and_then(serde_json::Value::as_str)
        .map(|t| shorten(t, key));
    match status {
        200 => {}
        401 | 403 => return Err(GraphqlProbeError::Unauthorized { status, error_type }),
        _ => return Err(GraphqlProbeError::Status { status, error_type }),
    }
    let Some(json) = json.as_ref().filter(|j| j.is_object()) else {
        return Err(GraphqlProbeError::NotGraphql);
    };
    if let Some(error) = first_error {
        return Err(GraphqlProbeError::QueryErrors {
            error_type,
            message: shorten(
                error
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
                key,
            ),
        });
    }
    if json.get("data").is_none_or(serde_json::Value::is_null) {
        return Err(GraphqlProbeError::NotGraphql);
    }
    Ok(())
}

/// At most 200 characters of a service message, without the key should it be quoted.
fn shorten(text: &str, key: &StaticHeaderValue) -> String {
    text.replace(key.expose(), "<redacted>")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StaticHeaderValue {
        StaticHeaderValue::new("da2-abcdefghijklmnopqrstuvwxyz".into()).unwrap()
    }

    #[test]
    fn a_graphql_answer_without_errors_is_success() {
        assert_eq!(
            judge(200, br#"{"data":{"__typename":"Query"}}"#, &key()),
            Ok(())
        );
    }

    #[test]
    fn appsyncs_401_for_an_unknown_or_expired_key_is_a_refused_key() {
        let body = br#"{"errors":[{"errorType":"UnauthorizedException","message":"You are not authorized to make this call."}]}"#;
        let err = judge(401, body, &key()).unwrap_err();
        assert_eq!(
            err,
            GraphqlProbeError::Unauthorized {
                status: 401,
                error_type: Some("UnauthorizedException".into())
            }
        );
        assert!(err.is_refused_key());
    }

    #[test]
    fn a_200_with_errors_or_without_data_is_not_success() {
        let body = br#"{"data":null,"errors":[{"errorType":"ValidationError","message":"Field 'nope' in type 'Query' is undefined, key da2-abcdefghijklmnopqrstuvwxyz"}]}"#;
        match judge(200, body, &key()).unwrap_err() {
            GraphqlProbeError::QueryErrors {
                error_type,
                message,
            } => {
                assert_eq!(error_type.as_deref(), Some("ValidationError"));
                assert!(!message.contains("da2-"), "{message}");
                assert!(message.contains("<redacted>"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            judge(200, b"<html>gateway</html>", &key()),
            Err(GraphqlProbeError::NotGraphql)
        );
        assert_eq!(
            judge(200, br#"{"data":null}"#, &key()),
            Err(GraphqlProbeError::NotGraphql)
        );
        assert_eq!(
            judge(502, b"", &key()),
            Err(GraphqlProbeError::Status {
                status: 502,
                error_type: None
            })
        );
    }
}

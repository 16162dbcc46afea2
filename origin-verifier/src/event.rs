//! The two API Gateway authorizer events, recognised from the payload's shape.
//!
//! Only the fields the verdict needs are read; serde skips the rest, so one struct
//! covers both shapes and no intermediate `serde_json::Value` is built.

use std::collections::HashMap;

use edgeseal::RequestView;
use serde::Deserialize;

/// An authorizer invocation as Lambda delivers it: HTTP API payload 2.0 or a REST API
/// `REQUEST` authorizer event (see [`AuthorizerEvent::kind`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizerEvent {
    /// `"2.0"` for HTTP API payload 2.0; absent for REST.
    version: Option<String>,
    /// `"REQUEST"` for both request authorizers (`"TOKEN"` for token authorizers).
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// HTTP API: the route's ARN (the resource of an IAM policy).
    route_arn: Option<String>,
    /// REST: the method's ARN (the resource of the policy).
    method_arn: Option<String>,
    /// HTTP API: the path as sent, percent-encoded, with a named stage.
    raw_path: Option<String>,
    /// HTTP API: the query string as sent, without `?`.
    raw_query_string: Option<String>,
    /// REST: the method.
    http_method: Option<String>,
    /// Header names as API Gateway passes them (HTTP API: lowercase; REST: as sent).
    headers: Option<HashMap<String, String>>,
    /// REST: every value of every header.
    multi_value_headers: Option<HashMap<String, Vec<String>>>,
    /// REST: every value of every query parameter, decoded.
    multi_value_query_string_parameters: Option<HashMap<String, Vec<String>>>,
    /// REST: single-valued query parameters (used only when the multi-value map is absent).
    query_string_parameters: Option<HashMap<String, String>>,
    request_context: RequestContext,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RequestContext {
    request_id: Option<String>,
    /// REST: the path with the stage (or base path), as the client sent it.
    path: Option<String>,
    /// REST: the method (duplicate of the top-level `httpMethod`).
    http_method: Option<String>,
    /// HTTP API: `{method, path, ...}`.
    http: Option<HttpContext>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct HttpContext {
    method: Option<String>,
}

/// Which API Gateway flavour invoked the authorizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// HTTP API, payload format 2.0.
    HttpApi,
    /// REST API `REQUEST` authorizer.
    Rest,
}

/// Why an event could not be read as an authorizer request.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Neither an HTTP API 2.0 nor a REST `REQUEST` authorizer event (a `TOKEN`
    /// authorizer, or payload format 1.0, or not API Gateway at all).
    #[error("not an HTTP API 2.0 or REST REQUEST authorizer event")]
    Unrecognised,
    /// The shape was recognised but a field the verdict needs is absent.
    #[error("authorizer event lacks {0}")]
    MissingField(&'static str),
}

impl AuthorizerEvent {
    /// Recognise the flavour: payload 2.0 carries `version: "2.0"` and `rawPath`; a REST
    /// `REQUEST` event carries `type: "REQUEST"` and `methodArn`, and no `version`.
    pub fn kind(&self) -> Result<EventKind, EventError> {
        if self.version.as_deref() == Some("2.0") && self.raw_path.is_some() {
            Ok(EventKind::HttpApi)
        } else if self.method_arn.is_some()
            && self.version.is_none()
            && self.event_type.as_deref() == Some("REQUEST")
        {
            Ok(EventKind::Rest)
        } else {
            Err(EventError::Unrecognised)
        }
    }

    /// API Gateway's request id, for logs.
    pub fn request_id(&self) -> &str {
        self.request_context.request_id.as_deref().unwrap_or("")
    }

    /// The resource an IAM policy must name: `routeArn` or `methodArn`.
    pub fn policy_resource(&self) -> Option<&str> {
        self.route_arn.as_deref().or(self.method_arn.as_deref())
    }

    /// The value of header `name` (case-insensitive); several values (REST
    /// `multiValueHeaders`) are joined by [`RequestView::header`] rules.
    fn header_values(&self) -> Box<dyn Iterator<Item = (&str, &str)> + '_> {
        match (&self.multi_value_headers, &self.headers) {
            (Some(multi), _) if !multi.is_empty() => Box::new(
                multi
                    .iter()
                    .flat_map(|(n, vs)| vs.iter().map(move |v| (n.as_str(), v.as_str()))),
            ),
            (_, Some(single)) => Box::new(single.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn host(&self) -> &str {
        self.header_values()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map_or("", |(_, v)| v)
    }

    /// The request as the signature covers it. `path_prefix` (normalised by
    /// [`Config`](crate::Config)) is prepended to the path API Gateway reports.
    pub fn request_view(
        &self,
        kind: EventKind,
        path_prefix: &str,
    ) -> Result<RequestView, EventError> {
        let host = self.host();
        let mut view = match kind {
            EventKind::HttpApi => {
                let method = self
                    .request_context
                    .http
                    .as_ref()
                    .and_then(|h| h.method.as_deref())
                    .ok_or(EventError::MissingField("requestContext.http.method"))?;
                let raw_path = self.raw_path.as_deref().unwrap_or("");
                let path = prefixed(path_prefix, raw_path);
                RequestView::new(
                    method,
                    host,
                    &path,
                    self.raw_query_string.as_deref().unwrap_or(""),
                )
            }
            EventKind::Rest => {
                let method = self
                    .http_method
                    .as_deref()
                    .or(self.request_context.http_method.as_deref())
                    .ok_or(EventError::MissingField("httpMethod"))?;
                let raw_path = self
                    .request_context
                    .path
                    .as_deref()
                    .ok_or(EventError::MissingField("requestContext.path"))?;
                let path = prefixed(path_prefix, raw_path);
                match (
                    &self.multi_value_query_string_parameters,
                    &self.query_string_parameters,
                ) {
                    (Some(multi), _) => RequestView::from_query_pairs(
                        method,
                        host,
                        &path,
                        multi
                            .iter()
                            .flat_map(|(n, vs)| vs.iter().map(move |v| (n.as_str(), v.as_str()))),
                    ),
                    (None, Some(single)) => RequestView::from_query_pairs(
                        method,
                        host,
                        &path,
                        single.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    ),
                    (None, None) => RequestView::from_query_pairs(method, host, &path, []),
                }
            }
        };
        // Every header is carried: a signature may cover header components beyond the
        // four the profile requires.
        for (name, value) in self.header_values() {
            view.push_header(name, value);
        }
        Ok(view)
    }
}

fn prefixed<'a>(prefix: &str, path: &'a str) -> std::borrow::Cow<'a, str> {
    if prefix.is_empty() {
        std::borrow::Cow::Borrowed(path)
    } else {
        std::borrow::Cow::Owned(format!("{prefix}{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_recognised() {
        let http: AuthorizerEvent =
            serde_json::from_str(r#"{"version":"2.0","type":"REQUEST","rawPath":"/x"}"#).unwrap();
        assert_eq!(http.kind(), Ok(EventKind::HttpApi));
        let rest: AuthorizerEvent = serde_json::from_str(
            r#"{"type":"REQUEST","methodArn":"arn:x","requestContext":{"path":"/p"}}"#,
        )
        .unwrap();
        assert_eq!(rest.kind(), Ok(EventKind::Rest));
        for other in [
            r#"{}"#,
            r#"{"type":"TOKEN","methodArn":"arn:x","authorizationToken":"t"}"#,
            r#"{"version":"1.0","methodArn":"arn:x"}"#,
        ] {
            let e: AuthorizerEvent = serde_json::from_str(other).unwrap();
            assert_eq!(e.kind(), Err(EventError::Unrecognised), "{other}");
        }
    }

    #[test]
    fn null_maps_are_empty() {
        let rest: AuthorizerEvent = serde_json::from_str(
            r#"{"type":"REQUEST","methodArn":"arn:x","httpMethod":"GET","headers":null,
                "multiValueHeaders":null,"queryStringParameters":null,
                "multiValueQueryStringParameters":null,"requestContext":{"path":"/prod/a"}}"#,
        )
        .unwrap();
        let view = rest.request_view(EventKind::Rest, "").unwrap();
        assert_eq!(view.path(), "/prod/a");
        assert_eq!(view.query(), "?");
        assert_eq!(view.authority(), None);
    }

    #[test]
    fn prefix_is_prepended_to_the_reported_path() {
        let http: AuthorizerEvent = serde_json::from_str(
            r#"{"version":"2.0","rawPath":"/orders/1","rawQueryString":"b=2&a=1",
                "headers":{"host":"api.example.com"},
                "requestContext":{"http":{"method":"GET"}}}"#,
        )
        .unwrap();
        let view = http.request_view(EventKind::HttpApi, "/v1").unwrap();
        assert_eq!(view.path(), "/v1/orders/1");
        assert_eq!(view.query(), "?a=1&b=2");
        assert_eq!(view.authority(), Some("api.example.com"));
    }
}

//! The three API Gateway authorizer events, recognised from the payload's shape, and
//! read as API Gateway really fills them (sources: `tests/fixtures/apigw/README.md`):
//!
//! | event | path | query |
//! |---|---|---|
//! | HTTP API payload 2.0 | `rawPath`, decoded by API Gateway | `rawQueryString`, as sent |
//! | HTTP API payload 1.0 | `path`, decoded by API Gateway | `multiValueQueryStringParameters` (else `queryStringParameters`), form-decoded |
//! | REST `REQUEST` | `requestContext.path`, as sent (encoded, with the stage or base path) | `multiValueQueryStringParameters` (else `queryStringParameters`), form-decoded |
//!
//! Only the fields the verdict needs are read; serde skips the rest, so one struct
//! covers every shape and no intermediate `serde_json::Value` is built.

use std::borrow::Cow;
use std::fmt;

use edgeseal::RequestView;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::base_path::BasePathMap;

/// An authorizer invocation as Lambda delivers it: HTTP API payload 2.0 or 1.0, or a
/// REST API `REQUEST` authorizer event (see [`AuthorizerEvent::kind`]).
///
/// The header and query maps are kept as raw JSON and read later, borrowing from it:
/// most of their entries are never looked at, so they are never copied.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizerEvent {
    /// `"2.0"` / `"1.0"` for HTTP API payloads; absent for REST.
    version: Option<PayloadVersion>,
    /// `"REQUEST"` for both request authorizers (`"TOKEN"` for token authorizers).
    #[serde(rename = "type")]
    event_type: Option<EventType>,
    /// HTTP API: the route's ARN (the resource of an IAM policy).
    route_arn: Option<String>,
    /// REST, HTTP API 1.0: the method's ARN (the resource of the policy).
    method_arn: Option<String>,
    /// HTTP API 2.0: the path with a named stage, percent-decoded by API Gateway (twice,
    /// and cut at a `?` the first decoding produced).
    raw_path: Option<String>,
    /// HTTP API 1.0: the path, decoded like 2.0's `rawPath`. (REST: the path without
    /// the stage; `requestContext.path` is read instead.)
    path: Option<String>,
    /// HTTP API: the query string as sent, without `?`.
    raw_query_string: Option<String>,
    /// REST, HTTP API 1.0: the method.
    http_method: Option<String>,
    /// Header names as API Gateway passes them (HTTP API: lowercase, repeated values
    /// joined by commas; REST: as sent, last value).
    headers: Option<Box<RawValue>>,
    /// REST: every value of every header.
    multi_value_headers: Option<Box<RawValue>>,
    /// REST, HTTP API 1.0: every value of every query parameter, form-decoded (`+` is
    /// already a space), values of one name in the order sent.
    multi_value_query_string_parameters: Option<Box<RawValue>>,
    /// Single-valued query parameters (used only when the multi-value map is absent:
    /// the HTTP API 1.0 authorizer payload of the AWS guide has only this one).
    query_string_parameters: Option<Box<RawValue>>,
    request_context: RequestContext,
}

/// Which headers a [`RequestView`] gets.
#[derive(Clone, Copy, Debug)]
pub enum HeaderSelection<'a> {
    /// Every header of the event (needed when a signature covers header components).
    All,
    /// Only these (lowercase) names: the signature fields and the static header.
    Only(&'a [&'a str]),
}

/// A string borrowed from the event JSON unless it had escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `version`: only compared with the two payload formats, so not kept as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PayloadVersion {
    /// `"2.0"`
    V2,
    /// `"1.0"`
    V1,
    /// Any other string.
    Other,
}

impl<'de> Deserialize<'de> for PayloadVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Str(text) = Str::deserialize(d)?;
        Ok(match text.as_ref() {
            "2.0" => PayloadVersion::V2,
            "1.0" => PayloadVersion::V1,
            _ => PayloadVersion::Other,
        })
    }
}

/// `type`: only compared with `"REQUEST"`, so not kept as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    /// `"REQUEST"`
    Request,
    /// Any other string (`"TOKEN"`, ...).
    Other,
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Str(text) = Str::deserialize(d)?;
        Ok(if text == "REQUEST" {
            EventType::Request
        } else {
            EventType::Other
        })
    }
}

/// A map value: a string, a list of strings, or `null`.
struct Values<'a>(Vec<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Values<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a list of strings or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Values(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Values(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Values(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(Str(v)) = seq.next_element::<Str<'de>>()? {
                    out.push(v);
                }
                Ok(Values(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object of strings or string lists, flattened to name/value pairs in order.
struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de> Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings or string lists")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
                    let Values(values) = map.next_value::<Values<'de>>()?;
                    for value in values {
                        out.push((name.clone(), value));
                    }
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

type PairList<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

fn pairs<'a>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Option<PairList<'a>>, EventError> {
    raw.map(|raw| {
        serde_json::from_str::<Pairs<'a>>(raw.get())
            .map(|p| p.0)
            .map_err(|_| EventError::Malformed(field))
    })
    .transpose()
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
    /// HTTP API, payload format 1.0 (`AuthorizerPayloadFormatVersion: "1.0"`); answered
    /// with an IAM policy, the only response that format takes.
    HttpApiV1,
    /// REST API `REQUEST` authorizer.
    Rest,
}

impl EventKind {
    /// `http-api-2.0`, `http-api-1.0`, `rest`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::HttpApi => "http-api-2.0",
            EventKind::HttpApiV1 => "http-api-1.0",
            EventKind::Rest => "rest",
        }
    }
}

/// Why an event could not be read as an authorizer request.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not an HTTP API (payload 2.0 or 1.0) or REST `REQUEST` authorizer event (a
    /// `TOKEN` authorizer, or not API Gateway at all).
    #[error("not an HTTP API (payload 2.0 or 1.0) or REST REQUEST authorizer event")]
    Unrecognised,
    /// The shape was recognised but a field the verdict needs is absent.
    #[error("authorizer event lacks {0}")]
    MissingField(&'static str),
    /// A header or query map is not an object of strings or string lists.
    #[error("authorizer event has a malformed {0}")]
    Malformed(&'static str),
}

impl AuthorizerEvent {
    /// Recognise the flavour: payload 2.0 carries `version: "2.0"` and `rawPath`;
    /// payload 1.0 `version: "1.0"`, `type: "REQUEST"` and `methodArn`; a REST `REQUEST`
    /// event `type: "REQUEST"` and `methodArn`, and no `version`.
    pub fn kind(&self) -> Result<EventKind, EventError> {
        let request_with_arn =
            self.method_arn.is_some() && self.event_type == Some(EventType::Request);
        match self.version {
            Some(PayloadVersion::V2) if self.raw_path.is_some() => Ok(EventKind::HttpApi),
            Some(PayloadVersion::V1) if request_with_arn => Ok(EventKind::HttpApiV1),
            None if request_with_arn => Ok(EventKind::Rest),
            _ => Err(EventError::Unrecognised),
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

    /// Every header line: REST `multiValueHeaders` when present, else `headers`.
    fn header_pairs(&self) -> Result<PairList<'_>, EventError> {
        if let Some(multi) = pairs(self.multi_value_headers.as_deref(), "multiValueHeaders")?
            && !multi.is_empty()
        {
            return Ok(multi);
        }
        Ok(pairs(self.headers.as_deref(), "headers")?.unwrap_or_default())
    }

    /// Query pairs from the multi-value map, else the single-valued one.
    fn query_pairs(&self) -> Result<PairList<'_>, EventError> {
        match pairs(
            self.multi_value_query_string_parameters.as_deref(),
            "multiValueQueryStringParameters",
        )? {
            Some(multi) => Ok(multi),
            None => Ok(pairs(
                self.query_string_parameters.as_deref(),
                "queryStringParameters",
            )?
            .unwrap_or_default()),
        }
    }

    /// The request as the signature covers it, with the headers `selection` names.
    /// `base_paths` turns the path API Gateway reports into the one the edge signed.
    pub fn request_view(
        &self,
        kind: EventKind,
        base_paths: &BasePathMap,
        selection: HeaderSelection<'_>,
    ) -> Result<RequestView, EventError> {
        let headers = self.header_pairs()?;
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map_or("", |(_, v)| v.as_ref());
        let mut view = match kind {
            EventKind::HttpApi => {
                let method = self
                    .request_context
                    .http
                    .as_ref()
                    .and_then(|h| h.method.as_deref())
                    .ok_or(EventError::MissingField("requestContext.http.method"))?;
                let raw_path = self.raw_path.as_deref().unwrap_or("");
                RequestView::new(
                    method,
                    host,
                    "",
                    self.raw_query_string.as_deref().unwrap_or(""),
                )
                .with_decoded_path(&base_paths.apply(raw_path))
            }
            EventKind::HttpApiV1 | EventKind::Rest => {
                let method = self
                    .http_method
                    .as_deref()
                    .or(self.request_context.http_method.as_deref())
                    .ok_or(EventError::MissingField("httpMethod"))?;
                let query = self.query_pairs()?;
                let query = query.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
                if kind == EventKind::Rest {
                    let raw_path = self
                        .request_context
                        .path
                        .as_deref()
                        .ok_or(EventError::MissingField("requestContext.path"))?;
                    RequestView::from_query_pairs(method, host, &base_paths.apply(raw_path), query)
                } else {
                    let decoded_path = self
                        .path
                        .as_deref()
                        .or(self.request_context.path.as_deref())
                        .ok_or(EventError::MissingField("path"))?;
                    RequestView::from_query_pairs(method, host, "", query)
                        .with_decoded_path(&base_paths.apply(decoded_path))
                }
            }
        };
        for (name, value) in &headers {
            let wanted = match selection {
                HeaderSelection::All => true,
                HeaderSelection::Only(names) => names.iter().any(|w| name.eq_ignore_ascii_case(w)),
            };
            if wanted {
                view.push_header(name, value);
            }
        }
        Ok(view)
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
        let v1: AuthorizerEvent = serde_json::from_str(
            r#"{"version":"1.0","type":"REQUEST","methodArn":"arn:x","path":"/p"}"#,
        )
        .unwrap();
        assert_eq!(v1.kind(), Ok(EventKind::HttpApiV1));
        for other in [
            r#"{}"#,
            r#"{"type":"TOKEN","methodArn":"arn:x","authorizationToken":"t"}"#,
            r#"{"version":"1.0","methodArn":"arn:x"}"#,
            r#"{"version":"3.0","type":"REQUEST","methodArn":"arn:x"}"#,
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
        let view = rest
            .request_view(
                EventKind::Rest,
                &BasePathMap::default(),
                HeaderSelection::All,
            )
            .unwrap();
        assert_eq!(view.path(), "/prod/a");
        assert_eq!(view.query(), "?");
        assert_eq!(view.authority(), None);
    }

    #[test]
    fn escaped_names_and_values_are_decoded_and_bad_maps_are_errors() {
        let http: AuthorizerEvent = serde_json::from_str(
            r#"{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"GET"}},
                "headers":{"x-\u0041":"a\"b","host":"h"}}"#,
        )
        .unwrap();
        let view = http
            .request_view(
                EventKind::HttpApi,
                &BasePathMap::default(),
                HeaderSelection::Only(&["x-a"]),
            )
            .unwrap();
        assert_eq!(view.header("x-a").as_deref(), Some("a\"b"));
        assert_eq!(view.header("host"), None, "not selected");
        assert_eq!(view.authority(), Some("h"));

        let bad: AuthorizerEvent = serde_json::from_str(
            r#"{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"GET"}},
                "headers":{"x-a":1}}"#,
        )
        .unwrap();
        assert_eq!(
            bad.request_view(
                EventKind::HttpApi,
                &BasePathMap::default(),
                HeaderSelection::All
            )
            .unwrap_err(),
            EventError::Malformed("headers")
        );
    }

    #[test]
    fn base_path_map_rewrites_the_reported_path() {
        let http: AuthorizerEvent = serde_json::from_str(
            r#"{"version":"2.0","rawPath":"/orders/1","rawQueryString":"b=2&a=1",
                "headers":{"host":"api.example.com"},
                "requestContext":{"http":{"method":"GET"}}}"#,
        )
        .unwrap();
        let view = http
            .request_view(
                EventKind::HttpApi,
                &BasePathMap::prefix("/v1").unwrap(),
                HeaderSelection::All,
            )
            .unwrap();
        assert_eq!(view.path(), "/v1/orders/1");
        assert_eq!(view.query(), "?a=1&b=2");
        assert_eq!(view.authority(), Some("api.example.com"));
    }
}

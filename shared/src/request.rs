//! The request as both sides see it.

use std::borrow::Cow;

use crate::canonical;
use crate::profile::Profile;

/// The parts of an HTTP request that a signature covers, in the form of one signing
/// [`Profile`].
///
/// [`new`](Self::new) and [`from_query_pairs`](Self::from_query_pairs) make an
/// `apigateway` view: path and query in canonical form (see
/// [`canonical`](crate::canonical)), printable ASCII whatever they were made from.
/// [`raw`](Self::raw) makes a `raw` view: path and query byte for byte as sent; a value
/// that could break a line of the signature base is refused where a base is written
/// ([`Rejection::ComponentUnavailable`](crate::Rejection::ComponentUnavailable)), as
/// the method and header values are.
///
/// The edge builds it from the CloudFront origin-request event, the origin from what
/// it received; if both describe the same request in the same profile, both views are
/// equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestView {
    profile: Profile,
    method: String,
    authority: Option<String>,
    path: String,
    query: String,
    /// The path came already percent-decoded by API Gateway (an HTTP API).
    path_decoded_by_gateway: bool,
    headers: Vec<(String, String)>,
}

impl RequestView {
    /// A request from its method, Host header, raw path and raw query string (without
    /// `?`; empty for none).
    pub fn new(method: &str, host: &str, raw_path: &str, raw_query: &str) -> Self {
        Self::with_canonical_query(method, host, raw_path, canonical::query_from_raw(raw_query))
    }

    /// A request whose query string is only known as decoded name/value pairs (REST API
    /// `multiValueQueryStringParameters`, flattened).
    pub fn from_query_pairs<'a>(
        method: &str,
        host: &str,
        raw_path: &str,
        query_pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Self::with_canonical_query(
            method,
            host,
            raw_path,
            canonical::query_from_pairs(query_pairs),
        )
    }

    /// A `raw`-profile request (RFC 9421 §2.2.6 / §2.2.7): its method, Host header, and
    /// path and query string exactly as sent (the query without its `?`, empty for
    /// none). `@path` is the path byte for byte (`/` when empty); `@query` is `?`
    /// followed by the query string byte for byte.
    ///
    /// ```
    /// use edgeseal::{Profile, RequestView};
    /// let view = RequestView::raw("GET", "Api.Example.com:443", "/a%2fb", "b=2&a=1+1");
    /// assert_eq!(view.profile(), Profile::Raw);
    /// assert_eq!(view.authority(), Some("api.example.com"));
    /// assert_eq!(view.path(), "/a%2fb");
    /// assert_eq!(view.query(), "?b=2&a=1+1");
    /// ```
    pub fn raw(method: &str, host: &str, path: &str, query: &str) -> Self {
        let mut raw_query = String::with_capacity(query.len() + 1);
        raw_query.push('?');
        raw_query.push_str(query);
        Self {
            profile: Profile::Raw,
            method: method.to_owned(),
            authority: canonical::authority(host),
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            },
            query: raw_query,
            path_decoded_by_gateway: false,
            headers: Vec::new(),
        }
    }

    /// A request in `profile`: [`raw`](Self::raw) or [`new`](Self::new) (`apigateway`).
    pub fn in_profile(profile: Profile, method: &str, host: &str, path: &str, query: &str) -> Self {
        match profile {
            Profile::ApiGateway => Self::new(method, host, path, query),
            Profile::Raw => Self::raw(method, host, path, query),
        }
    }

    fn with_canonical_query(method: &str, host: &str, raw_path: &str, query: String) -> Self {
        Self {
            profile: Profile::ApiGateway,
            method: method.to_owned(),
            authority: canonical::authority(host),
            path: canonical::path(raw_path),
            query,
            path_decoded_by_gateway: false,
            headers: Vec::new(),
        }
    }

    /// Replace the path with one API Gateway has already percent-decoded (an HTTP
    /// API's `rawPath` or payload 1.0 `path`): it is encoded, never decoded again
    /// ([`canonical::path_from_decoded`]).
    #[must_use]
    pub fn with_decoded_path(mut self, decoded_path: &str) -> Self {
        self.path = canonical::path_from_decoded(decoded_path);
        self.path_decoded_by_gateway = true;
        // Only API Gateway decodes paths: the view is an `apigateway` one.
        self.profile = Profile::ApiGateway;
        self
    }

    /// Replace the canonical `@path` (used to check what a signature's own record of
    /// its path says; see [`canonical::http_api_path`]).
    pub(crate) fn with_canonical_path(&self, path: &str) -> Self {
        Self {
            path: path.to_owned(),
            ..self.clone()
        }
    }

    /// The signing profile this view is in.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Whether the path came already decoded by API Gateway.
    pub fn path_decoded_by_gateway(&self) -> bool {
        self.path_decoded_by_gateway
    }

    /// Add a header (the name is lowercased), builder style.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.push_header(name, value);
        self
    }

    /// Add a header (the name is lowercased). Repeated names are kept in order.
    pub fn push_header(&mut self, name: &str, value: &str) {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Remove every header called `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The value of header `name`: several lines are joined with `", "`, each trimmed
    /// (RFC 9421 §2.1). `None` when the header is absent.
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self
            .headers
            .iter()
            // Names are stored lowercase, and looked up lowercase (as a rule): an exact
            // comparison first, byte by byte without case only when that fails.
            .filter(|(n, _)| n.len() == name.len() && (n == name || n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.trim_matches(|c| c == ' ' || c == '\t'));
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first}, {second}");
                for more in values {
                    joined.push_str(", ");
                    joined.push_str(more);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// The method, as sent.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The canonical `@authority`, or `None` when the Host was not usable.
    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    /// The `@path`: canonical (`apigateway`) or as sent (`raw`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `@query`, with its leading `?`: canonical (`apigateway`) or as sent (`raw`).
    pub fn query(&self) -> &str {
        &self.query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_pair_queries_make_equal_views() {
        let a = RequestView::new("GET", "Api.Example.com", "/prod/x%7e", "b=2&a=1+1");
        let b = RequestView::from_query_pairs(
            "GET",
            "api.example.com:443",
            "/prod/x~",
            [("a", "1 1"), ("b", "2")],
        );
        assert_eq!(a, b);
        let decoded = RequestView::new("GET", "api.example.com", "", "b=2&a=1+1")
            .with_decoded_path("/prod/x~");
        assert_eq!(decoded.path(), a.path());
        assert!(decoded.path_decoded_by_gateway());
        assert!(!a.path_decoded_by_gateway());
    }

    #[test]
    fn repeated_headers_join_with_comma_space() {
        let r = RequestView::new("GET", "h", "/", "")
            .with_header("X-A", " one ")
            .with_header("x-a", "two");
        assert_eq!(r.header("x-a").as_deref(), Some("one, two"));
        assert_eq!(r.header("X-A").as_deref(), Some("one, two"));
        assert_eq!(r.header("x-b"), None);
    }
}

//! The request as both sides see it.

use std::borrow::Cow;
use std::fmt;

use crate::canonical;
use crate::profile::Profile;
use text::Text;

mod text;

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
#[derive(Clone)]
pub struct RequestView {
    profile: Profile,
    /// Every string of the view, one after the other: a view costs one allocation for
    /// its text however many parts it has (an origin builds one per request).
    text: String,
    method: Span,
    authority: Option<Span>,
    path: Span,
    query: Span,
    /// The signature base's lines for the four components a [`Signer`](crate::Signer)
    /// covers, laid out around the four spans above when they were written:
    /// `"@method": M\n"@authority": A\n"@path": P\n"@query": Q\n"@signature-params": `.
    /// A signer or verifier gives them to the MAC as they are
    /// ([`base_lines`](Self::base_lines)) instead of writing nine pieces per request.
    base_lines: Span,
    /// The path came already percent-decoded by API Gateway (an HTTP API).
    path_decoded_by_gateway: bool,
    /// Names lowercase, in the order added.
    headers: Vec<(Span, Span)>,
    /// Where `Signature-Input` and `Signature` are, noted as headers are added, so that
    /// a verifier finds them without walking the headers.
    signature_fields: [FieldAt; 2],
}

/// Where one of the two signature fields is in a view's headers.
#[derive(Clone, Copy, Default)]
enum FieldAt {
    #[default]
    Absent,
    /// One field line, whose value is this span.
    Once(Span),
    /// Several lines: [`RequestView::header`] joins them.
    Repeated,
}

/// The two fields a signature travels in, lowercase, in the order of
/// `RequestView::signature_fields`.
const SIGNATURE_FIELDS: [&str; 2] = ["signature-input", "signature"];

/// Where one string of a view lies in its `text`.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl RequestView {
    /// A request from its method, Host header, raw path and raw query string (without
    /// `?`; empty for none).
    pub fn new(method: &str, host: &str, raw_path: &str, raw_query: &str) -> Self {
        Self::with_canonical_query(
            method,
            host,
            raw_path,
            &canonical::query_from_raw(raw_query),
        )
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
            &canonical::query_from_pairs(query_pairs),
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
        let mut text = Text::with_room(method.len() + host.len() + path.len() + query.len());
        let path = if path.is_empty() { "/" } else { path };
        let lines = text.push_lines(method, host, path, &["?", query]);
        text.into_view(Profile::Raw, lines)
    }

    /// A request in `profile`: [`raw`](Self::raw) or [`new`](Self::new) (`apigateway`).
    pub fn in_profile(profile: Profile, method: &str, host: &str, path: &str, query: &str) -> Self {
        match profile {
            Profile::ApiGateway => Self::new(method, host, path, query),
            Profile::Raw => Self::raw(method, host, path, query),
        }
    }

    fn with_canonical_query(method: &str, host: &str, raw_path: &str, query: &str) -> Self {
        let path = canonical::path(raw_path);
        let mut text = Text::with_room(method.len() + host.len() + path.len() + query.len());
        let lines = text.push_lines(method, host, &path, &[query]);
        text.into_view(Profile::ApiGateway, lines)
    }

    /// Replace the path with one API Gateway has already percent-decoded (an HTTP
    /// API's `rawPath` or payload 1.0 `path`): it is encoded, never decoded again
    /// ([`canonical::path_from_decoded`]).
    #[must_use]
    pub fn with_decoded_path(mut self, decoded_path: &str) -> Self {
        self.replace_path(&canonical::path_from_decoded(decoded_path));
        self.path_decoded_by_gateway = true;
        // Only API Gateway decodes paths: the view is an `apigateway` one.
        self.profile = Profile::ApiGateway;
        self
    }

    /// Replace the canonical `@path` (used to check what a signature's own record of
    /// its path says; see [`canonical::http_api_path`]).
    pub(crate) fn with_canonical_path(&self, path: &str) -> Self {
        let mut view = self.clone();
        view.replace_path(path);
        view
    }

    /// A new path, written in place of the old one: the text after it moves, and so do
    /// the spans that lie there (the query, the end of the base lines, headers).
    fn replace_path(&mut self, path: &str) {
        let old = self.path;
        self.text.replace_range(old.start..old.end, path);
        let new_end = old.start + path.len();
        let moved = |at: usize| {
            if at >= old.end {
                at - old.end + new_end
            } else {
                at
            }
        };
        let shift = |span: Span| Span {
            start: moved(span.start),
            end: moved(span.end),
        };
        self.path = Span {
            start: old.start,
            end: new_end,
        };
        self.query = shift(self.query);
        self.base_lines = shift(self.base_lines);
        for (name, value) in &mut self.headers {
            *name = shift(*name);
            *value = shift(*value);
        }
        for at in &mut self.signature_fields {
            if let FieldAt::Once(value) = at {
                *value = shift(*value);
            }
        }
    }

    /// The signature base of the four components a [`Signer`](crate::Signer) covers,
    /// but for the `@signature-params` value:
    /// `"@method": M\n"@authority": A\n"@path": P\n"@query": Q\n"@signature-params": `.
    /// `None` when the view has no `@authority`. The values are as stored: whether they
    /// fit in a base is the caller's to check.
    pub(crate) fn base_lines(&self) -> Option<&str> {
        self.authority?;
        Some(slice(&self.text, self.base_lines))
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
        let name = self.push_text(name);
        if let Some(pushed) = self.text.get_mut(name.start..name.end) {
            pushed.make_ascii_lowercase();
        }
        let value = self.push_text(value);
        let lowercase = slice(&self.text, name);
        if let Some(at) = SIGNATURE_FIELDS
            .iter()
            .position(|field| *field == lowercase)
            .and_then(|i| self.signature_fields.get_mut(i))
        {
            *at = match at {
                FieldAt::Absent => FieldAt::Once(value),
                FieldAt::Once(_) | FieldAt::Repeated => FieldAt::Repeated,
            };
        }
        self.headers.push((name, value));
    }

    /// Remove every header called `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        for (field, at) in SIGNATURE_FIELDS.iter().zip(&mut self.signature_fields) {
            if field.eq_ignore_ascii_case(name) {
                *at = FieldAt::Absent;
            }
        }
        let text = &self.text;
        self.headers
            .retain(|(n, _)| !slice(text, *n).eq_ignore_ascii_case(name));
    }

    /// The value of header `name`: several lines are joined with `", "`, each trimmed
    /// (RFC 9421 §2.1). `None` when the header is absent.
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        // Names are stored lowercase, and looked up lowercase (as a rule): lengths first
        // (no text is touched for most names), then an exact comparison, byte by byte
        // without case only when that fails.
        let text = self.text.as_bytes();
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| {
                n.end - n.start == name.len()
                    && text.get(n.start..n.end).is_some_and(|n| {
                        n == name.as_bytes() || n.eq_ignore_ascii_case(name.as_bytes())
                    })
            })
            .map(|(_, v)| trim_ows(slice(&self.text, *v)));
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

    /// `Signature-Input` and `Signature`: what [`header`](Self::header) returns for
    /// each, found through what `push_header` noted.
    pub(crate) fn signature_fields(&self) -> [Option<Cow<'_, str>>; 2] {
        let field = |i: usize| match self.signature_fields.get(i) {
            None | Some(FieldAt::Absent) => None,
            Some(FieldAt::Once(value)) => Some(Cow::Borrowed(trim_ows(slice(&self.text, *value)))),
            Some(FieldAt::Repeated) => SIGNATURE_FIELDS.get(i).and_then(|name| self.header(name)),
        };
        [field(0), field(1)]
    }

    /// Both signature fields when each came in one field line (the usual case): what
    /// [`signature_fields`](Self::signature_fields) returns then, borrowed.
    #[inline]
    pub(crate) fn single_signature_fields(&self) -> Option<[&str; 2]> {
        let [FieldAt::Once(input), FieldAt::Once(signature)] = self.signature_fields else {
            return None;
        };
        Some([
            trim_ows(slice(&self.text, input)),
            trim_ows(slice(&self.text, signature)),
        ])
    }

    /// The method, as sent.
    pub fn method(&self) -> &str {
        slice(&self.text, self.method)
    }

    /// The canonical `@authority`, or `None` when the Host was not usable.
    pub fn authority(&self) -> Option<&str> {
        self.authority.map(|span| slice(&self.text, span))
    }

    /// The `@path`: canonical (`apigateway`) or as sent (`raw`).
    pub fn path(&self) -> &str {
        slice(&self.text, self.path)
    }

    /// The `@query`, with its leading `?`: canonical (`apigateway`) or as sent (`raw`).
    pub fn query(&self) -> &str {
        slice(&self.text, self.query)
    }

    /// The headers, names lowercase, in the order added.
    fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (slice(&self.text, *name), slice(&self.text, *value)))
    }

    fn push_text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span {
            start,
            end: self.text.len(),
        }
    }
}

/// `value` without the spaces and tabs around it (a field value's optional white
/// space, RFC 9110 §5.5).
fn trim_ows(value: &str) -> &str {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let bytes = value.as_bytes();
    let start = bytes.iter().take_while(|b| ows(b)).count();
    let end = bytes.len() - bytes.iter().rev().take_while(|b| ows(b)).count();
    // Both ends are next to an ASCII byte or the string's end: char boundaries.
    value.get(start..end.max(start)).unwrap_or_default()
}

/// The string `span` marks in `text` (every span of a view lies in its own text).
fn slice(text: &str, span: Span) -> &str {
    text.get(span.start..span.end).unwrap_or_default()
}

/// Views are equal when they describe the same request in the same profile, however
/// their text was written.
impl PartialEq for RequestView {
    fn eq(&self, other: &Self) -> bool {
        self.profile == other.profile
            && self.path_decoded_by_gateway == other.path_decoded_by_gateway
            && self.method() == other.method()
            && self.authority() == other.authority()
            && self.path() == other.path()
            && self.query() == other.query()
            && self.headers().eq(other.headers())
    }
}

impl Eq for RequestView {}

impl fmt::Debug for RequestView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestView")
            .field("profile", &self.profile)
            .field("method", &self.method())
            .field("authority", &self.authority())
            .field("path", &self.path())
            .field("query", &self.query())
            .field("path_decoded_by_gateway", &self.path_decoded_by_gateway)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
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

    /// The noted signature fields are what a walk of the headers finds, however the
    /// headers were added, repeated, removed, or moved by a replaced path.
    #[test]
    fn signature_fields_are_what_header_finds() {
        fn walked(r: &RequestView) -> [Option<Cow<'_, str>>; 2] {
            [r.header("signature-input"), r.header("signature")]
        }
        let base = || RequestView::new("GET", "h", "/p", "a=1");
        let views = [
            base(),
            base()
                .with_header("Signature-Input", " a=1 ")
                .with_header("x", "y"),
            base()
                .with_header("signature", "s")
                .with_header("SIGNATURE", "t"),
            base()
                .with_header("signature-input", "i")
                .with_header("signature", "s")
                .with_decoded_path("/a/much/longer/path"),
            {
                let mut r = base().with_header("signature", "s");
                r.remove_header("Signature");
                r.push_header("signature", "again");
                r
            },
            {
                let mut r = base().with_header("signature-input", "i");
                r.remove_header("signature-input");
                r
            },
        ];
        for view in &views {
            assert_eq!(view.signature_fields(), walked(view), "{view:?}");
        }
        let long = RequestView::new("GET", "h", "/", "")
            .with_header("signature", "s")
            .with_canonical_path("/a/longer/canonical/path");
        assert_eq!(long.signature_fields(), walked(&long));
    }

    /// Only the optional white space of RFC 9110 (spaces and tabs) is trimmed: other
    /// control characters stay, and are refused where a base is written.
    #[test]
    fn header_values_lose_only_spaces_and_tabs_around_them() {
        let r = RequestView::new("GET", "h", "/", "")
            .with_header("x-a", " \t one two\t ")
            .with_header("x-b", "\r\nthree\x0b")
            .with_header("x-c", " \t ")
            .with_header("x-d", "é ");
        assert_eq!(r.header("x-a").as_deref(), Some("one two"));
        assert_eq!(r.header("x-b").as_deref(), Some("\r\nthree\x0b"));
        assert_eq!(r.header("x-c").as_deref(), Some(""));
        assert_eq!(r.header("x-d").as_deref(), Some("é"));
        assert_eq!(r.header("X-D").as_deref(), Some("é"));
        assert_eq!(r.header("x-"), None);
    }
}

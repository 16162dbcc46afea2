//! The canonical component values that the edge and the authorizer both compute.
//!
//! CloudFront shows the edge the raw viewer URI and query string; API Gateway shows the
//! authorizer something else, depending on the API type (sources:
//! `tests/fixtures/apigw/README.md`):
//!
//! | | path | query |
//! |---|---|---|
//! | edge (CloudFront `uri`, `querystring`) | as sent, percent-encoded | as sent |
//! | REST API `requestContext.path` | as sent, percent-encoded | form-decoded name/value lists, no order across names |
//! | HTTP API 2.0 `rawPath` / 1.0 `path` | percent-decoded **twice**, cut at a `?` the first decoding produced | 2.0: `rawQueryString` as sent; 1.0: form-decoded maps |
//!
//! Both sides therefore sign and verify one documented canonical form instead of the
//! raw bytes, and each source is decoded exactly as many times as it still needs:
//!
//! **`@path`**: an encoded path (edge, REST) is percent-decoded once ([`path`]); a path
//! an HTTP API delivers is taken as the bytes it already is ([`path_from_decoded`]).
//! Then every byte that is not an RFC 3986 unreserved character, a sub-delimiter, `:`,
//! `@` or `/` is encoded as `%XX` (uppercase hex); a `%` that does not start a valid
//! escape becomes `%25`; an empty path is `/`. `+` in a path is a literal plus.
//! Consequence, forced by HTTP APIs (which show `/a%2Fb` and `/a/b` alike): an escape
//! and the byte it encodes are the same path. A path whose once-decoded form contains
//! `?` or `%` reaches an HTTP API changed (cut, or decoded a second time): see
//! [`http_api_path`] and `Rejection::PathNotRepresentable`.
//!
//! **`@query`**: the query string is split on `&` (empty pieces dropped), each piece
//! into name and value at the first `=` (a missing `=` means an empty value), and names
//! and values are form-decoded: `+` is a space and `%XX` the byte it encodes (so `%2B`
//! is a plus), as REST APIs report them and as RFC 9421 §2.2.8 parses query parameters.
//! The pairs are sorted by name, bytewise, with a stable sort: values of a repeated
//! name keep the order they were sent in (REST APIs keep it; they do not keep the order
//! across names). They are written back as `name=value` joined by `&`, encoding every
//! byte but RFC 3986 unreserved ones. The value starts with `?`, and is just `?` for an
//! empty query (RFC 9421 §2.2.7).
//!
//! **`@authority`**: the Host header, lowercased, with `:443` or `:80` dropped (the
//! scheme is not signed; API Gateway serves HTTPS only).
//!
//! The vectors in `shared/tests/vectors/canonical.json` pin these rules; the Node.js
//! edge tests read the same file.

/// RFC 3986 `unreserved`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes a canonical path keeps literal: unreserved, sub-delims, `:`, `@`, `/`.
fn path_keeps(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// What `+` means to a decoder.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plus {
    /// A literal plus (paths).
    Literal,
    /// A space (query strings: form encoding).
    Space,
}

/// Percent-decode `input` onto the end of `out`; a `%` not followed by two hex digits
/// stays literal.
fn percent_decode(input: &[u8], plus: Plus, out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                input.get(i + 1).copied().and_then(hex_value),
                input.get(i + 2).copied().and_then(hex_value),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(if b == b'+' && plus == Plus::Space {
            b' '
        } else {
            b
        });
        i += 1;
    }
}

/// Append `bytes` to `out`, keeping bytes for which `keep` holds and encoding the rest.
fn percent_encode(bytes: &[u8], keep: fn(u8) -> bool, out: &mut String) {
    fn hex_digit(nibble: u8) -> char {
        char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        })
    }
    for &b in bytes {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
}

/// The canonical `@path` of a path as sent: percent-encoded (the edge's origin path +
/// URI, a REST API's `requestContext.path`). Escapes are decoded once.
///
/// ```
/// assert_eq!(edgeseal::canonical::path("/prod/a%20b/%7euser"), "/prod/a%20b/~user");
/// assert_eq!(edgeseal::canonical::path("/a%2541"), "/a%2541");
/// assert_eq!(edgeseal::canonical::path(""), "/");
/// ```
pub fn path(raw: &str) -> String {
    if raw.is_empty() {
        return "/".to_owned();
    }
    let mut decoded = Vec::with_capacity(raw.len());
    percent_decode(raw.as_bytes(), Plus::Literal, &mut decoded);
    let mut out = String::with_capacity(raw.len() + 8);
    percent_encode(&decoded, path_keeps, &mut out);
    out
}

/// The canonical `@path` of a path API Gateway has already decoded (an HTTP API's
/// `rawPath`, payload 1.0 `path`): nothing is decoded again, only encoded.
///
/// ```
/// assert_eq!(edgeseal::canonical::path_from_decoded("/prod/a b/café"), "/prod/a%20b/caf%C3%A9");
/// assert_eq!(edgeseal::canonical::path_from_decoded("/100%"), "/100%25");
/// assert_eq!(edgeseal::canonical::path_from_decoded("/a%41"), "/a%2541");
/// ```
pub fn path_from_decoded(decoded: &str) -> String {
    if decoded.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(decoded.len() + 8);
    percent_encode(decoded.as_bytes(), path_keeps, &mut out);
    out
}

/// What an HTTP API makes of a path: decode it, cut it at the first `?` that decoding
/// produced (dropping the rest), decode it a second time; `None` when the second
/// decoding meets a `%` that starts no escape (API Gateway then answers 400 and invokes
/// nothing). Live captures: hotsock/voker `vokerhttp/testdata/ingress-paths.json` (see
/// `tests/fixtures/apigw/README.md`).
fn http_api_decoding(path: &[u8]) -> Option<Vec<u8>> {
    let mut once = Vec::with_capacity(path.len());
    percent_decode(path, Plus::Literal, &mut once);
    let kept = once.split(|&b| b == b'?').next().unwrap_or_default();
    let mut twice = Vec::with_capacity(kept.len());
    let mut i = 0;
    while let Some(&b) = kept.get(i) {
        if b == b'%' {
            let hi = kept.get(i + 1).copied().and_then(hex_value)?;
            let lo = kept.get(i + 2).copied().and_then(hex_value)?;
            twice.push(hi << 4 | lo);
            i += 3;
        } else {
            twice.push(b);
            i += 1;
        }
    }
    Some(twice)
}

/// The `rawPath` an HTTP API shows for a request whose path is `sent` (as sent,
/// percent-encoded), or `None` when API Gateway refuses the request (400). For test
/// stand-ins of API Gateway; bytes that are not UTF-8 are replaced.
///
/// ```
/// use edgeseal::canonical::http_api_raw_path;
/// assert_eq!(http_api_raw_path("/a%20b/caf%C3%A9").as_deref(), Some("/a b/café"));
/// assert_eq!(http_api_raw_path("/what%3Fvalue").as_deref(), Some("/what"));
/// assert_eq!(http_api_raw_path("/literal%252Fvalue").as_deref(), Some("/literal/value"));
/// assert_eq!(http_api_raw_path("/percent%25done"), None);
/// ```
pub fn http_api_raw_path(sent: &str) -> Option<String> {
    http_api_decoding(sent.as_bytes()).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// What an HTTP API shows for a request whose canonical `@path` is `signed`, as a
/// canonical path, or `None` when the path reaches an HTTP API unchanged (or not at
/// all: a path it refuses with 400 never reaches an authorizer).
///
/// A path reaches it unchanged when its once-decoded form holds neither `?` nor a `%`
/// that starts an escape ([`http_api_raw_path`] has the whole transformation).
///
/// ```
/// use edgeseal::canonical::http_api_path;
/// assert_eq!(http_api_path("/a%20b"), None);
/// assert_eq!(http_api_path("/what%3Fvalue").as_deref(), Some("/what"));
/// assert_eq!(http_api_path("/literal%252Fvalue").as_deref(), Some("/literal/value"));
/// ```
pub fn http_api_path(signed: &str) -> Option<String> {
    // A canonical path writes `?` as `%3F` and `%` as `%25` (uppercase hex): most paths
    // have neither, and the edge checks every path it signs.
    let bytes = signed.as_bytes();
    let changes = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && matches!(bytes.get(i + 1..i + 3), Some(b"3F" | b"25")));
    if !changes {
        return None;
    }
    let delivered = http_api_decoding(signed.as_bytes())?;
    let mut out = String::with_capacity(delivered.len() + 8);
    if delivered.is_empty() {
        out.push('/');
    }
    percent_encode(&delivered, path_keeps, &mut out);
    (out != signed).then_some(out)
}

/// The canonical `@query` (with its leading `?`) of a raw query string, as CloudFront's
/// `querystring` or an HTTP API's `rawQueryString` give it (no leading `?`).
///
/// ```
/// assert_eq!(edgeseal::canonical::query_from_raw("b=2&a=1&a=0"), "?a=1&a=0&b=2");
/// assert_eq!(edgeseal::canonical::query_from_raw("q=a+b&p=a%2Bb"), "?p=a%2Bb&q=a%20b");
/// assert_eq!(edgeseal::canonical::query_from_raw(""), "?");
/// ```
pub fn query_from_raw(raw: &str) -> String {
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    // Every name and value decoded into one buffer; a pair is where its two end.
    let mut decoded = Vec::with_capacity(raw.len());
    let mut ends = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        percent_decode(name.as_bytes(), Plus::Space, &mut decoded);
        let name_end = decoded.len();
        percent_decode(value.as_bytes(), Plus::Space, &mut decoded);
        ends.push((name_end, decoded.len()));
    }
    let mut start = 0;
    let pairs = ends
        .iter()
        .map(|&(name_end, value_end)| {
            let name = decoded.get(start..name_end).unwrap_or_default();
            let value = decoded.get(name_end..value_end).unwrap_or_default();
            start = value_end;
            (name, value)
        })
        .collect();
    write_query(pairs)
}

/// The canonical `@query` of already-decoded name/value pairs, as a REST API's
/// `multiValueQueryStringParameters` give them (flattened: one pair per value).
///
/// ```
/// let pairs = [("b", "2"), ("a", "1"), ("a", "0")];
/// assert_eq!(edgeseal::canonical::query_from_pairs(pairs), "?a=1&a=0&b=2");
/// ```
pub fn query_from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    write_query(
        pairs
            .into_iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect(),
    )
}

fn write_query(mut pairs: Vec<(&[u8], &[u8])>) -> String {
    // By name only, and stable: repeated values keep their order.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(
        1 + pairs
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum::<usize>(),
    );
    out.push('?');
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(name, is_unreserved, &mut out);
        out.push('=');
        percent_encode(value, is_unreserved, &mut out);
    }
    out
}

/// The canonical `@authority` of a Host header value, or `None` when it is not a
/// plausible `host[:port]` (empty, or characters no host name or IP literal has).
///
/// ```
/// assert_eq!(edgeseal::canonical::authority("API.Example.com:443").as_deref(), Some("api.example.com"));
/// assert_eq!(edgeseal::canonical::authority("example.com:8443").as_deref(), Some("example.com:8443"));
/// assert_eq!(edgeseal::canonical::authority("bad host"), None);
/// ```
pub fn authority(host: &str) -> Option<String> {
    plausible_authority(host).map(str::to_ascii_lowercase)
}

/// [`authority`] before it is lowercased: `host` trimmed, without a default port, if it
/// can be an authority at all.
pub(crate) fn plausible_authority(host: &str) -> Option<&str> {
    let host = host.trim();
    let host = host
        .strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(host);
    let plausible = !host.is_empty()
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']')
        });
    plausible.then_some(host)
}

/// Whether `method` is an HTTP token (RFC 9110 §5.6.2); the value is signed as it is.
pub fn is_method(method: &str) -> bool {
    !method.is_empty() && method.bytes().all(is_tchar)
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Join a CloudFront origin path (`/prod`, or empty) and the viewer URI (`/orders`) the
/// way CloudFront does when it forwards the request, then canonicalize.
///
/// ```
/// assert_eq!(edgeseal::canonical::origin_path("/prod", "/orders"), "/prod/orders");
/// assert_eq!(edgeseal::canonical::origin_path("/prod/", "/orders"), "/prod/orders");
/// assert_eq!(edgeseal::canonical::origin_path("", "/"), "/");
/// ```
pub fn origin_path(origin_path: &str, uri: &str) -> String {
    let prefix = origin_path.trim_end_matches('/');
    let mut joined = String::with_capacity(prefix.len() + uri.len() + 1);
    joined.push_str(prefix);
    if !uri.starts_with('/') {
        joined.push('/');
    }
    joined.push_str(uri);
    path(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_normalizes_escapes_both_ways() {
        assert_eq!(path("/a%2fb"), "/a/b");
        assert_eq!(path("/caf%C3%A9"), "/caf%C3%A9");
        assert_eq!(path("/café"), "/caf%C3%A9");
        assert_eq!(path("/100%"), "/100%25");
        assert_eq!(path("/%zz"), "/%25zz");
        assert_eq!(path("/a b"), "/a%20b");
        assert_eq!(path("/%41%42"), "/AB");
        assert_eq!(path("/a+b"), "/a+b");
    }

    #[test]
    fn decoded_paths_are_never_decoded_again() {
        // What an HTTP API shows for /a%2541, /a%2520b, /a%20b: the edge's canonical form.
        assert_eq!(path_from_decoded("/a%41"), path("/a%2541"));
        assert_eq!(path_from_decoded("/a%20b"), path("/a%2520b"));
        assert_eq!(path_from_decoded("/a b"), path("/a%20b"));
        assert_eq!(path_from_decoded(""), "/");
    }

    #[test]
    fn http_api_path_follows_the_live_captures() {
        assert_eq!(
            http_api_raw_path("/capture/percent%25done"),
            None,
            "refused: 400"
        );
        // hotsock/voker vokerhttp/testdata/ingress-paths.json, sent path -> rawPath.
        let captures = [
            ("/capture/plain", "/capture/plain"),
            ("/capture/space%20value", "/capture/space value"),
            ("/capture/question%3Fvalue", "/capture/question"),
            ("/capture/hash%23value", "/capture/hash#value"),
            ("/capture/slash%2Fvalue", "/capture/slash/value"),
            (
                "/capture/unicode-%CE%BB-%E4%B8%96%E7%95%8C",
                "/capture/unicode-λ-世界",
            ),
            ("/capture/literal%252Fvalue", "/capture/literal/value"),
            ("/capture/literal%253Fvalue", "/capture/literal?value"),
            ("/capture/literal%2525value", "/capture/literal%value"),
        ];
        for (sent, raw_path) in captures {
            assert_eq!(http_api_raw_path(sent).as_deref(), Some(raw_path), "{sent}");
            let signed = path(sent);
            let delivered = path_from_decoded(raw_path);
            match http_api_path(&signed) {
                None => assert_eq!(delivered, signed, "{sent}"),
                Some(changed) => {
                    assert_eq!(changed, delivered, "{sent}");
                    assert_ne!(changed, signed, "{sent}");
                }
            }
        }
    }

    #[test]
    fn query_forms_agree_between_raw_and_pairs() {
        let raw = query_from_raw("q=a%20b&tag=x&tag=a&flag&plus=1+2&sp=%2B");
        let pairs = query_from_pairs([
            ("tag", "x"),
            ("tag", "a"),
            ("q", "a b"),
            ("flag", ""),
            ("plus", "1 2"),
            ("sp", "+"),
        ]);
        assert_eq!(raw, pairs);
        assert_eq!(raw, "?flag=&plus=1%202&q=a%20b&sp=%2B&tag=x&tag=a");
    }

    #[test]
    fn repeated_values_keep_their_order() {
        assert_ne!(
            query_from_raw("role=user&role=admin"),
            query_from_raw("role=admin&role=user")
        );
        assert_eq!(query_from_raw("b=1&a=2&b=0"), "?a=2&b=1&b=0");
    }

    #[test]
    fn empty_query_pieces_are_dropped() {
        assert_eq!(query_from_raw("&&a=1&"), "?a=1");
        assert_eq!(query_from_raw("?"), "?");
    }

    #[test]
    fn authority_rules() {
        assert_eq!(authority("Example.COM").as_deref(), Some("example.com"));
        assert_eq!(authority("example.com:80").as_deref(), Some("example.com"));
        assert_eq!(authority("[::1]:443").as_deref(), Some("[::1]"));
        assert_eq!(authority(""), None);
        assert_eq!(authority("a/b"), None);
    }

    proptest::proptest! {
        /// Whatever a canonical form is made from (any text, control characters and
        /// non-ASCII included), it is printable ASCII: what `RequestView` promises and
        /// the signature base relies on.
        #[test]
        fn canonical_forms_are_printable_ascii(raw in "\\PC*|[\\x00-\\x20\\x7f%?+/:@]{0,12}", other in "\\PC{0,8}") {
            let printable = |text: &str| text.bytes().all(|b| b.is_ascii_graphic());
            proptest::prop_assert!(printable(&path(&raw)), "{raw:?}");
            proptest::prop_assert!(printable(&path_from_decoded(&raw)), "{raw:?}");
            proptest::prop_assert!(printable(&origin_path(&other, &raw)), "{raw:?}");
            proptest::prop_assert!(printable(&query_from_raw(&raw)), "{raw:?}");
            let pairs = [(raw.as_str(), other.as_str()), (other.as_str(), raw.as_str())];
            proptest::prop_assert!(printable(&query_from_pairs(pairs)), "{raw:?}");
            if let Some(authority) = authority(&raw) {
                proptest::prop_assert!(printable(&authority), "{raw:?}");
            }
            if let Some(changed) = http_api_path(&path(&raw)) {
                proptest::prop_assert!(printable(&changed), "{raw:?}");
            }
        }
    }

    #[test]
    fn methods_are_tokens() {
        assert!(is_method("GET"));
        assert!(!is_method("GE T"));
        assert!(!is_method(""));
    }
}

//! How a view's text is first written: the four components as the signature base's
//! lines, in one string (`RequestView::base_lines`).

use super::{FieldAt, RequestView, Span};
use crate::canonical;
use crate::profile::Profile;

/// Room for the usual request (a path, a query, the two signature fields) without
/// growing the text.
const TYPICAL_TEXT_BYTES: usize = 512;

/// What precedes each value in the signature base's lines (RFC 9421 §2.5: each line
/// is the component's name in quotes, a colon, a space and its value; lines end in a
/// newline but the last).
const METHOD_LINE: &str = "\"@method\": ";
const AUTHORITY_LINE: &str = "\n\"@authority\": ";
const PATH_LINE: &str = "\n\"@path\": ";
const QUERY_LINE: &str = "\n\"@query\": ";
const SIGNATURE_PARAMS_LINE: &str = "\n\"@signature-params\": ";

/// The four base lines, and where their values lie.
pub(super) struct Lines {
    all: Span,
    method: Span,
    authority: Option<Span>,
    path: Span,
    query: Span,
}

/// A view's text while its first parts are written.
pub(super) struct Text(String);

impl Text {
    pub(super) fn with_room(parts: usize) -> Self {
        Self(String::with_capacity(
            parts.max(TYPICAL_TEXT_BYTES / 2) + TYPICAL_TEXT_BYTES / 2,
        ))
    }

    fn push_all(&mut self, parts: &[&str]) -> Span {
        let start = self.0.len();
        for part in parts {
            self.0.push_str(part);
        }
        Span {
            start,
            end: self.0.len(),
        }
    }

    fn push(&mut self, s: &str) -> Span {
        self.push_all(&[s])
    }

    /// The four base lines ([`RequestView::base_lines`]), the values from `method`,
    /// `host`'s canonical authority (nothing when it has none), `path` and `query`'s parts.
    pub(super) fn push_lines(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        query: &[&str],
    ) -> Lines {
        let start = self.0.len();
        self.0.push_str(METHOD_LINE);
        let method = self.push(method);
        self.0.push_str(AUTHORITY_LINE);
        let authority = self.push_authority(host);
        self.0.push_str(PATH_LINE);
        let path = self.push(path);
        self.0.push_str(QUERY_LINE);
        let query = self.push_all(query);
        self.0.push_str(SIGNATURE_PARAMS_LINE);
        Lines {
            all: Span {
                start,
                end: self.0.len(),
            },
            method,
            authority,
            path,
            query,
        }
    }

    /// The canonical `@authority` of `host` ([`canonical::authority`]), if it has one.
    fn push_authority(&mut self, host: &str) -> Option<Span> {
        let span = self.push(canonical::plausible_authority(host)?);
        if let Some(pushed) = self.0.get_mut(span.start..span.end) {
            pushed.make_ascii_lowercase();
        }
        Some(span)
    }

    pub(super) fn into_view(self, profile: Profile, lines: Lines) -> RequestView {
        RequestView {
            profile,
            text: self.0,
            method: lines.method,
            authority: lines.authority,
            path: lines.path,
            query: lines.query,
            base_lines: lines.all,
            path_decoded_by_gateway: false,
            headers: Vec::with_capacity(4),
            signature_fields: [FieldAt::Absent; 2],
        }
    }
}

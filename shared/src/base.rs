//! The signature base (RFC 9421 §2.5): the exact bytes the MAC is computed over.

use crate::error::Rejection;
use crate::params::{Component, REQUIRED_INNER_LIST, component_value, fits_in_base};
use crate::profile::Profile;
use crate::request::RequestView;

/// The signature base for one request, components and `@signature-params` value.
///
/// It holds no key material and is safe to log when diagnosing a mismatch between
/// what the edge signed and what the origin saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureBase(String);

impl SignatureBase {
    /// Build the base: one `"name": value` line per component, then the
    /// `"@signature-params"` line. Fails with [`Rejection::ComponentUnavailable`] when the
    /// request lacks a covered component.
    pub fn new(
        request: &RequestView,
        components: &[Component],
        signature_params: &str,
    ) -> Result<Self, Rejection> {
        Self::from_names(
            request,
            components.iter().map(Component::name),
            signature_params,
        )
    }

    /// [`new`](Self::new) from component identifiers already checked against the
    /// profile.
    fn from_names<'n>(
        request: &RequestView,
        names: impl Iterator<Item = &'n str>,
        signature_params: &str,
    ) -> Result<Self, Rejection> {
        let mut base = String::with_capacity(256 + signature_params.len());
        write_base(request, names, signature_params, |piece| {
            base.push_str(piece);
        })?;
        Ok(Self(base))
    }

    /// The base a received signature covers: the components are those its
    /// `@signature-params` line lists ([`write_signed_base`]).
    pub(crate) fn of_signature(
        request: &RequestView,
        signature_params: &str,
    ) -> Result<Self, Rejection> {
        let mut base = String::with_capacity(256 + signature_params.len());
        write_signed_base(request, signature_params, |piece| {
            base.push_str(piece);
        })?;
        Ok(Self(base))
    }

    /// The base as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base as the bytes the MAC covers.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The covered component identifiers of a `@signature-params` line checked against
/// the profile, in order (`@method`, `content-type`, ...).
pub(crate) fn covered_components(signature_params: &str) -> impl Iterator<Item = &str> {
    // The serialized inner list: quoted identifiers, one space apart, and none holds a
    // quote, a space or a `)` (each is a profile identifier: `check_identifier`).
    let end = signature_params
        .bytes()
        .position(|b| b == b')')
        .unwrap_or(0);
    let list = signature_params.get(1..end).unwrap_or_default();
    list.split(' ')
        .filter_map(|quoted| quoted.get(1..quoted.len().saturating_sub(1)))
        .filter(|name| !name.is_empty())
}

/// The base of a received signature, whose `@signature-params` line (checked against
/// the profile) lists the covered components, piece by piece to `out`.
///
/// The components a [`Signer`](crate::Signer) covers ([`REQUIRED_INNER_LIST`]) are
/// written as the view laid their lines out when it was made (`RequestView::base_lines`,
/// one piece); any other list goes through [`write_base`]. Both write the same bytes
/// (`tests::required_components_base_is_the_general_one`).
pub(crate) fn write_signed_base(
    request: &RequestView,
    signature_params: &str,
    mut out: impl FnMut(&str),
) -> Result<(), Rejection> {
    if !signature_params.starts_with(REQUIRED_INNER_LIST) {
        return write_base(
            request,
            covered_components(signature_params),
            signature_params,
            out,
        );
    }
    let lines = request
        .base_lines()
        .filter(|_| base_lines_fit(request))
        .ok_or(Rejection::ComponentUnavailable)?;
    // The view wrote the four lines when it was made; only `@signature-params`'s value
    // is added here.
    out(lines);
    out(signature_params);
    Ok(())
}

/// Whether the values in the view's base lines ([`RequestView::base_lines`]) can be in a
/// signature base: none holds a line break or other control character.
pub(crate) fn base_lines_fit(request: &RequestView) -> bool {
    // The method is as the caller gave it. The authority is canonical, and so are an
    // `apigateway` view's path and query: printable ASCII by construction
    // (`RequestView`), they need no check. A `raw` view's path and query are as sent.
    let (method, path, query) = (request.method(), request.path(), request.query());
    let raw = request.profile() == Profile::Raw;
    let fit = fits_in_base(method) && (!raw || fits_in_base(path) && fits_in_base(query));
    debug_assert!(
        !fit || request.authority().is_none_or(fits_in_base)
            && fits_in_base(path)
            && fits_in_base(query)
    );
    fit
}

/// The base, piece by piece, to `out`: a `String` for [`SignatureBase`], or the MAC's
/// own buffer when verifying (no base is built first). The components are identifiers
/// the profile accepts ([`Component`] names).
pub(crate) fn write_base<'n>(
    request: &RequestView,
    names: impl Iterator<Item = &'n str>,
    signature_params: &str,
    mut out: impl FnMut(&str),
) -> Result<(), Rejection> {
    for name in names {
        let value = component_value(name, request).ok_or(Rejection::ComponentUnavailable)?;
        out("\"");
        out(name);
        out("\": ");
        out(&value);
        out("\n");
    }
    out("\"@signature-params\": ");
    out(signature_params);
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::params::REQUIRED_COMPONENTS;

    fn written(
        write: impl FnOnce(&mut dyn FnMut(&str)) -> Result<(), Rejection>,
    ) -> Result<String, Rejection> {
        let mut base = String::new();
        write(&mut |piece| base.push_str(piece))?;
        Ok(base)
    }

    proptest! {
        /// The signer's components, as the view laid their lines out, make the bytes
        /// the general loop makes, and fail alike (a Host that is no authority, a
        /// method with a control character), however the view was made: each
        /// constructor, and a path replaced after the fact (spliced into the lines).
        #[test]
        fn required_components_base_is_the_general_one(
            method in "[A-Z]{1,7}|GE\\nT|G\\x7fT|\t",
            host in "[a-z0-9.-]{1,20}(:[0-9]{1,5})?|bad host|",
            path in "(/[a-zA-Z0-9%?# ~\\n-]{0,8}){0,3}",
            query in "([a-z0-9%+= &]{0,6}){0,3}",
            params in "(;[a-z]+=[0-9]{1,4}){0,3}",
            made in 0..5,
        ) {
            let request = match made {
                0 => RequestView::new(&method, &host, &path, &query),
                1 => RequestView::raw(&method, &host, &path, &query),
                2 => RequestView::from_query_pairs(&method, &host, &path, [("q", query.as_str())]),
                3 => RequestView::new(&method, &host, "/first", &query)
                    .with_header("x-a", "v")
                    .with_decoded_path(&path),
                _ => RequestView::new(&method, &host, "/first", &query)
                    .with_canonical_path(&crate::canonical::path(&path)),
            };
            let signature_params = format!("{REQUIRED_INNER_LIST}{params}");
            let typed = written(|out| write_signed_base(&request, &signature_params, out));
            let general = written(|out| {
                write_base(
                    &request,
                    REQUIRED_COMPONENTS.iter().map(Component::name),
                    &signature_params,
                    out,
                )
            });
            prop_assert_eq!(typed, general);
        }
    }

    /// Any other list goes through the general loop, names read from the line.
    #[test]
    fn other_component_lists_are_read_from_the_line() {
        let request = RequestView::new("GET", "h", "/p", "a=1").with_header("x-a", "v");
        let base = SignatureBase::of_signature(&request, r#"("@path" "x-a");created=1"#);
        assert_eq!(
            base.map(|b| b.as_str().to_owned()),
            Ok(
                "\"@path\": /p\n\"x-a\": v\n\"@signature-params\": (\"@path\" \"x-a\");created=1"
                    .to_owned()
            )
        );
    }
}

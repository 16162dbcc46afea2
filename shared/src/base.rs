//! The signature base (RFC 9421 §2.5): the exact bytes the MAC is computed over.

use crate::error::Rejection;
use crate::params::{Component, component_value};
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
    pub(crate) fn from_names<'n>(
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

    /// The base as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base as the bytes the MAC covers.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The base, piece by piece, to `out`: a `String` for [`SignatureBase`], or straight
/// into the MAC when verifying (nothing is copied then). The components are identifiers
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

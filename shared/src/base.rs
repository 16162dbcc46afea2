//! The signature base (RFC 9421 §2.5): the exact bytes the MAC is computed over.

use crate::error::Rejection;
use crate::params::Component;
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
        let mut base = String::with_capacity(64 + 48 * components.len() + signature_params.len());
        for component in components {
            let value = component
                .value(request)
                .ok_or(Rejection::ComponentUnavailable)?;
            // push_str rather than write!: the formatting machinery is a measurable share
            // of a verification (see benches/verify.rs).
            base.push('"');
            base.push_str(component.name());
            base.push_str("\": ");
            base.push_str(&value);
            base.push('\n');
        }
        base.push_str("\"@signature-params\": ");
        base.push_str(signature_params);
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

//! [`Verifier::verify_at`] for a request exactly as edgeseal's own [`Signer`] writes it,
//! read by comparison with what the verifier expects instead of by parsing:
//!
//! ```text
//! Signature-Input: LABEL=("@method" "@authority" "@path" "@query");created=N;keyid="K";alg="hmac-sha256";tag="T"
//! Signature:       LABEL=:<43 base64 characters>=:
//! ```
//!
//! Only what finds the key is read before the MAC starts: `created`'s digits, then `K`,
//! compared in place with the ids the key set holds. Everything else (the label and the
//! components, `T` against the verifier's tag for each profile, the `Signature` field,
//! the limits, the time window, the base's values, the tag's base64) is checked once
//! the base is given to the MAC, while the SHA-256 rounds run: they wait on one another
//! and leave the core free for other work. A MAC begun on fields that then fail a check
//! is dropped unused; the time it took depends on the request and on which held key it
//! names, nothing secret.
//!
//! It answers only what the general path ([`Verifier::verify_general_at`]) answers: a
//! verdict, or [`Rejection::BadSignature`] (with the key id named). Anything else
//! (another shape, `expires` or a recorded path, a repeated field line, a limit, an
//! unknown or retired key, a time outside the window, a value no base can hold, a tag
//! not in canonical base64) is `None`, and the general path decides, reading the fields
//! again. The tests in `differential/signer_shaped.rs` compare the two on signer output
//! and on every one-byte edit of real fields, under key sets and clocks that reach
//! every rejection.
//!
//! [`Signer`]: crate::Signer
//! [`Rejection::BadSignature`]: crate::Rejection::BadSignature

use super::{Verified, Verifier};
use crate::base::base_lines_fit;
use crate::fields::{COMPONENTS_THEN_CREATED, FieldLimits, PresentedSignature, integer};
use crate::key::KeyId;
use crate::keyset::KeySet;
use crate::params::{HMAC_SHA256, REQUIRED_COMPONENTS};
use crate::profile::Profile;
use crate::request::RequestView;
use crate::time::UnixTime;

/// What opens the key id, after `created`'s digits.
const KEYID_OPENS: &str = ";keyid=\"";

/// The signer's fields as one verifier expects them, made with the verifier.
#[derive(Clone, Debug)]
pub(super) struct SignerShape {
    /// `LABEL=("@method" "@authority" "@path" "@query");created=`.
    input_head: String,
    /// Where the member's value (the `@signature-params` line) starts: after `LABEL=`.
    params_at: usize,
    /// `LABEL=:`.
    signature_head: String,
    /// What follows the key id to the end of the field, for each profile:
    /// `";alg="hmac-sha256";tag="T"` states `apigateway`, `...;tag="T-raw"` states `raw`.
    tails: [(String, Profile); 2],
}

impl SignerShape {
    /// The shape for these settings, or `None` when the general path would not take
    /// the signer's fields as they are: no tag required (then any tag goes, and the
    /// view's profile is used), body binding required (the signer's four components do
    /// not cover `Content-Digest`), or limits below the signer's one member, four
    /// components and four parameters.
    pub(super) fn for_settings(
        label: &str,
        tags: Option<(&str, &str)>,
        body_required: bool,
        limits: &FieldLimits,
    ) -> Option<Self> {
        let (tag, raw_tag) = tags?;
        let admitted = !body_required
            && limits.max_members > 0
            && limits.max_components >= REQUIRED_COMPONENTS.len()
            && limits.max_params >= 4;
        let tail = |tag: &str| format!("\";alg=\"{HMAC_SHA256}\";tag=\"{tag}\"");
        admitted.then(|| Self {
            input_head: format!("{label}={COMPONENTS_THEN_CREATED}"),
            params_at: label.len() + 1,
            signature_head: format!("{label}=:"),
            tails: [
                (tail(tag), Profile::ApiGateway),
                (tail(raw_tag), Profile::Raw),
            ],
        })
    }

    /// The verdict on `request` if it is signer-shaped and the general path would
    /// reach its MAC: `Err` with the key id the signature names when the MAC does not
    /// match ([`Rejection::BadSignature`](crate::Rejection::BadSignature)).
    pub(super) fn verify_at(
        &self,
        verifier: &Verifier,
        now: UnixTime,
        request: &RequestView,
        keys: &KeySet,
    ) -> Option<Result<Verified, KeyId>> {
        let [input, signature] = request.single_signature_fields()?;
        let mut rest = input.get(self.input_head.len()..)?;
        let created = integer(&mut rest)?;
        let (found, after_keyid) = keys.find_written_at(rest.strip_prefix(KEYID_OPENS)?, now)?;
        let lines = request.base_lines()?;
        let signature_params = input.get(self.params_at..)?;
        // Made before the MAC: its key id's reference count is taken while the
        // store buffer is nearly empty (made after, it measured slower).
        let verified = Verified::new(&found, created, now, false);
        let (expected, presented) =
            found
                .key
                .mac_around(lines.as_bytes(), signature_params.as_bytes(), || {
                    let max = verifier.limits().max_field_bytes;
                    if input.len() > max
                        || signature.len() > max
                        || !input.starts_with(self.input_head.as_str())
                    {
                        return None;
                    }
                    let (_, profile) = self.tails.iter().find(|(tail, _)| after_keyid == tail)?;
                    let tag = signature
                        .strip_prefix(self.signature_head.as_str())?
                        .strip_suffix("=:")?;
                    if *profile != request.profile()
                        || verifier.check_created(now, created).is_err()
                        || !base_lines_fit(request)
                    {
                        return None;
                    }
                    let (presented, canonical) = PresentedSignature::decode_tag(tag)?;
                    canonical.then_some(presented)
                })?;
        Some(if expected.matches(&presented) {
            Ok(verified)
        } else {
            Err(verified.into_keyid())
        })
    }
}

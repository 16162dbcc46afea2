//! What a signature claims once its fields have been read, before any key.

use std::borrow::Cow;

use crate::base::{SignatureBase, covered_components};
use crate::error::Rejection;
use crate::fields::PresentedSignature;
use crate::key::KeyId;
use crate::profile::Profile;
use crate::request::RequestView;
use crate::time::UnixTime;

/// A signature that passed every check that needs no key. It borrows from the
/// request's `Signature-Input` field where it can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCandidate<'r> {
    pub(crate) claim: Claim<'r>,
    pub(crate) keyid: KeyId,
}

/// What a signature claims, apart from its key id: everything the key phase needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim<'r> {
    /// The `@signature-params` line: our member in serialized form, which begins with
    /// the covered components (`("@method" "@authority" ...)`).
    pub(crate) signature_params: Cow<'r, str>,
    pub(crate) created: UnixTime,
    pub(crate) expires: Option<UnixTime>,
    pub(crate) signature: PresentedSignature,
    /// The signature's record of the path it signed ([`SIGNED_PATH_PARAM`]), if any.
    ///
    /// [`SIGNED_PATH_PARAM`]: crate::SIGNED_PATH_PARAM
    pub(crate) signed_path: Option<Cow<'r, str>>,
    /// The profile the signature's tag states; `None` when no tag is required (the
    /// request view's profile is used).
    pub(crate) profile: Option<Profile>,
    /// Whether `content-digest` is covered.
    pub(crate) covers_content_digest: bool,
}

impl<'r> SignatureCandidate<'r> {
    /// A candidate from a claim and its key id (already checked: `check_member`).
    pub(super) fn new((claim, keyid): (Claim<'r>, &str)) -> Result<Self, Rejection> {
        KeyId::new(keyid)
            .map(|keyid| Self { claim, keyid })
            .map_err(|_| Rejection::Malformed)
    }

    /// The key id the signature names.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// When it was created.
    pub fn created(&self) -> UnixTime {
        self.claim.created
    }

    /// The signature's record of the canonical `@path` it signed
    /// ([`SIGNED_PATH_PARAM`](crate::SIGNED_PATH_PARAM)), present only for paths an
    /// HTTP API cannot deliver unchanged.
    pub fn signed_path(&self) -> Option<&str> {
        self.claim.signed_path.as_deref()
    }

    /// The profile the signature's tag states, or `None` when the verifier requires no
    /// tag. Build the request view in this profile ([`RequestView::in_profile`]).
    pub fn profile(&self) -> Option<Profile> {
        self.claim.profile
    }

    /// Whether the signature covers `Content-Digest` (binds the body).
    pub fn covers_content_digest(&self) -> bool {
        self.claim.covers_content_digest
    }

    /// The covered component identifiers, in order (`@method`, `content-type`, ...).
    pub fn covered_components(&self) -> impl Iterator<Item = &str> {
        covered_components(&self.claim.signature_params)
    }

    /// The signature base this signature covers on `request`: what the verifier MACs
    /// (for diagnosing a mismatch; it holds no key material).
    pub fn signature_base(&self, request: &RequestView) -> Result<SignatureBase, Rejection> {
        SignatureBase::of_signature(request, &self.claim.signature_params)
    }

    /// The same candidate, owning everything it borrowed.
    pub fn into_owned(self) -> SignatureCandidate<'static> {
        let claim = self.claim;
        SignatureCandidate {
            claim: Claim {
                signature_params: Cow::Owned(claim.signature_params.into_owned()),
                created: claim.created,
                expires: claim.expires,
                signature: claim.signature,
                signed_path: claim.signed_path.map(|p| Cow::Owned(p.into_owned())),
                profile: claim.profile,
                covers_content_digest: claim.covers_content_digest,
            },
            keyid: self.keyid,
        }
    }
}

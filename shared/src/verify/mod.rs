//! Verification: what the authorizer does to every request.

mod candidate;
mod signer_shaped;
mod verified;

use std::borrow::Cow;

use hmac::Mac as _;

pub(crate) use self::candidate::Claim;
pub use self::candidate::SignatureCandidate;
use self::signer_shaped::SignerShape;
pub use self::verified::Verified;
use crate::base::write_signed_base;
use crate::error::{ConfigError, Rejection};
use crate::fields::{
    FieldLimits, InputMember, PresentedSignature, parse_signature, parse_signature_input,
};
use crate::key::KeyId;
use crate::keyset::KeySet;
use crate::params::{DEFAULT_LABEL, DEFAULT_TAG, validate_label, validated_tag};
use crate::profile::Profile;
use crate::request::RequestView;
use crate::time::UnixTime;

/// Checks signatures under one label against a [`KeySet`].
///
/// Defaults: label [`DEFAULT_LABEL`], tag [`DEFAULT_TAG`] required, maximum age
/// [`Verifier::DEFAULT_MAX_AGE_SECS`], clock skew [`Verifier::DEFAULT_SKEW_SECS`],
/// [`FieldLimits::default`], body binding not required.
///
/// The signing profile is the request view's ([`RequestView::profile`]): a signature
/// whose tag states the other profile is [`Rejection::WrongProfile`]. With a required
/// application tag `T`, tag `T` states `apigateway` and `T-raw` states `raw`
/// ([`Profile::tag`]); with none required, any tag is accepted and the view's profile
/// is used.
#[derive(Clone, Debug)]
pub struct Verifier {
    label: String,
    tag: Option<String>,
    /// [`Profile::tag`] of `tag` for `raw`, made once.
    raw_tag: Option<String>,
    require_body: bool,
    max_age_secs: u64,
    skew_secs: u64,
    limits: FieldLimits,
    /// The signer's own fields as this verifier expects them, when its settings let
    /// them through as they are ([`SignerShape::for_settings`]).
    signer_shape: Option<SignerShape>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            label: DEFAULT_LABEL.to_owned(),
            tag: Some(DEFAULT_TAG.to_owned()),
            raw_tag: Some(Profile::Raw.tag(DEFAULT_TAG).into_owned()),
            require_body: false,
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
            skew_secs: Self::DEFAULT_SKEW_SECS,
            limits: FieldLimits::default(),
            signer_shape: None,
        }
        .with_signer_shape()
    }
}

impl Verifier {
    /// Default maximum signature age: 300 s. CloudFront signs once per request and
    /// reuses the signed request for its origin retries: up to 3 connection attempts,
    /// each up to 10 s to connect and 60 s to respond (the largest default-quota origin
    /// response timeout), is 210 s; 300 s leaves room for clock differences.
    pub const DEFAULT_MAX_AGE_SECS: u64 = 300;
    /// Default tolerance for a `created` in the future: 10 s of clock difference
    /// between the edge and the authorizer.
    pub const DEFAULT_SKEW_SECS: u64 = 10;

    /// A verifier for signatures under `label`.
    pub fn new(label: &str) -> Result<Self, ConfigError> {
        validate_label(label)?;
        Ok(Self {
            label: label.to_owned(),
            ..Self::default()
        }
        .with_signer_shape())
    }

    /// Require this `tag`, or accept any (including none) with `None`.
    pub fn with_tag(mut self, tag: Option<&str>) -> Result<Self, ConfigError> {
        self.tag = validated_tag(tag)?;
        self.raw_tag = match &self.tag {
            Some(tag) => validated_tag(Some(&Profile::Raw.tag(tag)))?,
            None => None,
        };
        Ok(self.with_signer_shape())
    }

    /// Require body binding: a signature that does not cover `Content-Digest` is
    /// [`Rejection::BodyNotSigned`]. The caller then checks the digest against the body
    /// ([`Verified::check_body`]).
    #[must_use]
    pub fn with_body_required(mut self, required: bool) -> Self {
        self.require_body = required;
        self.with_signer_shape()
    }

    /// Whether body binding is required.
    pub fn body_required(&self) -> bool {
        self.require_body
    }

    /// Oldest accepted signature, in seconds since `created`.
    #[must_use]
    pub fn with_max_age_secs(mut self, secs: u64) -> Self {
        self.max_age_secs = secs;
        self
    }

    /// How far in the future `created` may be.
    #[must_use]
    pub fn with_skew_secs(mut self, secs: u64) -> Self {
        self.skew_secs = secs;
        self
    }

    /// Parsing bounds.
    #[must_use]
    pub fn with_limits(mut self, limits: FieldLimits) -> Self {
        self.limits = limits;
        self.with_signer_shape()
    }

    /// The signer's shape for the settings as they are now: every setting it depends on
    /// (label, tag, body binding, limits) ends with this.
    fn with_signer_shape(mut self) -> Self {
        self.signer_shape = SignerShape::for_settings(
            &self.label,
            self.tag.as_deref().zip(self.raw_tag.as_deref()),
            self.require_body,
            &self.limits,
        );
        self
    }

    /// The label this verifier looks for.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The tag it requires, if any.
    pub fn required_tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Its parsing bounds.
    pub fn limits(&self) -> &FieldLimits {
        &self.limits
    }

    /// Verify `request` as of `now` against `keys`: what [`parse`](Self::parse) then
    /// [`verify_candidate_at`](Self::verify_candidate_at) return, without making an
    /// owned candidate in between (the key id is looked up as written in the field).
    ///
    /// Fields exactly as edgeseal's signer writes them are read by comparison, with
    /// the MAC started as soon as the key is known (`signer_shaped.rs`); anything else,
    /// and every rejection but a MAC that does not match, takes the general path.
    pub fn verify_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        keys: &KeySet,
    ) -> Result<Verified, Rejection> {
        match self.signer_shaped_at(now, request, keys) {
            Some(verdict) => verdict.map_err(|_| Rejection::BadSignature),
            None => self.verify_general_at(now, request, keys),
        }
    }

    /// [`verify_at`](Self::verify_at), and with a refusal the key id the signature
    /// names (`None` when its fields do not parse): what a caller needs that logs it,
    /// or fetches a key it does not hold and verifies again.
    pub fn verify_naming_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        keys: &KeySet,
    ) -> Result<Verified, (Rejection, Option<KeyId>)> {
        match self.signer_shaped_at(now, request, keys) {
            Some(verdict) => verdict.map_err(|named| (Rejection::BadSignature, Some(named))),
            None => {
                let candidate = self.parse(request).map_err(|rejection| (rejection, None))?;
                self.verify_candidate_at(now, request, &candidate, keys)
                    .map_err(|rejection| (rejection, Some(candidate.keyid)))
            }
        }
    }

    /// The signer-shaped path's verdict (`Err` with the key id the signature names
    /// when its MAC does not match), or `None` when the general path decides.
    pub(crate) fn signer_shaped_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        keys: &KeySet,
    ) -> Option<Result<Verified, KeyId>> {
        self.signer_shape
            .as_ref()?
            .verify_at(self, now, request, keys)
    }

    /// [`verify_at`](Self::verify_at) by the general path alone: every field parsed,
    /// every check in order.
    pub(crate) fn verify_general_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        keys: &KeySet,
    ) -> Result<Verified, Rejection> {
        let [input_field, signature_field] = request.signature_fields();
        let (claim, keyid) =
            self.parse_fields(input_field.as_deref(), signature_field.as_deref())?;
        self.verify_claim_at(now, request, &claim, keyid, keys)
    }

    /// First half of [`verify_at`](Self::verify_at): parse and check the fields and the
    /// profile without any key. The candidate's [`keyid`](SignatureCandidate::keyid) names
    /// the key to fetch when it is not held yet ([`verify_naming_at`](Self::verify_naming_at)
    /// gives it with a refusal, without a candidate on the way to a verdict). The
    /// candidate borrows from `request`'s `Signature-Input` field where it can.
    pub fn parse<'r>(&self, request: &'r RequestView) -> Result<SignatureCandidate<'r>, Rejection> {
        let [input_field, signature_field] = request.signature_fields();
        match input_field {
            Some(Cow::Borrowed(input)) => {
                SignatureCandidate::new(self.parse_fields(Some(input), signature_field.as_deref())?)
            }
            // Several field lines, joined: nothing to borrow from.
            Some(Cow::Owned(input)) => SignatureCandidate::new(
                self.parse_fields(Some(&input), signature_field.as_deref())?,
            )
            .map(SignatureCandidate::into_owned),
            None => SignatureCandidate::new(self.parse_fields(None, signature_field.as_deref())?),
        }
    }

    /// The claim and its key id (a valid one, as written).
    fn parse_fields<'a>(
        &self,
        input_field: Option<&'a str>,
        signature_field: Option<&str>,
    ) -> Result<(Claim<'a>, &'a str), Rejection> {
        let member = match input_field {
            Some(field) => parse_signature_input(field, &self.label, &self.limits)?,
            None => None,
        };
        let signature = match signature_field {
            Some(field) => parse_signature(field, &self.label, &self.limits)?,
            None => None,
        };
        match (member, signature) {
            (None, None) => Err(Rejection::Missing),
            (Some(member), Some(signature)) => self.check_member(member, signature.presented),
            _ => Err(Rejection::Unpaired),
        }
    }

    /// The profile: supported, distinct and required components; parameters of the
    /// right types; `created`, `keyid` and the tag present.
    fn check_member<'a>(
        &self,
        member: InputMember<'a>,
        signature: PresentedSignature,
    ) -> Result<(Claim<'a>, &'a str), Rejection> {
        if let Some(reason) = member.components.misfit {
            return Err(reason);
        }
        let params = member.params;
        if let Some(reason) = params.misfit {
            return Err(reason);
        }
        let (Some(created), Some(keyid)) = (params.created, params.keyid) else {
            return Err(Rejection::MissingParameter);
        };
        // Compared as written: a required tag has no quote or backslash to escape.
        let profile = match &self.tag {
            None => None,
            Some(required) if params.tag == Some(required.as_str()) => Some(Profile::ApiGateway),
            Some(_) if params.tag.is_some() && params.tag == self.raw_tag.as_deref() => {
                Some(Profile::Raw)
            }
            Some(_) => return Err(Rejection::WrongTag),
        };
        if !member.components.all_required() {
            return Err(Rejection::MissingComponent);
        }
        if self.require_body && !member.components.content_digest {
            return Err(Rejection::BodyNotSigned);
        }
        // A key id has no quote or backslash either: one written with an escape fails here.
        if !KeyId::is_valid(keyid) {
            return Err(Rejection::Malformed);
        }
        let claim = Claim {
            signature_params: member.signature_params,
            created,
            expires: params.expires,
            signature,
            signed_path: params.signed_path.map(unescape),
            profile,
            covers_content_digest: member.components.content_digest,
        };
        Ok((claim, keyid))
    }

    /// Second half of [`verify_at`](Self::verify_at): time window, key, MAC.
    pub fn verify_candidate_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        candidate: &SignatureCandidate<'_>,
        keys: &KeySet,
    ) -> Result<Verified, Rejection> {
        self.verify_claim_at(
            now,
            request,
            &candidate.claim,
            candidate.keyid.as_str(),
            keys,
        )
    }

    fn verify_claim_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        claim: &Claim<'_>,
        keyid: &str,
        keys: &KeySet,
    ) -> Result<Verified, Rejection> {
        if claim
            .profile
            .is_some_and(|stated| stated != request.profile())
        {
            return Err(Rejection::WrongProfile);
        }
        self.check_created(now, claim.created)?;
        if claim.expires.is_some_and(|expires| now > expires) {
            return Err(Rejection::Expired);
        }
        let found = keys.find_entry_at(keyid, now)?;
        if self.mac_matches(request, claim, found.key)? {
            Ok(Verified::new(
                &found,
                claim.created,
                now,
                claim.covers_content_digest,
            ))
        } else if self.path_changed_by_http_api(request, claim, found.key)? {
            Err(Rejection::PathNotRepresentable)
        } else {
            Err(Rejection::BadSignature)
        }
    }

    /// Whether `created` is in the window: at most the skew ahead of `now`, at most the
    /// maximum age behind it.
    fn check_created(&self, now: UnixTime, created: UnixTime) -> Result<(), Rejection> {
        if created > now.plus_secs(self.skew_secs) {
            return Err(Rejection::FromFuture);
        }
        if now.secs_since(created) > self.max_age_secs {
            return Err(Rejection::TooOld);
        }
        Ok(())
    }

    fn mac_matches(
        &self,
        request: &RequestView,
        claim: &Claim<'_>,
        key: &crate::key::SigningKey,
    ) -> Result<bool, Rejection> {
        // The base goes straight into the MAC: for the signer's components, the view's
        // base lines and the `@signature-params` value, two updates (gathering those
        // on the stack first and giving them in one update measured slower).
        let expected = key.mac_pieces(|mac| {
            write_signed_base(request, &claim.signature_params, |piece| {
                mac.update(piece.as_bytes());
            })
        })?;
        Ok(expected.matches(&claim.signature))
    }

    /// After a mismatch: did an HTTP API change a path the edge signed? Only when the
    /// signature records the path it signed ([`SIGNED_PATH_PARAM`](crate::SIGNED_PATH_PARAM)), an HTTP API shows
    /// exactly what it makes of that path, and the MAC verifies over the recorded path
    /// (so the record is the edge's, not a forger's).
    fn path_changed_by_http_api(
        &self,
        request: &RequestView,
        claim: &Claim<'_>,
        key: &crate::key::SigningKey,
    ) -> Result<bool, Rejection> {
        let Some(signed) = claim.signed_path.as_deref() else {
            return Ok(false);
        };
        if !request.path_decoded_by_gateway()
            || crate::canonical::http_api_path(signed).as_deref() != Some(request.path())
        {
            return Ok(false);
        }
        self.mac_matches(&request.with_canonical_path(signed), claim, key)
    }
}

/// A string parameter's value: its text between the quotes with `\"` and `\\`
/// unescaped (borrowed when there is no escape).
fn unescape(written: &str) -> Cow<'_, str> {
    if !written.contains('\\') {
        return Cow::Borrowed(written);
    }
    let mut value = String::with_capacity(written.len());
    let mut chars = written.chars();
    while let Some(c) = chars.next() {
        value.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    Cow::Owned(value)
}

//! Verification: what the authorizer does to every request.

use std::borrow::Cow;

use sfv::{BareItemFromInput, ListSerializer, RefBareItem};

use crate::base::SignatureBase;
use crate::error::{ConfigError, Rejection};
use crate::fields::{FieldLimits, InputMember, parse_signature, parse_signature_input};
use crate::key::KeyId;
use crate::keyset::{KeySet, Stage};
use crate::params::{
    Component, DEFAULT_LABEL, DEFAULT_TAG, HMAC_SHA256, REQUIRED_COMPONENTS, SIGNED_PATH_PARAM,
    validate_label, validated_tag,
};
use crate::request::RequestView;
use crate::time::UnixTime;

/// Header carrying the signature parameters.
const SIGNATURE_INPUT: &str = "signature-input";
/// Header carrying the MAC.
const SIGNATURE: &str = "signature";

/// Checks signatures under one label against a [`KeySet`].
///
/// Defaults: label [`DEFAULT_LABEL`], tag [`DEFAULT_TAG`] required, maximum age
/// [`Verifier::DEFAULT_MAX_AGE_SECS`], clock skew [`Verifier::DEFAULT_SKEW_SECS`],
/// [`FieldLimits::default`].
#[derive(Clone, Debug)]
pub struct Verifier {
    label: String,
    tag: Option<String>,
    max_age_secs: u64,
    skew_secs: u64,
    limits: FieldLimits,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            label: DEFAULT_LABEL.to_owned(),
            tag: Some(DEFAULT_TAG.to_owned()),
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
            skew_secs: Self::DEFAULT_SKEW_SECS,
            limits: FieldLimits::default(),
        }
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
        })
    }

    /// Require this `tag`, or accept any (including none) with `None`.
    pub fn with_tag(mut self, tag: Option<&str>) -> Result<Self, ConfigError> {
        self.tag = validated_tag(tag)?;
        Ok(self)
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
        self
    }

    /// The label this verifier looks for.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Verify `request` as of `now` against `keys`.
    pub fn verify_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        keys: &KeySet,
    ) -> Result<Verified, Rejection> {
        let candidate = self.parse(request)?;
        self.verify_candidate_at(now, request, &candidate, keys)
    }

    /// First half of [`verify_at`](Self::verify_at): parse and check the fields and the
    /// profile without any key. The authorizer uses the candidate's
    /// [`keyid`](SignatureCandidate::keyid) to fetch a key it does not hold yet.
    pub fn parse(&self, request: &RequestView) -> Result<SignatureCandidate, Rejection> {
        let input_field = request.header(SIGNATURE_INPUT);
        let signature_field = request.header(SIGNATURE);
        let member = match &input_field {
            Some(field) => parse_signature_input(field, &self.label, &self.limits)?,
            None => None,
        };
        let signature = match &signature_field {
            Some(field) => parse_signature(field, &self.label, &self.limits)?,
            None => None,
        };
        match (member, signature) {
            (None, None) => Err(Rejection::Missing),
            (Some(member), Some(signature)) => self.check_member(member, signature),
            _ => Err(Rejection::Unpaired),
        }
    }

    fn check_member(
        &self,
        member: InputMember<'_>,
        signature: Vec<u8>,
    ) -> Result<SignatureCandidate, Rejection> {
        let mut components = Vec::with_capacity(member.components.len());
        for name in &member.components {
            let component = Component::from_identifier(name.as_str())?;
            if components.contains(&component) {
                return Err(Rejection::DuplicateMember);
            }
            components.push(component);
        }

        let mut created = None;
        let mut expires = None;
        let mut keyid = None;
        let mut tag_seen: Option<Cow<'_, str>> = None;
        let mut signed_path = None;
        for (key, value) in &member.params {
            match (key.as_str(), value) {
                ("created", BareItemFromInput::Integer(v)) => {
                    created =
                        Some(UnixTime::from_sf_integer(i64::from(*v)).ok_or(Rejection::Malformed)?);
                }
                ("expires", BareItemFromInput::Integer(v)) => {
                    expires =
                        Some(UnixTime::from_sf_integer(i64::from(*v)).ok_or(Rejection::Malformed)?);
                }
                ("keyid", BareItemFromInput::String(v)) => keyid = Some(v.as_str()),
                ("alg", BareItemFromInput::String(v)) if v.as_str() != HMAC_SHA256 => {
                    return Err(Rejection::WrongAlgorithm);
                }
                ("alg", BareItemFromInput::String(_)) => {}
                ("tag", BareItemFromInput::String(v)) => tag_seen = Some(Cow::Borrowed(v.as_str())),
                ("nonce", BareItemFromInput::String(_)) => {}
                (SIGNED_PATH_PARAM, BareItemFromInput::String(v)) => {
                    signed_path = Some(v.as_str().to_owned());
                }
                (
                    "created" | "expires" | "keyid" | "alg" | "tag" | "nonce" | SIGNED_PATH_PARAM,
                    _,
                ) => {
                    return Err(Rejection::Malformed);
                }
                // Unknown parameters are covered by the MAC through @signature-params;
                // they cannot be altered, so they need not be understood.
                _ => {}
            }
        }
        let (Some(created), Some(keyid)) = (created, keyid) else {
            return Err(Rejection::MissingParameter);
        };
        if let Some(required) = &self.tag
            && tag_seen.as_deref() != Some(required.as_str())
        {
            return Err(Rejection::WrongTag);
        }
        if REQUIRED_COMPONENTS.iter().any(|c| !components.contains(c)) {
            return Err(Rejection::MissingComponent);
        }
        let keyid = KeyId::new(keyid).map_err(|_| Rejection::Malformed)?;

        // The @signature-params line is the received inner list, re-serialized.
        let mut signature_params = String::with_capacity(192);
        let mut list = ListSerializer::with_buffer(&mut signature_params);
        let mut inner = list.inner_list();
        for name in &member.components {
            inner.bare_item(name.as_ref());
        }
        let mut params = inner.finish();
        for (key, value) in &member.params {
            params = params.parameter(key, RefBareItem::from(value));
        }
        let _ = params;
        let _ = list.finish();

        Ok(SignatureCandidate {
            components,
            signature_params,
            created,
            expires,
            keyid,
            signature,
            signed_path,
        })
    }

    /// Second half of [`verify_at`](Self::verify_at): time window, key, MAC.
    pub fn verify_candidate_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        candidate: &SignatureCandidate,
        keys: &KeySet,
    ) -> Result<Verified, Rejection> {
        if candidate.created > now.plus_secs(self.skew_secs) {
            return Err(Rejection::FromFuture);
        }
        if now.secs_since(candidate.created) > self.max_age_secs {
            return Err(Rejection::TooOld);
        }
        if candidate.expires.is_some_and(|expires| now > expires) {
            return Err(Rejection::Expired);
        }
        let (key, stage) = keys.find_at(candidate.keyid.as_str(), now)?;
        if self.mac_matches(request, candidate, key)? {
            Ok(Verified {
                keyid: candidate.keyid.clone(),
                stage,
                created: candidate.created,
                age_secs: now.secs_since(candidate.created),
            })
        } else if self.path_changed_by_http_api(request, candidate, key)? {
            Err(Rejection::PathNotRepresentable)
        } else {
            Err(Rejection::BadSignature)
        }
    }

    fn mac_matches(
        &self,
        request: &RequestView,
        candidate: &SignatureCandidate,
        key: &crate::key::SigningKey,
    ) -> Result<bool, Rejection> {
        let base = candidate.signature_base(request)?;
        let expected = key.mac(base.as_bytes());
        Ok(expected.matches(&candidate.signature))
    }

    /// After a mismatch: did an HTTP API change a path the edge signed? Only when the
    /// signature records the path it signed ([`SIGNED_PATH_PARAM`]), an HTTP API shows
    /// exactly what it makes of that path, and the MAC verifies over the recorded path
    /// (so the record is the edge's, not a forger's).
    fn path_changed_by_http_api(
        &self,
        request: &RequestView,
        candidate: &SignatureCandidate,
        key: &crate::key::SigningKey,
    ) -> Result<bool, Rejection> {
        let Some(signed) = candidate.signed_path.as_deref() else {
            return Ok(false);
        };
        if !request.path_decoded_by_gateway()
            || crate::canonical::http_api_path(signed).as_deref() != Some(request.path())
        {
            return Ok(false);
        }
        self.mac_matches(&request.with_canonical_path(signed), candidate, key)
    }
}

/// A signature that passed every check that needs no key.
#[derive(Clone, Debug)]
pub struct SignatureCandidate {
    components: Vec<Component>,
    signature_params: String,
    created: UnixTime,
    expires: Option<UnixTime>,
    keyid: KeyId,
    signature: Vec<u8>,
    /// The signature's record of the path it signed ([`SIGNED_PATH_PARAM`]), if any.
    signed_path: Option<String>,
}

impl SignatureCandidate {
    /// The key id the signature names.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// When it was created.
    pub fn created(&self) -> UnixTime {
        self.created
    }

    /// The signature's record of the canonical `@path` it signed
    /// ([`SIGNED_PATH_PARAM`]), present only for paths an HTTP API cannot deliver
    /// unchanged.
    pub fn signed_path(&self) -> Option<&str> {
        self.signed_path.as_deref()
    }

    /// The signature base this signature covers on `request`: what the verifier MACs
    /// (for diagnosing a mismatch; it holds no key material).
    pub fn signature_base(&self, request: &RequestView) -> Result<SignatureBase, Rejection> {
        SignatureBase::new(request, &self.components, &self.signature_params)
    }
}

/// What an accepted signature tells the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    keyid: KeyId,
    stage: Stage,
    created: UnixTime,
    age_secs: u64,
}

impl Verified {
    /// The key that matched.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// Its stage when it matched.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The signature's `created`.
    pub fn created(&self) -> UnixTime {
        self.created
    }

    /// Seconds between `created` and verification (0 if `created` was slightly ahead).
    pub fn age_secs(&self) -> u64 {
        self.age_secs
    }
}

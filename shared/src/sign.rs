//! Signing: what the edge does to every origin request.

use base64::Engine as _;

use crate::base::SignatureBase;
use crate::digest::{CONTENT_DIGEST, content_digest};
use crate::error::{ConfigError, SignError};
use crate::fields::{append_member, remove_member};
use crate::key::{KeyId, SigningKey};
use crate::params::{
    Component, DEFAULT_TAG, REQUIRED_COMPONENTS, SignatureParams, serialize_signature_params,
    serialize_signature_params_with, validate_label, validated_tag,
};
use crate::profile::Profile;
use crate::request::RequestView;
use crate::time::UnixTime;

/// Signs requests with one key under one label: the edge's whole job.
///
/// Covers `@method`, `@authority`, `@path`, `@query` in the request view's
/// [`Profile`], and writes `created`, `keyid`, `alg="hmac-sha256"` and the tag that
/// states the profile ([`Profile::tag`] of the application tag, default
/// [`DEFAULT_TAG`]: `edgeseal` or `edgeseal-raw`).
#[derive(Clone, Debug)]
pub struct Signer {
    label: String,
    keyid: KeyId,
    key: SigningKey,
    /// The application tag: what `apigateway` signatures carry.
    tag: Option<String>,
    /// What `raw` signatures carry ([`Profile::tag`] of `tag`), made once.
    raw_tag: Option<String>,
    expires_after: Option<u64>,
}

impl Signer {
    /// A signer for `label` (an RFC 8941 key such as [`DEFAULT_LABEL`](crate::DEFAULT_LABEL)).
    pub fn new(label: &str, keyid: KeyId, key: SigningKey) -> Result<Self, ConfigError> {
        validate_label(label)?;
        Ok(Self {
            label: label.to_owned(),
            keyid,
            key,
            tag: Some(DEFAULT_TAG.to_owned()),
            raw_tag: Some(Profile::Raw.tag(DEFAULT_TAG).into_owned()),
            expires_after: None,
        })
    }

    /// Use another application tag, or none (then only `apigateway` requests can be
    /// signed: a `raw` signature states its profile in its tag).
    pub fn with_tag(mut self, tag: Option<&str>) -> Result<Self, ConfigError> {
        self.tag = validated_tag(tag)?;
        self.raw_tag = match &self.tag {
            Some(tag) => validated_tag(Some(&Profile::Raw.tag(tag)))?,
            None => None,
        };
        Ok(self)
    }

    /// Also write `expires = created + secs`.
    #[must_use]
    pub fn with_expires_after(mut self, secs: u64) -> Self {
        self.expires_after = Some(secs);
        self
    }

    /// The label this signer writes.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key id this signer writes.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// Sign `request` as of `now`. When an HTTP API could not deliver the request's
    /// path unchanged, the signature also records that path
    /// ([`SIGNED_PATH_PARAM`](crate::SIGNED_PATH_PARAM)), so that the authorizer can
    /// tell API Gateway's change from tampering.
    ///
    /// The profile is the request view's ([`RequestView::profile`]); a `raw` signature
    /// never records a path (no API Gateway stands between the edge and the origin).
    pub fn sign_at(&self, now: UnixTime, request: &RequestView) -> Result<SignedFields, SignError> {
        let params = self.params_at(now, request)?;
        let signed_path = (request.profile() == Profile::ApiGateway
            && crate::canonical::http_api_path(request.path()).is_some())
        .then(|| request.path());
        let signature_params =
            serialize_signature_params_with(&REQUIRED_COMPONENTS, &params, signed_path)?;
        sign_serialized(
            &self.label,
            &self.key,
            request,
            &REQUIRED_COMPONENTS,
            signature_params,
        )
    }

    /// Sign a `raw` request together with its body: write `Content-Digest` (RFC 9530,
    /// `sha-256`) for `body` and cover it after the four components. The returned
    /// fields carry the digest ([`SignedFields::content_digest`]), which the caller
    /// sends as the request's `Content-Digest` header in place of any it had.
    pub fn sign_body_at(
        &self,
        now: UnixTime,
        request: &RequestView,
        body: &[u8],
    ) -> Result<SignedFields, SignError> {
        if request.profile() != Profile::Raw {
            return Err(SignError::BodyNeedsRawProfile);
        }
        let params = self.params_at(now, request)?;
        let digest = content_digest(body);
        let mut with_digest = request.clone();
        with_digest.remove_header(CONTENT_DIGEST);
        with_digest.push_header(CONTENT_DIGEST, &digest);
        let [method, authority, path, query] = REQUIRED_COMPONENTS;
        let components = [
            method,
            authority,
            path,
            query,
            Component::Header(CONTENT_DIGEST.to_owned()),
        ];
        let signature_params = serialize_signature_params(&components, &params)?;
        let mut fields = sign_serialized(
            &self.label,
            &self.key,
            &with_digest,
            &components,
            signature_params,
        )?;
        fields.content_digest = Some(digest);
        Ok(fields)
    }

    /// The request's checks and the parameters of a signature made `now`.
    fn params_at(
        &self,
        now: UnixTime,
        request: &RequestView,
    ) -> Result<SignatureParams, SignError> {
        if !crate::canonical::is_method(request.method()) {
            return Err(SignError::InvalidMethod);
        }
        if request.authority().is_none() {
            return Err(SignError::InvalidAuthority);
        }
        let tag = match request.profile() {
            Profile::ApiGateway => self.tag.clone(),
            Profile::Raw => Some(self.raw_tag.clone().ok_or(SignError::UntaggedProfile)?),
        };
        Ok(SignatureParams {
            created: now,
            expires: self.expires_after.map(|secs| now.plus_secs(secs)),
            keyid: self.keyid.clone(),
            alg: true,
            nonce: None,
            tag,
        })
    }
}

/// Sign with explicit components and parameters: the general RFC 9421 form behind
/// [`Signer`], public so that the RFC's own test vectors can run through it.
pub fn sign_with(
    label: &str,
    key: &SigningKey,
    request: &RequestView,
    components: &[Component],
    params: &SignatureParams,
) -> Result<SignedFields, SignError> {
    let signature_params = serialize_signature_params(components, params)?;
    sign_serialized(label, key, request, components, signature_params)
}

fn sign_serialized(
    label: &str,
    key: &SigningKey,
    request: &RequestView,
    components: &[Component],
    signature_params: String,
) -> Result<SignedFields, SignError> {
    validate_label(label).map_err(|_| SignError::InvalidLabel)?;
    let base = SignatureBase::new(request, components, &signature_params)
        .map_err(|_| SignError::ComponentUnavailable)?;
    let tag = key.mac(base.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(tag.as_bytes());
    Ok(SignedFields {
        input_member: format!("{label}={signature_params}"),
        signature_member: format!("{label}=:{signature}:"),
        content_digest: None,
    })
}

/// The two field values a signature produces, each a one-member dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedFields {
    input_member: String,
    signature_member: String,
    content_digest: Option<String>,
}

impl SignedFields {
    /// `Signature-Input`, e.g. `edgeseal=("@method" ...);created=...;keyid="..."`.
    pub fn signature_input(&self) -> &str {
        &self.input_member
    }

    /// `Signature`, e.g. `edgeseal=:base64:`.
    pub fn signature(&self) -> &str {
        &self.signature_member
    }

    /// The `Content-Digest` value the signature covers, when it binds the body
    /// ([`Signer::sign_body_at`]); the request must carry it as its `Content-Digest`.
    pub fn content_digest(&self) -> Option<&str> {
        self.content_digest.as_deref()
    }

    /// Merge into the fields the request already carries: any member under `label`
    /// is removed first (a viewer cannot pre-sign), members under other labels are kept.
    /// Returns the new `Signature-Input` and `Signature` values.
    pub fn merge_into(
        &self,
        label: &str,
        existing_input: Option<&str>,
        existing_signature: Option<&str>,
    ) -> (String, String) {
        let rest_input = existing_input.and_then(|f| remove_member(f, label));
        let rest_signature = existing_signature.and_then(|f| remove_member(f, label));
        (
            append_member(rest_input.as_deref(), &self.input_member),
            append_member(rest_signature.as_deref(), &self.signature_member),
        )
    }
}

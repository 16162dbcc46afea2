//! The signature profile: covered components and signature parameters.

use std::borrow::Cow;

use sfv::{Integer, KeyRef, ListSerializer, StringRef};

use crate::error::{ConfigError, Rejection, SignError};
use crate::key::KeyId;
use crate::request::RequestView;
use crate::time::UnixTime;

/// Default signature label (the dictionary key in both fields).
pub const DEFAULT_LABEL: &str = "edgeseal";
/// Default application tag (the `tag` parameter), binding signatures to this protocol.
pub const DEFAULT_TAG: &str = "edgeseal";
/// The only algorithm edgeseal signs or accepts.
pub const HMAC_SHA256: &str = "hmac-sha256";
/// The signature parameter in which the edge records the canonical `@path` it signed,
/// written only when an HTTP API cannot deliver that path unchanged
/// ([`canonical::http_api_path`](crate::canonical::http_api_path)). Like every
/// parameter it is covered by the MAC; verifiers that do not know it ignore it.
pub const SIGNED_PATH_PARAM: &str = "edgeseal-path";

/// What edgeseal signs and requires, in this order.
pub const REQUIRED_COMPONENTS: [Component; 4] = [
    Component::Method,
    Component::Authority,
    Component::Path,
    Component::Query,
];

/// The covered components a [`Signer`](crate::Signer) writes: [`REQUIRED_COMPONENTS`]
/// as a serialized inner list, which is how its `@signature-params` line begins.
pub(crate) const REQUIRED_INNER_LIST: &str = r#"("@method" "@authority" "@path" "@query")"#;

/// A covered component (RFC 9421 §2): one of the derived components this profile can
/// reproduce on both sides, or a header field by its lowercase name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// `@method`
    Method,
    /// `@authority`
    Authority,
    /// `@path`
    Path,
    /// `@query`
    Query,
    /// A header field, by lowercase name.
    Header(String),
}

impl Component {
    /// A header component; the name must be a lowercase HTTP token.
    pub fn header(name: &str) -> Result<Self, ConfigError> {
        if is_header_name(name) {
            Ok(Self::Header(name.to_owned()))
        } else {
            Err(ConfigError::InvalidHeaderName)
        }
    }

    /// The component identifier, e.g. `@path` or `content-type`.
    pub fn name(&self) -> &str {
        match self {
            Self::Method => "@method",
            Self::Authority => "@authority",
            Self::Path => "@path",
            Self::Query => "@query",
            Self::Header(name) => name,
        }
    }
}

/// Whether `name` (a component identifier as written between its quotes, escapes
/// included) is one this profile covers: the four derived components, or a header by
/// lowercase name. Checked as written, without unescaping: an escape (`\"` or `\\`) leaves a name that is no header name, and
/// cannot start one that begins with `@`.
pub(crate) fn check_identifier(name: &str) -> Result<(), Rejection> {
    match name {
        "@method" | "@authority" | "@path" | "@query" => Ok(()),
        _ if name.starts_with('@') => Err(Rejection::UnsupportedComponent),
        _ if is_header_name(name) => Ok(()),
        _ => Err(Rejection::Malformed),
    }
}

/// The value of the component called `name` (an identifier [`check_identifier`]
/// accepts) on `request`; `None` when the request lacks it (an absent header, an
/// unusable Host) or the value cannot appear in a signature base.
pub(crate) fn component_value<'r>(name: &str, request: &'r RequestView) -> Option<Cow<'r, str>> {
    let value = match name {
        "@method" => Cow::Borrowed(request.method()),
        "@authority" => Cow::Borrowed(request.authority()?),
        "@path" => Cow::Borrowed(request.path()),
        "@query" => Cow::Borrowed(request.query()),
        _ => request.header(name)?,
    };
    fits_in_base(&value).then_some(value)
}

/// Whether a component value can appear in a signature base: a line break or other
/// control character would let one value forge the next line.
pub(crate) fn fits_in_base(value: &str) -> bool {
    // A fold, not `all`: no early exit, so the loop is vectorized.
    value.bytes().fold(true, |clean, b| {
        clean & (b == b'\t' || (b >= 0x20 && b != 0x7f))
    })
}

pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| crate::canonical::is_tchar(b) && !b.is_ascii_uppercase())
}

/// The parameters of one signature (RFC 9421 §2.3), in the order they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParams {
    /// `created`
    pub created: UnixTime,
    /// `expires`, if any.
    pub expires: Option<UnixTime>,
    /// `keyid`
    pub keyid: KeyId,
    /// Whether to write `alg="hmac-sha256"`.
    pub alg: bool,
    /// `nonce`, if any.
    pub nonce: Option<String>,
    /// `tag`, if any.
    pub tag: Option<String>,
}

/// Write the `@signature-params` value: the inner list of component identifiers with
/// the parameters, in RFC 8941 form.
pub(crate) fn serialize_signature_params(
    components: &[Component],
    params: &SignatureParams,
) -> Result<String, SignError> {
    serialize_signature_params_with(components, params, None)
}

/// [`serialize_signature_params`] with the signed-path record ([`SIGNED_PATH_PARAM`]).
pub(crate) fn serialize_signature_params_with(
    components: &[Component],
    params: &SignatureParams,
    signed_path: Option<&str>,
) -> Result<String, SignError> {
    fn string(value: &str) -> Result<&StringRef, SignError> {
        StringRef::from_str(value).map_err(|_| SignError::InvalidParameter)
    }
    fn integer(t: UnixTime) -> Result<Integer, SignError> {
        t.to_sf_integer()
            .and_then(|v| Integer::try_from(v).ok())
            .ok_or(SignError::TimeOutOfRange)
    }
    const CREATED: &KeyRef = sfv::key_ref("created");
    const EXPIRES: &KeyRef = sfv::key_ref("expires");
    const KEYID: &KeyRef = sfv::key_ref("keyid");
    const ALG: &KeyRef = sfv::key_ref("alg");
    const NONCE: &KeyRef = sfv::key_ref("nonce");
    const TAG: &KeyRef = sfv::key_ref("tag");
    const SIGNED_PATH: &KeyRef = sfv::key_ref(SIGNED_PATH_PARAM);

    let mut out = String::with_capacity(160);
    let mut list = ListSerializer::with_buffer(&mut out);
    let mut inner = list.inner_list();
    for component in components {
        inner.bare_item(string(component.name())?);
    }
    let mut ser = inner.finish().parameter(CREATED, integer(params.created)?);
    if let Some(expires) = params.expires {
        ser = ser.parameter(EXPIRES, integer(expires)?);
    }
    ser = ser.parameter(KEYID, string(params.keyid.as_str())?);
    if params.alg {
        ser = ser.parameter(ALG, string(HMAC_SHA256)?);
    }
    if let Some(nonce) = &params.nonce {
        ser = ser.parameter(NONCE, string(nonce)?);
    }
    if let Some(tag) = &params.tag {
        ser = ser.parameter(TAG, string(tag)?);
    }
    if let Some(path) = signed_path {
        ser = ser.parameter(SIGNED_PATH, string(path)?);
    }
    let _ = ser;
    let _ = list.finish();
    Ok(out)
}

/// Validate a label: an RFC 8941 key.
pub(crate) fn validate_label(label: &str) -> Result<(), ConfigError> {
    KeyRef::from_str(label)
        .map(|_| ())
        .map_err(|_| ConfigError::InvalidLabel)
}

/// A validated optional tag: same alphabet as key ids.
pub(crate) fn validated_tag(tag: Option<&str>) -> Result<Option<String>, ConfigError> {
    match tag {
        Some(tag) if !KeyId::is_valid(tag) => Err(ConfigError::InvalidTag),
        _ => Ok(tag.map(str::to_owned)),
    }
}

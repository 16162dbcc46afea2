//! The reference: the general-purpose `sfv` parser (RFC 9651) behind visitors, and the
//! profile checks and `@signature-params` serialization on its values, as edgeseal
//! verified before it had its own parser. Compiled for tests and the `sfv-reference`
//! feature only; [`crate::differential`] compares the two.
//!
//! The visitors copy nothing out of the header but our own member, and reject a key
//! seen twice: RFC 8941 would silently let the last duplicate win, which makes two
//! parsers disagree about what was signed.

use std::borrow::Cow;
use std::fmt;

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef, Parser, StringRef};

use sfv::{ListSerializer, RefBareItem};

use super::{FieldLimits, PresentedSignature};
use crate::error::Rejection;
use crate::key::KeyId;
use crate::params::{Component, HMAC_SHA256, REQUIRED_COMPONENTS, SIGNED_PATH_PARAM};
use crate::profile::Profile;
use crate::time::UnixTime;
use crate::verify::{Claim, SignatureCandidate};

/// Our member of `Signature-Input`, borrowed from the field where it can be.
#[derive(Debug, Default)]
pub(crate) struct InputMember<'de> {
    pub(crate) components: Vec<Cow<'de, StringRef>>,
    pub(crate) params: Vec<(&'de KeyRef, BareItemFromInput<'de>)>,
}

/// The error a visitor returns to stop the parser; the reason is kept in the scan state
/// because sfv wraps visitor errors in its own opaque type.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("signature field rejected")
    }
}

impl std::error::Error for Stop {}

/// Bookkeeping shared by both scans: member count, duplicate keys, the first rejection.
struct Scan<'de, 'a> {
    label: &'a str,
    limits: &'a FieldLimits,
    keys: Vec<&'de str>,
    rejection: Option<Rejection>,
}

impl<'de, 'a> Scan<'de, 'a> {
    fn new(label: &'a str, limits: &'a FieldLimits) -> Self {
        Self {
            label,
            limits,
            keys: Vec::new(),
            rejection: None,
        }
    }

    fn reject(&mut self, reason: Rejection) -> Stop {
        self.rejection.get_or_insert(reason);
        Stop
    }

    /// Count and deduplicate a dictionary key; true when it is our label.
    fn enter(&mut self, key: &'de KeyRef) -> Result<bool, Stop> {
        if self.keys.len() >= self.limits.max_members {
            return Err(self.reject(Rejection::TooManyMembers));
        }
        if self.keys.contains(&key.as_str()) {
            return Err(self.reject(Rejection::DuplicateMember));
        }
        self.keys.push(key.as_str());
        Ok(key.as_str() == self.label)
    }
}

/// Parse `Signature-Input` and return our member, if there is one.
pub(crate) fn parse_signature_input<'de>(
    field: &'de str,
    label: &str,
    limits: &FieldLimits,
) -> Result<Option<InputMember<'de>>, Rejection> {
    let mut scan = InputScan {
        scan: Scan::new(label, limits),
        member: None,
    };
    if field.len() > limits.max_field_bytes {
        return Err(Rejection::FieldTooLarge);
    }
    match Parser::new(field).parse_dictionary_with_visitor(&mut scan) {
        Ok(()) => Ok(scan.member),
        Err(_) => Err(scan.scan.rejection.unwrap_or(Rejection::Malformed)),
    }
}

/// The base64 text of our member in a `Signature` field, found by scanning members at
/// the top level (skipping the inside of strings and display strings, the only places
/// a `,` or our label can appear otherwise). Only a string has escapes: in a display
/// string (`%"..."`) a backslash is an ordinary character.
fn member_text<'f>(field: &'f str, label: &str) -> Option<&'f str> {
    let bytes = field.as_bytes();
    let mut in_string = false;
    let mut in_display_string = false;
    let mut escaped = false;
    let mut member_start = true;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = !in_display_string,
                (false, b'"') => {
                    in_string = false;
                    in_display_string = false;
                }
                _ => {}
            }
            continue;
        }
        if member_start && b != b' ' && b != b'\t' {
            member_start = false;
            let rest = field.get(i..)?;
            if let Some(value) = rest.strip_prefix(label).and_then(|r| r.strip_prefix("=:")) {
                return value.split(':').next();
            }
        }
        match b {
            b'"' => {
                in_string = true;
                in_display_string = i > 0 && bytes.get(i - 1) == Some(&b'%');
            }
            b',' => member_start = true,
            _ => {}
        }
    }
    None
}

/// Parse `Signature` and return our member's bytes, if there is one.
///
/// The bytes must be written in canonical base64: a decoder that ignores the unused bits
/// of the last character would otherwise accept several spellings of one signature.
pub(crate) fn parse_signature(
    field: &str,
    label: &str,
    limits: &FieldLimits,
) -> Result<Option<Vec<u8>>, Rejection> {
    let mut scan = SignatureScan {
        scan: Scan::new(label, limits),
        bytes: None,
    };
    if field.len() > limits.max_field_bytes {
        return Err(Rejection::FieldTooLarge);
    }
    match Parser::new(field).parse_dictionary_with_visitor(&mut scan) {
        Ok(()) => match scan.bytes {
            Some(bytes) => {
                use base64::Engine as _;
                let canonical = base64::engine::general_purpose::STANDARD.encode(&bytes);
                if member_text(field, label) == Some(canonical.as_str()) {
                    Ok(Some(bytes))
                } else {
                    Err(Rejection::Malformed)
                }
            }
            None => Ok(None),
        },
        Err(_) => Err(scan.scan.rejection.unwrap_or(Rejection::Malformed)),
    }
}

struct InputScan<'de, 'a> {
    scan: Scan<'de, 'a>,
    member: Option<InputMember<'de>>,
}

impl<'de> DictionaryVisitor<'de> for &mut InputScan<'de, '_> {
    type Out = ();
    type Error = Stop;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Stop> {
        let ours = self.scan.enter(key)?;
        Ok(ours.then_some(InputEntry(self)))
    }

    fn finish(self) -> Result<(), Stop> {
        Ok(())
    }
}

struct InputEntry<'s, 'de, 'a>(&'s mut InputScan<'de, 'a>);

impl<'de> EntryVisitor<'de> for InputEntry<'_, 'de, '_> {
    type Error = Stop;

    fn item(self) -> Result<impl ItemVisitor<'de>, Stop> {
        // Our Signature-Input member must be an inner list.
        Err::<Ignored, _>(self.0.scan.reject(Rejection::Malformed))
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Stop> {
        self.0.member = Some(InputMember::default());
        Ok(self)
    }
}

impl<'de> InnerListVisitor<'de> for InputEntry<'_, 'de, '_> {
    type Error = Stop;

    fn item(&mut self) -> Result<impl ItemVisitor<'de>, Stop> {
        let count = self.0.member.as_ref().map_or(0, |m| m.components.len());
        if count >= self.0.scan.limits.max_components {
            return Err(self.0.scan.reject(Rejection::TooManyMembers));
        }
        Ok(ComponentItem(&mut *self.0))
    }

    fn finish(self) -> Result<impl ParameterVisitor<'de>, Stop> {
        Ok(MemberParams(self.0))
    }
}

struct ComponentItem<'s, 'de, 'a>(&'s mut InputScan<'de, 'a>);

impl<'de> ItemVisitor<'de> for ComponentItem<'_, 'de, '_> {
    type Out = ();
    type Error = Stop;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, Stop> {
        match (bare_item, self.0.member.as_mut()) {
            (BareItemFromInput::String(name), Some(member)) => {
                member.components.push(name);
                Ok(ComponentParams(self.0))
            }
            _ => Err(self.0.scan.reject(Rejection::Malformed)),
        }
    }
}

/// Parameters on a component identifier (`;sf`, `;key`, `;bs`, `;req`, `;name`) change
/// how its value is derived; this profile supports none of them.
struct ComponentParams<'s, 'de, 'a>(&'s mut InputScan<'de, 'a>);

impl<'de> ParameterVisitor<'de> for ComponentParams<'_, 'de, '_> {
    type Out = ();
    type Error = Stop;

    fn parameter(&mut self, _key: &'de KeyRef, _value: BareItemFromInput<'de>) -> Result<(), Stop> {
        Err(self.0.scan.reject(Rejection::UnsupportedComponent))
    }

    fn finish(self) -> Result<(), Stop> {
        Ok(())
    }
}

struct MemberParams<'s, 'de, 'a>(&'s mut InputScan<'de, 'a>);

impl<'de> ParameterVisitor<'de> for MemberParams<'_, 'de, '_> {
    type Out = ();
    type Error = Stop;

    fn parameter(&mut self, key: &'de KeyRef, value: BareItemFromInput<'de>) -> Result<(), Stop> {
        let max = self.0.scan.limits.max_params;
        let Some(member) = self.0.member.as_mut() else {
            return Err(self.0.scan.reject(Rejection::Malformed));
        };
        if member.params.len() >= max {
            return Err(self.0.scan.reject(Rejection::TooManyMembers));
        }
        if member.params.iter().any(|(k, _)| *k == key) {
            return Err(self.0.scan.reject(Rejection::DuplicateMember));
        }
        member.params.push((key, value));
        Ok(())
    }

    fn finish(self) -> Result<(), Stop> {
        Ok(())
    }
}

struct SignatureScan<'de, 'a> {
    scan: Scan<'de, 'a>,
    bytes: Option<Vec<u8>>,
}

impl<'de> DictionaryVisitor<'de> for &mut SignatureScan<'de, '_> {
    type Out = ();
    type Error = Stop;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Stop> {
        let ours = self.scan.enter(key)?;
        Ok(ours.then_some(SignatureEntry(self)))
    }

    fn finish(self) -> Result<(), Stop> {
        Ok(())
    }
}

struct SignatureEntry<'s, 'de, 'a>(&'s mut SignatureScan<'de, 'a>);

impl<'de> EntryVisitor<'de> for SignatureEntry<'_, 'de, '_> {
    type Error = Stop;

    fn item(self) -> Result<impl ItemVisitor<'de>, Stop> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Stop> {
        // Our Signature member must be a byte sequence.
        Err::<Ignored, _>(self.0.scan.reject(Rejection::Malformed))
    }
}

impl<'de> ItemVisitor<'de> for SignatureEntry<'_, 'de, '_> {
    type Out = ();
    type Error = Stop;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, Stop> {
        match bare_item {
            BareItemFromInput::ByteSequence(bytes) => {
                self.0.bytes = Some(bytes);
                Ok(Ignored)
            }
            _ => Err(self.0.scan.reject(Rejection::Malformed)),
        }
    }
}

/// `Verifier::parse` on the reference: both fields through `sfv`, then the profile
/// checks on its values. Also returns the covered components as read.
pub(crate) fn parse(
    label: &str,
    tag: Option<&str>,
    limits: &FieldLimits,
    input_field: Option<&str>,
    signature_field: Option<&str>,
) -> Result<(SignatureCandidate<'static>, Vec<Component>), Rejection> {
    let member = match input_field {
        Some(field) => parse_signature_input(field, label, limits)?,
        None => None,
    };
    let signature = match signature_field {
        Some(field) => parse_signature(field, label, limits)?,
        None => None,
    };
    match (member, signature) {
        (None, None) => Err(Rejection::Missing),
        (Some(member), Some(signature)) => check_member(tag, member, &signature),
        _ => Err(Rejection::Unpaired),
    }
}

/// Read a component identifier as it appears in `Signature-Input`.
fn component(name: &str) -> Result<Component, Rejection> {
    match name {
        "@method" => Ok(Component::Method),
        "@authority" => Ok(Component::Authority),
        "@path" => Ok(Component::Path),
        "@query" => Ok(Component::Query),
        _ if name.starts_with('@') => Err(Rejection::UnsupportedComponent),
        _ => Component::header(name).map_err(|_| Rejection::Malformed),
    }
}

fn check_member(
    tag: Option<&str>,
    member: InputMember<'_>,
    signature: &[u8],
) -> Result<(SignatureCandidate<'static>, Vec<Component>), Rejection> {
    let mut components = Vec::with_capacity(member.components.len());
    for name in &member.components {
        let component = component(name.as_str())?;
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
            ("created" | "expires" | "keyid" | "alg" | "tag" | "nonce" | SIGNED_PATH_PARAM, _) => {
                return Err(Rejection::Malformed);
            }
            _ => {}
        }
    }
    let (Some(created), Some(keyid)) = (created, keyid) else {
        return Err(Rejection::MissingParameter);
    };
    let profile = match tag {
        None => None,
        Some(required) => Some(
            tag_seen
                .as_deref()
                .and_then(|seen| Profile::of_tag(seen, required))
                .ok_or(Rejection::WrongTag)?,
        ),
    };
    if REQUIRED_COMPONENTS.iter().any(|c| !components.contains(c)) {
        return Err(Rejection::MissingComponent);
    }
    let keyid = KeyId::new(keyid).map_err(|_| Rejection::Malformed)?;

    let signature_params = serialize_member(&member);
    let candidate = SignatureCandidate {
        claim: Claim {
            signature_params: Cow::Owned(signature_params),
            created,
            expires,
            signature: PresentedSignature::from_bytes(signature),
            signed_path: signed_path.map(Cow::Owned),
            profile,
            covers_content_digest: components
                .contains(&Component::Header(crate::CONTENT_DIGEST.to_owned())),
        },
        keyid,
    };
    Ok((candidate, components))
}

/// The `@signature-params` line: the received inner list and parameters, re-serialized.
pub(crate) fn serialize_member(member: &InputMember<'_>) -> String {
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
    signature_params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_text_finds_our_member_only_at_the_top_level() {
        let field = r#"other=:AAAA:;x="edgeseal=:BBBB:, edgeseal=:CCCC:", edgeseal=:DDDD:"#;
        assert_eq!(member_text(field, "edgeseal"), Some("DDDD"));
        assert_eq!(member_text("edgeseal=:EEEE:", "edgeseal"), Some("EEEE"));
        assert_eq!(member_text("xedgeseal=:EEEE:", "edgeseal"), None);
        assert_eq!(
            member_text(r#"a="\"edgeseal=:Q:", edgeseal=:R:"#, "edgeseal"),
            Some("R")
        );
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        let limits = FieldLimits::default();
        // 32 bytes: 43 significant characters; the last carries 2 unused bits.
        let canonical = format!("edgeseal=:{}A=:", "A".repeat(42));
        assert!(parse_signature(&canonical, "edgeseal", &limits).is_ok());
        let spelled_differently = format!("edgeseal=:{}B=:", "A".repeat(42));
        assert_eq!(
            parse_signature(&spelled_differently, "edgeseal", &limits),
            Err(Rejection::Malformed)
        );
    }
}

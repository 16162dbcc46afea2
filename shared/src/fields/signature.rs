//! `Signature`: our member's bytes.

use base64::Engine as _;

use super::FieldLimits;
use super::scan::{Bare, CANONICAL_BASE64};
use crate::error::Rejection;
use crate::mac::TAG_LEN;

/// Parse `Signature` and return our member's base64 text, if there is one.
///
/// The bytes must be written in canonical base64: a decoder that ignores the unused bits
/// of the last character would otherwise accept several spellings of one signature. A
/// spelling that is valid but not canonical is refused once the whole field has parsed
/// (an error elsewhere in the field is reported first).
pub(crate) fn parse_signature<'a>(
    field: &'a str,
    label: &str,
    limits: &FieldLimits,
) -> Result<Option<&'a str>, Rejection> {
    let mut ours = None;
    super::for_each_member(field, limits, |key, cursor| {
        if key != label {
            return cursor.skip_member_value();
        }
        // Our member must be a byte sequence (its parameters, if any, are ignored).
        if !cursor.eat(b'=') || cursor.peek() == Some(b'(') {
            return Err(Rejection::Malformed);
        }
        let Bare::ByteSequence(bytes) = cursor.bare_item()? else {
            return Err(Rejection::Malformed);
        };
        ours = Some(bytes);
        cursor.skip_parameters()
    })?;
    match ours {
        Some(bytes) if !bytes.canonical => Err(Rejection::Malformed),
        Some(bytes) => Ok(Some(bytes.text)),
        None => Ok(None),
    }
}

/// The signature a request presents: a tag's worth of bytes, or a length no tag has
/// (which can never match; the bytes themselves then do not matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PresentedSignature {
    bytes: [u8; TAG_LEN],
    tag_length: bool,
}

impl PresentedSignature {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        let mut presented = Self {
            bytes: [0; TAG_LEN],
            tag_length: bytes.len() == TAG_LEN,
        };
        if presented.tag_length {
            presented.bytes.copy_from_slice(bytes);
        }
        presented
    }

    /// From the canonical base64 [`parse_signature`] returned.
    pub(crate) fn from_base64(text: &str) -> Self {
        let mut buffer = [0u8; TAG_LEN + 3];
        match CANONICAL_BASE64.decode_slice(text, &mut buffer) {
            Ok(len) => Self::from_bytes(buffer.get(..len).unwrap_or_default()),
            // Longer than a tag (or, impossibly, not base64).
            Err(_) => Self::from_bytes(&[]),
        }
    }
}

impl std::ops::Deref for PresentedSignature {
    type Target = [u8];

    /// The bytes, or none when their length is not a tag's.
    fn deref(&self) -> &[u8] {
        if self.tag_length { &self.bytes } else { &[] }
    }
}

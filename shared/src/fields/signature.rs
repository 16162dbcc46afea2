//! `Signature`: our member's bytes.

use super::FieldLimits;
use super::scan::{Bare, sextet};
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
        // A tag's 32 bytes are 43 characters and one `=` (their last 2 bits unused);
        // canonical base64 of any other length is another number of bytes.
        let Some(body) = text
            .strip_suffix('=')
            .filter(|b| b.len() == 43 && !b.ends_with('='))
        else {
            return Self::from_bytes(&[]);
        };
        let mut presented = Self {
            bytes: [0; TAG_LEN],
            tag_length: true,
        };
        let (mut bits, mut held, mut written) = (0u32, 0u32, 0);
        for b in body.bytes() {
            bits = bits << 6 | u32::from(sextet(b).unwrap_or(0));
            held += 6;
            if held >= 8 {
                held -= 8;
                if let Some(slot) = presented.bytes.get_mut(written) {
                    *slot = (bits >> held) as u8;
                }
                written += 1;
                bits &= (1 << held) - 1;
            }
        }
        presented
    }
}

impl std::ops::Deref for PresentedSignature {
    type Target = [u8];

    /// The bytes, or none when their length is not a tag's.
    fn deref(&self) -> &[u8] {
        if self.tag_length { &self.bytes } else { &[] }
    }
}

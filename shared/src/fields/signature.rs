//! `Signature`: our member's bytes.

use super::FieldLimits;
use super::scan::{Bare, NOT_BASE64, sextet_or_flag};
use crate::error::Rejection;
use crate::key::TAG_LEN;

/// Our member of `Signature`: its base64 text and the bytes it presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignatureMember<'a> {
    pub(crate) text: &'a str,
    pub(crate) presented: PresentedSignature,
}

impl<'a> SignatureMember<'a> {
    /// From the canonical base64 the grammar read.
    fn from_base64(text: &'a str) -> Self {
        Self {
            text,
            presented: PresentedSignature::from_base64(text),
        }
    }
}

/// Parse `Signature` and return our member, if there is one: the signer's own
/// serialization through [`fast`](super::fast), anything else through
/// [`parse_signature_general`].
pub(crate) fn parse_signature<'a>(
    field: &'a str,
    label: &str,
    limits: &FieldLimits,
) -> Result<Option<SignatureMember<'a>>, Rejection> {
    match super::fast::signature(field, label, limits) {
        Some(member) => Ok(Some(member)),
        None => {
            Ok(parse_signature_general(field, label, limits)?.map(SignatureMember::from_base64))
        }
    }
}

/// [`parse_signature`] by the dictionary grammar, whatever the field's shape.
///
/// The bytes must be written in canonical base64: a decoder that ignores the unused bits
/// of the last character would otherwise accept several spellings of one signature. A
/// spelling that is valid but not canonical is refused once the whole field has parsed
/// (an error elsewhere in the field is reported first).
pub(crate) fn parse_signature_general<'a>(
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

    /// From the canonical base64 the grammar read.
    pub(crate) fn from_base64(text: &str) -> Self {
        // A tag's 32 bytes are 43 characters and one `=` (their last 2 bits unused);
        // canonical base64 of any other length is another number of bytes (43
        // characters and `==` end in a `=`, not a base64 character).
        match text.strip_suffix('=').and_then(Self::decode_tag) {
            Some((presented, true)) => presented,
            _ => Self::from_bytes(&[]),
        }
    }

    /// The tag 43 base64 characters spell (`None` for another length), and whether it
    /// is spelled canonically: every character a base64 one, the last with its 2
    /// unused bits zero. One table lookup a character decodes and checks at once.
    pub(crate) fn decode_tag(body: &str) -> Option<(Self, bool)> {
        let body: &[u8; 43] = body.as_bytes().try_into().ok()?;
        let mut presented = Self {
            bytes: [0; TAG_LEN],
            tag_length: true,
        };
        let mut seen = 0;
        // Four characters to three bytes: 40 characters make 30 bytes, the last 3
        // characters the last 2 bytes (and 2 unused bits).
        let mut bits = |chars: &[u8]| {
            chars.iter().fold(0u32, |bits, &c| {
                let sextet = sextet_or_flag(c);
                seen |= sextet;
                bits << 6 | u32::from(sextet & 0x3f)
            })
        };
        let (quads, last) = body.as_chunks::<4>();
        let (triples, last_bytes) = presented.bytes.as_chunks_mut::<3>();
        for (triple, quad) in triples.iter_mut().zip(quads) {
            let [_, a, b, c] = bits(quad).to_be_bytes();
            *triple = [a, b, c];
        }
        let last_bits = bits(last);
        let [_, a, b, _] = (last_bits << 6).to_be_bytes();
        last_bytes.copy_from_slice(&[a, b]);
        let canonical = seen & NOT_BASE64 == 0 && last_bits & 0b11 == 0;
        Some((presented, canonical))
    }
}

impl std::ops::Deref for PresentedSignature {
    type Target = [u8];

    /// The bytes, or none when their length is not a tag's.
    fn deref(&self) -> &[u8] {
        if self.tag_length { &self.bytes } else { &[] }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The four-characters-at-a-time decoder reads every tag as the base64 crate does.
        #[test]
        fn tags_decode_as_base64_does(bytes in any::<[u8; TAG_LEN]>()) {
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            prop_assert_eq!(&*PresentedSignature::from_base64(&text), bytes.as_slice());
        }
    }

    #[test]
    fn other_lengths_present_no_tag() {
        for text in [
            "",
            "AAAA",
            &"A".repeat(44),
            &format!("{}==", "A".repeat(42)),
        ] {
            assert!(PresentedSignature::from_base64(text).is_empty(), "{text}");
        }
    }
}

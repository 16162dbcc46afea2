//! The fields exactly as edgeseal's own [`Signer`](crate::Signer) writes them, read with
//! a few literal comparisons instead of the general dictionary parser.
//!
//! A signed request normally carries one member in each field, in the one serialization
//! the signer produces (`params::serialize_signature_params_with`, `sign_serialized`):
//!
//! ```text
//! Signature-Input: LABEL=("@method" "@authority" "@path" "@query");created=N[;expires=N];keyid="K";alg="hmac-sha256"[;tag="T"][;edgeseal-path="P"]
//! Signature:       LABEL=:<43 base64 characters>=:
//! ```
//!
//! These functions recognize exactly that shape and read the same values the general
//! parser ([`super::input`], [`super::signature`]) reads from it. They never reject:
//! anything else (another member, a space, a leading zero, an escape in a string, a
//! limit that would bite, ...) returns `None` and goes to the general parser, which
//! decides. The differential tests compare the two on real signer output and on every
//! one-byte edit of it.

use std::borrow::Cow;

use super::FieldLimits;
use super::input::{Components, InputMember, Params};
use super::signature::{PresentedSignature, SignatureMember};
use crate::params::{REQUIRED_COMPONENTS, SIGNED_PATH_PARAM};
use crate::time::UnixTime;

/// What the signer writes after `LABEL=`: the components it covers
/// ([`REQUIRED_INNER_LIST`](crate::params::REQUIRED_INNER_LIST)) and the name of its
/// first parameter, compared at once.
pub(crate) const COMPONENTS_THEN_CREATED: &str =
    r#"("@method" "@authority" "@path" "@query");created="#;

/// Our member of `Signature-Input` when the field is exactly one member as the signer
/// writes it; `None` means "ask the general parser", never "invalid".
pub(crate) fn signature_input<'a>(
    field: &'a str,
    label: &str,
    limits: &FieldLimits,
) -> Option<InputMember<'a>> {
    if field.len() > limits.max_field_bytes
        || limits.max_members == 0
        || limits.max_components < REQUIRED_COMPONENTS.len()
    {
        return None;
    }
    let signature_params = field.strip_prefix(label)?.strip_prefix('=')?;
    let mut rest = signature_params.strip_prefix(COMPONENTS_THEN_CREATED)?;
    let created = integer(&mut rest)?;
    let mut count = 1;
    let expires = match parameter(rest, "expires") {
        Some(after) => {
            rest = after;
            count += 1;
            Some(integer(&mut rest)?)
        }
        None => None,
    };
    rest = parameter(rest, "keyid")?;
    let keyid = string(&mut rest)?;
    rest = parameter(rest, "alg")?.strip_prefix(r#""hmac-sha256""#)?;
    count += 2;
    let tag = optional_string(&mut rest, "tag", &mut count)?;
    let signed_path = optional_string(&mut rest, SIGNED_PATH_PARAM, &mut count)?;
    if !rest.is_empty() || count > limits.max_params {
        return None;
    }
    Some(InputMember {
        signature_params: Cow::Borrowed(signature_params),
        components: Components::exactly_required(),
        params: Params {
            created: Some(created),
            expires,
            keyid: Some(keyid),
            tag,
            signed_path,
            misfit: None,
        },
    })
}

/// Our member of `Signature` when the field is exactly one member holding a tag's 32
/// bytes in canonical base64; `None` means "ask the general parser".
pub(crate) fn signature<'a>(
    field: &'a str,
    label: &str,
    limits: &FieldLimits,
) -> Option<SignatureMember<'a>> {
    if field.len() > limits.max_field_bytes || limits.max_members == 0 {
        return None;
    }
    let text = field.strip_prefix(label)?.strip_prefix("=:")?;
    let text = text.strip_suffix(":")?;
    // 32 bytes: 43 characters, the last with its 2 unused bits zero, and one `=`.
    let (presented, canonical) = PresentedSignature::decode_tag(text.strip_suffix('=')?)?;
    canonical.then_some(SignatureMember { text, presented })
}

/// `1*15DIGIT` without a leading zero (the serialized form of a non-negative integer),
/// consumed from `rest`.
pub(crate) fn integer(rest: &mut &str) -> Option<UnixTime> {
    let bytes = rest.as_bytes();
    let mut value = 0u64;
    let mut digits = 0;
    // One pass: a sixteenth digit stops it (and the integer is refused below).
    for &b in bytes.iter().take(16) {
        if !b.is_ascii_digit() {
            break;
        }
        value = value * 10 + u64::from(b - b'0');
        digits += 1;
    }
    if digits == 0 || digits > 15 || (digits > 1 && bytes.first() == Some(&b'0')) {
        return None;
    }
    *rest = rest.get(digits..)?;
    Some(UnixTime::from_secs(value))
}

/// A string without escapes, `"` to `"`, consumed from `rest`; its content.
fn string<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let inner = rest.strip_prefix('"')?;
    let (content, after) = inner.split_at_checked(position_of_quote(inner.as_bytes())?)?;
    let after = after.get(1..)?;
    // A fold, not `all`: no early exit, so the check is vectorized.
    let plain = content.bytes().fold(true, |plain, b| {
        plain & ((0x20..=0x7e).contains(&b) & (b != b'\\'))
    });
    if !plain {
        return None;
    }
    *rest = after;
    Some(content)
}

/// Where the first `"` in `bytes` is: eight bytes at a time (a key id is 36).
fn position_of_quote(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    let (words, _) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        // A zero byte where `word` has a quote: the lowest flagged byte is the first
        // zero (a borrow can flag bytes above it, never below).
        let x = u64::from_le_bytes(*word) ^ QUOTES;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(i * 8 + (zeros.trailing_zeros() / 8) as usize);
        }
    }
    let checked = words.len() * 8;
    let tail = bytes.get(checked..)?;
    tail.iter().position(|&b| b == b'"').map(|i| checked + i)
}

/// What follows `;name=` at the start of `rest`, if that is how it starts.
///
/// Always inlined: `name` is then a literal of known length, compared in place rather
/// than by a call to `memcmp`.
#[inline(always)]
fn parameter<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    rest.strip_prefix(';')?
        .strip_prefix(name)?
        .strip_prefix('=')
}

/// Parameter `name` with a string value, if `rest` starts with it: `Some(None)` when it
/// does not, `None` when it does and no plain string follows.
#[inline(always)]
fn optional_string<'a>(
    rest: &mut &'a str,
    name: &str,
    count: &mut usize,
) -> Option<Option<&'a str>> {
    let Some(after) = parameter(rest, name) else {
        return Some(None);
    };
    *rest = after;
    *count += 1;
    string(rest).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::REQUIRED_INNER_LIST;

    #[test]
    fn the_signers_head_is_its_components_then_created() {
        assert_eq!(
            COMPONENTS_THEN_CREATED,
            format!("{REQUIRED_INNER_LIST};created=")
        );
    }

    #[test]
    fn the_first_quote_is_found_wherever_it_is() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                // Bytes that borrow in the word-at-a-time test, and a second quote.
                bytes
                    .iter_mut()
                    .skip(at + 1)
                    .step_by(3)
                    .for_each(|b| *b = b'#');
                if at < len {
                    if let Some(b) = bytes.get_mut(at) {
                        *b = b'"';
                    }
                    if let Some(b) = bytes.get_mut(at + 2) {
                        *b = b'"';
                    }
                }
                let expected = bytes.iter().position(|&b| b == b'"');
                assert_eq!(position_of_quote(&bytes), expected, "{len} {at}");
            }
        }
    }
}

//! Writing bare items the way RFC 9651 §4.1 serializes them, which is how the
//! `@signature-params` line must show the received member (RFC 9421 §2.3).
//!
//! The writer goes to a [`Sink`]: a `String`, or [`Discard`] when the verifier only
//! reads a member whose text is already in serialized form (a signer writes that form,
//! so this is the usual case, and nothing is copied).

use base64::Engine as _;

use super::scan::{Bare, CANONICAL_BASE64, LENIENT_BASE64, display_string_bytes};

/// Where serialized text goes.
pub(crate) trait Sink {
    fn put(&mut self, text: &str);
}

impl Sink for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
}

/// Writes nothing.
pub(crate) struct Discard;

impl Sink for Discard {
    fn put(&mut self, _: &str) {}
}

/// `;key` or `;key=value` (a `true` value is left out).
pub(super) fn put_parameter(sink: &mut impl Sink, key: &str, value: Bare<'_>) {
    sink.put(";");
    sink.put(key);
    if value != Bare::Boolean(true) {
        sink.put("=");
        put_bare(sink, value);
    }
}

/// A bare item in its one serialized form.
pub(super) fn put_bare(sink: &mut impl Sink, value: Bare<'_>) {
    match value {
        Bare::Integer(v) => put_integer(sink, v),
        Bare::Decimal(thousandths) => put_decimal(sink, thousandths),
        // The parser accepts exactly the two escapes the serializer writes, so a
        // string's text between its quotes is already its serialized form.
        Bare::String(content) => {
            sink.put("\"");
            sink.put(content);
            sink.put("\"");
        }
        Bare::Token(token) => sink.put(token),
        Bare::ByteSequence(bytes) => {
            sink.put(":");
            if bytes.canonical {
                sink.put(bytes.text);
            } else {
                let decoded = LENIENT_BASE64.decode(bytes.text).unwrap_or_default();
                sink.put(&CANONICAL_BASE64.encode(decoded));
            }
            sink.put(":");
        }
        Bare::Boolean(v) => sink.put(if v { "?1" } else { "?0" }),
        Bare::Date(seconds) => {
            sink.put("@");
            put_integer(sink, seconds);
        }
        Bare::DisplayString(content) => {
            sink.put("%\"");
            for byte in display_string_bytes(content) {
                match byte {
                    b'%' | b'"' | 0x00..=0x1f | 0x7f..=0xff => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        let escape = [
                            b'%',
                            HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0'),
                            HEX.get(usize::from(byte & 0xf)).copied().unwrap_or(b'0'),
                        ];
                        sink.put(std::str::from_utf8(&escape).unwrap_or(""));
                    }
                    _ => sink.put(std::str::from_utf8(&[byte]).unwrap_or("")),
                }
            }
            sink.put("\"");
        }
    }
}

/// Decimal digits of `value`, with a `-` when negative.
fn put_integer(sink: &mut impl Sink, value: i64) {
    if value < 0 {
        sink.put("-");
    }
    put_digits(sink, value.unsigned_abs(), 1);
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn put_digits(sink: &mut impl Sink, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut len = 0;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
        len += 1;
        if value == 0 && len >= width {
            break;
        }
    }
    let start = digits.len() - len;
    sink.put(
        digits
            .get(start..)
            .and_then(|d| std::str::from_utf8(d).ok())
            .unwrap_or(""),
    );
}

/// RFC 9651 §4.1.5: the integer part, `.`, then one to three fractional digits, no
/// trailing zero past the first.
fn put_decimal(sink: &mut impl Sink, thousandths: i64) {
    if thousandths == 0 {
        sink.put("0.0");
        return;
    }
    if thousandths < 0 {
        sink.put("-");
    }
    let magnitude = thousandths.unsigned_abs();
    put_digits(sink, magnitude / 1000, 1);
    sink.put(".");
    let fraction = magnitude % 1000;
    if fraction.is_multiple_of(100) {
        put_digits(sink, fraction / 100, 1);
    } else if fraction.is_multiple_of(10) {
        put_digits(sink, fraction / 10, 2);
    } else {
        put_digits(sink, fraction, 3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: Bare<'_>) -> String {
        let mut out = String::new();
        put_bare(&mut out, value);
        out
    }

    #[test]
    fn numbers_have_one_form() {
        assert_eq!(written(Bare::Integer(0)), "0");
        assert_eq!(written(Bare::Integer(-42)), "-42");
        assert_eq!(
            written(Bare::Integer(999_999_999_999_999)),
            "999999999999999"
        );
        assert_eq!(written(Bare::Decimal(0)), "0.0");
        assert_eq!(written(Bare::Decimal(-500)), "-0.5");
        assert_eq!(written(Bare::Decimal(1_050)), "1.05");
        assert_eq!(written(Bare::Decimal(12_345)), "12.345");
        assert_eq!(written(Bare::Decimal(7_000)), "7.0");
        assert_eq!(written(Bare::Date(-1)), "@-1");
    }
}

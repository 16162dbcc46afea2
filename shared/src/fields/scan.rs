//! The structured-field grammar (RFC 9651 §4.2), as far as a dictionary field needs it,
//! over borrowed text and without allocating: keys, bare items, parameters, items and
//! inner lists.
//!
//! Members that are not ours are still parsed in full, because the field as a whole
//! must be a valid dictionary: what two parsers read differently cannot be trusted.
//! Every step follows the order of the reference parser (`sfv`'s, see `reference.rs`),
//! so that the first error met, and so the rejection reported, is the same; the
//! differential tests check it.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::Rejection;

/// Base64 as RFC 9651 §4.2.7 lets a parser read it: padding optional, unused bits of the
/// last character ignored (what `sfv` accepts).
pub(super) const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 as RFC 9651 §4.1.8 writes it: padded, unused bits zero. Text that decodes
/// under it is the one spelling of its bytes.
pub(super) const CANONICAL_BASE64: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A bare item (RFC 9651 §3.3) as written, validated. Text is borrowed from the field:
/// strings and display strings keep their escapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bare<'a> {
    /// An integer.
    Integer(i64),
    /// A decimal, in thousandths.
    Decimal(i64),
    /// A string's content between the quotes, escapes (`\"`, `\\`) included.
    String(&'a str),
    /// A token.
    Token(&'a str),
    /// A byte sequence's base64 text between the colons.
    ByteSequence(ByteSequence<'a>),
    /// A boolean.
    Boolean(bool),
    /// A date, in seconds since the epoch.
    Date(i64),
    /// A display string's content between the quotes, `%xx` escapes included.
    DisplayString(&'a str),
}

/// The base64 text of a byte sequence, and whether it is the canonical spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteSequence<'a> {
    pub(super) text: &'a str,
    pub(super) canonical: bool,
}

/// A position in a field value.
pub(super) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn bump(&mut self) {
        self.pos += 1;
    }

    /// `text[from..to]`. Every position the grammar stops at is before or after an
    /// ASCII byte (nothing else is valid in a field), so this never splits a character.
    pub(super) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or("")
    }

    /// Consume `byte` if it is next.
    pub(super) fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.bump();
        }
        found
    }

    /// Skip spaces; how many there were.
    pub(super) fn skip_sp(&mut self) -> usize {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.bump();
        }
        self.pos - start
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
    }

    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = self.text.as_bytes().get(start..).unwrap_or_default();
        self.pos += rest.iter().position(|&b| !accept(b)).unwrap_or(rest.len());
        self.slice(start, self.pos)
    }

    /// After a dictionary member: `OWS` then `,` and `OWS` before the next member, or
    /// the end of the field. True when another member follows.
    pub(super) fn next_member(&mut self) -> Result<bool, Rejection> {
        self.skip_ows();
        if self.at_end() {
            return Ok(false);
        }
        if !self.eat(b',') {
            return Err(Rejection::Malformed);
        }
        self.skip_ows();
        if self.at_end() {
            // A trailing comma.
            return Err(Rejection::Malformed);
        }
        Ok(true)
    }

    /// A key: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    pub(super) fn key(&mut self) -> Result<&'a str, Rejection> {
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
        {
            return Err(Rejection::Malformed);
        }
        Ok(self.take_while(is_key_char))
    }

    /// Parameters: `*( ";" *SP key [ "=" bare-item ] )`, each handed to `each` once it
    /// has been read (a key without a value is `true`).
    pub(super) fn parameters(
        &mut self,
        mut each: impl FnMut(Param<'a>) -> Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        while self.eat(b';') {
            let spaced = self.skip_sp() > 0;
            let key = self.key()?;
            let (value, serialized) = if self.eat(b'=') {
                let start = self.pos;
                let value = self.bare_item()?;
                (value, is_serialized(value, self.slice(start, self.pos)))
            } else {
                (Bare::Boolean(true), true)
            };
            each(Param {
                key,
                value,
                serialized: serialized && !spaced,
            })?;
        }
        Ok(())
    }

    /// Parameters nobody reads.
    pub(super) fn skip_parameters(&mut self) -> Result<(), Rejection> {
        self.parameters(|_| Ok(()))
    }

    /// An item nobody reads: a bare item and its parameters.
    pub(super) fn skip_item(&mut self) -> Result<(), Rejection> {
        self.bare_item()?;
        self.skip_parameters()
    }

    /// The separator after an item of an inner list: a space or the closing `)`.
    pub(super) fn after_inner_item(&self) -> Result<(), Rejection> {
        match self.peek() {
            None | Some(b' ' | b')') => Ok(()),
            Some(_) => Err(Rejection::Malformed),
        }
    }

    /// An inner list nobody reads: `"(" *SP [ item *( 1*SP item ) *SP ] ")" parameters`.
    pub(super) fn skip_inner_list(&mut self) -> Result<(), Rejection> {
        if !self.eat(b'(') {
            return Err(Rejection::Malformed);
        }
        while !self.at_end() {
            self.skip_sp();
            if self.eat(b')') {
                return self.skip_parameters();
            }
            self.skip_item()?;
            self.after_inner_item()?;
        }
        Err(Rejection::Malformed)
    }

    /// A dictionary member's value after its key, nobody reading it: `=` and an item or
    /// an inner list, or parameters alone (the value `true`).
    pub(super) fn skip_member_value(&mut self) -> Result<(), Rejection> {
        if !self.eat(b'=') {
            return self.skip_parameters();
        }
        if self.peek() == Some(b'(') {
            self.skip_inner_list()
        } else {
            self.skip_item()
        }
    }

    /// A bare item, chosen by its first character.
    pub(super) fn bare_item(&mut self) -> Result<Bare<'a>, Rejection> {
        match self.peek() {
            Some(b'?') => self.boolean().map(Bare::Boolean),
            Some(b'"') => self.string().map(Bare::String),
            Some(b':') => self.byte_sequence().map(Bare::ByteSequence),
            Some(b'@') => {
                self.bump();
                match self.number()? {
                    Number::Integer(seconds) => Ok(Bare::Date(seconds)),
                    Number::Decimal(_) => Err(Rejection::Malformed),
                }
            }
            Some(b'%') => self.display_string().map(Bare::DisplayString),
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => {
                Ok(Bare::Token(self.take_while(is_token_char)))
            }
            Some(b'-' | b'0'..=b'9') => Ok(match self.number()? {
                Number::Integer(v) => Bare::Integer(v),
                Number::Decimal(v) => Bare::Decimal(v),
            }),
            _ => Err(Rejection::Malformed),
        }
    }

    fn boolean(&mut self) -> Result<bool, Rejection> {
        self.bump();
        if self.eat(b'0') {
            Ok(false)
        } else if self.eat(b'1') {
            Ok(true)
        } else {
            Err(Rejection::Malformed)
        }
    }

    /// A string: printable ASCII, `\"` and `\\` the only escapes. Returns the content
    /// between the quotes as written.
    pub(super) fn string(&mut self) -> Result<&'a str, Rejection> {
        if !self.eat(b'"') {
            return Err(Rejection::Malformed);
        }
        let start = self.pos;
        loop {
            // Plain characters in one go, then whatever ends the run.
            self.take_while(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\');
            match self.peek() {
                Some(b'"') => {
                    let content = self.slice(start, self.pos);
                    self.bump();
                    return Ok(content);
                }
                Some(b'\\') => {
                    self.bump();
                    if !self.eat(b'"') && !self.eat(b'\\') {
                        return Err(Rejection::Malformed);
                    }
                }
                _ => return Err(Rejection::Malformed),
            }
        }
    }

    /// A byte sequence: base64 between colons, as [`LENIENT_BASE64`] reads it.
    fn byte_sequence(&mut self) -> Result<ByteSequence<'a>, Rejection> {
        self.bump();
        let start = self.pos;
        self.take_while(|b| b != b':');
        if !self.eat(b':') {
            return Err(Rejection::Malformed);
        }
        let text = self.slice(start, self.pos - 1);
        let canonical = is_canonical_base64(text);
        if canonical || decodes(&LENIENT_BASE64, text) {
            Ok(ByteSequence { text, canonical })
        } else {
            Err(Rejection::Malformed)
        }
    }

    /// A number: `["-"] 1*15DIGIT` or `["-"] 1*12DIGIT "." 1*3DIGIT`.
    fn number(&mut self) -> Result<Number, Rejection> {
        let negative = self.eat(b'-');
        let sign = if negative { -1 } else { 1 };
        let mut magnitude: i64 = match self.peek() {
            Some(d @ b'0'..=b'9') => {
                self.bump();
                i64::from(d - b'0')
            }
            _ => return Err(Rejection::Malformed),
        };
        let mut digits = 1;
        loop {
            match self.peek() {
                Some(b'.') => {
                    if digits > 12 {
                        return Err(Rejection::Malformed);
                    }
                    self.bump();
                    break;
                }
                Some(d @ b'0'..=b'9') => {
                    digits += 1;
                    if digits > 15 {
                        return Err(Rejection::Malformed);
                    }
                    self.bump();
                    magnitude = magnitude * 10 + i64::from(d - b'0');
                }
                _ => return Ok(Number::Integer(sign * magnitude)),
            }
        }
        let mut thousandths = magnitude * 1000;
        let mut scale = 100;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if scale == 0 {
                return Err(Rejection::Malformed);
            }
            self.bump();
            thousandths += i64::from(d - b'0') * scale;
            scale /= 10;
        }
        if scale == 100 {
            // A decimal point with no digit after it.
            return Err(Rejection::Malformed);
        }
        Ok(Number::Decimal(sign * thousandths))
    }

    /// A display string: `%"`, printable ASCII with `%xx` (lowercase hex) escapes, `"`;
    /// the escaped bytes must form UTF-8. Returns the content as written.
    fn display_string(&mut self) -> Result<&'a str, Rejection> {
        self.bump();
        if !self.eat(b'"') {
            return Err(Rejection::Malformed);
        }
        let start = self.pos;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    let content = self.slice(start, self.pos);
                    self.bump();
                    if escaped && !display_string_is_utf8(content) {
                        return Err(Rejection::Malformed);
                    }
                    return Ok(content);
                }
                b'%' => {
                    self.bump();
                    for _ in 0..2 {
                        if !matches!(self.peek(), Some(b'0'..=b'9' | b'a'..=b'f')) {
                            return Err(Rejection::Malformed);
                        }
                        self.bump();
                    }
                    escaped = true;
                }
                0x20..=0x7e => self.bump(),
                _ => return Err(Rejection::Malformed),
            }
        }
        Err(Rejection::Malformed)
    }
}

enum Number {
    Integer(i64),
    /// In thousandths.
    Decimal(i64),
}

/// A parameter as read.
#[derive(Clone, Copy, Debug)]
pub(super) struct Param<'a> {
    pub(super) key: &'a str,
    pub(super) value: Bare<'a>,
    /// Whether it was written exactly as RFC 9651 serializes it (no space after the
    /// `;`, the value in its one form). False is always safe: it only means the
    /// serialized form is written out rather than borrowed.
    pub(super) serialized: bool,
}

/// Whether `written` is the one serialized form of `value` (conservatively: decimals
/// and display strings, which a signer of this profile never writes, count as not).
pub(super) fn is_serialized(value: Bare<'_>, written: &str) -> bool {
    let integer = |digits: &str| {
        let magnitude = digits.strip_prefix('-').unwrap_or(digits);
        digits != "-0" && (magnitude.len() == 1 || !magnitude.starts_with('0'))
    };
    match value {
        Bare::Integer(_) => integer(written),
        Bare::Date(_) => integer(written.get(1..).unwrap_or_default()),
        Bare::String(_) | Bare::Token(_) | Bare::Boolean(false) => true,
        Bare::ByteSequence(bytes) => bytes.canonical,
        // `?1` as a parameter value is written by leaving the value out.
        Bare::Boolean(true) | Bare::Decimal(_) | Bare::DisplayString(_) => false,
    }
}

/// The six bits a base64 character (standard alphabet) stands for.
pub(super) const fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A byte's [`sextet`], or [`NOT_BASE64`] (a bit no sextet has): one table lookup, so
/// that a run of characters is checked with an OR over their lookups.
pub(super) fn sextet_or_flag(b: u8) -> u8 {
    // Built at compile time, where an index out of bounds is a build error.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [u8; 256] = {
        let mut table = [NOT_BASE64; 256];
        let mut b = 0;
        while b < 256 {
            if let Some(bits) = sextet(b as u8) {
                table[b] = bits;
            }
            b += 1;
        }
        table
    };
    TABLE.get(usize::from(b)).copied().unwrap_or(NOT_BASE64)
}

/// What [`sextet_or_flag`] returns for a byte that is not a base64 character.
pub(super) const NOT_BASE64: u8 = 0x40;

/// Whether `text` decodes under [`CANONICAL_BASE64`] (checked without decoding): whole
/// quanta, `=` only as one or two final pad characters, and the unused bits of the last
/// character before them zero.
fn is_canonical_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    let pad = text.len() - body.len();
    if !text.len().is_multiple_of(4) || pad > 2 {
        return false;
    }
    let mut last = 0;
    for b in body.bytes() {
        match sextet(b) {
            Some(bits) => last = bits,
            None => return false,
        }
    }
    let unused_bits = [0, 0b11, 0b1111].get(pad).copied().unwrap_or(0);
    last & unused_bits == 0
}

/// Whether `text` is base64 under `engine` (decoded into a stack buffer when it fits).
fn decodes(engine: &GeneralPurpose, text: &str) -> bool {
    let mut buffer = [0u8; 96];
    if text.len() <= 128 {
        engine.decode_slice(text, &mut buffer).is_ok()
    } else {
        engine.decode(text).is_ok()
    }
}

/// The bytes of a display string's content (already checked: `%` is followed by two
/// lowercase hex digits), unescaped.
pub(super) fn display_string_bytes(content: &str) -> impl Iterator<Item = u8> + '_ {
    let mut bytes = content.bytes();
    std::iter::from_fn(move || {
        let b = bytes.next()?;
        if b != b'%' {
            return Some(b);
        }
        let hi = hex_value(bytes.next()?);
        let lo = hex_value(bytes.next()?);
        Some(hi << 4 | lo)
    })
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => 0,
    }
}

fn display_string_is_utf8(content: &str) -> bool {
    let bytes: Vec<u8> = display_string_bytes(content).collect();
    std::str::from_utf8(&bytes).is_ok()
}

pub(super) const fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'.')
}

fn is_token_char(b: u8) -> bool {
    crate::canonical::is_tchar(b) || b == b':' || b == b'/'
}

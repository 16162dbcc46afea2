//! Reading and rewriting the `Signature-Input` and `Signature` fields (RFC 8941 / RFC
//! 9651 dictionaries).
//!
//! The verifier reads them with a parser written for this profile ([`scan`], [`input`],
//! [`signature`]): it borrows from the field, does not allocate, and writes the
//! `@signature-params` line only when the member is not already in serialized form.
//! It accepts and rejects exactly what the general-purpose `sfv` parser (the
//! reference, in [`reference`], compiled for tests and the `sfv-reference` feature)
//! does, with the same rejection, and reads the same values; the differential tests
//! and the `signature_differential` fuzz target check that on every input they make.
//! Fields exactly as edgeseal's signer writes them (one member each, in its one
//! serialization) are read by [`fast`] with a few literal comparisons; anything else
//! goes through the grammar. The fast path never rejects: it reads the signer's shape
//! or hands the field to the grammar, and the differential tests check that it reads
//! what the grammar reads.
//! Rewriting a field (the edge removing a viewer's member) still goes through `sfv`.

use sfv::{Dictionary, FieldType as _, Parser};

use crate::error::Rejection;

mod fast;
mod few;
mod input;
#[cfg(any(test, feature = "sfv-reference"))]
pub(crate) mod reference;
mod scan;
mod serialize;
mod signature;

pub(crate) use self::fast::{COMPONENTS_THEN_CREATED, integer};
#[cfg(any(test, feature = "sfv-reference"))]
pub(crate) use self::fast::{
    signature as signer_shaped_signature, signature_input as signer_shaped_signature_input,
};
pub(crate) use self::few::Few;
#[cfg(any(test, feature = "sfv-reference"))]
pub(crate) use self::input::parse_signature_input_general;
pub(crate) use self::input::{InputMember, parse_signature_input};
#[cfg(any(test, feature = "sfv-reference"))]
pub(crate) use self::signature::parse_signature_general;
pub(crate) use self::signature::{PresentedSignature, parse_signature};

/// Bounds on what a verifier will parse, so that a hostile header costs little.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLimits {
    /// Longest accepted field value, in bytes.
    pub max_field_bytes: usize,
    /// Most dictionary members in one field.
    pub max_members: usize,
    /// Most covered components in our member.
    pub max_components: usize,
    /// Most parameters on our member.
    pub max_params: usize,
}

impl Default for FieldLimits {
    fn default() -> Self {
        Self {
            max_field_bytes: 4096,
            max_members: 8,
            max_components: 16,
            max_params: 8,
        }
    }
}

/// Walk a dictionary field: for each member, its key and a cursor just after it, to
/// read (ours) or skip (anyone else's) its value.
///
/// A key seen twice is rejected: RFC 8941 would silently let the last duplicate win,
/// which makes two parsers disagree about what was signed.
fn for_each_member<'a>(
    field: &'a str,
    limits: &FieldLimits,
    mut value: impl FnMut(&'a str, &mut scan::Cursor<'a>) -> Result<(), Rejection>,
) -> Result<(), Rejection> {
    if field.len() > limits.max_field_bytes {
        return Err(Rejection::FieldTooLarge);
    }
    let mut cursor = scan::Cursor::new(field);
    let mut keys = Few::default();
    cursor.skip_sp();
    if cursor.at_end() {
        return Ok(());
    }
    loop {
        let key = cursor.key()?;
        if keys.len() >= limits.max_members {
            return Err(Rejection::TooManyMembers);
        }
        if keys.contains(key) {
            return Err(Rejection::DuplicateMember);
        }
        keys.push(key);
        value(key, &mut cursor)?;
        if !cursor.next_member()? {
            return Ok(());
        }
    }
}

/// Remove the member `label` from a dictionary field, keeping every other member.
///
/// The edge calls this on what the viewer sent before adding its own member, so a
/// viewer can never smuggle a signature under our label, while signatures under other
/// labels (another system's) pass through. Returns `None` when nothing is left, or when
/// the field is not a valid dictionary (what cannot be parsed cannot be preserved, and
/// is dropped rather than forwarded beside our member).
///
/// ```
/// let kept = edgeseal::remove_member(r#"edgeseal=("@path");created=1, other=("@method");created=2"#, "edgeseal");
/// assert_eq!(kept.as_deref(), Some(r#"other=("@method");created=2"#));
/// assert_eq!(edgeseal::remove_member("edgeseal=:AAAA:", "edgeseal"), None);
/// ```
pub fn remove_member(field: &str, label: &str) -> Option<String> {
    let mut dict: Dictionary = Parser::new(field).parse().ok()?;
    dict.shift_remove(label);
    dict.serialize()
}

/// Append `member` (a serialized `label=value` dictionary member) to what is left of a
/// field after [`remove_member`].
pub(crate) fn append_member(rest: Option<&str>, member: &str) -> String {
    match rest {
        Some(rest) => format!("{rest}, {member}"),
        None => member.to_owned(),
    }
}

//! `Signature-Input`: our member's covered components and parameters.

use std::borrow::Cow;

use super::FieldLimits;
use super::few::Few;
use super::scan::{Bare, Cursor, Param};
use super::serialize::{Discard, Sink, put_bare, put_parameter};
use crate::digest::CONTENT_DIGEST;
use crate::error::Rejection;
use crate::params::{HMAC_SHA256, REQUIRED_COMPONENTS, SIGNED_PATH_PARAM, check_identifier};
use crate::time::UnixTime;

/// Our member of `Signature-Input`, read but not yet checked against the profile (that
/// is the verifier's job, once both fields have parsed).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InputMember<'a> {
    /// The member's value in serialized form: the `@signature-params` line.
    pub(crate) signature_params: Cow<'a, str>,
    /// The covered components, checked against the profile.
    pub(crate) components: Components,
    /// The parameters edgeseal reads.
    pub(crate) params: Params<'a>,
}

/// What the profile asks of the covered components, noted while they are read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Components {
    /// The first identifier, in order, that the profile does not support or that
    /// repeats an earlier one. Kept rather than returned, like [`Params::misfit`].
    pub(crate) misfit: Option<Rejection>,
    /// Which of [`REQUIRED_COMPONENTS`] are covered, one bit each.
    required: u8,
    /// Whether `content-digest` is covered (body binding).
    pub(crate) content_digest: bool,
}

impl Components {
    /// [`REQUIRED_COMPONENTS`], each once, and nothing else.
    pub(super) fn exactly_required() -> Self {
        Self {
            misfit: None,
            required: (1 << REQUIRED_COMPONENTS.len()) - 1,
            content_digest: false,
        }
    }

    fn add<'a>(&mut self, name: &'a str, seen: &mut Few<'a>) {
        if self.misfit.is_some() {
            return;
        }
        if let Err(reason) = check_identifier(name) {
            self.misfit = Some(reason);
        } else if seen.contains(name) {
            self.misfit = Some(Rejection::DuplicateMember);
        } else {
            seen.push(name);
            self.content_digest |= name == CONTENT_DIGEST;
            for (bit, required) in REQUIRED_COMPONENTS.iter().enumerate() {
                if required.name() == name {
                    self.required |= 1 << bit;
                }
            }
        }
    }

    /// Whether every component the profile requires is covered.
    pub(crate) fn all_required(&self) -> bool {
        self.required.count_ones() as usize == REQUIRED_COMPONENTS.len()
    }
}

/// The signature parameters edgeseal reads. Unknown parameters are covered by the MAC
/// through `@signature-params`, so they cannot be altered and need not be understood.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Params<'a> {
    pub(crate) created: Option<UnixTime>,
    pub(crate) expires: Option<UnixTime>,
    /// String contents as written (escapes included: a key id or tag with an escape is
    /// never a valid one).
    pub(crate) keyid: Option<&'a str>,
    pub(crate) tag: Option<&'a str>,
    pub(crate) signed_path: Option<&'a str>,
    /// The first parameter, in order, whose value does not fit its definition (a
    /// `created` that is not a non-negative integer, an `alg` other than ours, ...).
    /// Kept rather than returned: a syntax error later in either field comes first.
    pub(crate) misfit: Option<Rejection>,
}

impl<'a> Params<'a> {
    fn add(
        &mut self,
        Param { key, value, .. }: Param<'a>,
        names: &mut Few<'a>,
        limits: &FieldLimits,
    ) -> Result<(), Rejection> {
        if names.len() >= limits.max_params {
            return Err(Rejection::TooManyMembers);
        }
        if names.contains(key) {
            return Err(Rejection::DuplicateMember);
        }
        names.push(key);
        if self.misfit.is_some() {
            return Ok(());
        }
        let time = |v: i64| UnixTime::from_sf_integer(v).ok_or(Rejection::Malformed);
        let fit = match (key, value) {
            ("created", Bare::Integer(v)) => time(v).map(|t| self.created = Some(t)),
            ("expires", Bare::Integer(v)) => time(v).map(|t| self.expires = Some(t)),
            ("keyid", Bare::String(v)) => {
                self.keyid = Some(v);
                Ok(())
            }
            // Compared as written: an escape would make it another string anyway.
            ("alg", Bare::String(v)) if v != HMAC_SHA256 => Err(Rejection::WrongAlgorithm),
            ("alg" | "nonce", Bare::String(_)) => Ok(()),
            ("tag", Bare::String(v)) => {
                self.tag = Some(v);
                Ok(())
            }
            (SIGNED_PATH_PARAM, Bare::String(v)) => {
                self.signed_path = Some(v);
                Ok(())
            }
            ("created" | "expires" | "keyid" | "alg" | "tag" | "nonce" | SIGNED_PATH_PARAM, _) => {
                Err(Rejection::Malformed)
            }
            _ => Ok(()),
        };
        if let Err(reason) = fit {
            self.misfit = Some(reason);
        }
        Ok(())
    }
}

/// Parse `Signature-Input` and return our member, if there is one: the signer's own
/// serialization through [`fast`](super::fast), anything else through
/// [`parse_signature_input_general`].
pub(crate) fn parse_signature_input<'a>(
    field: &'a str,
    label: &str,
    limits: &FieldLimits,
) -> Result<Option<InputMember<'a>>, Rejection> {
    match super::fast::signature_input(field, label, limits) {
        Some(member) => Ok(Some(member)),
        None => parse_signature_input_general(field, label, limits),
    }
}

/// [`parse_signature_input`] by the dictionary grammar, whatever the field's shape.
pub(crate) fn parse_signature_input_general<'a>(
    field: &'a str,
    label: &str,
    limits: &FieldLimits,
) -> Result<Option<InputMember<'a>>, Rejection> {
    let mut ours = None;
    super::for_each_member(field, limits, |key, cursor| {
        if key != label {
            return cursor.skip_member_value();
        }
        // Our member must be an inner list.
        if !cursor.eat(b'=') || cursor.peek() != Some(b'(') {
            return Err(Rejection::Malformed);
        }
        ours = Some(member(cursor, limits)?);
        Ok(())
    })?;
    Ok(ours)
}

/// Our member's value, from its `(`: the components, the parameters, and the
/// `@signature-params` line (its own text when that is already in serialized form).
fn member<'a>(cursor: &mut Cursor<'a>, limits: &FieldLimits) -> Result<InputMember<'a>, Rejection> {
    let start = cursor.pos();
    let read = inner_list(cursor, limits, &mut Discard)?;
    let text = cursor.slice(start, cursor.pos());
    let signature_params = if read.serialized {
        Cow::Borrowed(text)
    } else {
        let mut serialized = String::with_capacity(text.len());
        // The text parsed once already; parsing it again cannot fail.
        let _ = inner_list(&mut Cursor::new(text), limits, &mut serialized);
        Cow::Owned(serialized)
    };
    Ok(InputMember {
        signature_params,
        components: read.components,
        params: read.params,
    })
}

/// What [`inner_list`] read.
struct Read<'a> {
    components: Components,
    params: Params<'a>,
    /// Whether the text was exactly what `sink` received (false may be spurious: see
    /// [`Param::serialized`]).
    serialized: bool,
}

/// `"(" *SP [ string *( 1*SP string ) *SP ] ")" parameters`, written to `sink` in
/// serialized form as it is read.
fn inner_list<'a>(
    cursor: &mut Cursor<'a>,
    limits: &FieldLimits,
    sink: &mut impl Sink,
) -> Result<Read<'a>, Rejection> {
    let mut components = Components::default();
    let mut count = 0;
    let mut seen = Few::default();
    cursor.eat(b'(');
    sink.put("(");
    // Spaces before the first item, or after the last, are not written; one is between.
    let mut serialized = true;
    let mut first = true;
    loop {
        if cursor.at_end() {
            return Err(Rejection::Malformed);
        }
        let spaces = cursor.skip_sp();
        if cursor.eat(b')') {
            serialized &= spaces == 0;
            break;
        }
        serialized &= spaces == usize::from(!first);
        first = false;
        if count >= limits.max_components {
            return Err(Rejection::TooManyMembers);
        }
        let Bare::String(name) = cursor.bare_item()? else {
            return Err(Rejection::Malformed);
        };
        if count > 0 {
            sink.put(" ");
        }
        put_bare(sink, Bare::String(name));
        components.add(name, &mut seen);
        count += 1;
        // Parameters on a component identifier (`;sf`, `;key`, `;bs`, `;req`, `;name`)
        // change how its value is derived; this profile supports none of them.
        cursor.parameters(|_| Err(Rejection::UnsupportedComponent))?;
        cursor.after_inner_item()?;
    }
    sink.put(")");
    let mut params = Params::default();
    let mut names = Few::default();
    cursor.parameters(|param| {
        params.add(param, &mut names, limits)?;
        serialized &= param.serialized;
        put_parameter(sink, param.key, param.value);
        Ok(())
    })?;
    Ok(Read {
        components,
        params,
        serialized,
    })
}

//! The header rule's statement, read and rewritten as pure functions.
//!
//! Two shapes are understood, and a rule keeps the one it has:
//! - **allow matching** (what AWS's "CloudFront origin security with WAF and Secrets
//!   Manager" solution deploys): action `Allow`, statement the header match, web ACL
//!   default action `Block`;
//! - **block the others**: action `Block`, statement `NotStatement` around the header
//!   match (for web ACLs whose default action is `Allow`).
//!
//! The header match is one `ByteMatchStatement` per accepted value, each on
//! `SingleHeader` = the header name (lower-case; WAF compares the name case-insensitively,
//! `SingleHeader` in the WAFV2 API reference), `PositionalConstraint` `EXACTLY`, one text
//! transformation `NONE` at priority 0; several values sit in an `OrStatement`, which
//! "provide[s] more than one Statement" (`OrStatement`, WAFV2 API reference), so a
//! single value is a bare `ByteMatchStatement`. A `SearchString` holds at most 200 bytes
//! (`ByteMatchStatement`, WAFV2 API reference).
//!
//! Anything else in the rule (another action, another field, another transformation, a
//! nested statement of another kind) is refused with [`ShapeError`] rather than guessed
//! at: rewriting a rule we do not understand could open or close the origin.

use aws_sdk_wafv2::types::{
    ByteMatchStatement, FieldToMatch, NotStatement, OrStatement, PositionalConstraint, Rule,
    RuleAction, SingleHeader, Statement, TextTransformation, TextTransformationType,
};
use aws_smithy_types::Blob;
use edgeseal::StaticHeaderValue;

/// The most bytes a `ByteMatchStatement`'s `SearchString` may hold.
pub(crate) const MAX_SEARCH_STRING_BYTES: usize = 200;

/// The most bytes of a `SingleHeader` name.
pub(crate) const MAX_HEADER_NAME_BYTES: usize = 64;

/// How the rule turns the header match into a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleShape {
    /// `Allow` requests whose header matches (the web ACL blocks the rest by default).
    AllowMatching,
    /// `Block` requests whose header does not match (`NotStatement`).
    BlockOthers,
}

/// What a header rule holds: its shape and the values it accepts. The values are secret
/// (they are header values CloudFront sends); `Debug` shows only how many there are.
pub struct HeaderRule<'a> {
    /// The rule's shape.
    pub shape: RuleShape,
    /// The accepted values, in statement order.
    pub values: Vec<&'a [u8]>,
}

impl std::fmt::Debug for HeaderRule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderRule")
            .field("shape", &self.shape)
            .field("values", &self.values.len())
            .finish()
    }
}

impl HeaderRule<'_> {
    /// Whether the rule accepts exactly `values` (in any order, each once). Compared in
    /// constant time per value.
    pub fn accepts_exactly(&self, values: &[&StaticHeaderValue]) -> bool {
        self.values.len() == values.len()
            && values.iter().all(|wanted| {
                self.values
                    .iter()
                    .filter(|held| std::str::from_utf8(held).is_ok_and(|s| wanted.matches(s)))
                    .count()
                    == 1
            })
    }
}

/// Why a rule cannot be read or written as a header rule. Never shows a header value.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The rule's action is neither `Allow` nor `Block` (or is an override action).
    #[error("its action is {0}; the header rule must Allow matching requests or Block the others")]
    Action(&'static str),
    /// `Allow` around a `NotStatement`, or `Block` without one.
    #[error(
        "an {action} rule needs {needed}: Allow the header match, or Block a NotStatement around it"
    )]
    Polarity {
        /// `Allow` or `Block`.
        action: &'static str,
        /// What the statement would have to be.
        needed: &'static str,
    },
    /// The rule has no statement.
    #[error("it has no statement")]
    NoStatement,
    /// A statement of another kind where a header match (or an OR of them) belongs.
    #[error("it holds a statement that is not a byte match on one header (or an OR of them)")]
    OtherStatement,
    /// A byte match on another part of the request than one header.
    #[error("a byte match inspects another part of the request than a single header")]
    OtherField,
    /// A byte match on another header.
    #[error("a byte match inspects header {found}, not {expected} (HEADER_NAME)")]
    OtherHeader {
        /// The header the rule inspects.
        found: String,
        /// The header CloudFront sends.
        expected: String,
    },
    /// A positional constraint other than `EXACTLY`.
    #[error("a byte match uses positional constraint {0}, not EXACTLY")]
    Positional(String),
    /// Text transformations other than a single `NONE`.
    #[error("a byte match transforms the header (only a single NONE transformation is exact)")]
    Transformed,
    /// No value to accept (a rule matching nothing would block every request).
    #[error("there is no value to accept")]
    NoValues,
    /// A value longer than a `SearchString` may be.
    #[error(
        "a header value is {0} bytes; WAF search strings hold at most {MAX_SEARCH_STRING_BYTES} (SECRET_KEY_LENGTH)"
    )]
    ValueTooLong(usize),
    /// The header name is longer than `SingleHeader` allows.
    #[error(
        "the header name is {0} bytes; WAF inspects names of at most {MAX_HEADER_NAME_BYTES} (HEADER_NAME)"
    )]
    HeaderNameTooLong(usize),
}

/// Read `rule` as a header rule on `header` (lower-case).
pub fn read_rule<'a>(rule: &'a Rule, header: &str) -> Result<HeaderRule<'a>, ShapeError> {
    if rule.override_action.is_some() {
        return Err(ShapeError::Action("an override action (a rule group's)"));
    }
    let action = rule.action.as_ref().map(action_name).unwrap_or("missing");
    let statement = rule.statement.as_ref().ok_or(ShapeError::NoStatement)?;
    let negated = only_not(statement);
    let (shape, matched) = match (action, negated) {
        ("Allow", None) => (RuleShape::AllowMatching, statement),
        ("Block", Some(inner)) => (RuleShape::BlockOthers, inner),
        ("Allow", Some(_)) => {
            return Err(ShapeError::Polarity {
                action: "Allow",
                needed: "the header match itself, not a NotStatement",
            });
        }
        ("Block", None) => {
            return Err(ShapeError::Polarity {
                action: "Block",
                needed: "a NotStatement around the header match",
            });
        }
        (other, _) => return Err(ShapeError::Action(other)),
    };
    let values = match only_or(matched) {
        Some(members) => members
            .iter()
            .map(|member| header_value(member, header))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![header_value(matched, header)?],
    };
    if values.is_empty() {
        return Err(ShapeError::NoValues);
    }
    Ok(HeaderRule { shape, values })
}

/// `rule` with its statement replaced by a header match accepting exactly `values` (in
/// this order), in the rule's own `shape`. Name, priority, action, visibility config,
/// labels and CAPTCHA/challenge settings are kept as they are.
pub(crate) fn with_values(
    rule: &Rule,
    shape: RuleShape,
    header: &str,
    values: &[&StaticHeaderValue],
) -> Result<Rule, ShapeError> {
    let matched = header_match(header, values)?;
    let statement = match shape {
        RuleShape::AllowMatching => matched,
        RuleShape::BlockOthers => Statement::builder()
            .not_statement(NotStatement::builder().statement(matched).build())
            .build(),
    };
    let mut rule = rule.clone();
    rule.statement = Some(statement);
    Ok(rule)
}

/// The statement matching requests whose `header` is exactly one of `values`: a bare
/// byte match for one value, an `OrStatement` of them for more.
pub(crate) fn header_match(
    header: &str,
    values: &[&StaticHeaderValue],
) -> Result<Statement, ShapeError> {
    if header.len() > MAX_HEADER_NAME_BYTES {
        return Err(ShapeError::HeaderNameTooLong(header.len()));
    }
    let mut matches = values
        .iter()
        .map(|value| byte_match(header, value))
        .collect::<Result<Vec<_>, _>>()?;
    match matches.len() {
        0 => Err(ShapeError::NoValues),
        1 => matches.pop().ok_or(ShapeError::NoValues),
        _ => Ok(Statement::builder()
            .or_statement(
                OrStatement::builder()
                    .set_statements(Some(matches))
                    .build()
                    .map_err(|_| ShapeError::NoValues)?,
            )
            .build()),
    }
}

fn byte_match(header: &str, value: &StaticHeaderValue) -> Result<Statement, ShapeError> {
    let bytes = value.expose().as_bytes();
    if bytes.len() > MAX_SEARCH_STRING_BYTES {
        return Err(ShapeError::ValueTooLong(bytes.len()));
    }
    // The builders only fail on a missing required field, and all are given here.
    let single_header = SingleHeader::builder()
        .name(header.to_ascii_lowercase())
        .build()
        .map_err(|_| ShapeError::OtherField)?;
    let none = TextTransformation::builder()
        .priority(0)
        .r#type(TextTransformationType::None)
        .build()
        .map_err(|_| ShapeError::Transformed)?;
    let statement = ByteMatchStatement::builder()
        .search_string(Blob::new(bytes))
        .field_to_match(FieldToMatch::builder().single_header(single_header).build())
        .text_transformations(none)
        .positional_constraint(PositionalConstraint::Exactly)
        .build()
        .map_err(|_| ShapeError::OtherStatement)?;
    Ok(Statement::builder().byte_match_statement(statement).build())
}

fn action_name(action: &RuleAction) -> &'static str {
    let only = |candidate: RuleAction| candidate == *action;
    match action {
        RuleAction { allow: Some(a), .. }
            if only(RuleAction::builder().allow(a.clone()).build()) =>
        {
            "Allow"
        }
        RuleAction { block: Some(b), .. }
            if only(RuleAction::builder().block(b.clone()).build()) =>
        {
            "Block"
        }
        RuleAction { count: Some(_), .. } => "Count",
        RuleAction {
            captcha: Some(_), ..
        } => "CAPTCHA",
        RuleAction {
            challenge: Some(_), ..
        } => "Challenge",
        _ => "another action",
    }
}

/// The statement inside `statement` if it is exactly a `NotStatement`.
fn only_not(statement: &Statement) -> Option<&Statement> {
    let not = statement.not_statement.as_ref()?;
    let inner = not.statement.as_deref()?;
    (Statement::builder().not_statement(not.clone()).build() == *statement).then_some(inner)
}

/// The members of `statement` if it is exactly an `OrStatement`.
fn only_or(statement: &Statement) -> Option<&[Statement]> {
    let or = statement.or_statement.as_ref()?;
    (Statement::builder().or_statement(or.clone()).build() == *statement)
        .then_some(or.statements.as_slice())
}

/// The value of `statement` if it is exactly a byte match of the whole `header`.
fn header_value<'a>(statement: &'a Statement, header: &str) -> Result<&'a [u8], ShapeError> {
    let Some(byte_match) = statement.byte_match_statement.as_ref() else {
        return Err(ShapeError::OtherStatement);
    };
    if Statement::builder()
        .byte_match_statement(byte_match.clone())
        .build()
        != *statement
    {
        return Err(ShapeError::OtherStatement);
    }
    let field = byte_match
        .field_to_match
        .as_ref()
        .ok_or(ShapeError::OtherField)?;
    let Some(single_header) = field.single_header.as_ref() else {
        return Err(ShapeError::OtherField);
    };
    if FieldToMatch::builder()
        .single_header(single_header.clone())
        .build()
        != *field
    {
        return Err(ShapeError::OtherField);
    }
    if !single_header.name.eq_ignore_ascii_case(header) {
        return Err(ShapeError::OtherHeader {
            found: single_header.name.clone(),
            expected: header.to_owned(),
        });
    }
    if byte_match.positional_constraint != PositionalConstraint::Exactly {
        return Err(ShapeError::Positional(
            byte_match.positional_constraint.as_str().to_owned(),
        ));
    }
    let exact = byte_match.pre_parse_text_transformations.is_none()
        && matches!(
            byte_match.text_transformations.as_slice(),
            [only] if only.r#type == TextTransformationType::None
        );
    if !exact {
        return Err(ShapeError::Transformed);
    }
    Ok(byte_match.search_string.as_ref())
}

#[cfg(test)]
mod tests;

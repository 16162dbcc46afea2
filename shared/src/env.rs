//! Settings read from environment variables: the one error of a refused variable, and
//! the parsers the authorizer, the verifiers and the rotator share. No I/O: each parser
//! reads through the host's lookup (`std::env::var` in production, a map in tests),
//! which already treats a blank value as unset.

use std::borrow::Cow;

/// A variable that is missing or cannot be used. Always names the variable. The reason
/// says what is expected; it never carries a secret (no variable read this way holds
/// one), and the parsers here echo a value only where a message quoted in the READMEs
/// does (a number that is not one).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvVarError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong and what is expected.
        reason: Cow<'static, str>,
    },
}

impl EnvVarError {
    /// An [`EnvVarError::Invalid`] of `var`.
    pub fn invalid(var: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid {
            var,
            reason: reason.into(),
        }
    }

    /// The variable it names.
    pub fn var(&self) -> &'static str {
        match self {
            Self::Missing(var) | Self::Invalid { var, .. } => var,
        }
    }
}

/// `var` as a whole number (surrounding blanks ignored), or `default` when unset: the
/// authorizer's and the verifiers' rule, whose message names the text refused
/// (`MAX_AGE_SECS is invalid: expected a whole number, got "5m"`).
pub fn whole_number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
) -> Result<u64, EnvVarError> {
    match get(var) {
        None => Ok(default),
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            EnvVarError::invalid(var, format!("expected a whole number, got {text:?}"))
        }),
    }
}

/// `var` as a whole number in `min..=max`, or `default` when unset: the rotator's rule,
/// whose bounds its README lists.
pub fn bounded_number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, EnvVarError> {
    match get(var) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) => Err(EnvVarError::invalid(
                var,
                "out of range (see the README for bounds)",
            )),
            Err(_) => Err(EnvVarError::invalid(var, "not a whole number")),
        },
    }
}

/// `var` as `true`/`false` (`1`/`0`, `yes`/`no`, any case), or `default` when unset.
pub fn boolean(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, EnvVarError> {
    match get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(EnvVarError::invalid(var, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(value: &'static str) -> impl Fn(&str) -> Option<String> {
        move |_| Some(value.to_owned())
    }

    fn unset(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn messages_name_the_variable_as_the_readmes_quote_them() {
        assert_eq!(
            EnvVarError::Missing("SECRET_ID").to_string(),
            "SECRET_ID is required but not set"
        );
        let err = whole_number(&lookup("5m"), "MAX_AGE_SECS", 300).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"MAX_AGE_SECS is invalid: expected a whole number, got "5m""#
        );
        assert_eq!(err.var(), "MAX_AGE_SECS");
        assert_eq!(
            bounded_number(&lookup("7"), "MAX_STEP_SECS", 60, 10, 900)
                .unwrap_err()
                .to_string(),
            "MAX_STEP_SECS is invalid: out of range (see the README for bounds)"
        );
        assert_eq!(
            bounded_number(&lookup("x"), "MAX_STEP_SECS", 60, 10, 900)
                .unwrap_err()
                .to_string(),
            "MAX_STEP_SECS is invalid: not a whole number"
        );
        assert_eq!(
            boolean(&lookup("maybe"), "WAIT", false)
                .unwrap_err()
                .to_string(),
            "WAIT is invalid: expected true or false"
        );
    }

    #[test]
    fn parsers_take_their_default_when_unset_and_their_bounds_inclusive() {
        assert_eq!(whole_number(&unset, "X", 7), Ok(7));
        assert_eq!(whole_number(&lookup(" 12 "), "X", 7), Ok(12));
        assert_eq!(bounded_number(&unset, "X", 60, 10, 900), Ok(60));
        assert_eq!(bounded_number(&lookup("10"), "X", 60, 10, 900), Ok(10));
        assert_eq!(bounded_number(&lookup("900"), "X", 60, 10, 900), Ok(900));
        assert!(bounded_number(&lookup("901"), "X", 60, 10, 900).is_err());
        assert_eq!(boolean(&unset, "X", true), Ok(true));
        for yes in ["true", "1", "YES"] {
            assert_eq!(boolean(&lookup(yes), "X", false), Ok(true), "{yes}");
        }
        for no in ["false", "0", "No"] {
            assert_eq!(boolean(&lookup(no), "X", true), Ok(false), "{no}");
        }
    }
}

//! Reading variables: the one error type of a refused configuration and the parsers
//! every settings file shares. A leaf: it imports nothing of the crate, so each
//! target's settings parse through it without reaching back into the rotator.

/// A variable that is missing or cannot be used. Always names the variable; never
/// echoes a value (none of these carries a secret, but the rule is simpler kept whole).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A [`ConfigError::Invalid`] of `var`.
pub(crate) fn invalid(var: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { var, reason }
}

/// `var` as a whole number in `min..=max`, or `default` when unset.
pub(crate) fn number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) => Err(invalid(var, "out of range (see the README for bounds)")),
            Err(_) => Err(invalid(var, "not a whole number")),
        },
    }
}

/// `var` as `true`/`false` (`1`/`0`, `yes`/`no`), or `default` when unset.
pub(crate) fn boolean(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(invalid(var, "expected true or false")),
    }
}

//! Reading variables: the one error type of a refused configuration and the parsers
//! every settings file shares, which are edgeseal's (`edgeseal::env`, shared with the
//! authorizer and the verifiers), under the names the rotator's settings use. A leaf: it
//! imports nothing of the crate, so each target's settings parse through it without
//! reaching back into the rotator.

/// A variable that is missing or cannot be used (`edgeseal::env::EnvVarError`).
pub use edgeseal::env::EnvVarError as ConfigError;
pub(crate) use edgeseal::env::{boolean, bounded_number as number};

/// A [`ConfigError::Invalid`] of `var`.
pub(crate) fn invalid(var: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::invalid(var, reason)
}

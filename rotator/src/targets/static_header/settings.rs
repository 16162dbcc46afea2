//! `SECRET_KEY_LENGTH`: the settings of the static-header target. A leaf: it parses
//! through `crate::env` only.

use crate::env::{ConfigError, invalid, number};

/// Settings of the static-header target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticHeaderSettings {
    /// `SECRET_KEY_LENGTH`, default 32: length of a generated header value.
    pub value_length: usize,
}

impl StaticHeaderSettings {
    /// Read the settings through `get` (trimmed; empty counts as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value_length = number(get, "SECRET_KEY_LENGTH", 32, 16, 4_096)?;
        let value_length =
            usize::try_from(value_length).map_err(|_| invalid("SECRET_KEY_LENGTH", "too large"))?;
        Ok(Self { value_length })
    }
}

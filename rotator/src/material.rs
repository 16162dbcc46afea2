//! Secret material: reading a stored secret value into what a target works with, and
//! making new header values.
//!
//! Secret values are JSON (see `edgeseal::SecretValue`): an edgeseal signing key, or a
//! static header value under `SECRET_KEY_NAME`. Parse errors name the stage, never the
//! value; the keyid of a signing key is its Secrets Manager version id.

use edgeseal::{KeyId, SecretValue, StaticHeaderValue};
use zeroize::Zeroizing;

use crate::error::RotationError;
use edgeseal::Stage;

/// Parse a stored secret value (`stage` for the error).
pub(crate) fn parse_secret(
    value: &str,
    key_name: &str,
    stage: Stage,
) -> Result<SecretValue, RotationError> {
    SecretValue::parse(value, Some(key_name)).map_err(|e| RotationError::BadSecret {
        stage: stage.label(),
        reason: e.to_string(),
    })
}

/// The signature `keyid` of a signing key stored under `version_id`.
pub(crate) fn key_id(version_id: &str) -> Result<KeyId, RotationError> {
    KeyId::new(version_id).map_err(|_| RotationError::BadKeyId(version_id.to_owned()))
}

/// A value of the wrong kind for the target (`expected` says what was wanted).
pub(crate) fn wrong_kind(stage: Stage, reason: &str) -> RotationError {
    RotationError::BadSecret {
        stage: stage.label(),
        reason: reason.to_owned(),
    }
}

/// `length` characters from `[A-Za-z0-9]`, uniformly, from the OS CSPRNG (rejection
/// sampling: bytes at or above 248 = 4 * 62 are discarded so no character is favoured).
pub(crate) fn random_header_value(length: usize) -> Result<StaticHeaderValue, RotationError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = Zeroizing::new(String::with_capacity(length));
    let mut buffer = Zeroizing::new([0u8; 64]);
    while value.len() < length {
        getrandom::fill(buffer.as_mut_slice()).map_err(|_| RotationError::Random)?;
        for &byte in buffer.iter() {
            if byte < 248
                && value.len() < length
                && let Some(&c) = ALPHABET.get(usize::from(byte % 62))
            {
                value.push(char::from(c));
            }
        }
    }
    StaticHeaderValue::new(std::mem::take(&mut *value)).map_err(|_| RotationError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_header_values_have_the_length_and_alphabet() {
        let a = random_header_value(32).unwrap();
        let b = random_header_value(32).unwrap();
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(random_header_value(100).unwrap().expose().len(), 100);
    }
}

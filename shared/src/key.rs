//! Key material and key identifiers.

use core::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{ConfigError, SecretFormatError};
use crate::mac::{MacWriter, PadStates, Tag};

/// Shortest HMAC key accepted. RFC 2104 advises at least the hash length (32 bytes for
/// SHA-256); edgeseal generates 32. 16 is the floor so that imported keys of 128 bits
/// still load, anything shorter is a configuration mistake.
const MIN_KEY_BYTES: usize = 16;
/// Longest HMAC key accepted; RFC 9421's own test key is 64 bytes.
const MAX_KEY_BYTES: usize = 128;

/// An `hmac-sha256` key.
///
/// The bytes, and the HMAC pad states derived from them when the key is made, are
/// zeroized when the last copy is dropped, never printed by `Debug`, and never part of
/// an error. Two keys compare in constant time.
#[derive(Clone)]
pub struct SigningKey {
    bytes: Zeroizing<Vec<u8>>,
    pads: PadStates,
}

impl SigningKey {
    /// Length of the keys edgeseal generates (256 bits).
    pub const GENERATED_LEN: usize = 32;

    /// A key from raw bytes (16 to 128 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretFormatError> {
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(SecretFormatError::KeyLength { len: bytes.len() });
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            pads: PadStates::new(bytes),
        })
    }

    /// A fresh [`GENERATED_LEN`](Self::GENERATED_LEN)-byte key from the operating
    /// system's random source (feature `getrandom`).
    #[cfg(feature = "getrandom")]
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; Self::GENERATED_LEN]);
        getrandom::fill(bytes.as_mut_slice())?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            pads: PadStates::new(bytes.as_slice()),
        })
    }

    /// A key from its standard base64 form (as stored in the secret and the edge config).
    pub fn from_base64(encoded: &str) -> Result<Self, SecretFormatError> {
        use base64::Engine as _;
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| SecretFormatError::KeyEncoding)?,
        );
        Self::from_bytes(&decoded)
    }

    /// The key in standard base64, in a buffer that is zeroized on drop.
    pub fn to_base64(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.bytes.as_slice()))
    }

    /// HMAC-SHA256 of `message` under this key. Infallible: a key that exists has its
    /// pad states, so there is no path that returns anything but the real MAC.
    pub(crate) fn mac(&self, message: &[u8]) -> Tag {
        self.pads.mac(message)
    }

    /// [`mac`](Self::mac) over a message `write` gives in pieces, unless it fails.
    pub(crate) fn mac_pieces<E>(
        &self,
        write: impl FnOnce(&mut MacWriter<'_, '_>) -> Result<(), E>,
    ) -> Result<Tag, E> {
        self.pads.mac_pieces(write)
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.as_slice().ct_eq(other.bytes.as_slice()).into()
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The identifier of a key: the Secrets Manager `VersionId` of the version holding it.
///
/// It rides in the signature's `keyid` parameter (an RFC 8941 string), so it is limited to
/// printable ASCII without `"` and `\`, and to 128 bytes. Key ids are not secret.
///
/// Shared, not copied, when cloned: a verdict hands the same id to the candidate, the
/// result, the log line and the response.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Arc<str>);

impl KeyId {
    const MAX_LEN: usize = 128;

    /// Validate a key id.
    pub fn new(id: impl AsRef<str>) -> Result<Self, ConfigError> {
        let id = id.as_ref();
        if Self::is_valid(id) {
            Ok(Self(Arc::from(id)))
        } else {
            Err(ConfigError::InvalidKeyId)
        }
    }

    pub(crate) fn is_valid(id: &str) -> bool {
        // A fold, not `all`: no early exit, so the check is vectorized.
        !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id.bytes().fold(true, |valid, b| {
                valid & (0x21..=0x7e).contains(&b) & (b != b'"') & (b != b'\\')
            })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:?})", self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A legacy static header value (the `x-origin-verify` secret of the setups edgeseal
/// replaces). Redacted in `Debug`, zeroized on drop, compared in constant time.
#[derive(Clone)]
pub struct StaticHeaderValue(Zeroizing<String>);

impl StaticHeaderValue {
    /// Wrap a value; empty values are refused (an empty header would match a missing one).
    pub fn new(mut value: String) -> Result<Self, SecretFormatError> {
        if value.is_empty() {
            value.zeroize();
            return Err(SecretFormatError::EmptyValue);
        }
        Ok(Self(Zeroizing::new(value)))
    }

    /// Whether `presented` equals this value. The time taken depends on the lengths, never
    /// on the position of the first differing byte.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// The value, for the rotator writing it into CloudFront's origin custom header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for StaticHeaderValue {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for StaticHeaderValue {}

impl fmt::Debug for StaticHeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticHeaderValue(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = SigningKey::from_bytes(b"0123456789abcdef-super-secret").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("super"), "{shown}");
        let header = StaticHeaderValue::new("hunter2-hunter2".into()).unwrap();
        assert!(!format!("{header:?}").contains("hunter2"));
    }

    #[test]
    fn key_length_bounds_are_enforced() {
        assert!(SigningKey::from_bytes(&[1; MIN_KEY_BYTES - 1]).is_err());
        assert!(SigningKey::from_bytes(&[1; MIN_KEY_BYTES]).is_ok());
        assert!(SigningKey::from_bytes(&[1; MAX_KEY_BYTES]).is_ok());
        assert!(SigningKey::from_bytes(&[1; MAX_KEY_BYTES + 1]).is_err());
    }

    #[test]
    fn base64_round_trip_and_bad_encoding() {
        let key = SigningKey::from_bytes(&[0xAB; 32]).unwrap();
        let again = SigningKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key, again);
        assert_eq!(
            SigningKey::from_base64("not base64!").unwrap_err(),
            SecretFormatError::KeyEncoding
        );
    }

    #[test]
    fn keys_compare_by_value() {
        let a = SigningKey::from_bytes(&[1; 32]).unwrap();
        let b = SigningKey::from_bytes(&[2; 32]).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, a.clone());
    }

    #[test]
    fn key_ids_reject_what_cannot_ride_in_an_sf_string() {
        for bad in ["", "with space", "quote\"", "back\\slash", "tab\t", "é"] {
            assert!(KeyId::new(bad).is_err(), "{bad:?}");
        }
        assert!(KeyId::new("x".repeat(129)).is_err());
        assert!(KeyId::new("a1b2c3d4-5678-90ab-cdef-EXAMPLE11111").is_ok());
    }

    #[test]
    fn static_header_matches_exactly() {
        let v = StaticHeaderValue::new("abc123".into()).unwrap();
        assert!(v.matches("abc123"));
        assert!(!v.matches("abc124"));
        assert!(!v.matches("abc1234"));
        assert!(!v.matches(""));
        assert!(StaticHeaderValue::new(String::new()).is_err());
    }
}

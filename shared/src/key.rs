//! Key material and key identifiers.

use core::fmt;
use std::sync::Arc;

use hmac::digest::FixedOutput as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{ConfigError, SecretFormatError};

/// Shortest HMAC key accepted. RFC 2104 advises at least the hash length (32 bytes for
/// SHA-256); edgeseal generates 32. 16 is the floor so that imported keys of 128 bits
/// still load, anything shorter is a configuration mistake.
const MIN_KEY_BYTES: usize = 16;
/// Longest HMAC key accepted; RFC 9421's own test key is 64 bytes.
const MAX_KEY_BYTES: usize = 128;

/// HMAC-SHA256: RustCrypto's `hmac` over `sha2`.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 output size in bytes.
pub(crate) const TAG_LEN: usize = 32;

/// An `hmac-sha256` key.
///
/// The bytes, and the keyed HMAC made from them when the key is made, are zeroized when
/// the last copy is dropped, never printed by `Debug`, and never part of an error. Two
/// keys compare in constant time.
#[derive(Clone)]
pub struct SigningKey {
    bytes: Zeroizing<Vec<u8>>,
    /// Keyed once, when the key is made (the SHA-256 states after `K ^ ipad` and
    /// `K ^ opad`), and cloned for every message. Zeroized on drop, as is each clone
    /// (checked at compile time below).
    keyed: HmacSha256,
}

// The keyed `Hmac<Sha256>` and every per-message clone are zeroized on drop. `hmac` 0.13
// does not mark `Hmac` itself `ZeroizeOnDrop` (its `buffer_fixed!` lists `MacTraits`,
// which leave that marker out), so the parts are checked here, at compile time.
// `Hmac<Sha256>` is `{ core: HmacCore<Sha256>, buffer }`, and `HmacCore` is
// `{ digest, opad_digest }` with no `Drop` of its own; dropping it drops each part:
//
// - the two SHA-256 states (after `K ^ ipad` and the message so far, after `K ^ opad`):
//   `Sha256VarCore`'s `Drop` wipes them with `sha2`'s `zeroize` feature;
// - the block buffer (message bytes not yet compressed): `block-buffer`'s `zeroize`,
//   which `hmac`'s `zeroize` enables through `digest`'s;
// - the tag, finalized into `Tag`'s own words: `Zeroizing`.
//
// Without those features this does not compile. Not wiped, because they are locals
// inside `hmac`, `digest` and `sha2` functions: the `K ^ pad` block while a key is
// keyed (and, for a key longer than a block, its SHA-256), once per key; the inner hash
// and the untruncated outer hash while a tag is finalized, once per MAC.
const _: () = {
    const fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroized_on_drop::<<Sha256 as hmac::EagerHash>::Core>();
    zeroized_on_drop::<hmac::digest::block_api::Buffer<hmac::block_api::HmacCore<Sha256>>>();
};

impl SigningKey {
    /// Length of the keys edgeseal generates (256 bits).
    pub const GENERATED_LEN: usize = 32;

    /// A key from raw bytes (16 to 128 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretFormatError> {
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(SecretFormatError::KeyLength { len: bytes.len() });
        }
        // HMAC takes keys of any length (longer than a block, they are hashed first):
        // `InvalidLength` never comes.
        let keyed = HmacSha256::new_from_slice(bytes)
            .map_err(|_| SecretFormatError::KeyLength { len: bytes.len() })?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            keyed,
        })
    }

    /// A fresh [`GENERATED_LEN`](Self::GENERATED_LEN)-byte key from the operating
    /// system's random source (feature `getrandom`).
    #[cfg(feature = "getrandom")]
    pub fn generate() -> Result<Self, getrandom::Error> {
        // A whole HMAC key block, zero after the key (what HMAC does with a shorter key),
        // so that keying cannot fail.
        let mut block = Zeroizing::new([0u8; 64]); // SHA-256's block, `Key<HmacSha256>`
        let (bytes, _) = block.split_at_mut(Self::GENERATED_LEN);
        getrandom::fill(bytes)?;
        let bytes = Zeroizing::new(bytes.to_vec());
        Ok(Self {
            bytes,
            keyed: HmacSha256::new((&*block).into()),
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

    /// HMAC-SHA256 of `message` under this key. Infallible: a key that exists is keyed,
    /// so there is no path that returns anything but the real MAC.
    pub(crate) fn mac(&self, message: &[u8]) -> Tag {
        let mut mac = self.keyed.clone();
        mac.update(message);
        Tag::of(mac)
    }

    /// [`mac`](Self::mac) over a message `write` gives in pieces (to a clone of the keyed
    /// HMAC, through [`Mac::update`](hmac::Mac::update)), unless it fails.
    pub(crate) fn mac_pieces<E>(
        &self,
        write: impl FnOnce(&mut HmacSha256) -> Result<(), E>,
    ) -> Result<Tag, E> {
        let mut mac = self.keyed.clone();
        write(&mut mac)?;
        Ok(Tag::of(mac))
    }

    /// The tag of `head` then `tail`, with `between` run once both are given to the MAC
    /// and before it is finalized: work that needs no MAC runs while the SHA-256 rounds
    /// do (they wait on one another, and leave the core's other ports idle). `None`
    /// from `between` abandons the MAC.
    ///
    /// Measured (`benches/verify.rs`): `between` there is cheaper than after `head`
    /// alone or before the MAC; the clone stays in this frame (a MAC in progress
    /// returned by value was ~15 ns slower: its state is copied on every move).
    #[inline(always)]
    pub(crate) fn mac_around<R>(
        &self,
        head: &[u8],
        tail: &[u8],
        between: impl FnOnce() -> Option<R>,
    ) -> Option<(Tag, R)> {
        let mut mac = self.keyed.clone();
        mac.update(head);
        mac.update(tail);
        let between = between()?;
        Some((Tag::of(mac), between))
    }
}

/// An HMAC-SHA256 tag, zeroized on drop (an expected tag that did not match is a valid
/// signature for the request that was refused). Compared only in constant time, as four
/// 64-bit words (`subtle` compares a slice element by element, each behind an
/// optimization barrier). Held as those words, so that it is written once, by
/// `finalize_into`, and wiped with four stores (`CtOutput`'s drop wipes byte by byte).
pub(crate) struct Tag(Zeroizing<[u64; TAG_LEN / 8]>);

impl Tag {
    /// The tag `mac` ends with, written straight into the words that hold it.
    #[inline(always)]
    fn of(mac: HmacSha256) -> Self {
        let mut words = Zeroizing::new([0u64; TAG_LEN / 8]);
        let bytes: &mut [u8; TAG_LEN] = zerocopy::transmute_mut!(&mut *words);
        mac.finalize_into(bytes.into());
        Self(words)
    }

    /// Whether `presented` is this tag, in time independent of where they differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let Ok(presented) = <&[u8; TAG_LEN]>::try_from(presented) else {
            return false;
        };
        let presented: [u64; TAG_LEN / 8] = zerocopy::transmute!(*presented);
        self.0.as_slice().ct_eq(presented.as_slice()).into()
    }

    /// The tag's bytes, to encode into a `Signature` field.
    pub(crate) fn as_bytes(&self) -> &[u8; TAG_LEN] {
        zerocopy::transmute_ref!(&*self.0)
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
    use serde_json::Value;

    fn hex(text: &str) -> Vec<u8> {
        assert!(text.len().is_multiple_of(2), "odd hex length");
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap(), 16).unwrap())
            .collect()
    }

    /// A key of any length, keyed as [`SigningKey::from_bytes`] keys it, for the HMAC
    /// test vectors (RFC 4231 has keys of 4 and 131 bytes, outside the accepted range).
    fn any_length_key(bytes: &[u8]) -> SigningKey {
        SigningKey {
            bytes: Zeroizing::new(bytes.to_vec()),
            keyed: HmacSha256::new_from_slice(bytes).unwrap(),
        }
    }

    /// RFC 4231 §4, every HMAC-SHA-256 case (keys of 4, 20, 25 and 131 bytes; case 5's
    /// output is truncated to 128 bits), through `mac` and `mac_pieces`. One loop that
    /// names the failing case.
    #[test]
    fn rfc4231_hmac_sha256_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rfc4231.json");
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = file["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 7);
        for case in cases {
            let name = case["case"].as_u64().unwrap();
            let key = any_length_key(&hex(case["key"].as_str().unwrap()));
            let data = hex(case["data"].as_str().unwrap());
            let expected = hex(case["hmac_sha256"].as_str().unwrap());
            let tag = key.mac(&data);
            let got = tag.as_bytes().get(..expected.len()).unwrap();
            assert_eq!(got, expected.as_slice(), "RFC 4231 test case {name}");
            let pieces = key
                .mac_pieces(|mac| {
                    data.chunks(7).for_each(|piece| mac.update(piece));
                    Ok::<_, ()>(())
                })
                .unwrap();
            assert_eq!(
                pieces.as_bytes(),
                tag.as_bytes(),
                "RFC 4231 case {name}, pieces"
            );
        }
    }

    /// The kept keyed state is cloned, never advanced: MACs under one key, one after
    /// the other and in any pieces, each equal a freshly keyed HMAC over the message
    /// alone. Padding boundaries (55/56/63/64/65 bytes, several blocks) and long keys.
    #[test]
    fn every_mac_starts_from_the_keyed_state() {
        for key_len in [1, 16, 32, 63, 64, 65, 128, 200] {
            let key_bytes: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let key = any_length_key(&key_bytes);
            for msg_len in [
                0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200, 447, 448, 511, 512, 513, 1025,
            ] {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + 1) as u8).collect();
                let mut reference = HmacSha256::new_from_slice(&key_bytes).unwrap();
                reference.update(&msg);
                let expected: [u8; TAG_LEN] = reference.finalize().into_bytes().into();
                assert_eq!(
                    key.mac(&msg).as_bytes(),
                    &expected,
                    "key {key_len}, msg {msg_len}"
                );
                for split in [1, 3, 55, 64, 70, 300, 513] {
                    let tag = key.mac_pieces(|mac| {
                        for piece in msg.chunks(split) {
                            mac.update(piece);
                        }
                        mac.update(&[]);
                        Ok::<_, ()>(())
                    });
                    assert_eq!(
                        tag.as_ref().map(Tag::as_bytes),
                        Ok(&expected),
                        "key {key_len}, msg {msg_len}, pieces of {split}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_failed_write_makes_no_tag() {
        let key = SigningKey::from_bytes(&[9; 32]).unwrap();
        let tag = key.mac_pieces(|mac| {
            mac.update(b"part");
            Err("refused")
        });
        assert!(matches!(tag, Err("refused")));
    }

    #[test]
    fn tags_match_in_full_only() {
        let tag = SigningKey::from_bytes(&[3; 16]).unwrap().mac(b"message");
        let mut bytes = *tag.as_bytes();
        assert!(tag.matches(&bytes));
        assert!(!tag.matches(&bytes[..31]));
        bytes[31] ^= 1;
        assert!(!tag.matches(&bytes));
        bytes[31] ^= 1;
        bytes[0] ^= 0x80;
        assert!(!tag.matches(&bytes));
        assert!(!tag.matches(&[]));
    }

    /// A generated key is keyed from a zero-padded block: the same HMAC as the key's
    /// bytes give through `from_bytes`.
    #[cfg(feature = "getrandom")]
    #[test]
    fn generated_keys_are_keyed_as_their_bytes() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_bytes(&key.bytes).unwrap();
        assert_eq!(key, again);
        assert_eq!(
            key.mac(b"message").as_bytes(),
            again.mac(b"message").as_bytes()
        );
    }

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

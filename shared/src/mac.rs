//! HMAC-SHA256 (RFC 2104) with the key's pad states computed once per key.
//!
//! HMAC is `H((K ^ opad) || H((K ^ ipad) || message))`. The first block of each hash
//! depends on the key alone, so [`PadStates`] runs SHA-256's compression function over
//! `K ^ ipad` and `K ^ opad` once, when the key is loaded, and every MAC starts from
//! those two chaining values: `ceil((len + 9) / 64)` compressions for the message plus
//! one for the outer hash, instead of two more per message for a general-purpose HMAC.
//!
//! The compression function is `sha2`'s own ([`sha2::block_api::compress256`], which
//! picks the CPU's SHA extensions when present); this module only does the Merkle–
//! Damgård padding (FIPS 180-4 §5.1.1) around it. Every buffer that holds key-derived
//! state is zeroized on drop, including the expected tag of a failed verification (it
//! is a valid signature for the request that was refused).

use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

use sha2::block_api::compress256;

/// SHA-256 block size in bytes.
const BLOCK_LEN: usize = 64;
/// SHA-256 output size in bytes.
pub(crate) const TAG_LEN: usize = 32;
/// Room the padding needs after the message: the `0x80` byte and the 64-bit length.
const LENGTH_LEN: usize = 8;
/// RFC 2104 §2.
const IPAD: u8 = 0x36;
/// RFC 2104 §2.
const OPAD: u8 = 0x5c;
/// SHA-256's initial hash value H(0), FIPS 180-4 §5.3.3.
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The SHA-256 chaining values after `K ^ ipad` and after `K ^ opad`: everything about
/// the key a MAC needs. As secret as the key itself: zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PadStates {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl PadStates {
    /// The pad states for `key` (any length; RFC 2104 hashes keys longer than a block).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = Wiped([0u8; BLOCK_LEN]);
        if key.len() > BLOCK_LEN {
            let mut hash = Sha256State::from_state(SHA256_IV);
            hash.update(key);
            let digest = hash.finish();
            copy_prefix(&mut block.0, &digest.0);
        } else {
            copy_prefix(&mut block.0, key);
        }
        Self {
            inner: absorb_pad(&block.0, IPAD),
            outer: absorb_pad(&block.0, OPAD),
        }
    }

    /// HMAC-SHA256 of `message`.
    pub(crate) fn mac(&self, message: &[u8]) -> Tag {
        let mut writer = self.writer();
        writer.update(message);
        writer.finish()
    }

    /// A MAC over a message given in pieces.
    pub(crate) fn writer(&self) -> MacWriter<'_> {
        MacWriter {
            outer: &self.outer,
            inner: Sha256State {
                state: self.inner,
                buffer: [0; BLOCK_LEN],
                buffered: 0,
                // The `K ^ ipad` block is already absorbed.
                absorbed: BLOCK_LEN as u64,
            },
        }
    }
}

/// `K ^ pad`, zero-padded to a block, through one compression from H(0).
fn absorb_pad(key_block: &[u8; BLOCK_LEN], pad: u8) -> [u32; 8] {
    let mut block = Wiped(*key_block);
    for byte in block.0.iter_mut() {
        *byte ^= pad;
    }
    let mut state = SHA256_IV;
    compress256(&mut state, core::slice::from_ref(&block.0));
    state
}

/// Copy `src` to the start of `dst` (`src` is never longer here).
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// A MAC in progress. Its inner state is zeroized on drop.
pub(crate) struct MacWriter<'k> {
    outer: &'k [u32; 8],
    inner: Sha256State,
}

impl MacWriter<'_> {
    /// Absorb the next piece of the message.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The tag: the outer hash over the inner digest, one compression. The outer
    /// message is always 32 bytes after the `K ^ opad` block, so its one block is
    /// written out directly: the digest, `0x80`, zeros, and the length (96 bytes).
    pub(crate) fn finish(mut self) -> Tag {
        const OUTER_BITS: u64 = ((BLOCK_LEN + TAG_LEN) * 8) as u64;
        let mut block = Wiped([0u8; BLOCK_LEN]);
        let (digest, padding) = block.0.split_at_mut(TAG_LEN);
        self.inner.finish_into(digest);
        if let Some(marker) = padding.first_mut() {
            *marker = 0x80;
        }
        let (_, length) = block.0.split_at_mut(BLOCK_LEN - LENGTH_LEN);
        length.copy_from_slice(&OUTER_BITS.to_be_bytes());
        let mut state = Wiped(*self.outer);
        compress256(&mut state.0, core::slice::from_ref(&block.0));
        let mut tag = Tag([0; TAG_LEN]);
        write_words(&mut tag.0, &state.0);
        tag
    }
}

/// `words` big-endian into `out` (as long as both last).
fn write_words(out: &mut [u8], words: &[u32; 8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// A buffer cleared when dropped (see [`wipe`]).
struct Wiped<T: Zeroed>(T);

impl<T: Zeroed> Drop for Wiped<T> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Plain data with an all-zero value.
trait Zeroed: Copy {
    const ZERO: Self;
}

impl<const N: usize> Zeroed for [u8; N] {
    const ZERO: Self = [0; N];
}

impl<const N: usize> Zeroed for [u32; N] {
    const ZERO: Self = [0; N];
}

impl<const N: usize> Zeroed for [u64; N] {
    const ZERO: Self = [0; N];
}

/// Overwrite `value` with zeros in a way the compiler must keep.
///
/// `zeroize`'s `Zeroize` for byte arrays writes one volatile byte at a time (64 stores
/// per block, several blocks per MAC); a plain assignment followed by
/// [`zeroize::optimization_barrier`] is the crate's documented alternative: the
/// assignment compiles to a few vector stores and the barrier keeps it from being
/// removed as a dead store.
fn wipe<T: Zeroed>(value: &mut T) {
    *value = T::ZERO;
    zeroize::optimization_barrier(value);
}

/// SHA-256 from an arbitrary chaining value: the Merkle–Damgård loop around
/// `compress256`. Zeroized on drop.
struct Sha256State {
    state: [u32; 8],
    buffer: [u8; BLOCK_LEN],
    /// Bytes waiting in `buffer` (always < `BLOCK_LEN` between calls).
    buffered: usize,
    /// Bytes compressed into `state` so far, pad block included.
    absorbed: u64,
}

impl Drop for Sha256State {
    fn drop(&mut self) {
        wipe(&mut self.state);
        wipe(&mut self.buffer);
    }
}

impl Sha256State {
    fn from_state(state: [u32; 8]) -> Self {
        Self {
            state,
            buffer: [0; BLOCK_LEN],
            buffered: 0,
            absorbed: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        // The usual case when a signature base arrives piece by piece: the piece fits in
        // the block being filled.
        let filled = self.buffered + data.len();
        if let Some(free) = self.buffer.get_mut(self.buffered..filled)
            && filled < BLOCK_LEN
        {
            free.copy_from_slice(data);
            self.buffered = filled;
            return;
        }
        self.update_across_blocks(data);
    }

    fn update_across_blocks(&mut self, mut data: &[u8]) {
        if self.buffered > 0 {
            let take = (BLOCK_LEN - self.buffered).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(free) = self.buffer.get_mut(self.buffered..self.buffered + take) {
                free.copy_from_slice(head);
            }
            self.buffered += take;
            data = rest;
            if self.buffered < BLOCK_LEN {
                return;
            }
            compress256(&mut self.state, core::slice::from_ref(&self.buffer));
            self.absorbed += BLOCK_LEN as u64;
            self.buffered = 0;
        }
        // Whole blocks straight from the caller's bytes, no copy.
        let (blocks, tail) = data.as_chunks::<BLOCK_LEN>();
        if !blocks.is_empty() {
            compress256(&mut self.state, blocks);
            self.absorbed += (blocks.len() * BLOCK_LEN) as u64;
        }
        copy_prefix(&mut self.buffer, tail);
        self.buffered = tail.len();
    }

    /// FIPS 180-4 §5.1.1: `0x80`, zeros, then the message length in bits, big-endian.
    /// The padding is written into the buffer, which is wiped with the rest on drop.
    fn finish_into(&mut self, digest: &mut [u8]) {
        let bits = (self.absorbed + self.buffered as u64) * 8;
        let mut after_message = self.buffer.iter_mut().skip(self.buffered);
        if let Some(marker) = after_message.next() {
            *marker = 0x80;
        }
        after_message.for_each(|byte| *byte = 0);
        if self.buffered + 1 > BLOCK_LEN - LENGTH_LEN {
            compress256(&mut self.state, core::slice::from_ref(&self.buffer));
            self.buffer.fill(0);
        }
        let (_, length) = self.buffer.split_at_mut(BLOCK_LEN - LENGTH_LEN);
        length.copy_from_slice(&bits.to_be_bytes());
        compress256(&mut self.state, core::slice::from_ref(&self.buffer));
        self.buffered = 0;
        write_words(digest, &self.state);
    }

    fn finish(mut self) -> Tag {
        let mut tag = Tag([0; TAG_LEN]);
        self.finish_into(&mut tag.0);
        tag
    }
}

/// An HMAC-SHA256 tag. Zeroized on drop (an expected tag that did not match is a valid
/// signature for someone else's request); compared only in constant time.
pub(crate) struct Tag([u8; TAG_LEN]);

impl Drop for Tag {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl Tag {
    /// Whether `presented` is this tag, in time independent of where they differ
    /// (compared as four 64-bit words: `subtle` compares a slice element by element,
    /// each behind an optimization barrier).
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let Ok(presented) = <&[u8; TAG_LEN]>::try_from(presented) else {
            return false;
        };
        let words = |bytes: &[u8; TAG_LEN]| -> [u64; TAG_LEN / 8] {
            let mut words = [0u64; TAG_LEN / 8];
            for (word, chunk) in words.iter_mut().zip(bytes.as_chunks::<8>().0) {
                *word = u64::from_ne_bytes(*chunk);
            }
            words
        };
        let expected = Wiped(words(&self.0));
        let presented = words(presented);
        expected.0.as_slice().ct_eq(presented.as_slice()).into()
    }

    /// The tag's bytes, to encode into a `Signature` field.
    pub(crate) fn as_bytes(&self) -> &[u8; TAG_LEN] {
        &self.0
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

    /// RFC 4231 §4, every HMAC-SHA-256 case (keys of 4, 20, 25 and 131 bytes; case 5's
    /// output is truncated to 128 bits). One loop that names the failing case.
    #[test]
    fn rfc4231_hmac_sha256_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rfc4231.json");
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = file["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 7);
        for case in cases {
            let name = case["case"].as_u64().unwrap();
            let key = hex(case["key"].as_str().unwrap());
            let data = hex(case["data"].as_str().unwrap());
            let expected = hex(case["hmac_sha256"].as_str().unwrap());
            let tag = PadStates::new(&key).mac(&data);
            let got = tag.as_bytes().get(..expected.len()).unwrap();
            assert_eq!(got, expected.as_slice(), "RFC 4231 test case {name}");
        }
    }

    /// Every padding boundary (55/56/63/64/65 bytes, several blocks, long keys) and
    /// every way of splitting the message, against RustCrypto's general-purpose HMAC.
    #[test]
    fn agrees_with_rustcrypto_hmac_at_every_block_boundary() {
        use hmac::{KeyInit as _, Mac as _};
        for key_len in [1, 16, 32, 63, 64, 65, 128, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let pads = PadStates::new(&key);
            for msg_len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200, 1000] {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + 1) as u8).collect();
                let mut reference = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
                reference.update(&msg);
                let expected: [u8; 32] = reference.finalize().into_bytes().into();
                assert_eq!(
                    pads.mac(&msg).as_bytes(),
                    &expected,
                    "key {key_len}, msg {msg_len}"
                );
                for split in [1, 3, 55, 64, 70] {
                    let mut writer = pads.writer();
                    for piece in msg.chunks(split) {
                        writer.update(piece);
                    }
                    writer.update(&[]);
                    assert_eq!(writer.finish().as_bytes(), &expected, "pieces of {split}");
                }
            }
        }
    }

    #[test]
    fn tags_match_in_full_only() {
        let tag = PadStates::new(b"key").mac(b"message");
        let mut bytes = *tag.as_bytes();
        assert!(tag.matches(&bytes));
        assert!(!tag.matches(&bytes[..31]));
        bytes[31] ^= 1;
        assert!(!tag.matches(&bytes));
        assert!(!tag.matches(&[]));
    }
}

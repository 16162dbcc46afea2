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
            // The message here is the key: its buffer is wiped too.
            let mut buffer = Wiped([0; BUFFER_LEN]);
            let mut hash = Sha256State::new(SHA256_IV, &mut buffer.0);
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
        let written: Result<Tag, core::convert::Infallible> = self.mac_pieces(|writer| {
            writer.update(message);
            Ok(())
        });
        match written {
            Ok(tag) => tag,
            Err(never) => match never {},
        }
    }

    /// HMAC-SHA256 of a message that `write` gives to the writer in pieces, unless
    /// `write` fails. The writer (its buffer is 512 bytes) lives in this frame and is
    /// never moved, so it is never copied.
    pub(crate) fn mac_pieces<E>(
        &self,
        write: impl FnOnce(&mut MacWriter<'_, '_>) -> Result<(), E>,
    ) -> Result<Tag, E> {
        // A plain local, borrowed by the writer: a buffer inside the writer's value
        // was built and then copied into place (512 bytes, every MAC).
        let mut buffer = [0; BUFFER_LEN];
        let mut inner = Sha256State::new(self.inner, &mut buffer);
        // The `K ^ ipad` block is already absorbed.
        inner.absorbed = BLOCK_LEN as u64;
        let mut writer = MacWriter {
            outer: &self.outer,
            inner,
        };
        write(&mut writer)?;
        Ok(writer.finish())
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
pub(crate) struct MacWriter<'k, 'b> {
    outer: &'k [u32; 8],
    inner: Sha256State<'b>,
}

impl MacWriter<'_, '_> {
    /// Absorb the next piece of the message.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The tag: the outer hash over the inner digest, one compression. The outer
    /// message is always 32 bytes after the `K ^ opad` block, so its one block is
    /// written out directly: the digest, `0x80`, zeros, and the length (96 bytes).
    fn finish(&mut self) -> Tag {
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
/// `compress256`. Its chaining value is zeroized on drop.
///
/// The message is gathered in a buffer of several blocks and compressed in as few calls
/// as possible: a signature base (about 330 bytes, arriving in a handful of pieces)
/// and its padding go through `compress256` in one call.
struct Sha256State<'b> {
    state: [u32; 8],
    buffer: &'b mut [u8; BUFFER_LEN],
    /// Bytes waiting in `buffer` (at most `BUFFER_LEN`).
    buffered: usize,
    /// Bytes compressed into `state` so far, pad block included.
    absorbed: u64,
}

/// Eight blocks: room for a typical signature base and its padding.
const BUFFER_LEN: usize = 8 * BLOCK_LEN;

/// The chaining value is wiped; the buffer belongs to the caller, which wipes it when
/// the message is secret (a key longer than a block, in `PadStates::new`). A MAC's
/// message is a signature base, which is not.
impl Drop for Sha256State<'_> {
    fn drop(&mut self) {
        wipe(&mut self.state);
    }
}

impl<'b> Sha256State<'b> {
    /// From chaining value `state`, gathering the message in `buffer`.
    fn new(state: [u32; 8], buffer: &'b mut [u8; BUFFER_LEN]) -> Self {
        Self {
            state,
            buffer,
            buffered: 0,
            absorbed: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        let filled = self.buffered + data.len();
        if let Some(free) = self.buffer.get_mut(self.buffered..filled) {
            free.copy_from_slice(data);
            self.buffered = filled;
        } else {
            self.update_past_buffer(data);
        }
    }

    /// `data` does not fit: fill the buffer and compress it, compress whole blocks of
    /// `data` where they are, keep the rest.
    fn update_past_buffer(&mut self, data: &[u8]) {
        let (head, rest) = data.split_at((BUFFER_LEN - self.buffered).min(data.len()));
        if let Some(free) = self.buffer.get_mut(self.buffered..) {
            copy_prefix(free, head);
        }
        self.buffered += head.len();
        self.compress_buffered(BUFFER_LEN);
        self.absorbed += BUFFER_LEN as u64;
        let (blocks, tail) = rest.as_chunks::<BLOCK_LEN>();
        if !blocks.is_empty() {
            compress256(&mut self.state, blocks);
            self.absorbed += (blocks.len() * BLOCK_LEN) as u64;
        }
        copy_prefix(self.buffer, tail);
        self.buffered = tail.len();
    }

    /// FIPS 180-4 §5.1.1: `0x80`, zeros, then the message length in bits, big-endian;
    /// what is buffered and the padding in one call when they fit in the buffer.
    fn finish_into(&mut self, digest: &mut [u8]) {
        let bits = (self.absorbed + self.buffered as u64) * 8;
        let padded = (self.buffered + 1 + LENGTH_LEN).next_multiple_of(BLOCK_LEN);
        if padded > BUFFER_LEN {
            // No room for the padding after the buffered bytes: compress the whole
            // blocks and pad what is left, at the start of the buffer.
            let whole = self.buffered / BLOCK_LEN * BLOCK_LEN;
            self.compress_buffered(whole);
            self.buffer.copy_within(whole..self.buffered, 0);
            self.buffered -= whole;
        }
        let padded = (self.buffered + 1 + LENGTH_LEN).next_multiple_of(BLOCK_LEN);
        if let Some(padding) = self.buffer.get_mut(self.buffered..padded) {
            padding.fill(0);
            if let Some(marker) = padding.first_mut() {
                *marker = 0x80;
            }
            if let Some(length) = padding.last_chunk_mut::<LENGTH_LEN>() {
                *length = bits.to_be_bytes();
            }
        }
        self.compress_buffered(padded);
        self.buffered = 0;
        write_words(digest, &self.state);
    }

    /// The first `len` bytes of the buffer (whole blocks) through the compression.
    fn compress_buffered(&mut self, len: usize) {
        let (blocks, _) = self
            .buffer
            .get(..len)
            .unwrap_or_default()
            .as_chunks::<BLOCK_LEN>();
        compress256(&mut self.state, blocks);
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

    /// Every padding boundary (55/56/63/64/65 bytes, several blocks, the buffer's 512
    /// bytes and past them, long keys) and
    /// every way of splitting the message, against RustCrypto's general-purpose HMAC.
    #[test]
    fn agrees_with_rustcrypto_hmac_at_every_block_boundary() {
        use hmac::{KeyInit as _, Mac as _};
        for key_len in [1, 16, 32, 63, 64, 65, 128, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let pads = PadStates::new(&key);
            for msg_len in [
                0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200, 447, 448, 502, 503, 504, 511,
                512, 513, 575, 576, 1000, 1023, 1024, 1025, 1100,
            ] {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + 1) as u8).collect();
                let mut reference = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
                reference.update(&msg);
                let expected: [u8; 32] = reference.finalize().into_bytes().into();
                assert_eq!(
                    pads.mac(&msg).as_bytes(),
                    &expected,
                    "key {key_len}, msg {msg_len}"
                );
                for split in [1, 3, 55, 64, 70, 300, 503, 512, 513, 600] {
                    let tag = pads.mac_pieces(|writer| {
                        for piece in msg.chunks(split) {
                            writer.update(piece);
                        }
                        writer.update(&[]);
                        Ok::<_, ()>(())
                    });
                    assert_eq!(
                        tag.as_ref().map(Tag::as_bytes),
                        Ok(&expected),
                        "pieces of {split}"
                    );
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

//! The request layout `esv_check` reads: a `u32` count of strings, then each string as a
//! `u32` length and its UTF-8 bytes (all little-endian). The strings are method, Host
//! (length `0xFFFF_FFFF`: absent), path as sent, query as sent (without `?`), request
//! id, then header name/value pairs.

use edgeseal::{Profile, RequestView};

/// Length marking an absent string.
pub const ABSENT: u32 = 0xFFFF_FFFF;

/// Why the bytes are not a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, WireError> {
        let (head, rest) = self.bytes.split_first_chunk::<4>().ok_or(WireError)?;
        self.bytes = rest;
        Ok(u32::from_le_bytes(*head))
    }

    fn string(&mut self) -> Result<Option<&'a str>, WireError> {
        let len = self.u32()?;
        if len == ABSENT {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| WireError)?;
        if len > self.bytes.len() {
            return Err(WireError);
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(text).map(Some).map_err(|_| WireError)
    }
}

/// A decoded request: its view in `profile` and its request id.
pub fn decode(bytes: &[u8], profile: Profile) -> Result<(RequestView, &str), WireError> {
    let mut r = Reader { bytes };
    let count = r.u32()?;
    if count < 5 || count % 2 == 0 {
        return Err(WireError);
    }
    let method = r.string()?.ok_or(WireError)?;
    let host = r.string()?.unwrap_or("");
    let path = r.string()?.ok_or(WireError)?;
    let query = r.string()?.unwrap_or("");
    let request_id = r.string()?.unwrap_or("");
    let mut view = RequestView::in_profile(profile, method, host, path, query);
    for _ in 0..(count - 5) / 2 {
        let name = r.string()?.ok_or(WireError)?;
        let value = r.string()?.ok_or(WireError)?;
        view.push_header(name, value);
    }
    if !r.bytes.is_empty() {
        return Err(WireError);
    }
    Ok((view, request_id))
}

/// The layout for `strings` (tests and benchmarks; the JavaScript side writes its own).
pub fn encode(strings: &[Option<&str>]) -> Vec<u8> {
    let mut out = Vec::new();
    let count = u32::try_from(strings.len()).unwrap_or(0);
    out.extend_from_slice(&count.to_le_bytes());
    for s in strings {
        match s {
            None => out.extend_from_slice(&ABSENT.to_le_bytes()),
            Some(s) => {
                let len = u32::try_from(s.len()).unwrap_or(ABSENT);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncations_fail() {
        let bytes = encode(&[
            Some("GET"),
            None,
            Some("/a%20b"),
            Some("x=1"),
            Some("req-1"),
            Some("Signature"),
            Some("v"),
        ]);
        let (view, id) = decode(&bytes, Profile::Raw).unwrap_or_else(|_| panic!("decodes"));
        assert_eq!(id, "req-1");
        assert_eq!(view.path(), "/a%20b");
        assert_eq!(view.query(), "?x=1");
        assert_eq!(view.header("signature").as_deref(), Some("v"));
        assert_eq!(view.authority(), None);
        for cut in 0..bytes.len() {
            assert!(
                decode(bytes.get(..cut).unwrap_or_default(), Profile::Raw).is_err(),
                "{cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra, Profile::Raw).is_err());
    }
}

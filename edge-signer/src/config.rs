//! The edge function's configuration: `config.json` beside the handler in the zip.
//!
//! Lambda@Edge has no environment variables, so the key travels inside the package and
//! the rotator publishes a new function version for every key. The file is JSON:
//!
//! ```json
//! {"format":1,"label":"edgeseal","keyid":"<Secrets Manager VersionId>","key":"<base64>","max_age_secs":300}
//! ```
//!
//! `max_age_secs` becomes the signature's `expires` parameter (`created + max_age_secs`),
//! so a captured request stops being replayable after that many seconds even at an origin
//! whose own maximum age is configured larger; `0` writes no `expires`.

use edgeseal::{KeyId, SigningKey};
use serde::Deserialize;
use zeroize::Zeroizing;

/// The `format` value this version writes and reads.
pub const CONFIG_FORMAT: u32 = 1;

/// The name of the configuration file inside the zip, beside the handler.
pub const CONFIG_FILE: &str = "config.json";

/// What the edge signer needs to know: which label to write, which key to sign with and
/// its id, and how long a signature stays valid.
///
/// `Debug` shows the key as `<redacted>` (through [`SigningKey`]'s own `Debug`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeConfig {
    /// The signature label (an RFC 8941 key, usually [`edgeseal::DEFAULT_LABEL`]).
    pub label: String,
    /// The key's id: the Secrets Manager `VersionId` holding it.
    pub keyid: KeyId,
    /// The HMAC key.
    pub key: SigningKey,
    /// Lifetime written as `expires = created + max_age_secs`; `0` writes no `expires`.
    pub max_age_secs: u64,
}

/// Why an embedded configuration was refused. Never carries key material.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EdgeConfigError {
    /// The file is not JSON of the expected shape (a field missing, mistyped or unknown).
    #[error("config.json is not a JSON object with format, label, keyid, key and max_age_secs")]
    Malformed,
    /// `format` is not one this version reads.
    #[error("config.json has an unsupported format (expected {CONFIG_FORMAT})")]
    UnsupportedFormat,
    /// `label` is not an RFC 8941 key.
    #[error("config.json label is not an RFC 8941 key")]
    InvalidLabel,
    /// `keyid` cannot ride in an RFC 8941 string.
    #[error("config.json keyid is not 1-128 printable ASCII characters without quotes")]
    InvalidKeyId,
    /// `key` is not base64 of 16 to 128 bytes.
    #[error("config.json key is not base64 of 16 to 128 bytes")]
    InvalidKey,
    /// `max_age_secs` is too large to add to a timestamp.
    #[error("config.json max_age_secs is out of range")]
    InvalidMaxAge,
}

impl EdgeConfigError {
    /// A stable code for this error, shared with the WASM interface and the handler.
    pub const fn code(self) -> i32 {
        match self {
            EdgeConfigError::Malformed => -10,
            EdgeConfigError::UnsupportedFormat => -11,
            EdgeConfigError::InvalidLabel => -12,
            EdgeConfigError::InvalidKeyId => -13,
            EdgeConfigError::InvalidKey => -14,
            EdgeConfigError::InvalidMaxAge => -15,
        }
    }
}

/// Largest accepted `max_age_secs`: one day. A signature that lives longer is a replay
/// window, not a clock allowance.
pub const MAX_MAX_AGE_SECS: u64 = 86_400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    format: u32,
    label: String,
    keyid: String,
    key: Zeroizing<String>,
    max_age_secs: u64,
}

impl EdgeConfig {
    /// Read `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EdgeConfigError> {
        let raw: RawConfig =
            serde_json::from_slice(bytes).map_err(|_| EdgeConfigError::Malformed)?;
        if raw.format != CONFIG_FORMAT {
            return Err(EdgeConfigError::UnsupportedFormat);
        }
        if raw.max_age_secs > MAX_MAX_AGE_SECS {
            return Err(EdgeConfigError::InvalidMaxAge);
        }
        let keyid = KeyId::new(raw.keyid).map_err(|_| EdgeConfigError::InvalidKeyId)?;
        let key = SigningKey::from_base64(&raw.key).map_err(|_| EdgeConfigError::InvalidKey)?;
        // Validate the label the way the signer will, so a bad one fails here, at init.
        edgeseal::Signer::new(&raw.label, keyid.clone(), key.clone())
            .map_err(|_| EdgeConfigError::InvalidLabel)?;
        Ok(Self {
            label: raw.label,
            keyid,
            key,
            max_age_secs: raw.max_age_secs,
        })
    }

    /// Write `config.json`, in a buffer that is zeroized on drop.
    ///
    /// Built by hand into a buffer sized up front, so that no reallocation leaves a copy
    /// of the key behind. The label and key id need no JSON escaping: both are validated
    /// to exclude `"`, `\` and control characters, and the key is base64.
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, EdgeConfigError> {
        edgeseal::Signer::new(&self.label, self.keyid.clone(), self.key.clone())
            .map_err(|_| EdgeConfigError::InvalidLabel)?;
        if self.max_age_secs > MAX_MAX_AGE_SECS {
            return Err(EdgeConfigError::InvalidMaxAge);
        }
        let key = self.key.to_base64();
        let max_age = self.max_age_secs.to_string();
        let pieces: [&str; 10] = [
            "{\"format\":1,\"label\":\"",
            &self.label,
            "\",\"keyid\":\"",
            self.keyid.as_str(),
            "\",\"key\":\"",
            &key,
            "\",\"max_age_secs\":",
            &max_age,
            "}",
            "\n",
        ];
        let mut out = Zeroizing::new(Vec::with_capacity(
            pieces.iter().map(|p| p.len()).sum::<usize>(),
        ));
        for piece in pieces {
            out.extend_from_slice(piece.as_bytes());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EdgeConfig {
        EdgeConfig {
            label: "edgeseal".into(),
            keyid: KeyId::new("3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21").unwrap(),
            key: SigningKey::from_bytes(&[9; 32]).unwrap(),
            max_age_secs: 300,
        }
    }

    #[test]
    fn json_round_trip() {
        let c = config();
        let json = c.to_json().unwrap();
        let again = EdgeConfig::from_json(&json).unwrap();
        assert_eq!(again, c);
        // The writer's output is valid JSON with exactly the documented fields.
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["format", "key", "keyid", "label", "max_age_secs"]);
    }

    #[test]
    fn each_bad_field_has_its_own_error() {
        let ok = r#"{"format":1,"label":"edgeseal","keyid":"k1","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","max_age_secs":300}"#;
        assert!(EdgeConfig::from_json(ok.as_bytes()).is_ok());
        let cases = [
            ("", EdgeConfigError::Malformed),
            ("[]", EdgeConfigError::Malformed),
            (
                &ok.replace(r#""max_age_secs":300"#, r#""max_age_secs":"300""#),
                EdgeConfigError::Malformed,
            ),
            (
                &ok.replace(r#","max_age_secs":300"#, ""),
                EdgeConfigError::Malformed,
            ),
            (
                &ok.replace("}", r#","extra":1}"#),
                EdgeConfigError::Malformed,
            ),
            (
                &ok.replace(r#""format":1"#, r#""format":2"#),
                EdgeConfigError::UnsupportedFormat,
            ),
            (
                &ok.replace("\"edgeseal\"", "\"Edge Seal\""),
                EdgeConfigError::InvalidLabel,
            ),
            (
                &ok.replace("\"k1\"", "\"has space\""),
                EdgeConfigError::InvalidKeyId,
            ),
            (
                &ok.replace("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "AAEC"),
                EdgeConfigError::InvalidKey,
            ),
            (
                &ok.replace("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "!!"),
                EdgeConfigError::InvalidKey,
            ),
            (&ok.replace("300", "86401"), EdgeConfigError::InvalidMaxAge),
        ];
        for (json, want) in cases {
            assert_eq!(EdgeConfig::from_json(json.as_bytes()), Err(want), "{json}");
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_key() {
        let c = config();
        let b64 = c.key.to_base64();
        assert!(!format!("{c:?}").contains(b64.as_str()));
        let bad = format!(
            r#"{{"format":1,"label":"Bad Label","keyid":"k","key":"{}","max_age_secs":1}}"#,
            b64.as_str()
        );
        let err = EdgeConfig::from_json(bad.as_bytes()).unwrap_err();
        assert!(!err.to_string().contains(b64.as_str()));
        assert!(!format!("{err:?}").contains(b64.as_str()));
    }
}

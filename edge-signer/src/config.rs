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
//!
//! A distribution with several origins signs each in its own signing profile
//! ([`edgeseal::Profile`]): the optional `profiles` member names the profile of each
//! custom origin by its domain name (`request.origin.custom.domainName`), and the one
//! for every other origin:
//!
//! ```json
//! {"format":1, ..., "profiles":{"default":"apigateway","origins":{"my-alb-1.us-east-1.elb.amazonaws.com":"raw"}}}
//! ```
//!
//! Without it every origin is `apigateway`, as before: old configs stay valid, and a
//! config whose profiles are all the default is written without the member (the same
//! bytes as before, so the same zip).

use std::collections::BTreeMap;

use edgeseal::{KeyId, Profile, SigningKey};
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
    /// The signing profile of each origin.
    pub profiles: OriginProfiles,
}

/// The signing profile per custom origin, by domain name; `default` for the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginProfiles {
    default: Profile,
    /// Lowercase domain name → profile.
    origins: BTreeMap<String, Profile>,
}

impl OriginProfiles {
    /// Every origin in `profile`.
    pub fn all(profile: Profile) -> Self {
        Self {
            default: profile,
            origins: BTreeMap::new(),
        }
    }

    /// Sign origin `domain_name` in `profile` (builder style). The name must be a host
    /// name (letters, digits, `.`, `-`, `_`, `:`; compared without case).
    pub fn with_origin(
        mut self,
        domain_name: &str,
        profile: Profile,
    ) -> Result<Self, EdgeConfigError> {
        if !is_domain_name(domain_name) {
            return Err(EdgeConfigError::InvalidProfiles);
        }
        self.origins
            .insert(domain_name.to_ascii_lowercase(), profile);
        Ok(self)
    }

    /// Read the setting form, as `EDGE_ORIGIN_PROFILES` gives it: comma-separated
    /// `domain=profile` entries, `*=profile` for every other origin, or a bare profile
    /// name for all origins (`raw`, `*=raw,api.example.com=apigateway`). Empty: all
    /// `apigateway`.
    pub fn parse(setting: &str) -> Result<Self, EdgeConfigError> {
        let mut profiles = Self::default();
        let mut default_seen = false;
        for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (origin, profile) = entry.split_once('=').unwrap_or(("*", entry));
            let profile: Profile = profile
                .trim()
                .parse()
                .map_err(|_| EdgeConfigError::InvalidProfiles)?;
            match origin.trim() {
                "*" if !default_seen => {
                    default_seen = true;
                    profiles.default = profile;
                }
                "*" => return Err(EdgeConfigError::InvalidProfiles),
                origin => {
                    if profiles.origins.contains_key(&origin.to_ascii_lowercase()) {
                        return Err(EdgeConfigError::InvalidProfiles);
                    }
                    profiles = profiles.with_origin(origin, profile)?;
                }
            }
        }
        Ok(profiles)
    }

    /// The profile for the custom origin `domain_name`.
    pub fn for_origin(&self, domain_name: &str) -> Profile {
        if self.origins.is_empty() {
            return self.default;
        }
        self.origins
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(domain_name))
            .map_or(self.default, |(_, profile)| *profile)
    }

    /// The profile for origins not listed.
    pub fn default_profile(&self) -> Profile {
        self.default
    }

    /// The listed origins and their profiles.
    pub fn origins(&self) -> impl Iterator<Item = (&str, Profile)> {
        self.origins.iter().map(|(n, p)| (n.as_str(), *p))
    }

    fn is_default(&self) -> bool {
        self.default == Profile::ApiGateway
            && self.origins.values().all(|p| *p == Profile::ApiGateway)
    }

    /// The JSON member's value, `{"default":"…","origins":{…}}` (names are validated
    /// host names: nothing to escape).
    fn to_json(&self) -> String {
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(|(name, profile)| format!("\"{name}\":\"{profile}\""))
            .collect();
        format!(
            "{{\"default\":\"{}\",\"origins\":{{{}}}}}",
            self.default,
            origins.join(",")
        )
    }
}

fn is_domain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfiles {
    #[serde(default)]
    default: Profile,
    #[serde(default)]
    origins: BTreeMap<String, Profile>,
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
    /// `profiles` names an unknown profile or an origin that is not a host name.
    #[error("config.json profiles: each origin a host name, each profile apigateway or raw")]
    InvalidProfiles,
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
            EdgeConfigError::InvalidProfiles => -16,
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
    #[serde(default)]
    profiles: Option<RawProfiles>,
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
        let mut profiles = OriginProfiles::default();
        if let Some(raw_profiles) = raw.profiles {
            profiles.default = raw_profiles.default;
            for (origin, profile) in &raw_profiles.origins {
                profiles = profiles.with_origin(origin, *profile)?;
            }
        }
        Ok(Self {
            label: raw.label,
            keyid,
            key,
            max_age_secs: raw.max_age_secs,
            profiles,
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
        let profiles = if self.profiles.is_default() {
            String::new()
        } else {
            format!(",\"profiles\":{}", self.profiles.to_json())
        };
        let pieces: [&str; 11] = [
            "{\"format\":1,\"label\":\"",
            &self.label,
            "\",\"keyid\":\"",
            self.keyid.as_str(),
            "\",\"key\":\"",
            &key,
            "\",\"max_age_secs\":",
            &max_age,
            &profiles,
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
            profiles: OriginProfiles::default(),
        }
    }

    #[test]
    fn profiles_round_trip_and_old_configs_stay_apigateway() {
        let old = r#"{"format":1,"label":"edgeseal","keyid":"k1","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","max_age_secs":300}"#;
        let read = EdgeConfig::from_json(old.as_bytes()).unwrap();
        assert_eq!(read.profiles, OriginProfiles::default());
        assert_eq!(
            read.profiles.for_origin("any.example.com"),
            Profile::ApiGateway
        );
        // All-default profiles are not written: the bytes (and so the zip) are unchanged.
        assert_eq!(
            read.to_json().unwrap().as_slice(),
            format!("{old}\n").as_bytes()
        );

        let mut c = config();
        c.profiles = OriginProfiles::parse("*=apigateway, ALB-1.elb.amazonaws.com=raw").unwrap();
        let json = c.to_json().unwrap();
        let text = std::str::from_utf8(&json).unwrap();
        assert!(
            text.contains(
                r#""profiles":{"default":"apigateway","origins":{"alb-1.elb.amazonaws.com":"raw"}}"#
            ),
            "{text}"
        );
        let again = EdgeConfig::from_json(&json).unwrap();
        assert_eq!(again, c);
        assert_eq!(
            again.profiles.for_origin("alb-1.ELB.amazonaws.com"),
            Profile::Raw
        );
        assert_eq!(
            again.profiles.for_origin("api.example.com"),
            Profile::ApiGateway
        );
        assert_eq!(
            OriginProfiles::parse("raw").unwrap(),
            OriginProfiles::all(Profile::Raw)
        );
        assert_eq!(
            OriginProfiles::parse("").unwrap(),
            OriginProfiles::default()
        );
        for bad in [
            "fast",
            "a.example=raw,a.example=raw",
            "*=raw,*=raw",
            "a b=raw",
            "x=Raw",
        ] {
            assert_eq!(
                OriginProfiles::parse(bad),
                Err(EdgeConfigError::InvalidProfiles),
                "{bad}"
            );
        }
        for bad in [
            r#","profiles":{"default":"fast"}"#,
            r#","profiles":{"origins":{"a\"b":"raw"}}"#,
            r#","profiles":{"extra":1}"#,
        ] {
            let json = old.replace(
                ",\"max_age_secs\":300",
                &format!(",\"max_age_secs\":300{bad}"),
            );
            assert!(EdgeConfig::from_json(json.as_bytes()).is_err(), "{json}");
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

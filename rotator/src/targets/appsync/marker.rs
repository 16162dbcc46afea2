//! What edgeseal writes in an API key's description, so that a later step recognises the
//! key without state of its own:
//!
//! - `edgeseal key for <secret> version <version>`: the key createSecret made for that
//!   secret version (the rotation's token). A rerun of createSecret finds it instead of
//!   making a second key.
//! - `… , retired <unix time>`: the key's version stopped being AWSCURRENT (or it was
//!   never stored) at that time, as first seen by the rotator; the key is deleted once
//!   `PREVIOUS_KEY_GRACE_SECS` have passed since.
//!
//! Secrets Manager passes the secret's ARN as `SecretId`, so `<secret>` is the ARN: it
//! tells apart secrets of the same name and keys of several secrets on one API. ARNs,
//! secret names and version ids hold no spaces, so the fields split unambiguously.

use edgeseal::UnixTime;

const PREFIX: &str = "edgeseal key for ";
const VERSION: &str = " version ";
const RETIRED: &str = ", retired ";

/// A parsed (or to be written) description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyMarker<'a> {
    /// The secret (its ARN, as the rotation event names it).
    pub secret_id: &'a str,
    /// The secret version the key was made for (or stored in).
    pub version_id: &'a str,
    /// When the rotator first saw the version lose AWSCURRENT / AWSPENDING.
    pub retired_at: Option<UnixTime>,
}

impl<'a> KeyMarker<'a> {
    /// The marker of a fresh key for `version_id`.
    pub const fn new(secret_id: &'a str, version_id: &'a str) -> Self {
        Self {
            secret_id,
            version_id,
            retired_at: None,
        }
    }

    /// The same key, retired at `at`.
    #[must_use]
    pub const fn retired(self, at: UnixTime) -> Self {
        Self {
            retired_at: Some(at),
            ..self
        }
    }

    /// Read a description; `None` for keys edgeseal did not mark.
    pub fn parse(description: &'a str) -> Option<Self> {
        let rest = description.strip_prefix(PREFIX)?;
        let (secret_id, rest) = rest.split_once(VERSION)?;
        let (version_id, retired_at) = match rest.split_once(RETIRED) {
            Some((version, at)) => (version, Some(UnixTime::from_secs(at.parse().ok()?))),
            None => (rest, None),
        };
        let plain = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        (plain(secret_id) && plain(version_id)).then_some(Self {
            secret_id,
            version_id,
            retired_at,
        })
    }

    /// Whether this marks a key of `secret_id`.
    pub fn belongs_to(&self, secret_id: &str) -> bool {
        self.secret_id == secret_id
    }
}

impl std::fmt::Display for KeyMarker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PREFIX}{}{VERSION}{}", self.secret_id, self.version_id)?;
        if let Some(at) = self.retired_at {
            write!(f, "{RETIRED}{at}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:appsync/key-AbCdEf";

    #[test]
    fn a_marker_reads_back_what_was_written_fresh_and_retired() {
        let fresh = KeyMarker::new(ARN, "9c2a4f0e-1d3b-4e5f-8a7b-0c1d2e3f4a5b");
        let text = fresh.to_string();
        assert_eq!(
            text,
            format!("edgeseal key for {ARN} version 9c2a4f0e-1d3b-4e5f-8a7b-0c1d2e3f4a5b")
        );
        assert_eq!(KeyMarker::parse(&text), Some(fresh));
        let retired = fresh.retired(UnixTime::from_secs(1_764_000_000));
        let text = retired.to_string();
        assert!(text.ends_with(", retired 1764000000"), "{text}");
        assert_eq!(KeyMarker::parse(&text), Some(retired));
        assert!(retired.belongs_to(ARN));
        assert!(!retired.belongs_to("arn:aws:secretsmanager:us-east-1:123456789012:secret:other"));
    }

    #[test]
    fn descriptions_edgeseal_did_not_write_are_not_markers() {
        for description in [
            "",
            "Default API Key created by CDK",
            "edgeseal key for ",
            "edgeseal key for arn version ",
            "edgeseal key for  version v1",
            "edgeseal key for arn version v1, retired soon",
            "edgeseal key for arn version v 1",
            "Edgeseal key for arn version v1",
        ] {
            assert_eq!(KeyMarker::parse(description), None, "{description:?}");
        }
    }
}

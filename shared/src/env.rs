//! Settings read from environment variables: the one error of a refused variable, and
//! the parsers the authorizer, the verifiers and the rotator share. No I/O: each parser
//! reads through the host's lookup (`std::env::var` in production, a map in tests),
//! which already treats a blank value as unset.

use std::borrow::Cow;

use crate::profile::Profile;

/// A variable that is missing or cannot be used. Always names the variable. The reason
/// says what is expected; it never carries a secret (no variable read this way holds
/// one), and the parsers here echo a value only where a message quoted in the READMEs
/// does (a number that is not one).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvVarError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong and what is expected.
        reason: Cow<'static, str>,
    },
}

impl EnvVarError {
    /// An [`EnvVarError::Invalid`] of `var`.
    pub fn invalid(var: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid {
            var,
            reason: reason.into(),
        }
    }

    /// The variable it names.
    pub fn var(&self) -> &'static str {
        match self {
            Self::Missing(var) | Self::Invalid { var, .. } => var,
        }
    }
}

/// `var` as a whole number (surrounding blanks ignored), or `default` when unset: the
/// authorizer's and the verifiers' rule, whose message names the text refused
/// (`MAX_AGE_SECS is invalid: expected a whole number, got "5m"`).
pub fn whole_number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
) -> Result<u64, EnvVarError> {
    match get(var) {
        None => Ok(default),
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            EnvVarError::invalid(var, format!("expected a whole number, got {text:?}"))
        }),
    }
}

/// `var` as a whole number in `min..=max`, or `default` when unset: the rotator's rule,
/// whose bounds its README lists.
pub fn bounded_number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, EnvVarError> {
    match get(var) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) => Err(EnvVarError::invalid(
                var,
                "out of range (see the README for bounds)",
            )),
            Err(_) => Err(EnvVarError::invalid(var, "not a whole number")),
        },
    }
}

/// `var` as `true`/`false` (`1`/`0`, `yes`/`no`, any case), or `default` when unset.
pub fn boolean(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, EnvVarError> {
    match get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(EnvVarError::invalid(var, "expected true or false")),
    }
}

/// The settings only a verifier that sees the whole request has (the tower layer and
/// the Node.js and Python verifiers; API Gateway's authorizer sees no body and knows its
/// profile): their names, defaults and messages, in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginSettings {
    /// `SIGNING_PROFILE`, default `raw`: the profile the edge signs this origin in (its
    /// `EDGE_ORIGIN_PROFILES` entry at the rotator). `apigateway` serves an edge not yet
    /// told this origin is `raw`: the request arrives unchanged, so its canonical form
    /// is the one the edge signed.
    pub profile: Profile,
    /// `REQUIRE_CONTENT_DIGEST`, default `false`: deny signatures that do not bind the
    /// body (`body_not_signed`). Only for behaviors whose edge association includes the
    /// body, and for bodies CloudFront does not truncate (1 MB at origin request).
    pub require_content_digest: bool,
    /// `MAX_BODY_BYTES`, default [`DEFAULT_MAX_BODY_BYTES`](Self::DEFAULT_MAX_BODY_BYTES):
    /// the most body a verifier reads to check a covered `Content-Digest`. The edge binds
    /// only bodies it sees whole, at most 1 MB (Lambda@Edge origin request with "include
    /// body"), so a longer body cannot match and is denied (`body_digest_mismatch`)
    /// without reading further.
    pub max_body_bytes: u64,
}

impl OriginSettings {
    /// CloudFront's 1 MB body limit for origin-request functions.
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 1_048_576;

    /// The three variables through `get` (which treats a blank value as unset;
    /// surrounding blanks are ignored).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, EnvVarError> {
        let get = |var: &str| get(var).map(|v| v.trim().to_owned());
        let profile = match get("SIGNING_PROFILE") {
            None => Profile::Raw,
            Some(name) => name.parse().map_err(|_| {
                EnvVarError::invalid(
                    "SIGNING_PROFILE",
                    "expected `raw` (the default) or `apigateway`",
                )
            })?,
        };
        let require_content_digest = match get("REQUIRE_CONTENT_DIGEST").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(EnvVarError::invalid(
                    "REQUIRE_CONTENT_DIGEST",
                    "expected `true` or `false`",
                ));
            }
        };
        let max_body_bytes = match get("MAX_BODY_BYTES") {
            None => Self::DEFAULT_MAX_BODY_BYTES,
            Some(v) => v.parse().map_err(|_| {
                EnvVarError::invalid("MAX_BODY_BYTES", "expected a whole number of bytes")
            })?,
        };
        Ok(Self {
            profile,
            require_content_digest,
            max_body_bytes,
        })
    }
}

impl Default for OriginSettings {
    fn default() -> Self {
        Self {
            profile: Profile::Raw,
            require_content_digest: false,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(value: &'static str) -> impl Fn(&str) -> Option<String> {
        move |_| Some(value.to_owned())
    }

    fn unset(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn messages_name_the_variable_as_the_readmes_quote_them() {
        assert_eq!(
            EnvVarError::Missing("SECRET_ID").to_string(),
            "SECRET_ID is required but not set"
        );
        let err = whole_number(&lookup("5m"), "MAX_AGE_SECS", 300).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"MAX_AGE_SECS is invalid: expected a whole number, got "5m""#
        );
        assert_eq!(err.var(), "MAX_AGE_SECS");
        assert_eq!(
            bounded_number(&lookup("7"), "MAX_STEP_SECS", 60, 10, 900)
                .unwrap_err()
                .to_string(),
            "MAX_STEP_SECS is invalid: out of range (see the README for bounds)"
        );
        assert_eq!(
            bounded_number(&lookup("x"), "MAX_STEP_SECS", 60, 10, 900)
                .unwrap_err()
                .to_string(),
            "MAX_STEP_SECS is invalid: not a whole number"
        );
        assert_eq!(
            boolean(&lookup("maybe"), "WAIT", false)
                .unwrap_err()
                .to_string(),
            "WAIT is invalid: expected true or false"
        );
    }

    #[test]
    fn origin_settings_default_and_refuse_by_name() {
        let map = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == var)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            OriginSettings::from_lookup(&unset),
            Ok(OriginSettings::default())
        );
        let set = OriginSettings::from_lookup(&map(&[
            ("SIGNING_PROFILE", " apigateway "),
            ("REQUIRE_CONTENT_DIGEST", "true"),
            ("MAX_BODY_BYTES", "10"),
        ]));
        assert_eq!(
            set,
            Ok(OriginSettings {
                profile: Profile::ApiGateway,
                require_content_digest: true,
                max_body_bytes: 10,
            })
        );
        let refused: [(&'static [(&'static str, &'static str)], &str); 3] = [
            (&[("SIGNING_PROFILE", "fast")], "SIGNING_PROFILE"),
            (
                &[("REQUIRE_CONTENT_DIGEST", "yes")],
                "REQUIRE_CONTENT_DIGEST",
            ),
            (&[("MAX_BODY_BYTES", "-1")], "MAX_BODY_BYTES"),
        ];
        for (pairs, var) in refused {
            let err = OriginSettings::from_lookup(&map(pairs)).unwrap_err();
            assert_eq!(err.var(), var);
        }
    }

    #[test]
    fn parsers_take_their_default_when_unset_and_their_bounds_inclusive() {
        assert_eq!(whole_number(&unset, "X", 7), Ok(7));
        assert_eq!(whole_number(&lookup(" 12 "), "X", 7), Ok(12));
        assert_eq!(bounded_number(&unset, "X", 60, 10, 900), Ok(60));
        assert_eq!(bounded_number(&lookup("10"), "X", 60, 10, 900), Ok(10));
        assert_eq!(bounded_number(&lookup("900"), "X", 60, 10, 900), Ok(900));
        assert!(bounded_number(&lookup("901"), "X", 60, 10, 900).is_err());
        assert_eq!(boolean(&unset, "X", true), Ok(true));
        for yes in ["true", "1", "YES"] {
            assert_eq!(boolean(&lookup(yes), "X", false), Ok(true), "{yes}");
        }
        for no in ["false", "0", "No"] {
            assert_eq!(boolean(&lookup(no), "X", true), Ok(false), "{no}");
        }
    }
}

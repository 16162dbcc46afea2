//! Signing profiles: which form of `@path` and `@query` a signature covers.
//!
//! | profile | `@path` / `@query` | for origins that |
//! |---|---|---|
//! | [`Profile::ApiGateway`] (default) | edgeseal's canonical form ([`canonical`](crate::canonical)) | see the request only through API Gateway, which rewrites it |
//! | [`Profile::Raw`] | RFC 9421 §2.2.6 / §2.2.7 as defined: the path and query as CloudFront forwards them, byte for byte | receive the request unchanged (ALB, EC2, ECS, servers outside AWS) |
//!
//! `@method` and `@authority` are the same in both (RFC 9421 §2.2.1 / §2.2.3: the
//! method as sent, the host lowercased with the scheme's default port dropped).
//!
//! The signature states its profile in its `tag` parameter, so a verifier never
//! guesses: the application tag `T` (default `edgeseal`) for `apigateway`, and `T-raw`
//! (default `edgeseal-raw`) for `raw`. Stock RFC 9421 verifiers are simply told to
//! expect that tag. Old signatures (tag `edgeseal`) are `apigateway` ones, as before.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a signature's `@path` and `@query` are formed. Chosen per origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// edgeseal's canonical form, which survives API Gateway's rewriting of the path
    /// and query (see [`canonical`](crate::canonical)). The default.
    #[default]
    #[serde(rename = "apigateway")]
    ApiGateway,
    /// RFC 9421's own definitions over the request as sent: `@path` is the path byte
    /// for byte (`/` when empty), `@query` is `?` and the query string byte for byte
    /// (`?` alone when there is none).
    Raw,
}

/// The suffix a `raw` signature adds to the application tag.
const RAW_TAG_SUFFIX: &str = "-raw";

impl Profile {
    /// Both profiles.
    pub const ALL: [Profile; 2] = [Profile::ApiGateway, Profile::Raw];

    /// The profile's name, as configuration spells it: `apigateway` or `raw`.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::ApiGateway => "apigateway",
            Profile::Raw => "raw",
        }
    }

    /// The `tag` a signature in this profile carries, from the application tag
    /// (`edgeseal` → `edgeseal` / `edgeseal-raw`).
    pub fn tag(self, application_tag: &str) -> Cow<'_, str> {
        match self {
            Profile::ApiGateway => Cow::Borrowed(application_tag),
            Profile::Raw => Cow::Owned(format!("{application_tag}{RAW_TAG_SUFFIX}")),
        }
    }

    /// The profile a signature's `tag` states, given the application tag; `None` when
    /// the tag is neither of the two.
    pub fn of_tag(tag: &str, application_tag: &str) -> Option<Profile> {
        if tag == application_tag {
            Some(Profile::ApiGateway)
        } else if tag.strip_suffix(RAW_TAG_SUFFIX) == Some(application_tag) {
            Some(Profile::Raw)
        } else {
            None
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is neither `apigateway` nor `raw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("signing profile must be `apigateway` or `raw`")]
pub struct UnknownProfile;

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or(UnknownProfile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_state_the_profile_and_nothing_else() {
        assert_eq!(Profile::ApiGateway.tag("edgeseal"), "edgeseal");
        assert_eq!(Profile::Raw.tag("edgeseal"), "edgeseal-raw");
        for p in Profile::ALL {
            assert_eq!(Profile::of_tag(&p.tag("app"), "app"), Some(p));
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", p.name()));
        }
        assert_eq!(Profile::of_tag("edgeseal-raw-raw", "edgeseal"), None);
        assert_eq!(Profile::of_tag("other-raw", "edgeseal"), None);
        assert_eq!(Profile::of_tag("edgesea", "edgeseal"), None);
        assert_eq!("Raw".parse::<Profile>(), Err(UnknownProfile));
        assert_eq!(Profile::default(), Profile::ApiGateway);
    }
}

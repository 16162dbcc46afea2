//! Settings of the `appsync-api-key` target, read once at cold start.
//!
//! The AWS blog's AppSync rotation function ("Automatically Rotating AWS AppSync API
//! Keys") reads its API id from `AppSyncApiId` and stores the key as `{"APIKEY": "..."}`;
//! both are kept: `AppSyncApiId` is accepted as another name of `APPSYNC_API_ID`, and
//! `SECRET_KEY_NAME` (read with the other common settings, in `config`) defaults to
//! `APIKEY` for this target, so clients that read the blog's secret keep working.

use std::time::Duration;

use crate::env::{ConfigError, invalid, number};

/// The prior art's name of [`AppSyncSettings::api_id`]'s variable.
pub(crate) const PRIOR_ART_API_ID_VAR: &str = "AppSyncApiId";

/// The GraphQL request testSecret sends unless `APPSYNC_TEST_QUERY` says otherwise: it
/// needs no resolver, so it succeeds on any schema once the key is accepted.
pub const DEFAULT_TEST_QUERY: &str = "{ __typename }";

/// AppSync accepts expiries 1 to 365 days ahead (CreateApiKey / UpdateApiKey reference,
/// `ApiKeyValidityOutOfBoundsException`); edgeseal asks for at least 2 days, so that the
/// rounding down to the hour AppSync applies never lands below its 1-day minimum.
pub(crate) const KEY_VALIDITY_DAYS: std::ops::RangeInclusive<u64> = 2..=365;

/// The settings of the `appsync-api-key` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSyncSettings {
    /// `APPSYNC_API_ID` (or the prior art's `AppSyncApiId`): the GraphQL API whose keys
    /// are rotated. Required.
    pub api_id: String,
    /// `APPSYNC_GRAPHQL_URL`: where testSecret sends its request. Default: the API's own
    /// endpoint (`GetGraphqlApi` → `uris.GRAPHQL`); set it for a custom domain or a
    /// CloudFront distribution in front.
    pub graphql_url: Option<http::Uri>,
    /// `APPSYNC_TEST_QUERY`, default `{ __typename }`.
    pub test_query: String,
    /// `APPSYNC_KEY_VALIDITY_DAYS`, default 365 (2–365): how long a new key is valid. It
    /// must outlive the rotation interval plus the grace, or the key clients hold expires
    /// before the next rotation replaces it; createSecret refuses a shorter one when the
    /// secret's schedule says so.
    pub key_validity_days: u64,
    /// `PREVIOUS_KEY_GRACE_SECS`, default 3600 (as the authorizer's): how long the key of
    /// the version that stopped being AWSCURRENT stays valid, for clients that cached the
    /// secret. AppSync cannot end a key sooner than 1 day after an update, so it stays
    /// valid at least that long; it is deleted once the grace has passed.
    pub previous_key_grace: Duration,
    /// `ORIGIN_TEST_TIMEOUT_MS`, default 5000: the whole GraphQL test request.
    pub test_timeout: Duration,
}

impl AppSyncSettings {
    /// Default `PREVIOUS_KEY_GRACE_SECS` (the authorizer's default, for the same reason:
    /// clients holding the previous value must finish with it).
    pub const DEFAULT_PREVIOUS_KEY_GRACE_SECS: u64 = 3600;

    /// Read the settings through `lookup` (the environment, or a map in tests). Empty
    /// values count as unset. Every error names its variable.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let api_id = match (get("APPSYNC_API_ID"), get(PRIOR_ART_API_ID_VAR)) {
            (Some(ours), Some(theirs)) if ours != theirs => {
                return Err(invalid(
                    "APPSYNC_API_ID",
                    "differs from AppSyncApiId (the prior art's name for it); set one of them",
                ));
            }
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => return Err(ConfigError::Missing("APPSYNC_API_ID")),
        };
        // AppSync API ids are 26 lowercase alphanumerics; moto's are UUIDs. Both fit in a
        // URL path segment, which is all the calls need.
        if api_id.len() > 128
            || !api_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(
                "APPSYNC_API_ID",
                "an AppSync API id is letters and digits (see the API's settings page)",
            ));
        }

        let graphql_url = match get("APPSYNC_GRAPHQL_URL") {
            None => None,
            Some(url) => {
                let uri: http::Uri = url
                    .parse()
                    .map_err(|_| invalid("APPSYNC_GRAPHQL_URL", "not a valid absolute URL"))?;
                if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.authority().is_none()
                {
                    return Err(invalid(
                        "APPSYNC_GRAPHQL_URL",
                        "must be an absolute http(s) URL with a host",
                    ));
                }
                Some(uri)
            }
        };

        let test_query = get("APPSYNC_TEST_QUERY").unwrap_or_else(|| DEFAULT_TEST_QUERY.to_owned());
        if test_query.len() > 10_000 {
            return Err(invalid("APPSYNC_TEST_QUERY", "longer than 10000 bytes"));
        }

        let key_validity_days = number(
            &get,
            "APPSYNC_KEY_VALIDITY_DAYS",
            365,
            *KEY_VALIDITY_DAYS.start(),
            *KEY_VALIDITY_DAYS.end(),
        )?;
        let grace_secs = number(
            &get,
            "PREVIOUS_KEY_GRACE_SECS",
            Self::DEFAULT_PREVIOUS_KEY_GRACE_SECS,
            0,
            90 * 86_400,
        )?;
        if grace_secs >= key_validity_days * 86_400 {
            return Err(invalid(
                "PREVIOUS_KEY_GRACE_SECS",
                "must be shorter than APPSYNC_KEY_VALIDITY_DAYS",
            ));
        }

        Ok(Self {
            api_id,
            graphql_url,
            test_query,
            key_validity_days,
            previous_key_grace: Duration::from_secs(grace_secs),
            test_timeout: Duration::from_millis(number(
                &get,
                "ORIGIN_TEST_TIMEOUT_MS",
                5_000,
                1,
                600_000,
            )?),
        })
    }

    /// A new key's validity in seconds.
    pub fn key_validity_secs(&self) -> u64 {
        self.key_validity_days * 86_400
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<AppSyncSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AppSyncSettings::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_keep_the_prior_art_names_and_the_longest_validity() {
        let s = settings(&[("AppSyncApiId", "abcdefghijklmnopqrstuvwxyz")]).unwrap();
        assert_eq!(s.api_id, "abcdefghijklmnopqrstuvwxyz");
        assert_eq!(s.test_query, "{ __typename }");
        assert_eq!(s.graphql_url, None);
        assert_eq!(s.key_validity_days, 365);
        assert_eq!(s.previous_key_grace, Duration::from_secs(3600));
        assert_eq!(s.test_timeout, Duration::from_secs(5));
        let ours = settings(&[("APPSYNC_API_ID", "abcdefghijklmnopqrstuvwxyz")]).unwrap();
        assert_eq!(ours, s);
    }

    #[test]
    fn the_api_id_is_required_and_its_two_names_must_agree() {
        assert_eq!(
            settings(&[]).unwrap_err(),
            ConfigError::Missing("APPSYNC_API_ID")
        );
        let err = settings(&[("APPSYNC_API_ID", "aaaa"), ("AppSyncApiId", "bbbb")]).unwrap_err();
        assert!(
            err.to_string().starts_with("APPSYNC_API_ID is invalid"),
            "{err}"
        );
        assert!(err.to_string().contains("AppSyncApiId"), "{err}");
        assert!(settings(&[("APPSYNC_API_ID", "aaaa"), ("AppSyncApiId", "aaaa")]).is_ok());
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases: [(&str, &str); 9] = [
            ("APPSYNC_API_ID", "api/../other"),
            ("APPSYNC_GRAPHQL_URL", "not a url"),
            ("APPSYNC_GRAPHQL_URL", "ftp://x.example/graphql"),
            ("APPSYNC_KEY_VALIDITY_DAYS", "1"),
            ("APPSYNC_KEY_VALIDITY_DAYS", "366"),
            ("APPSYNC_KEY_VALIDITY_DAYS", "a year"),
            ("PREVIOUS_KEY_GRACE_SECS", "-1"),
            ("PREVIOUS_KEY_GRACE_SECS", "172800"),
            ("ORIGIN_TEST_TIMEOUT_MS", "0"),
        ];
        for (var, value) in cases {
            let mut vars = vec![("APPSYNC_KEY_VALIDITY_DAYS", "2")];
            if var != "APPSYNC_API_ID" {
                vars.push(("APPSYNC_API_ID", "abc123"));
            }
            vars.retain(|(k, _)| *k != var);
            vars.push((var, value));
            let err = settings(&vars).unwrap_err();
            assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn an_explicit_endpoint_and_query_are_kept() {
        let s = settings(&[
            ("APPSYNC_API_ID", "abc123"),
            ("APPSYNC_GRAPHQL_URL", "https://api.example.com/graphql"),
            ("APPSYNC_TEST_QUERY", "query Health { health }"),
        ])
        .unwrap();
        assert_eq!(
            s.graphql_url.unwrap().to_string(),
            "https://api.example.com/graphql"
        );
        assert_eq!(s.test_query, "query Health { health }");
    }
}

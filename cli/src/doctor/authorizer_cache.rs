//! The API's authorizer result cache: when it can answer for the authorizer, and the
//! one decision for HTTP API and REST API authorizers alike.
//!
//! What API Gateway does (evidence):
//! - `authorizerResultTtlInSeconds`: 0 disables the cache, more than 0 caches the
//!   authorizer's response; for REST API authorizers "if this field is not set, the
//!   default value is 300" (API Gateway API reference, `Authorizer`; the HTTP API
//!   reference gives no default, and the HTTP API console and CloudFormation leave it
//!   at 0 unless set). moto answers 300 for a REST authorizer created without one too.
//! - The cache key is the identity sources: "when multiple identity sources are
//!   defined they are used in combination to create the cache key" (AWS support on
//!   re:Post, "Authorization Lambda caching based on api-key and path").
//! - The cached policy "is then applied to any additional API requests made within the
//!   cache's specified time-to-live" (AWS Knowledge Center,
//!   api-gateway-lambda-authorization-errors); edgeseal's authorizer allows the request's
//!   `methodArn`/`routeArn`, which names method and path, never the query.
//!
//! So with any TTL above 0 a cached Allow answers for requests the authorizer would deny:
//! keyed on anything but both signature headers, one Allow admits other requests,
//! unsigned ones included; keyed on both, a replay of one signed request's headers is
//! allowed with another query string, and up to the TTL after the signature's maximum
//! age. Every signature is unique, so legitimate traffic never hits the cache: it buys
//! nothing. Hence the rule: every Lambda authorizer of the API must have TTL 0
//! (`docs/deployment.md`, "Why the authorizer has no result cache").

use super::probes::default_origin;
use super::{Authorizer, AuthorizerKind, Distribution, Environment, Finding};

/// The TTL REST API authorizers cache for when `authorizerResultTtlInSeconds` is unset.
pub const REST_DEFAULT_TTL_SECS: u32 = 300;

/// How a cached Allow can admit a request the authorizer would deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheRisk {
    /// The cache key is not both signature headers (a `TOKEN` authorizer sees one header
    /// only): one Allow admits other requests, unsigned ones included, for the TTL.
    NotKeyedOnSignature,
    /// Keyed on both signature headers: a replay of one signed request's headers is
    /// allowed with any query string, and up to the TTL past the signature's max age.
    ReplayOutlivesSignature,
}

impl CacheRisk {
    /// What it lets through.
    pub const fn describe(self) -> &'static str {
        match self {
            CacheRisk::NotKeyedOnSignature => {
                "its cache key is not both signature headers: one Allow admits other requests, unsigned ones included, for the TTL"
            }
            CacheRisk::ReplayOutlivesSignature => {
                "a replay of one signed request's headers is answered from the cache for the TTL: with another query string, and after the signature's maximum age"
            }
        }
    }
}

/// The TTL API Gateway applies: the set value, or the service default when unset.
pub fn effective_ttl_secs(authorizer: &Authorizer) -> u32 {
    match (authorizer.kind, authorizer.ttl_secs) {
        (_, Some(ttl)) => ttl,
        (AuthorizerKind::RestRequest | AuthorizerKind::RestToken, None) => REST_DEFAULT_TTL_SECS,
        (AuthorizerKind::HttpRequest, None) => 0,
    }
}

fn keyed_on_both_signature_headers(sources: &[String]) -> bool {
    let has = |field: &str| {
        sources
            .iter()
            .any(|s| s.to_ascii_lowercase().ends_with(&format!("header.{field}")))
    };
    has("signature-input") && has("signature")
}

/// The decision: `None` when the cache can never answer for the authorizer (TTL 0).
pub fn risk(authorizer: &Authorizer) -> Option<CacheRisk> {
    if effective_ttl_secs(authorizer) == 0 {
        None
    } else if authorizer.kind == AuthorizerKind::RestToken
        || !keyed_on_both_signature_headers(&authorizer.identity_sources)
    {
        Some(CacheRisk::NotKeyedOnSignature)
    } else {
        Some(CacheRisk::ReplayOutlivesSignature)
    }
}

/// The command that turns the cache off. A REST API runs a change only once deployed
/// to the stage; an HTTP API stage with automatic deployment (the template's) picks it
/// up by itself.
pub fn disable_command(authorizer: &Authorizer, stage: Option<&str>) -> String {
    match authorizer.kind {
        AuthorizerKind::HttpRequest => format!(
            "aws apigatewayv2 update-authorizer --api-id {} --authorizer-id {} --authorizer-result-ttl-in-seconds 0",
            authorizer.api_id, authorizer.id
        ),
        AuthorizerKind::RestRequest | AuthorizerKind::RestToken => format!(
            "aws apigateway update-authorizer --rest-api-id {api} --authorizer-id {id} --patch-operations op=replace,path=/authorizerResultTtlInSeconds,value=0 && aws apigateway create-deployment --rest-api-id {api} --stage-name {stage}",
            api = authorizer.api_id,
            id = authorizer.id,
            stage = stage.unwrap_or("<stage>"),
        ),
    }
}

/// The finding over every Lambda authorizer of the API; `stage` is the REST stage the
/// origin path names.
pub fn finding(authorizers: &[Authorizer], stage: Option<&str>) -> Finding {
    let f = Finding::new(
        "authorizer-cache",
        "API Gateway never answers from a cached Allow for a request the authorizer would deny (every Lambda authorizer's result cache is off)",
    );
    let detail = authorizers
        .iter()
        .map(|a| {
            format!(
                "{} ({}): ttl {} s{}, identity {}",
                a.name,
                a.id,
                effective_ttl_secs(a),
                if a.ttl_secs.is_none() {
                    " (unset: the service default)"
                } else {
                    ""
                },
                if a.identity_sources.is_empty() {
                    "none".to_owned()
                } else {
                    a.identity_sources.join(",")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let risky: Vec<(&Authorizer, CacheRisk)> = authorizers
        .iter()
        .filter_map(|a| risk(a).map(|r| (a, r)))
        .collect();
    if risky.is_empty() {
        return f.pass(detail);
    }
    f.fail(
        detail,
        risky
            .iter()
            .map(|(a, r)| format!("authorizer {}: {}", a.name, r.describe()))
            .collect::<Vec<_>>()
            .join("; "),
        format!(
            "set AuthorizerResultTtlInSeconds to 0 (every signature is unique, so a cache never hits for real traffic): {}",
            risky
                .iter()
                .map(|(a, _)| disable_command(a, stage))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
}

/// The REST stage an origin path names (`/prod` or `/prod/base` → `prod`).
fn stage_of(origin_path: &str) -> Option<&str> {
    origin_path.split('/').find(|s| !s.is_empty())
}

/// Read the authorizers of the API behind the default origin and decide.
pub async fn check<E: Environment>(env: &E, distribution: &Distribution) -> Finding {
    let skipped = Finding::new(
        "authorizer-cache",
        "API Gateway never answers from a cached Allow for a request the authorizer would deny",
    );
    let Some((_, domain, origin_path)) = default_origin(distribution) else {
        return skipped.skip("no origin");
    };
    let authorizers = match env.authorizers(&domain).await {
        Ok(a) => a,
        Err(e) => return skipped.skip(format!("cannot read the API's authorizers: {e}")),
    };
    if authorizers.is_empty() {
        return skipped.skip(format!("no Lambda authorizer found for {domain}"));
    }
    finding(&authorizers, stage_of(&origin_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    fn authorizer(kind: AuthorizerKind, ttl: Option<u32>, sources: &[&str]) -> Authorizer {
        Authorizer {
            api_id: "a1b2c3".into(),
            id: "auth1".into(),
            name: "edgeseal".into(),
            kind,
            ttl_secs: ttl,
            identity_sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    const HTTP_BOTH: [&str; 2] = [
        "$request.header.signature-input",
        "$request.header.signature",
    ];
    const REST_BOTH: [&str; 2] = [
        "method.request.header.Signature-Input",
        "method.request.header.Signature",
    ];

    #[test]
    fn ttl_zero_passes_whatever_the_key() {
        for kind in [
            AuthorizerKind::HttpRequest,
            AuthorizerKind::RestRequest,
            AuthorizerKind::RestToken,
        ] {
            assert_eq!(risk(&authorizer(kind, Some(0), &[])), None, "{kind:?}");
        }
        assert_eq!(
            risk(&authorizer(AuthorizerKind::HttpRequest, None, &HTTP_BOTH)),
            None
        );
    }

    #[test]
    fn unset_rest_ttl_is_the_300_s_default_and_fails() {
        let a = authorizer(AuthorizerKind::RestRequest, None, &REST_BOTH);
        assert_eq!(effective_ttl_secs(&a), 300);
        assert_eq!(risk(&a), Some(CacheRisk::ReplayOutlivesSignature));
    }

    #[test]
    fn any_positive_ttl_fails_even_keyed_on_both_headers() {
        for (kind, sources) in [
            (AuthorizerKind::HttpRequest, HTTP_BOTH),
            (AuthorizerKind::RestRequest, REST_BOTH),
        ] {
            assert_eq!(
                risk(&authorizer(kind, Some(1), &sources)),
                Some(CacheRisk::ReplayOutlivesSignature),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_key_other_than_both_headers_admits_other_requests() {
        for sources in [
            &["$request.header.signature"][..],
            &["$request.header.x-origin-verify"][..],
            &[][..],
        ] {
            assert_eq!(
                risk(&authorizer(AuthorizerKind::HttpRequest, Some(60), sources)),
                Some(CacheRisk::NotKeyedOnSignature),
                "{sources:?}"
            );
        }
        assert_eq!(
            risk(&authorizer(AuthorizerKind::RestToken, Some(60), &REST_BOTH)),
            Some(CacheRisk::NotKeyedOnSignature)
        );
    }

    #[test]
    fn the_fix_names_the_api_the_authorizer_and_the_rest_stage() {
        let rest = finding(
            &[authorizer(AuthorizerKind::RestRequest, None, &REST_BOTH)],
            stage_of("/prod"),
        );
        assert_eq!(rest.verdict, Verdict::Fail);
        assert!(rest.detail.contains("ttl 300 s (unset"), "{}", rest.detail);
        assert_eq!(
            rest.fix.as_deref().unwrap().split_once(": ").unwrap().1,
            "aws apigateway update-authorizer --rest-api-id a1b2c3 --authorizer-id auth1 --patch-operations op=replace,path=/authorizerResultTtlInSeconds,value=0 && aws apigateway create-deployment --rest-api-id a1b2c3 --stage-name prod"
        );
        let http = finding(
            &[authorizer(
                AuthorizerKind::HttpRequest,
                Some(60),
                &HTTP_BOTH,
            )],
            None,
        );
        assert!(
            http.fix
                .as_deref()
                .unwrap()
                .ends_with("aws apigatewayv2 update-authorizer --api-id a1b2c3 --authorizer-id auth1 --authorizer-result-ttl-in-seconds 0")
        );
        let off = finding(
            &[authorizer(AuthorizerKind::RestRequest, Some(0), &REST_BOTH)],
            None,
        );
        assert_eq!(off.verdict, Verdict::Pass);
    }

    #[test]
    fn the_stage_is_the_first_origin_path_segment() {
        assert_eq!(stage_of("/prod"), Some("prod"));
        assert_eq!(stage_of("/prod/base"), Some("prod"));
        assert_eq!(stage_of(""), None);
    }
}

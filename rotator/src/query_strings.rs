//! Whether the edge signer sees the query string it signs.
//!
//! CloudFront shows an origin-request function the query string only when the cache
//! behavior forwards all query strings to the origin: its cache policy or origin request
//! policy has `QueryStringBehavior` `all`, or (legacy settings) `ForwardedValues` has
//! `QueryString` true (CloudFront developer guide, "Restrictions on all edge functions",
//! *Query strings*). With an allow-list the edge signs a query string other than the one
//! the origin receives, and every request with a query string is denied. So the rotator
//! refuses to point the signer at such a behavior, and `edgeseal status --check` reports
//! it, both through [`hidden_query_string_behaviors`].

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{
    DistributionConfig, EventType, ForwardedValues, LambdaFunctionAssociations,
};

use crate::aws::{ApiError, DistributionApi};
use crate::rotator::unqualified;

/// A policy a cache behavior names, by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyRef {
    /// `CachePolicyId`.
    Cache(String),
    /// `OriginRequestPolicyId`.
    OriginRequest(String),
}

/// One cache behavior, as far as query strings are concerned.
struct Behavior<'a> {
    /// `*` for the default behavior, else its `PathPattern`.
    path_pattern: &'a str,
    policies: Vec<PolicyRef>,
    legacy_forwards_all: bool,
    associations: Option<&'a LambdaFunctionAssociations>,
}

fn policies(cache: Option<&str>, origin_request: Option<&str>) -> Vec<PolicyRef> {
    let cache = cache
        .filter(|id| !id.is_empty())
        .map(|id| PolicyRef::Cache(id.to_owned()));
    let origin_request = origin_request
        .filter(|id| !id.is_empty())
        .map(|id| PolicyRef::OriginRequest(id.to_owned()));
    cache.into_iter().chain(origin_request).collect()
}

/// Legacy cache settings: `QueryString` true forwards every query string (only the cache
/// key may be narrowed by `QueryStringCacheKeys`). Deprecated in the SDK, still honoured
/// by CloudFront on distributions that use them.
fn legacy(forwarded: Option<&ForwardedValues>) -> bool {
    forwarded.is_some_and(|f| f.query_string)
}

#[allow(deprecated)] // `forwarded_values`: see `legacy`
fn behaviors(config: &DistributionConfig) -> Vec<Behavior<'_>> {
    let default = config.default_cache_behavior.iter().map(|b| Behavior {
        path_pattern: "*",
        policies: policies(
            b.cache_policy_id.as_deref(),
            b.origin_request_policy_id.as_deref(),
        ),
        legacy_forwards_all: legacy(b.forwarded_values.as_ref()),
        associations: b.lambda_function_associations.as_ref(),
    });
    let others = config
        .cache_behaviors
        .iter()
        .flat_map(|c| c.items.iter().flatten())
        .map(|b| Behavior {
            path_pattern: b.path_pattern.as_str(),
            policies: policies(
                b.cache_policy_id.as_deref(),
                b.origin_request_policy_id.as_deref(),
            ),
            legacy_forwards_all: legacy(b.forwarded_values.as_ref()),
            associations: b.lambda_function_associations.as_ref(),
        });
    default.chain(others).collect()
}

/// The behaviors whose origin-request association names `function` (unqualified ARN).
fn signed_behaviors<'a>(
    config: &'a DistributionConfig,
    function: &'a str,
) -> impl Iterator<Item = Behavior<'a>> + 'a {
    behaviors(config).into_iter().filter(move |b| {
        b.associations
            .iter()
            .flat_map(|a| a.items.iter().flatten())
            .any(|a| {
                a.event_type == EventType::OriginRequest
                    && unqualified(&a.lambda_function_arn) == function
            })
    })
}

/// The policies to look up before [`behaviors_hiding_query_strings`] can answer.
pub fn policies_to_resolve(config: &DistributionConfig, function: &str) -> Vec<PolicyRef> {
    let mut all: Vec<PolicyRef> = signed_behaviors(config, function)
        .flat_map(|b| b.policies)
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The path patterns (`*` = the default behavior) of the behaviors that run `function`
/// on origin requests without forwarding all query strings. `forwards_all` says, per
/// policy, whether its `QueryStringBehavior` is `all`; a policy missing from it counts as
/// not forwarding. Pure: callers resolve the policies (see
/// [`hidden_query_string_behaviors`]).
pub fn behaviors_hiding_query_strings(
    config: &DistributionConfig,
    function: &str,
    forwards_all: &BTreeMap<PolicyRef, bool>,
) -> Vec<String> {
    signed_behaviors(config, function)
        .filter(|b| {
            !b.legacy_forwards_all
                && !b
                    .policies
                    .iter()
                    .any(|p| forwards_all.get(p).copied().unwrap_or(false))
        })
        .map(|b| b.path_pattern.to_owned())
        .collect()
}

/// [`behaviors_hiding_query_strings`], with the policies looked up through `cdn`.
pub async fn hidden_query_string_behaviors(
    cdn: &impl DistributionApi,
    config: &DistributionConfig,
    function: &str,
) -> Result<Vec<String>, ApiError> {
    let mut forwards_all = BTreeMap::new();
    for policy in policies_to_resolve(config, function) {
        let all = cdn.policy_forwards_all_query_strings(&policy).await?;
        forwards_all.insert(policy, all);
    }
    Ok(behaviors_hiding_query_strings(
        config,
        function,
        &forwards_all,
    ))
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudfront::types::{
        CacheBehavior, CacheBehaviors, DefaultCacheBehavior, LambdaFunctionAssociation,
        ViewerProtocolPolicy,
    };

    use super::*;

    const EDGE: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

    fn association() -> LambdaFunctionAssociations {
        LambdaFunctionAssociations::builder()
            .quantity(1)
            .items(
                LambdaFunctionAssociation::builder()
                    .lambda_function_arn(format!("{EDGE}:3"))
                    .event_type(EventType::OriginRequest)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn config() -> DistributionConfig {
        let behavior = |pattern: &str, cache: &str, origin: Option<&str>, signed: bool| {
            let mut b = CacheBehavior::builder()
                .path_pattern(pattern)
                .target_origin_id("api")
                .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                .cache_policy_id(cache)
                .set_origin_request_policy_id(origin.map(str::to_owned));
            if signed {
                b = b.lambda_function_associations(association());
            }
            b.build().unwrap()
        };
        DistributionConfig::builder()
            .caller_reference("r")
            .comment("c")
            .enabled(true)
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("api")
                    .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                    .cache_policy_id("no-query")
                    .origin_request_policy_id("all-viewer")
                    .lambda_function_associations(association())
                    .build()
                    .unwrap(),
            )
            .cache_behaviors(
                CacheBehaviors::builder()
                    .quantity(3)
                    .items(behavior("/search/*", "allow-list", None, true))
                    .items(behavior("/static/*", "no-query", None, false))
                    .items(behavior("/api/*", "all-query", None, true))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn a_signed_behavior_without_an_all_policy_is_named() {
        let c = config();
        assert_eq!(
            policies_to_resolve(&c, EDGE),
            [
                PolicyRef::Cache("all-query".into()),
                PolicyRef::Cache("allow-list".into()),
                PolicyRef::Cache("no-query".into()),
                PolicyRef::OriginRequest("all-viewer".into()),
            ]
        );
        let forwards = BTreeMap::from([
            (PolicyRef::Cache("all-query".into()), true),
            (PolicyRef::Cache("allow-list".into()), false),
            (PolicyRef::Cache("no-query".into()), false),
            (PolicyRef::OriginRequest("all-viewer".into()), true),
        ]);
        // The default behavior forwards through its origin request policy; /static/* does
        // not run the signer; /search/* has only an allow-list.
        assert_eq!(
            behaviors_hiding_query_strings(&c, EDGE, &forwards),
            ["/search/*"]
        );
        // An unresolved policy counts as not forwarding (fail closed).
        assert_eq!(
            behaviors_hiding_query_strings(&c, EDGE, &BTreeMap::new()),
            ["*", "/search/*", "/api/*"]
        );
    }

    #[test]
    #[allow(deprecated)]
    fn legacy_forwarded_values_with_query_string_forward_all() {
        let mut c = config();
        let default = c.default_cache_behavior.as_mut().unwrap();
        default.cache_policy_id = None;
        default.origin_request_policy_id = None;
        default.forwarded_values = Some(
            ForwardedValues::builder()
                .query_string(true)
                .cookies(
                    aws_sdk_cloudfront::types::CookiePreference::builder()
                        .forward(aws_sdk_cloudfront::types::ItemSelection::None)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
        let forwards = BTreeMap::from([
            (PolicyRef::Cache("all-query".into()), true),
            (PolicyRef::Cache("allow-list".into()), false),
        ]);
        assert_eq!(
            behaviors_hiding_query_strings(&c, EDGE, &forwards),
            ["/search/*"]
        );
    }
}

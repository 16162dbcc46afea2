//! Whether the edge signer sees the query string it signs.
//!
//! CloudFront shows an origin-request function the query string only when the cache
//! behavior forwards all query strings to the origin: its cache policy or origin request
//! policy has `QueryStringBehavior` `all`, or (legacy settings) `ForwardedValues` has
//! `QueryString` true (CloudFront developer guide, "Restrictions on all edge functions",
//! *Query strings*). With an allow-list the edge signs a query string other than the one
//! the origin receives, and every request with a query string is denied. So the rotator
//! refuses to point the signer at such a behavior, and `edgeseal status --check` and
//! `edgeseal doctor` report it, all through [`behaviors_hiding_query_strings`] with the
//! policies resolved by [`resolve_policies`].

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_cloudfront::types::{
    DistributionConfig, EventType, ForwardedValues, LambdaFunctionAssociations,
};

use super::edits::unqualified;
use crate::aws::{ApiError, DistributionApi, PolicyRef};

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

/// CloudFront's managed policies whose query-string behavior AWS fixes, so no
/// `GetCachePolicy` / `GetOriginRequestPolicy` is needed (and none is possible on moto,
/// which does not hold them): CloudFront Developer Guide, "Use managed cache policies"
/// and "Use managed origin request policies". `Some(true)`: all query strings go to the
/// origin; `None`: not a managed policy this table knows, ask CloudFront.
pub fn managed(policy: &PolicyRef) -> Option<bool> {
    match policy {
        PolicyRef::Cache(id) => match id.as_str() {
            // CachingDisabled, CachingOptimized: no query string in the cache key.
            "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" | "658327ea-f89d-4fab-a63d-7e88639e58f6" => {
                Some(false)
            }
            // UseOriginCacheControlHeaders-QueryStrings: all.
            "4cc15a8a-d715-48a4-82b8-cc0b614638fe" => Some(true),
            _ => None,
        },
        PolicyRef::OriginRequest(id) => match id.as_str() {
            // AllViewer, AllViewerExceptHostHeader: all.
            "216adef6-5c7f-47e4-b989-5492eafa07d3" | "b689b0a8-53d0-40ab-baf2-68738e2966ac" => {
                Some(true)
            }
            // CORS-S3Origin: none.
            "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf" => Some(false),
            _ => None,
        },
    }
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
            // A behavior names either policies or legacy `ForwardedValues`, never both
            // (CloudFront API Reference, `CacheBehavior`: "must include either a
            // CachePolicyId or ForwardedValues"); should both appear, the policies
            // decide, as they do in CloudFront. The policies' answers add up: CloudFront
            // forwards what either the cache or the origin request policy includes.
            let forwards = if b.policies.is_empty() {
                b.legacy_forwards_all
            } else {
                b.policies
                    .iter()
                    .any(|p| forwards_all.get(p).copied().unwrap_or(false))
            };
            !forwards
        })
        .map(|b| b.path_pattern.to_owned())
        .collect()
}

/// Whether each policy forwards all query strings: [`managed`] answers for AWS's managed
/// policies, `ask` (a `GetCachePolicy` / `GetOriginRequestPolicy`) for the others. The
/// first error stops the lookup.
pub async fn resolve_policies<E, F, Fut>(
    policies: impl IntoIterator<Item = PolicyRef>,
    mut ask: F,
) -> Result<BTreeMap<PolicyRef, bool>, E>
where
    F: FnMut(PolicyRef) -> Fut,
    Fut: Future<Output = Result<bool, E>>,
{
    let mut forwards_all = BTreeMap::new();
    for policy in policies {
        if forwards_all.contains_key(&policy) {
            continue;
        }
        let all = match managed(&policy) {
            Some(all) => all,
            None => ask(policy.clone()).await?,
        };
        forwards_all.insert(policy, all);
    }
    Ok(forwards_all)
}

/// [`behaviors_hiding_query_strings`], with the policies resolved through `cdn`.
pub async fn hidden_query_string_behaviors(
    cdn: &impl DistributionApi,
    config: &DistributionConfig,
    function: &str,
) -> Result<Vec<String>, ApiError> {
    let forwards_all =
        resolve_policies(policies_to_resolve(config, function), |policy| async move {
            cdn.policy_forwards_all_query_strings(&policy).await
        })
        .await?;
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

    /// A behavior's legacy `ForwardedValues` that forward every query string.
    #[allow(deprecated)]
    fn legacy_forwarding_query_strings() -> ForwardedValues {
        ForwardedValues::builder()
            .query_string(true)
            .cookies(
                aws_sdk_cloudfront::types::CookiePreference::builder()
                    .forward(aws_sdk_cloudfront::types::ItemSelection::None)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    #[allow(deprecated)]
    fn legacy_forwarded_values_with_query_string_forward_all() {
        let mut c = config();
        let default = c.default_cache_behavior.as_mut().unwrap();
        default.cache_policy_id = None;
        default.origin_request_policy_id = None;
        default.forwarded_values = Some(legacy_forwarding_query_strings());
        let forwards = BTreeMap::from([
            (PolicyRef::Cache("all-query".into()), true),
            (PolicyRef::Cache("allow-list".into()), false),
        ]);
        assert_eq!(
            behaviors_hiding_query_strings(&c, EDGE, &forwards),
            ["/search/*"]
        );
    }

    #[test]
    #[allow(deprecated)]
    fn policies_decide_over_legacy_forwarded_values() {
        let mut c = config();
        let default = c.default_cache_behavior.as_mut().unwrap();
        default.origin_request_policy_id = None;
        default.forwarded_values = Some(legacy_forwarding_query_strings());
        let forwards = BTreeMap::from([
            (PolicyRef::Cache("all-query".into()), true),
            (PolicyRef::Cache("no-query".into()), false),
        ]);
        // The default behavior's cache policy forwards none: its stale ForwardedValues
        // do not count.
        assert_eq!(
            behaviors_hiding_query_strings(&c, EDGE, &forwards),
            ["*", "/search/*"]
        );
    }

    #[tokio::test]
    async fn managed_policies_are_known_without_asking() {
        const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
        const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
        let mut asked = Vec::new();
        let resolved = resolve_policies(
            [
                PolicyRef::Cache(CACHING_DISABLED.into()),
                PolicyRef::OriginRequest(ALL_VIEWER_EXCEPT_HOST.into()),
                PolicyRef::Cache("custom".into()),
                PolicyRef::Cache("custom".into()),
            ],
            |p| {
                asked.push(p);
                async { Ok::<_, ()>(true) }
            },
        )
        .await
        .unwrap();
        assert_eq!(asked, [PolicyRef::Cache("custom".into())]);
        assert_eq!(
            resolved,
            BTreeMap::from([
                (PolicyRef::Cache(CACHING_DISABLED.into()), false),
                (PolicyRef::Cache("custom".into()), true),
                (
                    PolicyRef::OriginRequest(ALL_VIEWER_EXCEPT_HOST.into()),
                    true
                ),
            ])
        );
        assert_eq!(
            resolve_policies([PolicyRef::Cache("custom".into())], |_| async {
                Err::<bool, _>("denied")
            })
            .await,
            Err("denied")
        );
    }
}

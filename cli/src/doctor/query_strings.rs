//! Does a cache behavior forward every query string to the origin? An origin-request
//! function sees the query string only then, and the signature covers `@query`
//! (CloudFront Developer Guide, "Restrictions on edge functions", query strings).
//!
//! Pure, over what the behavior names. Issue 11 adds the same check to the rotator's
//! library for `status --check`; once that is on main, this module should call it
//! instead (noted in issue 12's report).

use super::PolicyRef;

/// What a behavior names that decides query-string forwarding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BehaviorForwarding {
    /// `CachePolicyId`.
    pub cache_policy: Option<String>,
    /// `OriginRequestPolicyId`.
    pub origin_request_policy: Option<String>,
    /// Legacy `ForwardedValues.QueryString` (behaviors without a cache policy).
    pub legacy_query_string: Option<bool>,
}

/// CloudFront's managed policies whose query-string behavior is fixed ("Use managed
/// cache policies", "Use managed origin request policies", CloudFront Developer Guide).
/// `true`: all query strings go to the origin.
pub fn managed(policy: PolicyRef<'_>) -> Option<bool> {
    match policy {
        // CachingDisabled, CachingOptimized: none in the cache key.
        PolicyRef::Cache("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
        | PolicyRef::Cache("658327ea-f89d-4fab-a63d-7e88639e58f6") => Some(false),
        // UseOriginCacheControlHeaders-QueryStrings: all.
        PolicyRef::Cache("4cc15a8a-d715-48a4-82b8-cc0b614638fe") => Some(true),
        // AllViewer, AllViewerExceptHostHeader: all.
        PolicyRef::OriginRequest("216adef6-5c7f-47e4-b989-5492eafa07d3")
        | PolicyRef::OriginRequest("b689b0a8-53d0-40ab-baf2-68738e2966ac") => Some(true),
        // CORS-S3Origin: none.
        PolicyRef::OriginRequest("88a5eaf4-2fd4-4709-b370-b4c650ea3fcf") => Some(false),
        _ => None,
    }
}

/// Whether the behavior forwards all query strings, given each policy's answer
/// (`lookup` is asked only for policies that are set). CloudFront forwards the union of
/// what the cache policy and the origin request policy include.
pub fn forwards_all(
    behavior: &BehaviorForwarding,
    mut lookup: impl FnMut(PolicyRef<'_>) -> bool,
) -> bool {
    if behavior.cache_policy.is_none() && behavior.origin_request_policy.is_none() {
        return behavior.legacy_query_string.unwrap_or(false);
    }
    behavior
        .cache_policy
        .as_deref()
        .is_some_and(|id| lookup(PolicyRef::Cache(id)))
        || behavior
            .origin_request_policy
            .as_deref()
            .is_some_and(|id| lookup(PolicyRef::OriginRequest(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behavior(
        cache: Option<&str>,
        origin: Option<&str>,
        legacy: Option<bool>,
    ) -> BehaviorForwarding {
        BehaviorForwarding {
            cache_policy: cache.map(str::to_owned),
            origin_request_policy: origin.map(str::to_owned),
            legacy_query_string: legacy,
        }
    }

    fn known(p: PolicyRef<'_>) -> bool {
        managed(p).unwrap_or(false)
    }

    #[test]
    fn caching_disabled_alone_drops_the_query_and_all_viewer_adds_it() {
        let disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
        assert!(!forwards_all(&behavior(Some(disabled), None, None), known));
        assert!(forwards_all(
            &behavior(
                Some(disabled),
                Some("b689b0a8-53d0-40ab-baf2-68738e2966ac"),
                None
            ),
            known
        ));
    }

    #[test]
    fn legacy_forwarded_values_decide_without_policies() {
        assert!(forwards_all(&behavior(None, None, Some(true)), known));
        assert!(!forwards_all(&behavior(None, None, Some(false)), known));
        assert!(!forwards_all(&behavior(None, None, None), known));
    }

    #[test]
    fn custom_policies_are_looked_up() {
        let mut asked = Vec::new();
        let all = forwards_all(
            &behavior(Some("custom-cache"), Some("custom-origin"), None),
            |p| {
                asked.push(format!("{p:?}"));
                matches!(p, PolicyRef::OriginRequest(_))
            },
        );
        assert!(all);
        assert_eq!(asked.len(), 2);
    }
}

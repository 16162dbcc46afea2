//! Pure edits and reads of a CloudFront `DistributionConfig`: which Lambda@Edge
//! associations and origin custom headers it has, and changing them. No AWS call here;
//! [`super::distributions`] reads and writes the configs these functions work on.

use aws_sdk_cloudfront::types::{DistributionConfig, EventType, LambdaFunctionAssociation};
use edgeseal::StaticHeaderValue;

/// `arn:aws:lambda:us-east-1:123:function:name:7` → `arn:aws:lambda:us-east-1:123:function:name`
/// ([`edgeseal::unqualified_arn`], re-exported here for the associations' readers).
pub use edgeseal::unqualified_arn as unqualified;

/// Every Lambda@Edge association of the default and the other cache behaviors.
pub fn associations(
    config: &DistributionConfig,
) -> impl Iterator<Item = &LambdaFunctionAssociation> {
    let default = config
        .default_cache_behavior
        .iter()
        .filter_map(|b| b.lambda_function_associations.as_ref());
    let others = config
        .cache_behaviors
        .iter()
        .flat_map(|c| c.items.iter().flatten())
        .filter_map(|b| b.lambda_function_associations.as_ref());
    default.chain(others).flat_map(|a| a.items.iter().flatten())
}

/// Point every origin-request association of `function` at `version_arn`.
/// Returns (associations of the function, associations changed).
pub fn point_associations(
    config: &mut DistributionConfig,
    function: &str,
    version_arn: &str,
) -> (usize, usize) {
    let mut lists = Vec::new();
    if let Some(b) = config.default_cache_behavior.as_mut() {
        lists.extend(b.lambda_function_associations.as_mut());
    }
    if let Some(items) = config
        .cache_behaviors
        .as_mut()
        .and_then(|c| c.items.as_mut())
    {
        lists.extend(
            items
                .iter_mut()
                .filter_map(|b| b.lambda_function_associations.as_mut()),
        );
    }
    let (mut matched, mut changed) = (0, 0);
    for association in lists.into_iter().flat_map(|l| l.items.iter_mut().flatten()) {
        if association.event_type == EventType::OriginRequest
            && unqualified(&association.lambda_function_arn) == function
        {
            matched += 1;
            if association.lambda_function_arn != version_arn {
                version_arn.clone_into(&mut association.lambda_function_arn);
                changed += 1;
            }
        }
    }
    (matched, changed)
}

/// Values of the custom header `name` on every origin that has it.
pub fn custom_headers<'a>(
    config: &'a DistributionConfig,
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    config
        .origins
        .iter()
        .flat_map(|o| o.items.iter())
        .filter_map(|o| o.custom_headers.as_ref())
        .flat_map(|h| h.items.iter().flatten())
        .filter(move |h| h.header_name.eq_ignore_ascii_case(name))
        .map(|h| h.header_value.as_str())
}

/// Set the custom header `name` to `value` on every origin that has it.
/// Returns (origins with the header, origins changed).
pub(crate) fn set_custom_header(
    config: &mut DistributionConfig,
    name: &str,
    value: &StaticHeaderValue,
) -> (usize, usize) {
    let (mut matched, mut changed) = (0, 0);
    let headers = config
        .origins
        .iter_mut()
        .flat_map(|o| o.items.iter_mut())
        .filter_map(|o| o.custom_headers.as_mut())
        .flat_map(|h| h.items.iter_mut().flatten())
        .filter(|h| h.header_name.eq_ignore_ascii_case(name));
    for header in headers {
        matched += 1;
        if !value.matches(&header.header_value) {
            header.header_value = value.expose().to_owned();
            changed += 1;
        }
    }
    (matched, changed)
}
#[cfg(test)]
mod tests {
    use aws_sdk_cloudfront::types::{
        CacheBehavior, CacheBehaviors, CustomHeaders, DefaultCacheBehavior,
        LambdaFunctionAssociations, Origin, OriginCustomHeader, Origins, ViewerProtocolPolicy,
    };

    use super::*;

    #[test]
    fn unqualified_strips_only_a_version() {
        let base = "arn:aws:lambda:us-east-1:123456789012:function:edge";
        assert_eq!(unqualified(&format!("{base}:7")), base);
        assert_eq!(unqualified(base), base);
    }

    const EDGE: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";
    const OTHER: &str = "arn:aws:lambda:us-east-1:123456789012:function:other";

    fn associations_list(items: &[(&str, EventType)]) -> LambdaFunctionAssociations {
        let mut b = LambdaFunctionAssociations::builder().quantity(items.len() as i32);
        for (arn, event) in items {
            b = b.items(
                LambdaFunctionAssociation::builder()
                    .lambda_function_arn(*arn)
                    .event_type(event.clone())
                    .build()
                    .unwrap(),
            );
        }
        b.build().unwrap()
    }

    fn config() -> DistributionConfig {
        let header = |name: &str, value: &str| {
            OriginCustomHeader::builder()
                .header_name(name)
                .header_value(value)
                .build()
                .unwrap()
        };
        let origin = |id: &str, headers: Vec<OriginCustomHeader>| {
            let mut custom = CustomHeaders::builder().quantity(headers.len() as i32);
            for h in headers {
                custom = custom.items(h);
            }
            Origin::builder()
                .id(id)
                .domain_name("api.example.com")
                .custom_headers(custom.build().unwrap())
                .build()
                .unwrap()
        };
        DistributionConfig::builder()
            .caller_reference("r")
            .comment("c")
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(2)
                    .items(origin(
                        "a",
                        vec![header("X-Origin-Verify", "old"), header("x-keep", "k")],
                    ))
                    .items(origin("b", vec![header("x-keep", "k")]))
                    .build()
                    .unwrap(),
            )
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("a")
                    .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                    .lambda_function_associations(associations_list(&[
                        (&format!("{EDGE}:3"), EventType::OriginRequest),
                        (&format!("{EDGE}:2"), EventType::OriginResponse),
                        (&format!("{OTHER}:9"), EventType::ViewerRequest),
                    ]))
                    .build()
                    .unwrap(),
            )
            .cache_behaviors(
                CacheBehaviors::builder()
                    .quantity(1)
                    .items(
                        CacheBehavior::builder()
                            .path_pattern("/v2/*")
                            .target_origin_id("b")
                            .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                            .lambda_function_associations(associations_list(&[(
                                &format!("{EDGE}:1"),
                                EventType::OriginRequest,
                            )]))
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn only_origin_request_associations_of_the_function_move() {
        let mut c = config();
        let target = format!("{EDGE}:7");
        assert_eq!(point_associations(&mut c, EDGE, &target), (2, 2));
        let arns: Vec<(String, EventType)> = associations(&c)
            .map(|a| (a.lambda_function_arn.clone(), a.event_type.clone()))
            .collect();
        assert_eq!(
            arns,
            [
                (target.clone(), EventType::OriginRequest),
                (format!("{EDGE}:2"), EventType::OriginResponse),
                (format!("{OTHER}:9"), EventType::ViewerRequest),
                (target.clone(), EventType::OriginRequest),
            ]
        );
        assert_eq!(
            point_associations(&mut c, EDGE, &target),
            (2, 0),
            "nothing left to change"
        );
        assert_eq!(
            point_associations(&mut c, "arn:aws:lambda:us-east-1:1:function:nope", &target).0,
            0
        );
    }

    #[test]
    fn only_the_named_header_changes_case_insensitively() {
        let mut c = config();
        let value = StaticHeaderValue::new("new-value".into()).unwrap();
        assert_eq!(set_custom_header(&mut c, "x-origin-verify", &value), (1, 1));
        assert_eq!(
            custom_headers(&c, "x-origin-verify").collect::<Vec<_>>(),
            ["new-value"]
        );
        assert_eq!(custom_headers(&c, "x-keep").collect::<Vec<_>>(), ["k", "k"]);
        assert_eq!(set_custom_header(&mut c, "X-ORIGIN-VERIFY", &value), (1, 0));
        assert_eq!(set_custom_header(&mut c, "x-absent", &value), (0, 0));
    }
}

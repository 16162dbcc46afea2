//! A CloudFront distribution config with one custom origin (HTTPS only, ports 80 and
//! 443), as the worlds hand it to the CloudFront fake or to moto's CloudFront.

use aws_sdk_cloudfront::error::BuildError;
use aws_sdk_cloudfront::types::{
    CacheBehavior, CacheBehaviors, CustomHeaders, CustomOriginConfig, DefaultCacheBehavior,
    DistributionConfig, EventType, LambdaFunctionAssociation, LambdaFunctionAssociations, Origin,
    OriginCustomHeader, OriginProtocolPolicy, Origins, ViewerProtocolPolicy,
};

/// A distribution to build: its one origin, what its behaviors associate and send.
#[derive(Clone, Debug)]
pub struct Distribution {
    origin_id: String,
    domain: String,
    origin_path: Option<String>,
    headers: Vec<(String, String)>,
    associations: Vec<(String, EventType)>,
    include_body: Option<bool>,
    more_behaviors: Vec<String>,
    viewer_protocol_policy: ViewerProtocolPolicy,
    cache_policy: Option<String>,
    origin_request_policy: Option<String>,
    caller_reference: String,
    comment: String,
}

impl Distribution {
    /// One origin `origin_id` at `domain`, viewers on HTTPS only, no policy, no
    /// association, no custom header; a caller reference no other test uses.
    pub fn new(origin_id: &str, domain: &str, comment: &str) -> Self {
        Self {
            origin_id: origin_id.to_owned(),
            domain: domain.to_owned(),
            origin_path: None,
            headers: Vec::new(),
            associations: Vec::new(),
            include_body: None,
            more_behaviors: Vec::new(),
            viewer_protocol_policy: ViewerProtocolPolicy::HttpsOnly,
            cache_policy: None,
            origin_request_policy: None,
            caller_reference: crate::unique_name("ref"),
            comment: comment.to_owned(),
        }
    }

    /// The origin path (an API's stage: `/prod`).
    #[must_use]
    pub fn origin_path(mut self, path: impl Into<String>) -> Self {
        self.origin_path = Some(path.into());
        self
    }

    /// One more origin custom header CloudFront sends.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// One more Lambda@Edge association of every behavior.
    #[must_use]
    pub fn association(mut self, version_arn: &str, event: EventType) -> Self {
        self.associations.push((version_arn.to_owned(), event));
        self
    }

    /// Whether the associations get the request body (`IncludeBody`; unset: not said).
    #[must_use]
    pub fn include_body(mut self, include: bool) -> Self {
        self.include_body = Some(include);
        self
    }

    /// One more behavior, for `path_pattern`, with the same associations and policies
    /// (when there are associations: the rotation must move every behavior's).
    #[must_use]
    pub fn behavior(mut self, path_pattern: &str) -> Self {
        self.more_behaviors.push(path_pattern.to_owned());
        self
    }

    /// The viewer protocol policy.
    #[must_use]
    pub fn viewer_protocol_policy(mut self, policy: ViewerProtocolPolicy) -> Self {
        self.viewer_protocol_policy = policy;
        self
    }

    /// The cache policy id.
    #[must_use]
    pub fn cache_policy(mut self, id: &str) -> Self {
        self.cache_policy = Some(id.to_owned());
        self
    }

    /// The origin request policy id.
    #[must_use]
    pub fn origin_request_policy(mut self, id: &str) -> Self {
        self.origin_request_policy = Some(id.to_owned());
        self
    }

    /// The caller reference.
    #[must_use]
    pub fn caller_reference(mut self, reference: impl Into<String>) -> Self {
        self.caller_reference = reference.into();
        self
    }

    /// The config.
    pub fn build(self) -> Result<DistributionConfig, BuildError> {
        let mut origin = Origin::builder()
            .id(&self.origin_id)
            .domain_name(&self.domain)
            .set_origin_path(self.origin_path.clone())
            .custom_origin_config(
                CustomOriginConfig::builder()
                    .http_port(80)
                    .https_port(443)
                    .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                    .build()?,
            );
        if !self.headers.is_empty() {
            let mut headers = CustomHeaders::builder().quantity(count(self.headers.len()));
            for (name, value) in &self.headers {
                headers = headers.items(
                    OriginCustomHeader::builder()
                        .header_name(name)
                        .header_value(value)
                        .build()?,
                );
            }
            origin = origin.custom_headers(headers.build()?);
        }
        let associations = self.lambda_associations()?;
        let default = DefaultCacheBehavior::builder()
            .target_origin_id(&self.origin_id)
            .viewer_protocol_policy(self.viewer_protocol_policy.clone())
            .set_cache_policy_id(self.cache_policy.clone())
            .set_origin_request_policy_id(self.origin_request_policy.clone())
            .set_lambda_function_associations(associations.clone())
            .build()?;
        let mut config = DistributionConfig::builder()
            .caller_reference(&self.caller_reference)
            .comment(&self.comment)
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(1)
                    .items(origin.build()?)
                    .build()?,
            )
            .default_cache_behavior(default);
        if !self.more_behaviors.is_empty() {
            let mut behaviors =
                CacheBehaviors::builder().quantity(count(self.more_behaviors.len()));
            for pattern in &self.more_behaviors {
                behaviors = behaviors.items(
                    CacheBehavior::builder()
                        .path_pattern(pattern)
                        .target_origin_id(&self.origin_id)
                        .viewer_protocol_policy(self.viewer_protocol_policy.clone())
                        .set_cache_policy_id(self.cache_policy.clone())
                        .set_origin_request_policy_id(self.origin_request_policy.clone())
                        .set_lambda_function_associations(associations.clone())
                        .build()?,
                );
            }
            config = config.cache_behaviors(behaviors.build()?);
        }
        config.build()
    }

    fn lambda_associations(&self) -> Result<Option<LambdaFunctionAssociations>, BuildError> {
        if self.associations.is_empty() {
            return Ok(None);
        }
        let mut list =
            LambdaFunctionAssociations::builder().quantity(count(self.associations.len()));
        for (arn, event) in &self.associations {
            list = list.items(
                LambdaFunctionAssociation::builder()
                    .lambda_function_arn(arn)
                    .event_type(event.clone())
                    .set_include_body(self.include_body)
                    .build()?,
            );
        }
        Ok(Some(list.build()?))
    }
}

/// A list's `Quantity`.
fn count(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_distribution_has_one_https_origin_and_no_association_header_or_policy() {
        let config = Distribution::new("api", "api.example.com", "c")
            .build()
            .unwrap();
        let origin = &config.origins.as_ref().unwrap().items[0];
        assert_eq!(origin.domain_name, "api.example.com");
        assert_eq!(origin.origin_path, None);
        assert!(origin.custom_headers.is_none());
        let default = config.default_cache_behavior.as_ref().unwrap();
        assert_eq!(default.target_origin_id, "api");
        assert!(default.lambda_function_associations.is_none());
        assert_eq!(default.cache_policy_id, None);
        assert!(config.cache_behaviors.is_none());
    }

    #[test]
    fn headers_associations_and_more_behaviors_are_counted_and_every_behavior_has_them() {
        let config = Distribution::new("api", "api.example.com", "c")
            .header("X-Other", "keep-me")
            .header("X-Origin-Verify", "v")
            .association("arn:fn:1", EventType::ViewerRequest)
            .association("arn:fn:2", EventType::OriginRequest)
            .include_body(false)
            .behavior("/v2/*")
            .cache_policy("cache")
            .build()
            .unwrap();
        let headers = config.origins.as_ref().unwrap().items[0]
            .custom_headers
            .clone()
            .unwrap();
        assert_eq!(headers.quantity, 2);
        assert_eq!(headers.items.unwrap()[1].header_value, "v");
        let default = config.default_cache_behavior.unwrap();
        let associations = default.lambda_function_associations.unwrap();
        assert_eq!(associations.quantity, 2);
        assert_eq!(
            associations.items.as_ref().unwrap()[1].include_body,
            Some(false)
        );
        let more = config.cache_behaviors.unwrap();
        assert_eq!(more.quantity, 1);
        let v2 = &more.items.unwrap()[0];
        assert_eq!(v2.path_pattern, "/v2/*");
        assert_eq!(v2.lambda_function_associations, Some(associations));
        assert_eq!(v2.cache_policy_id.as_deref(), Some("cache"));
    }
}

//! [`WebAclApi`] through the AWS SDK for Rust (`aws-sdk-wafv2`).

use aws_sdk_wafv2::operation::update_web_acl::builders::UpdateWebACLFluentBuilder;
use aws_sdk_wafv2::types::{Scope, WebAcl};

use super::api::{LockedWebAcl, WebAclApi, WebAclRef};
use crate::aws::sdk::classify;
use crate::aws::{ApiError, Op};

/// WAFv2 through the SDK, in the web ACL's region.
#[derive(Clone, Debug)]
pub struct SdkWaf(pub aws_sdk_wafv2::Client);

impl SdkWaf {
    /// A client from the shared SDK configuration, in `region` when given (a regional
    /// web ACL lives in its resource's region, which may differ from the rotator's).
    pub fn new(config: &aws_config::SdkConfig, region: Option<&str>) -> Self {
        let mut builder = aws_sdk_wafv2::config::Builder::from(config);
        if let Some(region) = region {
            builder = builder.region(aws_config::Region::new(region.to_owned()));
        }
        Self(aws_sdk_wafv2::Client::from_conf(builder.build()))
    }
}

impl WebAclApi for SdkWaf {
    async fn get_web_acl(&self, acl: &WebAclRef) -> Result<LockedWebAcl, ApiError> {
        let op = Op::GetWebAcl;
        let out = self
            .0
            .get_web_acl()
            .name(&acl.name)
            .id(&acl.id)
            .scope(Scope::Regional)
            .send()
            .await
            .map_err(|e| classify(op, &e))?;
        let lock_token = out
            .lock_token()
            .ok_or(ApiError::Incomplete {
                op,
                field: "LockToken",
            })?
            .to_owned();
        let web_acl = out.web_acl.ok_or(ApiError::Incomplete {
            op,
            field: "WebACL",
        })?;
        Ok(LockedWebAcl {
            web_acl,
            lock_token,
        })
    }

    async fn update_web_acl(
        &self,
        acl: &WebAclRef,
        web_acl: &WebAcl,
        lock_token: &str,
    ) -> Result<String, ApiError> {
        let op = Op::UpdateWebAcl;
        let out = update_request(self.0.update_web_acl(), acl, web_acl, lock_token)
            .send()
            .await
            .map_err(|e| classify(op, &e))?;
        out.next_lock_token()
            .map(str::to_owned)
            .ok_or(ApiError::Incomplete {
                op,
                field: "NextLockToken",
            })
    }
}

/// `UpdateWebACL` carrying every mutable setting of `web_acl`. The call "completely
/// replaces the mutable specifications that you already have for the web ACL with the
/// ones that you provide" (UpdateWebACL, WAFV2 API reference): a setting left out here
/// would be erased, not kept. (moto keeps settings left out, so this is pinned by a
/// unit test rather than by the moto tests.)
fn update_request(
    request: UpdateWebACLFluentBuilder,
    acl: &WebAclRef,
    web_acl: &WebAcl,
    lock_token: &str,
) -> UpdateWebACLFluentBuilder {
    request
        .name(&acl.name)
        .id(&acl.id)
        .scope(Scope::Regional)
        .lock_token(lock_token)
        .set_default_action(web_acl.default_action.clone())
        .set_description(web_acl.description.clone())
        .set_rules(web_acl.rules.clone())
        .set_visibility_config(web_acl.visibility_config.clone())
        .set_data_protection_config(web_acl.data_protection_config.clone())
        .set_custom_response_bodies(web_acl.custom_response_bodies.clone())
        .set_captcha_config(web_acl.captcha_config.clone())
        .set_challenge_config(web_acl.challenge_config.clone())
        .set_token_domains(web_acl.token_domains.clone())
        .set_association_config(web_acl.association_config.clone())
        .set_on_source_d_do_s_protection_config(web_acl.on_source_d_do_s_protection_config.clone())
        .set_application_config(web_acl.application_config.clone())
        .set_monetization_config(web_acl.monetization_config.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use aws_sdk_wafv2::types::{
        AllowAction, AssociationConfig, BlockAction, CaptchaConfig, ChallengeConfig,
        CustomResponseBody, DefaultAction, ImmunityTimeProperty, ResponseContentType, Rule,
        RuleAction, VisibilityConfig,
    };

    use super::*;

    fn visibility(metric: &str) -> VisibilityConfig {
        VisibilityConfig::builder()
            .sampled_requests_enabled(true)
            .cloud_watch_metrics_enabled(false)
            .metric_name(metric)
            .build()
            .unwrap()
    }

    #[test]
    fn an_update_carries_every_mutable_setting_it_read() {
        let body = CustomResponseBody::builder()
            .content_type(ResponseContentType::TextPlain)
            .content("go away")
            .build()
            .unwrap();
        let rule = Rule::builder()
            .name("r")
            .priority(0)
            .action(
                RuleAction::builder()
                    .allow(AllowAction::builder().build())
                    .build(),
            )
            .visibility_config(visibility("r"))
            .build()
            .unwrap();
        let web_acl = WebAcl::builder()
            .name("acl")
            .id("id-1")
            .arn("arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/acl/id-1")
            .default_action(
                DefaultAction::builder()
                    .block(BlockAction::builder().build())
                    .build(),
            )
            .description("kept")
            .rules(rule)
            .visibility_config(visibility("acl"))
            .custom_response_bodies("denied", body)
            .captcha_config(
                CaptchaConfig::builder()
                    .immunity_time_property(
                        ImmunityTimeProperty::builder()
                            .immunity_time(300)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .challenge_config(ChallengeConfig::builder().build())
            .token_domains("example.com")
            .association_config(AssociationConfig::builder().build())
            .build()
            .unwrap();
        let client = aws_sdk_wafv2::Client::from_conf(
            aws_sdk_wafv2::Config::builder()
                .behavior_version(aws_sdk_wafv2::config::BehaviorVersion::latest())
                .build(),
        );
        let acl = WebAclRef {
            name: "acl".into(),
            id: "id-1".into(),
        };
        let request = update_request(client.update_web_acl(), &acl, &web_acl, "token-1");
        let input = request.as_input();
        assert_eq!(input.get_name().as_deref(), Some("acl"));
        assert_eq!(input.get_id().as_deref(), Some("id-1"));
        assert_eq!(input.get_scope(), &Some(Scope::Regional));
        assert_eq!(input.get_lock_token().as_deref(), Some("token-1"));
        assert_eq!(input.get_default_action(), &web_acl.default_action);
        assert_eq!(input.get_description(), &web_acl.description);
        assert_eq!(input.get_rules(), &web_acl.rules);
        assert_eq!(input.get_visibility_config(), &web_acl.visibility_config);
        assert_eq!(
            input.get_data_protection_config(),
            &web_acl.data_protection_config
        );
        let bodies: Option<HashMap<_, _>> = input.get_custom_response_bodies().clone();
        assert_eq!(bodies, web_acl.custom_response_bodies);
        assert_eq!(input.get_captcha_config(), &web_acl.captcha_config);
        assert_eq!(input.get_challenge_config(), &web_acl.challenge_config);
        assert_eq!(input.get_token_domains(), &web_acl.token_domains);
        assert_eq!(input.get_association_config(), &web_acl.association_config);
        assert_eq!(
            input.get_on_source_d_do_s_protection_config(),
            &web_acl.on_source_d_do_s_protection_config
        );
        assert_eq!(input.get_application_config(), &web_acl.application_config);
        assert_eq!(
            input.get_monetization_config(),
            &web_acl.monetization_config
        );
    }
}

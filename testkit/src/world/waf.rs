//! A regional WAF web ACL, as `CreateWebACL` makes it.

use aws_sdk_wafv2::types::{BlockAction, DefaultAction, Rule, Scope};

use super::WorldError;
use crate::waf::build::visibility;

/// `CreateWebACL` of a regional web ACL named `name` with `rules` and the default action
/// Block (AWS's origin-verify solution's shape), its metrics named `metric`; returns
/// its id.
pub async fn create_web_acl(
    waf: &aws_sdk_wafv2::Client,
    name: &str,
    rules: Vec<Rule>,
    metric: &str,
) -> Result<String, WorldError> {
    let created = waf
        .create_web_acl()
        .name(name)
        .scope(Scope::Regional)
        .default_action(
            DefaultAction::builder()
                .block(BlockAction::builder().build())
                .build(),
        )
        .set_rules(Some(rules))
        .visibility_config(visibility(metric))
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateWebACL", e))?;
    Ok(created
        .summary()
        .and_then(|s| s.id())
        .ok_or_else(|| WorldError::missing("CreateWebACL", "Summary.Id"))?
        .to_owned())
}

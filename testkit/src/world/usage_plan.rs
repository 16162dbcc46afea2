//! A REST API's usage plan and an API key linked to it, as `CreateUsagePlan`,
//! `CreateApiKey` and `CreateUsagePlanKey` make them.

use super::WorldError;

/// `CreateUsagePlan` named `name`; returns its id.
pub async fn create_usage_plan(
    api_gateway: &aws_sdk_apigateway::Client,
    name: &str,
) -> Result<String, WorldError> {
    let plan = api_gateway
        .create_usage_plan()
        .name(name)
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateUsagePlan", e))?;
    Ok(plan
        .id()
        .ok_or_else(|| WorldError::missing("CreateUsagePlan", "id"))?
        .to_owned())
}

/// `CreateApiKey` of an enabled key `name` with `value`, then `CreateUsagePlanKey`
/// linking it to `usage_plan`; returns the key's id.
pub async fn create_linked_api_key(
    api_gateway: &aws_sdk_apigateway::Client,
    usage_plan: &str,
    name: &str,
    description: &str,
    value: &str,
) -> Result<String, WorldError> {
    let key = api_gateway
        .create_api_key()
        .name(name)
        .description(description)
        .value(value)
        .enabled(true)
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateApiKey", e))?;
    let key_id = key
        .id()
        .ok_or_else(|| WorldError::missing("CreateApiKey", "id"))?
        .to_owned();
    api_gateway
        .create_usage_plan_key()
        .usage_plan_id(usage_plan)
        .key_id(&key_id)
        .key_type("API_KEY")
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateUsagePlanKey", e))?;
    Ok(key_id)
}

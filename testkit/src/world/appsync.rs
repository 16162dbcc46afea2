//! An AppSync GraphQL API, as `CreateGraphqlApi` makes it.

use aws_sdk_appsync::types::AuthenticationType;

use super::WorldError;

/// `CreateGraphqlApi` named `name`, authorized by API keys; returns its id.
pub async fn create_api_key_graphql_api(
    appsync: &aws_sdk_appsync::Client,
    name: &str,
) -> Result<String, WorldError> {
    let created = appsync
        .create_graphql_api()
        .name(name)
        .authentication_type(AuthenticationType::ApiKey)
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateGraphqlApi", e))?;
    Ok(created
        .graphql_api()
        .and_then(|api| api.api_id())
        .ok_or_else(|| WorldError::missing("CreateGraphqlApi", "apiId"))?
        .to_owned())
}

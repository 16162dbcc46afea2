//! A secret and its first version, as `CreateSecret` makes them.

use super::WorldError;

/// What `CreateSecret` is given.
#[derive(Clone, Copy, Debug)]
pub struct NewSecret<'a> {
    /// The secret's name.
    pub name: &'a str,
    /// The first version's `SecretString` (AWSCURRENT).
    pub value: &'a str,
    /// The first version's id (`ClientRequestToken`); Secrets Manager makes one if
    /// `None`.
    pub token: Option<&'a str>,
    /// The secret's description.
    pub description: Option<&'a str>,
}

impl<'a> NewSecret<'a> {
    /// A secret named `name` whose AWSCURRENT is `value`.
    pub fn new(name: &'a str, value: &'a str) -> Self {
        Self {
            name,
            value,
            token: None,
            description: None,
        }
    }

    /// The first version's id.
    #[must_use]
    pub fn token(self, token: &'a str) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    /// The secret's description.
    #[must_use]
    pub fn description(self, description: &'a str) -> Self {
        Self {
            description: Some(description),
            ..self
        }
    }
}

/// `CreateSecret`; returns the answer (the secret's ARN and first version id).
pub async fn create_secret(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &NewSecret<'_>,
) -> Result<aws_sdk_secretsmanager::operation::create_secret::CreateSecretOutput, WorldError> {
    sm.create_secret()
        .name(secret.name)
        .secret_string(secret.value)
        .set_client_request_token(secret.token.map(str::to_owned))
        .set_description(secret.description.map(str::to_owned))
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateSecret", e))
}

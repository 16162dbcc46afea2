//! A Lambda function and its versions, as `CreateFunction`, `UpdateFunctionCode` and
//! `PublishVersion` make them. moto stores a function's code without running it.

use std::collections::HashMap;

use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};

use super::WorldError;

/// An empty zip archive: the code of a function moto is told about and nothing runs.
pub const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// What `CreateFunction` is given.
#[derive(Clone, Debug)]
pub struct NewFunction {
    name: String,
    role: String,
    runtime: Runtime,
    handler: String,
    zip: Vec<u8>,
    description: Option<String>,
    publish: bool,
    timeout: Option<i32>,
    architecture: Option<Architecture>,
    environment: Option<HashMap<String, String>>,
}

impl NewFunction {
    /// A Node.js edge function (`index.handler`) with `zip` as its code.
    pub fn edge(name: &str, role: &str, zip: Vec<u8>) -> Self {
        Self::with_runtime(name, role, Runtime::Nodejs22x, "index.handler", zip)
    }

    /// The function Secrets Manager is told to invoke (moto's `RotateSecret` requires
    /// it to exist, and cannot invoke it): a `provided.al2023` `bootstrap` of no code.
    pub fn rotation_stand_in(name: &str, role: &str) -> Self {
        Self::with_runtime(
            name,
            role,
            Runtime::Providedal2023,
            "bootstrap",
            EMPTY_ZIP.to_vec(),
        )
    }

    /// A function of any runtime and handler.
    pub fn with_runtime(
        name: &str,
        role: &str,
        runtime: Runtime,
        handler: &str,
        zip: Vec<u8>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            role: role.to_owned(),
            runtime,
            handler: handler.to_owned(),
            zip,
            description: None,
            publish: false,
            timeout: None,
            architecture: None,
            environment: None,
        }
    }

    /// The function's description (on `Publish`, also version 1's).
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Publish version 1 with the function (`Publish`).
    #[must_use]
    pub fn published(mut self) -> Self {
        self.publish = true;
        self
    }

    /// The timeout, in seconds.
    #[must_use]
    pub fn timeout(mut self, seconds: i32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// The instruction set.
    #[must_use]
    pub fn architecture(mut self, architecture: Architecture) -> Self {
        self.architecture = Some(architecture);
        self
    }

    /// The environment variables.
    #[must_use]
    pub fn environment(mut self, variables: HashMap<String, String>) -> Self {
        self.environment = Some(variables);
        self
    }
}

/// What `CreateFunction` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedFunction {
    /// The function's ARN, as the answer gives it.
    pub arn: String,
    /// The version published with it (`Publish`), or `$LATEST`.
    pub version: Option<String>,
}

/// `CreateFunction`.
pub async fn create_function(
    lambda: &aws_sdk_lambda::Client,
    function: NewFunction,
) -> Result<CreatedFunction, WorldError> {
    let environment = function.environment.map(|variables| {
        Environment::builder()
            .set_variables(Some(variables))
            .build()
    });
    let created = lambda
        .create_function()
        .function_name(function.name)
        .runtime(function.runtime)
        .role(function.role)
        .handler(function.handler)
        .set_timeout(function.timeout)
        .set_architectures(function.architecture.map(|a| vec![a]))
        .set_description(function.description)
        .code(
            FunctionCode::builder()
                .zip_file(function.zip.into())
                .build(),
        )
        .set_environment(environment)
        .publish(function.publish)
        .send()
        .await
        .map_err(|e| WorldError::sdk("CreateFunction", e))?;
    Ok(CreatedFunction {
        arn: created
            .function_arn()
            .ok_or_else(|| WorldError::missing("CreateFunction", "FunctionArn"))?
            .to_owned(),
        version: created.version().map(str::to_owned),
    })
}

/// `UpdateFunctionCode`: `$LATEST` gets `zip`.
pub async fn update_function_code(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    zip: Vec<u8>,
) -> Result<(), WorldError> {
    lambda
        .update_function_code()
        .function_name(function)
        .zip_file(zip.into())
        .send()
        .await
        .map_err(|e| WorldError::sdk("UpdateFunctionCode", e))?;
    Ok(())
}

/// `PublishVersion` of `$LATEST` with `description`; returns the version's ARN.
pub async fn publish_version(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    description: &str,
) -> Result<String, WorldError> {
    let published = lambda
        .publish_version()
        .function_name(function)
        .description(description)
        .send()
        .await
        .map_err(|e| WorldError::sdk("PublishVersion", e))?;
    Ok(published
        .function_arn()
        .ok_or_else(|| WorldError::missing("PublishVersion", "FunctionArn"))?
        .to_owned())
}

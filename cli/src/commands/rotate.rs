//! `edgeseal rotate`: start a rotation now (Secrets Manager `RotateSecret`).

use serde_json::json;

use crate::args::{Cli, RotateArgs};
use crate::aws;
use crate::error::{CliError, OK};
use crate::output::Output;

pub async fn run(cli: &Cli, args: &RotateArgs, out: &Output) -> Result<u8, CliError> {
    let config = aws::sdk_config(&cli.global).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let rotated = client
        .rotate_secret()
        .secret_id(&args.secret_id)
        .send()
        .await
        .map_err(|err| CliError::aws("RotateSecret", err))?;
    let version = rotated.version_id().unwrap_or_default();
    out.result(
        &json!({
            "secret_arn": rotated.arn(),
            "version_id": version,
        }),
        &format!(
            "rotation started for {}: new version {version}\n(follow it with `edgeseal status --secret-id ...`; the rotator waits for the distribution to deploy)",
            rotated.arn().unwrap_or(&args.secret_id)
        ),
    );
    Ok(OK)
}

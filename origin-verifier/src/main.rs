//! The Lambda entry point: tracing, configuration and the SDK client once per execution
//! environment, then the runtime loop.

use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use origin_verifier::{
    Authorizer, Config, Invocation, MetricsSink, SdkSource, logging, secrets_manager_client,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = logging::filter(|name| std::env::var(name).ok());
    tracing::subscriber::set_global_default(logging::subscriber(filter, std::io::stdout))?;
    let config = Config::from_env().inspect_err(|err| {
        tracing::error!(error = %err, "invalid configuration; the function cannot start");
    })?;
    tracing::info!(config = ?config, "configuration");

    // The client from the Lambda environment alone (src/sdk.rs: no aws-config).
    let client = secrets_manager_client(
        |name| std::env::var(name).ok(),
        Duration::from_millis(config.secrets_manager_timeout_ms),
    )
    .inspect_err(|err| {
        tracing::error!(error = %err, "invalid environment; the function cannot start");
    })?;
    let source = SdkSource::new(client);
    let authorizer = Authorizer::new(&config, source, MetricsSink::Stdout)?;

    // Load the keys during init, which runs before the first request; a failure is
    // logged and retried on the first request.
    let _ = authorizer
        .cache()
        .refresh_at(edgeseal::UnixTime::now())
        .await;
    // And the issuers' key sets, when bearer tokens are checked (same rule).
    if let Some(jwt) = authorizer.jwt() {
        jwt.jwks().load_all_at(edgeseal::UnixTime::now()).await;
    }

    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move { authorizer.answer(&event.payload).await },
    ))
    .await
}

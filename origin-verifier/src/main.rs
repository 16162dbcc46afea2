//! The Lambda entry point: tracing, configuration and the SDK client once per execution
//! environment, then the runtime loop.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use origin_verifier::{
    Authorizer, Config, Invocation, MetricsSink, SdkSource, logging, system_now,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = logging::filter(|name| std::env::var(name).ok());
    tracing::subscriber::set_global_default(logging::subscriber(filter, std::io::stdout))?;
    let config = Config::from_env().inspect_err(|err| {
        tracing::error!(error = %err, "invalid configuration; the function cannot start");
    })?;
    tracing::info!(config = ?config, "configuration");

    // A Secrets Manager hiccup must not hold a request for long: one retry, short
    // timeouts, and the cache serves stale keys meanwhile.
    let attempt = Duration::from_millis(config.secrets_manager_timeout_ms);
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(attempt)
                .operation_attempt_timeout(attempt)
                .operation_timeout(attempt.saturating_mul(2))
                .build(),
        )
        .load()
        .await;
    let source = SdkSource::new(aws_sdk_secretsmanager::Client::new(&sdk));
    let authorizer = Authorizer::new(&config, source, MetricsSink::Stdout)?;

    // Load the keys during init, which runs before the first request; a failure is
    // logged and retried on the first request.
    let _ = authorizer.cache().refresh_at(system_now()).await;

    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move { authorizer.answer(&event.payload).await },
    ))
    .await
}

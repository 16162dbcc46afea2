//! The rotation Lambda: configuration and clients once at cold start, then the runtime
//! loop. All the work is in the library.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeseal_edge_signer::EdgeAssets;
use edgeseal_rotator::aws::sdk::{SdkCloudFront, SdkLambda, SdkSecrets};
use edgeseal_rotator::config::TargetSettings;
use edgeseal_rotator::edge_version::{EdgeVersionRecord, SdkParameters};
use edgeseal_rotator::target::AnyTarget;
use edgeseal_rotator::target::api_key::{ApiKeyTarget, SdkUsagePlanKeys};
use edgeseal_rotator::target::appsync::SdkAppSync;
use edgeseal_rotator::target::waf::SdkWaf;
use edgeseal_rotator::{Config, RotationEvent, Rotator, SetupError};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

type SdkRotator = Rotator<SdkSecrets, SdkLambda, SdkCloudFront>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_target(false)
        .without_time()
        .init();

    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let assets = match config.edge() {
        Some(edge) => Some(EdgeAssets::from_dir(&edge.assets_dir).inspect_err(
            |e| tracing::error!(error = %e, dir = %edge.assets_dir.display(), "cannot load the edge assets"),
        )?),
        None => None,
    };
    let record = EdgeVersionRecord::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // The record reads CloudFront and writes SSM with clients of its own, apart from
    // the rotation's.
    let recorder: &'static Option<(EdgeVersionRecord, SdkCloudFront, SdkParameters)> = Box::leak(
        Box::new(record.map(|r| (r, SdkCloudFront::new(&sdk), SdkParameters::new(&sdk)))),
    );
    let margin = config.deadline_margin;
    // Usage plans and AppSync APIs live in their API's region (API_REGION).
    let api_sdk = match &config.api_region {
        Some(region) => sdk
            .to_builder()
            .region(aws_config::Region::new(region.clone()))
            .build(),
        None => sdk.clone(),
    };
    let rotator: SdkRotator = match &config.target {
        // The API key target owns an API Gateway client, in the API's region.
        TargetSettings::ApiKey(settings) => {
            let target = ApiKeyTarget::new(
                &config,
                settings.clone(),
                SdkUsagePlanKeys::new(&api_sdk),
                SdkCloudFront::new(&sdk),
            );
            Rotator::with_target(config, SdkSecrets::new(&sdk), AnyTarget::ApiKey(target))
        }
        // The web ACL lives in its origin's region, which may not be the rotator's.
        TargetSettings::Waf(_, waf) => {
            let client = SdkWaf::new(&sdk, waf.region.as_deref());
            let target = AnyTarget::waf(&config, SdkCloudFront::new(&sdk), client)?;
            Rotator::with_target(config, SdkSecrets::new(&sdk), target)
        }
        TargetSettings::AppSync(_) => {
            let target =
                AnyTarget::appsync(&config, SdkAppSync::new(&api_sdk), SdkCloudFront::new(&sdk))
                    .ok_or(SetupError::MissingClient("AppSync"))?;
            Rotator::with_target(config, SdkSecrets::new(&sdk), target)
        }
        _ => Rotator::new(
            config,
            SdkSecrets::new(&sdk),
            SdkLambda::new(&sdk),
            SdkCloudFront::new(&sdk),
            assets,
        )?,
    };
    let rotator: &'static SdkRotator = Box::leak(Box::new(rotator));
    tracing::info!(
        rotation_target = rotator.config().kind().as_str(),
        "rotator ready"
    );

    lambda_runtime::run(service_fn(move |event: LambdaEvent<RotationEvent>| async move {
        let deadline = deadline(event.context.deadline, margin);
        let result = rotator.run(&event.payload, deadline).await;
        record_edge_version(rotator, recorder).await;
        // A typed `errorType` per failure kind; the message never carries key material.
        let outcome = result
            .inspect_err(|e| tracing::error!(step = %event.payload.step, error = %e, "rotation step failed"))
            .map_err(Diagnostic::from)?;
        Ok::<Value, Diagnostic>(json!({
            "step": event.payload.step.as_str(),
            "outcome": format!("{outcome:?}"),
        }))
    }))
    .await
}

/// The Lambda's deadline (milliseconds since the epoch) as an `Instant`, less `margin`
/// so that a step reports its own error before the runtime kills it.
fn deadline(deadline_ms: u64, margin: Duration) -> tokio::time::Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    tokio::time::Instant::now() + remaining.saturating_sub(margin)
}

/// After every step, whatever its result: record the edge version the distributions
/// name (best effort; logged, never fails the step).
async fn record_edge_version(
    rotator: &SdkRotator,
    recorder: &Option<(EdgeVersionRecord, SdkCloudFront, SdkParameters)>,
) {
    let (Some((record, cdn, store)), Some(edge)) = (recorder, rotator.config().edge()) else {
        return;
    };
    let distributions = &rotator.config().distributions;
    match record
        .record(cdn, store, distributions, &edge.function)
        .await
    {
        Ok(recorded) => tracing::info!(
            parameter = record.parameter(),
            ?recorded,
            "edge version recorded"
        ),
        Err(e) => {
            tracing::warn!(parameter = record.parameter(), error = %e, "edge version not recorded")
        }
    }
}

//! The rotation Lambda: configuration and clients once at cold start, then the runtime
//! loop. All the work is in the library.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeseal_edge_signer::EdgeAssets;
use edgeseal_rotator::SdkAppSync;
use edgeseal_rotator::SdkUsagePlanKeys;
use edgeseal_rotator::SdkWaf;
use edgeseal_rotator::TargetSettings;
use edgeseal_rotator::{
    ApiKeyTarget, AppSyncTarget, Config, Outcome, RotationEvent, Rotator, SignedTarget,
    StaticHeaderTarget, Target, WafTarget,
};
use edgeseal_rotator::{EdgeVersionRecord, SdkParameters};
use edgeseal_rotator::{SdkCloudFront, SdkLambda, SdkSecrets};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

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
    let record = EdgeVersionRecord::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // The record reads CloudFront and writes SSM with clients of its own, apart from
    // the rotation's.
    let recorder = record.map(|record| Recorder {
        record,
        cdn: SdkCloudFront::new(&sdk),
        store: SdkParameters::new(&sdk),
    });
    // Usage plans and AppSync APIs live in their API's region (API_REGION).
    let api_sdk = match &config.api_region {
        Some(region) => sdk
            .to_builder()
            .region(aws_config::Region::new(region.clone()))
            .build(),
        None => sdk.clone(),
    };
    let secrets = SdkSecrets::new(&sdk);
    let cdn = SdkCloudFront::new(&sdk);
    // The one place ROTATION_TARGET picks code: each arm builds its target with the
    // clients it owns and serves it.
    let built = |e: edgeseal_rotator::SetupError| {
        tracing::error!(error = %e, "cannot build the rotation target");
        e
    };
    match &config.target {
        TargetSettings::Signed(edge) => {
            let assets = EdgeAssets::from_dir(&edge.assets_dir).inspect_err(
                |e| tracing::error!(error = %e, dir = %edge.assets_dir.display(), "cannot load the edge assets"),
            )?;
            let target = SignedTarget::from_config(&config, SdkLambda::new(&sdk), cdn, assets)
                .map_err(built)?;
            serve(Rotator::new(config, secrets, target), recorder).await
        }
        TargetSettings::StaticHeader(_) => {
            let target = StaticHeaderTarget::from_config(&config, cdn).map_err(built)?;
            serve(Rotator::new(config, secrets, target), recorder).await
        }
        TargetSettings::ApiKey(_) => {
            let keys = SdkUsagePlanKeys::new(&api_sdk);
            let target = ApiKeyTarget::from_config(&config, keys, cdn).map_err(built)?;
            serve(Rotator::new(config, secrets, target), recorder).await
        }
        // The web ACL lives in its origin's region, which may not be the rotator's.
        TargetSettings::Waf(_, waf) => {
            let client = SdkWaf::new(&sdk, waf.region.as_deref());
            let target = WafTarget::from_config(&config, cdn, client).map_err(built)?;
            serve(Rotator::new(config, secrets, target), recorder).await
        }
        TargetSettings::AppSync(_) => {
            let keys = SdkAppSync::new(&api_sdk);
            let target = AppSyncTarget::from_config(&config, keys, cdn).map_err(built)?;
            serve(Rotator::new(config, secrets, target), recorder).await
        }
    }
}

/// What the function answers Secrets Manager for a step that did not fail.
#[derive(serde::Serialize)]
struct Reply {
    step: &'static str,
    outcome: Outcome,
}

/// The runtime loop over `rotator`, borrowed for the life of the process.
async fn serve<T: Target>(
    rotator: Rotator<SdkSecrets, T>,
    recorder: Option<Recorder>,
) -> Result<(), lambda_runtime::Error> {
    tracing::info!(
        rotation_target = rotator.config().kind().as_str(),
        "rotator ready"
    );
    let (rotator, recorder) = (&rotator, recorder.as_ref());
    let margin = rotator.config().deadline_margin;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<RotationEvent>| async move {
        let deadline = deadline(event.context.deadline, margin);
        let result = rotator.run(&event.payload, deadline).await;
        if let Some(recorder) = recorder {
            recorder.record(rotator.config()).await;
        }
        // A typed `errorType` per failure kind; the message never carries key material.
        let outcome = result
            .inspect_err(|e| tracing::error!(step = %event.payload.step, error = %e, "rotation step failed"))
            .map_err(Diagnostic::from)?;
        Ok::<Reply, Diagnostic>(Reply {
            step: event.payload.step.as_str(),
            outcome,
        })
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

/// Records, after every step whatever its result, the edge version the distributions
/// name (`EDGE_VERSION_PARAMETER`; best effort: logged, never fails the step).
struct Recorder {
    record: EdgeVersionRecord,
    cdn: SdkCloudFront,
    store: SdkParameters,
}

impl Recorder {
    async fn record(&self, config: &Config) {
        let Some(edge) = config.edge() else {
            return;
        };
        let record = &self.record;
        match record
            .record(
                &self.cdn,
                &self.store,
                &config.distributions,
                &edge.function,
            )
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
}

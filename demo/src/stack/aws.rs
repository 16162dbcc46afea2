//! Setting up the AWS side on moto: the secret with its first key, the edge function with
//! its first published version, a role, and the rotator wired to them. The Lambda calls
//! the rotator makes are recorded, so each published version's zip (which moto does not
//! hand back) can be run by the CloudFront stand-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudfront::types::{
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, EventType,
    LambdaFunctionAssociation, LambdaFunctionAssociations, Origin, OriginProtocolPolicy, Origins,
    ViewerProtocolPolicy,
};
use edgeseal::{KeyId, SigningKey};
use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, package_zip};
use edgeseal_rotator::aws::FunctionVersion;
use edgeseal_rotator::{RotationEvent, Step};
use edgeseal_testkit::EdgeFunctionHooks;

use crate::DemoError;
use crate::stack::cloudfront::EdgeVersions;

/// The rotator as the demo drives it, whichever target it rotates (`--chaos` can fail
/// one of its CloudFront calls).
pub type DemoRotator = edgeseal_testkit::BoxedRotator;

/// Records each uploaded zip by code hash, and each published version's zip into the
/// CloudFront stand-in's edge versions.
pub struct Recording {
    uploaded: Mutex<HashMap<String, Vec<u8>>>,
    edges: Arc<EdgeVersions>,
}

impl Recording {
    /// Record into `edges`.
    pub fn new(edges: Arc<EdgeVersions>) -> Self {
        Self {
            uploaded: Mutex::default(),
            edges,
        }
    }
}

impl EdgeFunctionHooks for Recording {
    fn uploaded(&self, code_sha256: &str, zip: &[u8]) {
        if let Ok(mut u) = self.uploaded.lock() {
            u.insert(code_sha256.to_owned(), zip.to_vec());
        }
    }

    fn published(&self, version: &FunctionVersion, code_sha256: &str) {
        let zip = self
            .uploaded
            .lock()
            .ok()
            .and_then(|u| u.get(code_sha256).cloned());
        if let Some(zip) = zip {
            self.edges.publish(&version.arn, zip);
        }
    }
}

/// A Secrets Manager version id, as Secrets Manager makes them (a UUID).
pub fn new_token() -> Result<String, DemoError> {
    edgeseal_testkit::new_version_id().map_err(|e| DemoError::Setup(format!("random: {e}")))
}

/// A fresh 256-bit key.
pub fn new_key() -> Result<SigningKey, DemoError> {
    SigningKey::generate().map_err(|e| DemoError::Setup(format!("random: {e}")))
}

/// The AWS-side resources the demo created.
pub struct AwsWorld {
    /// Secrets Manager client.
    pub sm: aws_sdk_secretsmanager::Client,
    /// The secret's name.
    pub secret: String,
    /// The secret's ARN (the template's `Ref` of its secret: what the functions get).
    pub secret_arn: String,
    /// The edge function's name.
    pub function: String,
    /// ARN of the first published edge version.
    pub first_version_arn: String,
    /// A Lambda ARN to name as the secret's rotation function.
    pub rotation_lambda_arn: String,
}

/// Create the secret, the role, the edge function (version 1 carrying the first key,
/// signing each origin in its profile) and a stand-in rotation function on moto, by
/// hand: the `--origin alb` demo's world, which the template does not describe (the
/// default demo's comes from [`create_from_template`]).
pub async fn create_with_profiles(
    sdk: &aws_config::SdkConfig,
    assets: &EdgeAssets,
    label: &str,
    max_age_secs: u64,
    profiles: edgeseal_edge_signer::OriginProfiles,
    edges: &EdgeVersions,
) -> Result<AwsWorld, DemoError> {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let run = run_id();

    let role_arn =
        crate::stack::iam::create_lambda_role(sdk, &format!("edgeseal-demo-{run}")).await?;

    let secret = format!("edgeseal-demo-{run}");
    let token = new_token()?;
    let key = new_key()?;
    sm.create_secret()
        .name(&secret)
        .client_request_token(&token)
        .secret_string(edgeseal::edgeseal_secret_json(&key).as_str())
        .send()
        .await
        .map_err(|e| DemoError::Setup(format!("Secrets Manager CreateSecret: {e}")))?;

    let function = format!("edgeseal-demo-signer-{run}");
    let keyid = KeyId::new(token.clone()).map_err(|e| DemoError::Setup(e.to_string()))?;
    let zip = package_zip(
        assets,
        &EdgeConfig {
            label: label.to_owned(),
            keyid,
            key,
            max_age_secs,
            profiles,
        },
    )
    .map_err(|e| DemoError::Setup(format!("packaging the first edge version: {e}")))?;
    let created = lambda
        .create_function()
        .function_name(&function)
        .runtime(aws_sdk_lambda::types::Runtime::Nodejs22x)
        .role(&role_arn)
        .handler("index.handler")
        // What the rotator writes on every version it publishes: the key's id.
        .description(format!(
            "{}{token}",
            edgeseal_rotator::VERSION_DESCRIPTION_PREFIX
        ))
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip.clone().into())
                .build(),
        )
        .publish(true)
        .send()
        .await
        .map_err(|e| DemoError::Setup(format!("Lambda CreateFunction: {e}")))?;
    let base_arn = created.function_arn().unwrap_or_default().to_owned();
    let version = created.version().unwrap_or("1").to_owned();
    let first_version_arn = format!("{}:{version}", edgeseal_rotator::unqualified(&base_arn));
    edges.publish(&first_version_arn, zip);

    let rotation_lambda_arn = rotation_function(&lambda, &role_arn, &run).await?;
    Ok(AwsWorld {
        sm,
        secret_arn: secret.clone(),
        secret,
        function,
        first_version_arn,
        rotation_lambda_arn,
    })
}

/// A name part unique per run, also when one process runs the demo twice (its tests).
pub fn run_id() -> String {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The function Secrets Manager is told to invoke (moto's `RotateSecret` requires it to
/// exist); the demo runs the real rotator in-process instead. Returns its ARN.
pub async fn rotation_function(
    lambda: &aws_sdk_lambda::Client,
    role_arn: &str,
    run: &str,
) -> Result<String, DemoError> {
    let rotation = lambda
        .create_function()
        .function_name(format!("edgeseal-demo-rotator-{run}"))
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(role_arn)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(minimal_zip().into())
                .build(),
        )
        .send()
        .await
        .map_err(|e| DemoError::Setup(format!("Lambda CreateFunction (rotator): {e}")))?;
    Ok(rotation.function_arn().unwrap_or_default().to_owned())
}

/// Gives the stand-in rotation function the environment the in-process rotator runs
/// with, so that Lambda's `GetFunctionConfiguration` reports what runs, as it does for a
/// deployed function: `edgeseal doctor` reads the rotator's variables there (its
/// `rotation-target` check) to learn what the rotation rotates.
pub async fn record_rotator_environment(
    lambda: &aws_sdk_lambda::Client,
    rotation_lambda_arn: &str,
    env: &HashMap<String, String>,
) -> Result<(), DemoError> {
    lambda
        .update_function_configuration()
        .function_name(rotation_lambda_arn)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(env.clone()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            DemoError::Setup(format!("Lambda UpdateFunctionConfiguration (rotator): {e}"))
        })?;
    Ok(())
}

/// A zip with one empty `bootstrap`: the rotation function moto is told about (the demo
/// runs the real rotator in-process, as Secrets Manager would invoke it).
fn minimal_zip() -> Vec<u8> {
    use std::io::Write as _;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let _ = w.start_file("bootstrap", zip::write::SimpleFileOptions::default());
        let _ = w.write_all(b"#!/bin/sh\n");
        let _ = w.finish();
    }
    buf.into_inner()
}

/// The distribution: one custom origin (the API's execute-api domain, the stage as
/// origin path), the edge function's version as origin-request association.
pub fn distribution_config(
    origin_domain: &str,
    stage: &str,
    version_arn: &str,
) -> Result<DistributionConfig, DemoError> {
    let build = |e: aws_sdk_cloudfront::error::BuildError| {
        DemoError::Setup(format!("distribution config: {e}"))
    };
    let origin = Origin::builder()
        .id("api")
        .domain_name(origin_domain)
        .origin_path(format!("/{stage}"))
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                .build()
                .map_err(build)?,
        )
        .build()
        .map_err(build)?;
    let association = LambdaFunctionAssociation::builder()
        .lambda_function_arn(version_arn)
        .event_type(EventType::OriginRequest)
        .include_body(false)
        .build()
        .map_err(build)?;
    DistributionConfig::builder()
        .caller_reference(format!("edgeseal-demo-{}", std::process::id()))
        .comment("edgeseal demo")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .map_err(build)?,
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("api")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id(edgeseal_testkit::CACHING_DISABLED)
                // Managed AllViewerExceptHostHeader, as deploy/template.yaml: with only a
                // cache policy CloudFront forwards just what is in the cache key (no query
                // string for CachingDisabled), and an origin-request function sees the
                // query string only when a policy forwards all of it (CloudFront guide,
                // restrictions on edge functions).
                .origin_request_policy_id(edgeseal_testkit::ALL_VIEWER_EXCEPT_HOST_HEADER)
                .lambda_function_associations(
                    LambdaFunctionAssociations::builder()
                        .quantity(1)
                        .items(association)
                        .build()
                        .map_err(build)?,
                )
                .build()
                .map_err(build)?,
        )
        .build()
        .map_err(build)
}

/// What `RotateSecret` answers while a rotation is incomplete, word for word as AWS
/// returns it (`InvalidRequestException`; quoted in hashicorp/terraform-provider-aws#35023).
pub const PREVIOUS_ROTATION_INCOMPLETE: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

/// What Secrets Manager does when a rotation starts (moto cannot invoke the rotation
/// function; the demo then runs the four steps itself).
///
/// `RotateSecret` is refused while a rotation is incomplete, as AWS refuses it: "If the
/// AWSPENDING staging label is present but not attached to the same version as
/// AWSCURRENT, then any later invocation of RotateSecret assumes that a previous rotation
/// request is still in progress and returns an error" (RotateSecret API reference), with
/// the message [`PREVIOUS_ROTATION_INCOMPLETE`]. moto 5.2 has this backwards: it refuses
/// when AWSPENDING *is* on the AWSCURRENT version (the state a finished rotation leaves)
/// and otherwise moves AWSPENDING to the new version, silently abandoning the incomplete
/// rotation; testkit's `start_rotation` works around the first half (it clears the label
/// first), so the refusal is checked here, before it: [`DemoError::PreviousRotationIncomplete`]
/// names the version still pending.
pub async fn start_rotation(world: &AwsWorld) -> Result<String, DemoError> {
    let described = world
        .sm
        .describe_secret()
        .secret_id(&world.secret)
        .send()
        .await
        .map_err(|e| {
            DemoError::Aws(format!(
                "DescribeSecret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })?;
    if let Some(pending) = incomplete_rotation(described.version_ids_to_stages()) {
        return Err(DemoError::PreviousRotationIncomplete(pending));
    }
    edgeseal_testkit::start_rotation(&world.sm, &world.secret, &world.rotation_lambda_arn)
        .await
        .map_err(DemoError::Aws)
}

/// The version of an incomplete rotation: AWSPENDING on a version that is not AWSCURRENT.
pub fn incomplete_rotation(stages: Option<&HashMap<String, Vec<String>>>) -> Option<String> {
    stages?.iter().find_map(|(id, labels)| {
        let has = |l: &str| labels.iter().any(|x| x == l);
        (has(edgeseal::Stage::Pending.label()) && !has(edgeseal::Stage::Current.label()))
            .then(|| id.clone())
    })
}

/// The event Secrets Manager sends for `step` of the rotation `token`.
pub fn rotation_event(
    world: &AwsWorld,
    step: Step,
    token: &str,
) -> Result<RotationEvent, DemoError> {
    Ok(RotationEvent {
        step,
        secret_id: world.secret.clone(),
        client_request_token: token.to_owned(),
        rotation_token: Some(new_token()?),
    })
}

/// The secret and the edge function as `deploy/template.yaml` describes them (its
/// `Secret`, `EdgeFunction`; [`crate::stack::template`]), with a role and a stand-in rotation
/// function. The first edge version is packaged with the rotator's label and max age
/// (`SIGNATURE_LABEL`, `SIGNATURE_MAX_AGE_SECS` of the template's rotator) and signs
/// with the secret's first key (see `LOCAL_OVERRIDES`' note in the demo's README: the
/// template's bootstrap version signs with a throwaway key until the rotation that
/// `RotateImmediately` starts at once).
pub async fn create_from_template(
    sdk: &aws_config::SdkConfig,
    assets: &EdgeAssets,
    rendered: &crate::stack::template::Rendered,
    signing: (&str, u64),
    edges: &EdgeVersions,
) -> Result<AwsWorld, DemoError> {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let run = run_id();
    let role_arn =
        crate::stack::iam::create_lambda_role(sdk, &format!("edgeseal-demo-{run}")).await?;

    // The secret: GenerateSecretString, as CloudFormation's handler creates it.
    let generated = crate::stack::template::generated_secret(rendered)?;
    let mut password = sm
        .get_random_password()
        .password_length(generated.length)
        .exclude_punctuation(generated.exclude_punctuation)
        .include_space(generated.include_space);
    if let Some(chars) = &generated.exclude_characters {
        password = password.exclude_characters(chars);
    }
    let password = password
        .send()
        .await
        .map_err(|e| DemoError::Aws(format!("Secrets Manager GetRandomPassword: {e}")))?;
    let mut value = generated.template.clone();
    value.insert(
        generated.key.clone(),
        serde_json::Value::from(password.random_password().unwrap_or_default()),
    );
    let value = zeroize::Zeroizing::new(serde_json::Value::Object(value).to_string());
    let key = match edgeseal::SecretValue::parse(&value, None) {
        Ok(edgeseal::SecretValue::Hmac(key)) => key,
        Ok(_) | Err(_) => {
            return Err(rendered.error(
                "Secret's GenerateSecretString does not make an edgeseal key ({\"alg\":\"hmac-sha256\",\"key\":<base64>})",
            ));
        }
    };
    let secret_name = format!("edgeseal-demo-{run}");
    let token = new_token()?;
    let mut create = sm
        .create_secret()
        .name(&secret_name)
        .client_request_token(&token)
        .secret_string(value.as_str());
    if let Some(description) = &generated.description {
        create = create.description(description);
    }
    let created = create
        .send()
        .await
        .map_err(|e| DemoError::Setup(format!("Secrets Manager CreateSecret: {e}")))?;
    // The template's Ref of the secret is its ARN.
    let secret_arn = created.arn().unwrap_or(&secret_name).to_owned();

    // The edge function, with the template's properties.
    let settings = crate::stack::template::edge_function(rendered)?;
    let (label, max_age_secs) = signing;
    let keyid = KeyId::new(token.clone()).map_err(|e| DemoError::Setup(e.to_string()))?;
    let zip = package_zip(
        assets,
        &EdgeConfig {
            label: label.to_owned(),
            keyid,
            key,
            max_age_secs,
            profiles: Default::default(),
        },
    )
    .map_err(|e| DemoError::Setup(format!("packaging the first edge version: {e}")))?;
    let function = format!("edgeseal-demo-signer-{run}");
    let created = lambda
        .create_function()
        .function_name(&function)
        .runtime(aws_sdk_lambda::types::Runtime::from(
            settings.runtime.as_str(),
        ))
        .role(&role_arn)
        .handler(&settings.handler)
        .timeout(settings.timeout)
        .architectures(aws_sdk_lambda::types::Architecture::from(
            settings.architecture.as_str(),
        ))
        // What the rotator writes on every version it publishes: the key's id.
        .description(format!(
            "{}{token}",
            edgeseal_rotator::VERSION_DESCRIPTION_PREFIX
        ))
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip.clone().into())
                .build(),
        )
        .publish(true)
        .send()
        .await
        .map_err(|e| DemoError::Setup(format!("Lambda CreateFunction: {e}")))?;
    let base_arn = created.function_arn().unwrap_or_default().to_owned();
    let version = created.version().unwrap_or("1").to_owned();
    let first_version_arn = format!("{}:{version}", edgeseal_rotator::unqualified(&base_arn));
    edges.publish(&first_version_arn, zip);

    let rotation_lambda_arn = rotation_function(&lambda, &role_arn, &run).await?;
    Ok(AwsWorld {
        sm,
        secret: secret_name,
        secret_arn,
        function,
        first_version_arn,
        rotation_lambda_arn,
    })
}

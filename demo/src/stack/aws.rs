//! Setting up the AWS side on moto: the secret with its first key, the edge function with
//! its first published version, a role, and the rotator wired to them. The Lambda calls
//! the rotator makes are recorded, so each published version's zip (which moto does not
//! hand back) can be run by the CloudFront stand-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudfront::types::{DistributionConfig, EventType, ViewerProtocolPolicy};
use edgeseal::{KeyId, SigningKey};
use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, package_zip};
use edgeseal_rotator::FunctionVersion;
use edgeseal_rotator::{RotationEvent, Step};
use edgeseal_testkit::EdgeFunctionHooks;
use edgeseal_testkit::world::{self, NewFunction, NewSecret, WorldError};

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
    world::create_secret(
        &sm,
        &NewSecret::new(&secret, edgeseal::edgeseal_secret_json(&key).as_str()).token(&token),
    )
    .await
    .map_err(setup("Secrets Manager"))?;

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
    let edge_function = NewFunction::edge(&function, &role_arn, zip.clone());
    let first_version_arn =
        create_first_version(&lambda, edge_function, &token, zip, edges).await?;

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
    let name = format!("edgeseal-demo-rotator-{run}");
    let created = world::create_function(lambda, NewFunction::rotation_stand_in(&name, role_arn))
        .await
        .map_err(|e| DemoError::Setup(format!("Lambda {e} (rotator)")))?;
    Ok(created.arn)
}

/// Create the edge function with its code published as the first version, described
/// as the rotator describes every version it publishes (the key's id, `token`), and hand
/// that version's `zip` to the CloudFront stand-in. Returns the version's ARN.
async fn create_first_version(
    lambda: &aws_sdk_lambda::Client,
    function: NewFunction,
    token: &str,
    zip: Vec<u8>,
    edges: &EdgeVersions,
) -> Result<String, DemoError> {
    let description = format!("{}{token}", edgeseal_rotator::VERSION_DESCRIPTION_PREFIX);
    let created = world::create_function(lambda, function.description(description).published())
        .await
        .map_err(setup("Lambda"))?;
    let version = created.version.as_deref().unwrap_or("1");
    let arn = format!("{}:{version}", edgeseal_rotator::unqualified(&created.arn));
    edges.publish(&arn, zip);
    Ok(arn)
}

/// A failed call of the world's setup, with the service it went to.
fn setup(service: &'static str) -> impl Fn(WorldError) -> DemoError {
    move |e| DemoError::Setup(format!("{service} {e}"))
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

/// The distribution: one custom origin (the API's execute-api domain, the stage as
/// origin path), the edge function's version as origin-request association.
pub fn distribution_config(
    origin_domain: &str,
    stage: &str,
    version_arn: &str,
) -> Result<DistributionConfig, DemoError> {
    world::Distribution::new("api", origin_domain, "edgeseal demo")
        .origin_path(format!("/{stage}"))
        .caller_reference(format!("edgeseal-demo-{}", std::process::id()))
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy(edgeseal_testkit::CACHING_DISABLED)
        // Managed AllViewerExceptHostHeader, as deploy/template.yaml: with only a
        // cache policy CloudFront forwards just what is in the cache key (no query
        // string for CachingDisabled), and an origin-request function sees the
        // query string only when a policy forwards all of it (CloudFront guide,
        // restrictions on edge functions).
        .origin_request_policy(edgeseal_testkit::ALL_VIEWER_EXCEPT_HOST_HEADER)
        .association(version_arn, EventType::OriginRequest)
        .include_body(false)
        .build()
        .map_err(|e| DemoError::Setup(format!("distribution config: {e}")))
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
/// the message `PREVIOUS_ROTATION_INCOMPLETE`. The refusal is the stand-in's (the
/// patched moto server, testkit/moto/server.py); the demo only names the version still
/// pending in [`DemoError::PreviousRotationIncomplete`].
pub async fn start_rotation(world: &AwsWorld) -> Result<String, DemoError> {
    match edgeseal_testkit::start_rotation(&world.sm, &world.secret, &world.rotation_lambda_arn)
        .await
    {
        Ok(token) => Ok(token),
        Err(refused) if refused.contains(PREVIOUS_ROTATION_INCOMPLETE) => {
            let described = describe_secret(world).await?;
            let pending = incomplete_rotation(described.version_ids_to_stages())
                .unwrap_or_else(|| "unknown".to_owned());
            Err(DemoError::PreviousRotationIncomplete(pending))
        }
        Err(other) => Err(DemoError::Aws(other)),
    }
}

/// `DescribeSecret` of the world's secret.
pub async fn describe_secret(
    world: &AwsWorld,
) -> Result<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput, DemoError> {
    world
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
        })
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
    let mut new_secret = NewSecret::new(&secret_name, value.as_str()).token(&token);
    if let Some(description) = &generated.description {
        new_secret = new_secret.description(description);
    }
    let created = world::create_secret(&sm, &new_secret)
        .await
        .map_err(setup("Secrets Manager"))?;
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
    let edge_function = NewFunction::with_runtime(
        &function,
        &role_arn,
        aws_sdk_lambda::types::Runtime::from(settings.runtime.as_str()),
        &settings.handler,
        zip.clone(),
    )
    .timeout(settings.timeout)
    .architecture(aws_sdk_lambda::types::Architecture::from(
        settings.architecture.as_str(),
    ));
    let first_version_arn =
        create_first_version(&lambda, edge_function, &token, zip, edges).await?;

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

//! The AWS-facing commands (`sign`/`verify --secret-id`, `status`, `rotate`) through the
//! real SDK against moto (`EDGESEAL_MOTO_URL`, started by `scripts/test`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Output};

use aws_sdk_secretsmanager::Client as Secrets;
use edgeseal::SigningKey;
use edgeseal_testkit::world::{self, NewFunction, NewSecret};
use edgeseal_testkit::{moto_url, sdk_config, unique_name};

/// Run the binary against moto; `endpoint_flag` false passes the endpoint through
/// `AWS_ENDPOINT_URL` instead of `--endpoint-url`.
fn edgeseal_with(args: &[&str], endpoint_flag: bool) -> Output {
    let url = moto_url();
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgeseal"));
    if endpoint_flag {
        command.args(["--endpoint-url", &url]);
        command.env_remove("AWS_ENDPOINT_URL");
    } else {
        command.env("AWS_ENDPOINT_URL", &url);
    }
    command
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run edgeseal")
}

fn edgeseal(args: &[&str]) -> Output {
    edgeseal_with(args, true)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn key_json() -> (String, String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let key = SigningKey::from_bytes(&bytes).unwrap();
    let b64 = key.to_base64().to_string();
    (edgeseal::edgeseal_secret_json(&key).to_string(), b64)
}

async fn secrets() -> Secrets {
    Secrets::new(&sdk_config().await)
}

/// A new secret whose AWSCURRENT is `value`; returns (name, version id).
async fn create_secret(client: &Secrets, value: &str) -> (String, String) {
    let name = unique_name("edgeseal-cli");
    let created = world::create_secret(client, &NewSecret::new(&name, value))
        .await
        .unwrap();
    (name, created.version_id().unwrap().to_owned())
}

async fn put_pending(client: &Secrets, name: &str, value: &str) -> String {
    // Secrets Manager wants 32-64 characters; a UUID-shaped random token.
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .client_request_token(&token)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    token
}

async fn promote(client: &Secrets, name: &str, new: &str, old: &str) {
    client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(new)
        .remove_from_version_id(old)
        .send()
        .await
        .unwrap();
}

const URL: &str = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/orders?b=2&a=1";

fn sign(secret: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "sign", "--secret-id", secret, "--url", URL];
    args.extend_from_slice(extra);
    let out = edgeseal(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    json(&out)
}

fn verify(secret: &str, signed: &serde_json::Value, extra: &[&str]) -> Output {
    let mut args = vec![
        "--json",
        "verify",
        "--secret-id",
        secret,
        "--url",
        URL,
        "--signature-input",
        signed["signature_input"].as_str().unwrap(),
        "--signature",
        signed["signature"].as_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    edgeseal(&args)
}

#[tokio::test]
async fn sign_with_the_secret_uses_the_version_id_as_keyid_and_verifies_per_stage() {
    let client = secrets().await;
    let (current_value, current_b64) = key_json();
    let (name, current) = create_secret(&client, &current_value).await;
    let (pending_value, pending_b64) = key_json();
    let pending = put_pending(&client, &name, &pending_value).await;

    let signed = sign(&name, &[]);
    assert_eq!(signed["keyid"], current.as_str());
    let out = verify(&name, &signed, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["stage"], "AWSCURRENT");
    assert_eq!(json(&out)["keyid"], current.as_str());

    let signed = sign(&name, &["--stage", "AWSPENDING"]);
    assert_eq!(signed["keyid"], pending.as_str());
    let out = verify(&name, &signed, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["stage"], "AWSPENDING");

    // Neither command printed a key.
    for b64 in [&current_b64, &pending_b64] {
        assert!(!text(&out).contains(b64.as_str()));
    }
}

#[tokio::test]
async fn the_previous_key_verifies_only_within_its_grace() {
    let client = secrets().await;
    let (old_value, _) = key_json();
    let (name, old) = create_secret(&client, &old_value).await;
    let signed_with_old = sign(&name, &[]);

    let (new_value, _) = key_json();
    let new = put_pending(&client, &name, &new_value).await;
    promote(&client, &name, &new, &old).await;

    let out = verify(&name, &signed_with_old, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["stage"], "AWSPREVIOUS");

    // Two seconds on: moto rounds CreatedDate to whole seconds, possibly upwards.
    let later = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2)
    .to_string();
    let out = verify(
        &name,
        &signed_with_old,
        &["--previous-grace-secs", "0", "--at", &later],
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(json(&out)["reason"], "previous_key_retired");

    // The new current key signs and verifies.
    let signed = sign(&name, &[]);
    assert_eq!(signed["keyid"], new.as_str());
    assert_eq!(code(&verify(&name, &signed, &[])), 0);
}

/// The template's first secret value: Secrets Manager's generator, 44 characters without
/// punctuation, under "key". It must be a usable key (the rotator tests it as AWSCURRENT).
#[tokio::test]
async fn the_templates_generated_first_value_is_a_usable_key() {
    let client = secrets().await;
    let password = client
        .get_random_password()
        .password_length(44)
        .exclude_punctuation(true)
        .include_space(false)
        .send()
        .await
        .unwrap();
    let generated = password.random_password().unwrap();
    assert_eq!(generated.len(), 44);
    let value = format!(r#"{{"alg":"hmac-sha256","key":"{generated}"}}"#);
    let (name, version) = create_secret(&client, &value).await;
    let signed = sign(&name, &[]);
    assert_eq!(signed["keyid"], version.as_str());
    let out = verify(&name, &signed, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(json(&out)["stage"], "AWSCURRENT");
    let status = json(&edgeseal(&["--json", "status", "--secret-id", &name]));
    assert_eq!(status["secret"]["versions"][0]["kind"], "edgeseal-key");
}

#[tokio::test]
async fn a_placeholder_secret_is_not_a_key_signing_fails_2_and_verify_fails_closed() {
    let client = secrets().await;
    let (name, placeholder) = create_secret(
        &client,
        r#"{"edgeseal":"bootstrap placeholder","placeholder":"x"}"#,
    )
    .await;
    let out = edgeseal(&["sign", "--secret-id", &name, "--url", URL]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("is not an edgeseal key"),
        "{}",
        text(&out)
    );

    // A signature made elsewhere finds no key here: no_keys, and the version is named.
    let other = create_secret(&client, &key_json().0).await.0;
    let signed = sign(&other, &[]);
    let out = verify(&name, &signed, &[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let verdict = json(&out);
    assert_eq!(verdict["reason"], "no_keys");
    assert_eq!(verdict["skipped_versions"][0], placeholder.as_str());
}

async fn create_distribution() -> String {
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk_config().await);
    let config = world::Distribution::new(
        "api",
        "abc123.execute-api.us-east-1.amazonaws.com",
        "edgeseal cli test",
    )
    .caller_reference(unique_name("cli-status"))
    .cache_policy(edgeseal_testkit::CACHING_DISABLED)
    .build()
    .unwrap();
    let created = cloudfront
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    created.distribution().unwrap().id().to_owned()
}

#[tokio::test]
async fn status_shows_versions_stages_warnings_and_each_behaviors_edge_association() {
    let client = secrets().await;
    let (current_value, current_b64) = key_json();
    let (name, current) = create_secret(&client, &current_value).await;
    let pending = put_pending(&client, &name, &key_json().0).await;
    let distribution = create_distribution().await;

    let out = edgeseal(&[
        "--json",
        "status",
        "--secret-id",
        &name,
        "--distribution-id",
        &distribution,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains(&current_b64));
    let status = json(&out);
    let versions = status["secret"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{status}");
    // Current first.
    assert_eq!(versions[0]["version_id"], current.as_str());
    assert_eq!(versions[0]["stages"][0], "AWSCURRENT");
    assert_eq!(versions[0]["kind"], "edgeseal-key");
    assert_eq!(versions[1]["version_id"], pending.as_str());
    assert_eq!(versions[1]["stages"][0], "AWSPENDING");
    assert_eq!(status["secret"]["rotation_enabled"], false);

    let dist = &status["distributions"][0];
    assert_eq!(dist["id"], distribution.as_str());
    assert!(dist["status"].is_string());
    let behaviors = dist["behaviors"].as_array().unwrap();
    assert_eq!(behaviors.len(), 1);
    assert_eq!(behaviors[0]["path_pattern"], "*");
    // moto drops Lambda@Edge associations, so the behavior has none: a warning.
    assert!(behaviors[0]["origin_request_function_arn"].is_null());
    let warnings = status["warnings"].to_string();
    for expected in [
        "rotation is not enabled",
        "AWSPENDING",
        "no origin-request association",
    ] {
        assert!(warnings.contains(expected), "{expected}: {warnings}");
    }

    // --check turns warnings into exit 1; the text form names the same things.
    let out = edgeseal(&[
        "status",
        "--secret-id",
        &name,
        "--distribution-id",
        &distribution,
        "--check",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains(&current) && shown.contains("AWSCURRENT") && shown.contains(&distribution),
        "{shown}"
    );
}

#[tokio::test]
async fn status_reads_aws_endpoint_url_and_check_flags_a_secret_without_rotation() {
    let client = secrets().await;
    let (name, current) = create_secret(&client, &key_json().0).await;
    let out = edgeseal_with(&["--json", "status", "--secret-id", &name], false);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = json(&out);
    assert_eq!(
        status["secret"]["versions"][0]["version_id"],
        current.as_str()
    );
    assert_eq!(status["secret"]["versions"][0]["kind"], "edgeseal-key");
    assert_eq!(status["distributions"], serde_json::json!([]));
    assert_eq!(status["rotator"], serde_json::Value::Null);
    // The one thing wrong with a bare secret: nothing rotates it.
    assert_eq!(
        status["warnings"],
        serde_json::json!(["rotation is not enabled on the secret"])
    );
    let out = edgeseal_with(&["status", "--secret-id", &name, "--check"], false);
    assert_eq!(code(&out), 1, "{}", text(&out));
}

#[tokio::test]
async fn rotate_starts_a_rotation_and_prints_the_new_version() {
    let client = secrets().await;
    let (name, first) = create_secret(&client, &key_json().0).await;
    let out = edgeseal(&["--json", "rotate", "--secret-id", &name]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rotated = json(&out);
    let version = rotated["version_id"].as_str().unwrap();
    assert!(!version.is_empty() && version != first);
    assert!(rotated["secret_arn"].as_str().unwrap().contains(&name));
    let listed = client
        .list_secret_version_ids()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert!(
        listed
            .versions()
            .iter()
            .any(|v| v.version_id() == Some(version))
    );
}

#[tokio::test]
async fn aws_errors_exit_3_with_the_service_error_code() {
    let missing = unique_name("edgeseal-cli-missing");
    for args in [
        vec!["status", "--secret-id", missing.as_str()],
        vec!["rotate", "--secret-id", missing.as_str()],
        vec!["sign", "--secret-id", missing.as_str(), "--url", URL],
    ] {
        let out = edgeseal(&args);
        assert_eq!(code(&out), 3, "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("ResourceNotFoundException"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(!text(&out).contains("panicked"));
    }
    let out = edgeseal(&["--json", "status", "--secret-id", &missing]);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"], "aws");
    assert_eq!(err["exit_code"], 3);
}

/// A rotation function in moto (it needs an IAM role Lambda can assume) with
/// `variables` as its environment; returns its ARN.
async fn create_rotator_function(variables: &[(&str, String)]) -> String {
    let config = sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name(unique_name("edgeseal-cli-rotator"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_owned();
    let environment = variables
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    let lambda = aws_sdk_lambda::Client::new(&config);
    let function = world::create_function(
        &lambda,
        NewFunction::rotation_stand_in(&unique_name("edgeseal-cli-rotator"), &role_arn)
            .environment(environment),
    )
    .await
    .unwrap();
    function.arn
}

/// A signed rotator's environment naming `distribution` (padded: the rotator trims
/// it), one its cold start accepts (`EDGE_ASSETS_DIR` defaults under Lambda's own
/// `LAMBDA_TASK_ROOT`).
fn signed_rotator_environment(distribution: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CLOUDFRONT_DISTRIBUTION_ID", format!(" {distribution} ,")),
        ("EDGE_FUNCTION_NAME", "edgeseal-edge-signer".into()),
        ("ROTATION_MODE", "signed".into()),
        ("ORIGIN_URL", "https://origin.example.com/health".into()),
    ]
}

/// Make `rotator` the secret's rotation function, without rotating now.
async fn rotate_with(client: &aws_sdk_secretsmanager::Client, name: &str, rotator: &str) {
    client
        .rotate_secret()
        .secret_id(name)
        .rotation_lambda_arn(rotator)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .schedule_expression("rate(7 days)")
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn status_finds_the_distributions_through_the_rotation_function() {
    let client = secrets().await;
    let (name, _) = create_secret(&client, &key_json().0).await;
    let distribution = create_distribution().await;
    let rotator = create_rotator_function(&signed_rotator_environment(&distribution)).await;
    rotate_with(&client, &name, &rotator).await;

    let out = edgeseal(&["--json", "status", "--secret-id", &name]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = json(&out);
    // (moto records the rotation function but, unlike AWS, neither the schedule nor
    // "enabled" when the rotation is not immediate; only the discovery is checked.)
    assert_eq!(status["secret"]["rotation_lambda_arn"], rotator.as_str());
    assert_eq!(
        status["rotator"]["distributions"],
        serde_json::json!([distribution])
    );
    assert_eq!(status["rotator"]["edge_function"], "edgeseal-edge-signer");
    assert_eq!(status["rotator"]["mode"], "signed");
    assert_eq!(status["distributions"][0]["id"], distribution.as_str());
    // moto dropped the association the rotator would maintain: flagged, per distribution.
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains(&format!(
            "{distribution}: cache behavior * has no origin-request association"
        )),
        "{warnings}"
    );
}

#[tokio::test]
async fn status_reports_a_rotator_environment_its_cold_start_refuses_by_the_variable() {
    let client = secrets().await;
    let (name, _) = create_secret(&client, &key_json().0).await;
    let distribution = create_distribution().await;
    // The rotator's parser requires ORIGIN_URL (its origin test): its cold start fails.
    let mut variables = signed_rotator_environment(&distribution);
    variables.retain(|(name, _)| *name != "ORIGIN_URL");
    let rotator = create_rotator_function(&variables).await;
    rotate_with(&client, &name, &rotator).await;

    let out = edgeseal(&["--json", "status", "--secret-id", &name]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let status = json(&out);
    assert_eq!(status["rotator"], serde_json::Value::Null);
    assert_eq!(status["distributions"], serde_json::json!([]));
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains(&format!(
            "the rotation function {rotator} refuses its configuration at cold start"
        )) && warnings.contains("ORIGIN_URL is required but not set"),
        "{warnings}"
    );
    let out = edgeseal(&["status", "--secret-id", &name, "--check"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("ORIGIN_URL"), "{}", text(&out));
}

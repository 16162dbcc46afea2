//! The demo's stack comes out of `deploy/template.yaml`: the functions run with the
//! environment the transformed template gives them, the secret, the edge function and
//! API Gateway's authorizer settings are the template's. So a template change that breaks
//! the system breaks the demo, with an error naming the template: each test below edits a
//! copy of the template the way a mistake would, and the demo must refuse it.
//!
//! Needs what `scripts/test` provides: moto (`EDGESEAL_MOTO_URL`), the authorizer binary
//! (`EDGESEAL_AUTHORIZER_BIN`), the built edge assets (`EDGESEAL_EDGE_ASSETS`) and
//! aws-sam-translator in `.venv` (the renderer, deploy/local/render.py).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use edgeseal_demo::TemplateSource;
use edgeseal_demo::{DemoError, Settings, run, start};

/// A copy of the checkout's template with `from` replaced by `to` (which must occur
/// exactly once), in its own directory.
fn broken_template(name: &str, from: &str, to: &str) -> PathBuf {
    let source = TemplateSource::default();
    let text = std::fs::read_to_string(&source.template).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "the template no longer has exactly one {from:?}: update this test"
    );
    let dir = std::env::temp_dir().join(format!("edgeseal-template-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("template.yaml");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

fn settings_with(name: &str, template: Option<PathBuf>) -> Settings {
    let mut settings = common::settings(&format!("edgeseal-template-{name}"));
    if let Some(t) = template {
        settings.template.template = t;
    }
    settings.duration = Duration::from_secs(12);
    settings.rotations = 1;
    settings.rate = 20;
    settings.attack_rate = 4;
    settings.propagation = Duration::from_secs(2);
    settings
}

/// The demo refuses the broken template at start, naming it and (where given) why.
async fn refused(name: &str, from: &str, to: &str, why: &[&str]) {
    let template = broken_template(name, from, to);
    let settings = settings_with(name, Some(template.clone()));
    let error = match start(&settings).await {
        Ok(_) => panic!("the demo started on a template where {from:?} became {to:?}"),
        Err(e) => e,
    };
    println!("{error}");
    assert!(matches!(error, DemoError::Template(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&template.display().to_string()),
        "the error does not name the template: {message}"
    );
    for word in why {
        assert!(
            message.contains(word),
            "the error does not say {word:?}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_as_it_is_runs_a_clean_rotation() {
    let settings = settings_with("as-is", None);
    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);
    common::assert_rotated_cleanly(&report, settings.rotations);
    assert!(
        report
            .summary
            .contains("deploy/template.yaml (new-stack path)")
            && report.summary.contains("deploy/parameters/new-stack.json")
            && report.summary.contains("rate(7 days)"),
        "{}",
        report.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizers_secret_variable_renamed_is_refused() {
    refused(
        "authorizer-secret",
        "          SECRET_ID: !If [CreateSecret, !Ref Secret, !Ref ExistingSecretArn]",
        "          SECRET_ARN: !If [CreateSecret, !Ref Secret, !Ref ExistingSecretArn]",
        &["did not start"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotators_distribution_dropped_is_refused() {
    refused(
        "rotator-distribution",
        "          CLOUDFRONT_DISTRIBUTION_ID:\n",
        "          CLOUDFRONT_DISTRIBUTIONS:\n",
        &["rotator", "CLOUDFRONT_DISTRIBUTION_ID"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_identity_source_header_is_refused() {
    refused(
        "identity-source",
        "\"$request.header.signature-input\"",
        "\"$request.header.signature-inputs\"",
        &["did not start", "first request"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_that_differ_between_edge_and_authorizer_are_refused() {
    refused(
        "label",
        "          SIGNATURE_LABEL: !Ref SignatureLabel\n          MAX_AGE_SECS",
        "          SIGNATURE_LABEL: sig\n          MAX_AGE_SECS",
        &["did not start", "first request"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_versions_kept_below_what_rotation_needs_is_refused() {
    refused(
        "keep-versions",
        "    Default: 3\n    MinValue: 2\n    Description: Published edge versions kept",
        "    Default: 1\n    MinValue: 1\n    Description: Published edge versions kept",
        &["EDGE_KEEP_VERSIONS"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_cloudformation_refuses_is_refused() {
    // A Rule that fails for the new-stack parameters: CloudFormation refuses the stack
    // before creating anything, and so does the demo.
    refused(
        "rule",
        "      - Assert: !Equals [!Ref AWS::Region, us-east-1]",
        "      - Assert: !Equals [!Ref AWS::Region, eu-west-1]",
        &["refused", "Rule EdgeRegion"],
    )
    .await;
}

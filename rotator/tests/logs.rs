//! Key material never reaches logs or errors: a rotation with a fault and a rejected
//! key, with every log line captured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use edgeseal::SecretValue;
use edgeseal_rotator::{Op, Step, TargetKind};
use edgeseal_testkit::{FaultPlan, FaultTiming};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every form a secret could leak in: the JSON value, the base64 key / header value.
fn secret_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned()];
    match SecretValue::parse(value, Some(FIELD)).unwrap() {
        SecretValue::Hmac(key) => forms.push(key.to_base64().to_string()),
        SecretValue::StaticHeader(v) => forms.push(v.expose().to_owned()),
    }
    forms
}

async fn rotation_with_captured_logs(mode: TargetKind) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let world = World::new(mode).await;
    let mut errors = Vec::new();
    // A lost PutSecretValue answer, then a pending key the origin rejects once.
    let rotator = world.rotator(FaultPlan::fail(Op::PutSecretValue, 0, FaultTiming::After));
    let token = world.start_rotation().await;
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);
    errors.push(format!(
        "{:?}",
        rotator
            .run(&world.event(Step::Create, &token), deadline())
            .await
            .unwrap_err()
    ));
    rotator
        .run(&world.event(Step::Create, &token), deadline())
        .await
        .unwrap();
    let pending = uncached_secret_value(&world.sm, &world.secret, &token)
        .await
        .unwrap();
    let reject = match SecretValue::parse(&pending, Some(FIELD)).unwrap() {
        SecretValue::Hmac(_) => token.clone(),
        SecretValue::StaticHeader(v) => v.expose().to_owned(),
    };
    rotator
        .run(&world.event(Step::Set, &token), deadline())
        .await
        .unwrap();
    *world.origin.reject_keyid.lock().unwrap() = Some(reject);
    let err = rotator
        .run(&world.event(Step::Test, &token), deadline())
        .await
        .unwrap_err();
    errors.push(format!("{err:?} / {err}"));
    *world.origin.reject_keyid.lock().unwrap() = None;
    let (_, more) = world.rotate_like_secrets_manager(&rotator, &token, 2).await;
    errors.extend(more);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("createSecret") && logs.contains("finishSecret"),
        "steps are logged"
    );
    assert!(logs.contains("AWSPENDING"), "the rejected stage is logged");
    assert!(
        logs.contains(&token),
        "the capture sees the rotator's fields (version ids are not secret)"
    );
    let current = uncached_secret_value(&world.sm, &world.secret, &world.initial_token)
        .await
        .unwrap();
    for form in secret_forms(&pending)
        .into_iter()
        .chain(secret_forms(&current))
    {
        assert!(!logs.contains(&form), "a secret reached the logs");
        for e in &errors {
            assert!(!e.contains(&form), "a secret reached an error: {e}");
        }
    }
}

#[tokio::test]
async fn signed_rotation_logs_no_key_material() {
    rotation_with_captured_logs(TargetKind::Signed).await;
}

#[tokio::test]
async fn static_rotation_logs_no_header_value() {
    rotation_with_captured_logs(TargetKind::StaticHeader).await;
}

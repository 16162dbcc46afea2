//! `PROBE=off`: rotating for an origin only CloudFront can reach.
//!
//! The rotator's probe goes from the Lambda straight to `ORIGIN_URL`. An origin locked to
//! CloudFront by the request's source refuses it whatever key it carries (a security
//! group on the `cloudfront.origin-facing` prefix list, WAF IP-set and IP-reputation
//! rules, resource policies, a disabled `execute-api` endpoint), and a rotation that
//! must probe then never completes. Without probes, testSecret waits `SETTLE_SECS` and
//! proves nothing about the origin: the weaker guarantee (docs/deployment.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use edgeseal_rotator::{Config, ConfigError, RotationError, Step, TargetKind};
use edgeseal_testkit::FaultPlan;

/// The world's environment without the origin test, with `extra` on top.
fn without_origin(world: &World, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = world
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ORIGIN_"))
        .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

fn config(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| vars.get(name).cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_completes_without_an_origin_after_the_settle_time() {
    for kind in [TargetKind::Signed, TargetKind::StaticHeader] {
        let world = World::new(kind).await;
        let settle = Duration::from_secs(1);
        let cfg = config(&without_origin(
            &world,
            &[("PROBE", "off"), ("SETTLE_SECS", "1")],
        ))
        .unwrap();
        assert_eq!(cfg.origin_test, None);
        assert_eq!(cfg.settle_without_probe, Some(settle));
        let rotator = world.rotator_with(cfg, FaultPlan::none(), world.cdn.clone());
        // An origin that would hang every probe: nothing may reach it.
        world
            .origin
            .silent
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let token = world.start_rotation().await;
        for step in Step::ALL {
            let started = Instant::now();
            rotator
                .run(
                    &world.event(step, &token),
                    tokio::time::Instant::now() + Duration::from_secs(10),
                )
                .await
                .unwrap_or_else(|e| panic!("{kind:?} {step}: {e}"));
            if step == Step::Test {
                assert!(
                    started.elapsed() >= settle,
                    "{kind:?}: testSecret took {:?}, less than SETTLE_SECS",
                    started.elapsed()
                );
            }
        }
        world.assert_rotated(&token, &world.initial_token).await;
        assert!(
            world.origin.requests.lock().unwrap().is_empty(),
            "{kind:?}: the rotator sent a request to the origin"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settle_time_longer_than_the_step_fails_it_without_waiting() {
    let world = World::new(TargetKind::Signed).await;
    let cfg = config(&without_origin(
        &world,
        &[("PROBE", "off"), ("SETTLE_SECS", "30")],
    ))
    .unwrap();
    let rotator = world.rotator_with(cfg, FaultPlan::none(), world.cdn.clone());
    let token = world.start_rotation().await;
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(5);
    for step in [Step::Create, Step::Set] {
        rotator
            .run(&world.event(step, &token), deadline())
            .await
            .unwrap();
    }
    let started = Instant::now();
    let err = rotator
        .run(&world.event(Step::Test, &token), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::SettleTooLong(_)), "{err}");
    assert!(err.to_string().contains("SETTLE_SECS"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_probe_settings_stop_the_cold_start_naming_the_variable() {
    let world = World::new(TargetKind::Signed).await;
    let probing: HashMap<String, String> = world.env().into_iter().collect();
    let with = |base: &HashMap<String, String>, extra: &[(&str, &str)]| {
        let mut vars = base.clone();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        config(&vars)
    };
    let bare = without_origin(&world, &[]);

    // PROBE=off needs a settle time.
    assert_eq!(
        with(&bare, &[("PROBE", "off")]).unwrap_err(),
        ConfigError::Missing("SETTLE_SECS")
    );
    // An origin test configured and switched off: which one was meant?
    let err = with(&probing, &[("PROBE", "off"), ("SETTLE_SECS", "5")]).unwrap_err();
    assert!(err.to_string().starts_with("ORIGIN_URL"), "{err}");
    for (var, value) in [
        ("ORIGIN_URL", "https://api.example.com/"),
        ("ORIGIN_TEST_PATH", "/health"),
        ("ORIGIN_TEST_TIMEOUT_MS", "5000"),
    ] {
        let mut one = bare.clone();
        one.insert(var.to_owned(), value.to_owned());
        let err = with(&one, &[("PROBE", "off"), ("SETTLE_SECS", "5")]).unwrap_err();
        assert!(err.to_string().starts_with(var), "{var}: {err}");
    }
    // A settle time without PROBE=off would be silently unused.
    let err = with(&probing, &[("SETTLE_SECS", "5")]).unwrap_err();
    assert!(err.to_string().starts_with("SETTLE_SECS"), "{err}");
    // Neither an origin nor PROBE=off.
    assert_eq!(
        with(&bare, &[]).unwrap_err(),
        ConfigError::Missing("ORIGIN_URL")
    );
    // Unknown values and out-of-range times.
    let err = with(&bare, &[("PROBE", "no")]).unwrap_err();
    assert!(err.to_string().starts_with("PROBE"), "{err}");
    for settle in ["0", "soon", "60"] {
        let err = with(&bare, &[("PROBE", "off"), ("SETTLE_SECS", settle)]).unwrap_err();
        assert!(
            err.to_string().starts_with("SETTLE_SECS"),
            "{settle}: {err}"
        );
    }
    // Targets that prove their change by probing cannot switch it off.
    let err = with(
        &bare,
        &[
            ("ROTATION_TARGET", "api-gateway-api-key"),
            ("PROBE", "off"),
            ("SETTLE_SECS", "5"),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("PROBE"), "{err}");
    // PROBE=origin is the default, spelled out.
    assert!(with(&probing, &[("PROBE", "origin")]).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_probe_names_what_to_check() {
    let world = World::new(TargetKind::Signed).await;
    // Nothing listens here: what a security group that admits only CloudFront's prefix
    // list does to the rotator (refused or dropped).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/prod/health")
    };
    let cfg = world.config_with(&[("ORIGIN_URL", closed.as_str())]);
    let rotator = world.rotator_with(cfg, FaultPlan::none(), world.cdn.clone());
    let token = world.start_rotation().await;
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);
    rotator
        .run(&world.event(Step::Create, &token), deadline())
        .await
        .unwrap();
    let err = rotator
        .run(&world.event(Step::Set, &token), deadline())
        .await
        .unwrap_err();
    let text = err.to_string();
    for hint in [
        "only CloudFront can reach",
        "PROBE=off",
        "docs/deployment.md",
    ] {
        assert!(text.contains(hint), "no {hint:?} in: {text}");
    }
    // And an origin that answers 403 to the rotator (a WAF IP rule, a resource policy)
    // is told apart from nothing at all.
    world
        .origin
        .reject_keyid
        .lock()
        .unwrap()
        .replace(token.clone());
    let rotator = world.rotator(FaultPlan::none());
    let err = rotator
        .run(&world.event(Step::Set, &token), deadline())
        .await
        .unwrap_err();
    let text = err.to_string();
    for hint in [
        "403",
        "WAF IP-set",
        "resource policy",
        "execute-api",
        "PROBE=off",
    ] {
        assert!(text.contains(hint), "no {hint:?} in: {text}");
    }
}

//! The demo's other CloudFront targets, short: `api-gateway-api-key` (a REST stage whose
//! API Gateway key check decides, its nodes learning of a new key one after another) and
//! `waf` (a regional web ACL whose areas apply a change one after another). Across their
//! rotations no legitimate request may be refused, no direct request let through, and
//! traffic must really move from value to value.
//!
//! Needs what `scripts/test` provides (see `end_to_end.rs`); fails, never skips, without.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod common;

use std::time::Duration;

use edgeseal_demo::Kind;
use edgeseal_demo::run;
use edgeseal_rotator::TargetKind;

async fn short_run(mode: TargetKind) {
    let mut settings = common::settings(&format!("edgeseal-target-{}", mode.as_str()));
    settings.mode = mode;
    settings.duration = Duration::from_secs(24);
    settings.rotations = 2;
    settings.rate = 25;
    settings.attack_rate = 6;
    settings.propagation = Duration::from_secs(2);

    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);

    common::assert_rotated_cleanly(&report, settings.rotations);
    assert!(report.count(Kind::Legitimate) > 200, "too little traffic");
    assert!(report.count(Kind::Unsigned) >= 5, "too few direct requests");
}

/// One after the other: side by side on a small machine they would compete for the CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_and_waf_rotations_refuse_no_legitimate_request_and_admit_no_direct_one() {
    short_run(TargetKind::ApiKey).await;
    short_run(TargetKind::Waf).await;
}

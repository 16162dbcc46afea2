//! Short versions of the demo runs of issue 11: rotations under load with a rotator
//! Lambda timeout shorter than CloudFront's propagation, the stack starting with
//! `RotateImmediately=false` (a configuration test), in both modes. In static-header mode
//! the real authorizer binary is the origin of the rotator's own checks: setSecret's
//! pre-flight right after createSecret must be accepted (the authorizer refreshes on a
//! header value it does not hold yet).
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
use edgeseal_demo::{FirstRotation, longest_step};
use edgeseal_rotator::TargetKind;

async fn short_run(mode: TargetKind) {
    let mut settings = common::settings(&format!("edgeseal-timing-{}", mode.as_str()));
    settings.mode = mode;
    settings.first_rotation = FirstRotation::ConfigTest;
    settings.duration = Duration::from_secs(20);
    settings.rotations = 2;
    settings.rate = 25;
    settings.attack_rate = 6;
    // CloudFront takes longer to deploy than the rotator Lambda may run.
    settings.propagation = Duration::from_secs(5);
    settings.rotator_timeout = Duration::from_secs(3);

    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);

    common::assert_rotated_cleanly(&report, settings.rotations);
    assert!(report.count(Kind::Legitimate) > 200, "too little traffic");
    let timeline: Vec<&str> = report.timeline.iter().map(|e| e.what.as_str()).collect();
    assert!(
        timeline.contains(&"testSecret: configuration test passed"),
        "{timeline:?}"
    );
    assert!(
        timeline.iter().all(|w| !w.contains("failed")),
        "every step passed at its first attempt: {timeline:?}"
    );
    let longest = longest_step(&report.step_timings).expect("steps ran");
    println!(
        "longest step ({mode:?}): {:.3} s ({})",
        longest.took.as_secs_f64(),
        longest.step
    );
}

/// Both modes in one test, one after the other: run side by side on a small machine,
/// they would compete for the CPU and turn a scheduling delay into a failed step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_complete_while_cloudfront_propagates_longer_than_the_rotator_runs() {
    short_run(TargetKind::Signed).await;
    // Static-header: also the rotator's origin checks against the real authorizer.
    short_run(TargetKind::StaticHeader).await;
}

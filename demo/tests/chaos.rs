//! A short chaos run: Secrets Manager down for longer than the authorizer's stale window,
//! one authorizer execution environment shut down and started cold under traffic, one
//! rotation step failing after its write took effect. No attack may get through, every
//! rotation must complete, and a legitimate request may be denied only where the stale
//! window ran out (`no_keys`, inside the outage).
//!
//! Needs what `scripts/test` provides (see common/mod.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

// Not every helper applies here: a chaos run may deny inside the stale window.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use edgeseal_demo::Kind;
use edgeseal_demo::run;
use edgeseal_demo::{ChaosSettings, NO_KEYS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_a_cold_start_and_a_failed_step_let_no_attack_through_and_deny_only_past_the_stale_window()
 {
    let mut settings = common::settings("edgeseal-chaos");
    settings.duration = Duration::from_secs(30);
    settings.rotations = 2;
    settings.rate = 30;
    settings.attack_rate = 8;
    settings.propagation = Duration::from_secs(2);
    let mut chaos = ChaosSettings::for_rotations(settings.rotations);
    // Refused for 6 s (longer than TTL + stale window, so the authorizer must fail
    // closed in that part), then silent for 2 s.
    chaos.outage = Duration::from_secs(8);
    chaos.silent = Duration::from_secs(2);
    settings.chaos = Some(chaos.clone());

    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);
    let c = report.chaos.as_ref().expect("a chaos report");

    // Every planned failure happened.
    let (from, to) = c.outage.expect("Secrets Manager went down");
    assert!(to - from >= 7.5, "outage {from}..{to}");
    assert_eq!(chaos.faulty_rotation, 1);
    assert!(c.fault_fired, "the rotation fault struck");
    let failed_then_retried = report
        .timeline
        .iter()
        .any(|e| e.rotation == 1 && e.what.starts_with("setSecret failed (attempt 1)"));
    assert!(failed_then_retried, "{:?}", report.timeline);
    let restarted = c.lives.iter().filter(|l| l.slot == 1).collect::<Vec<_>>();
    assert_eq!(restarted.len(), 2, "{:?}", c.lives);
    assert!(
        restarted[1].answered > 0 && restarted[1].first_response.is_some(),
        "the new process served traffic: {:?}",
        restarted[1]
    );
    assert!(c.complete());

    // The outcome.
    assert!(
        report.failed_rotations.is_empty(),
        "{:?}",
        report.failed_rotations
    );
    let finished = report
        .timeline
        .iter()
        .filter(|e| e.what == "finishSecret done")
        .count();
    assert_eq!(finished, settings.rotations);
    let (legit_rejected, attacks_passed) = report.mistakes();
    assert_eq!(attacks_passed, 0, "attacks got through");
    assert_eq!(
        report.unexpected_rejections(),
        0,
        "{:?}",
        c.rejected_by_reason
    );
    // The outage outlasted TTL + stale window, so the authorizer did fail closed for a
    // while, and only then.
    assert!(c.stale_window_denials > 0, "{:?}", c.rejected_by_reason);
    assert_eq!(legit_rejected, c.stale_window_denials);
    assert!(
        report
            .reasons
            .get(&format!("deny {NO_KEYS}"))
            .copied()
            .unwrap_or(0)
            >= c.stale_window_denials,
        "{:?}",
        report.reasons
    );
    assert!(report.count(Kind::Legitimate) > 300);
}

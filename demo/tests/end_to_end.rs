//! End to end: several rotations under steady traffic, with old and new edge versions
//! serving side by side while each change propagates. No legitimate request may be
//! rejected; every direct, unsigned, forged, tampered or expired request must be.
//!
//! Needs what `scripts/test` provides: moto (`EDGESEAL_MOTO_URL`), the authorizer
//! binary (`EDGESEAL_AUTHORIZER_BIN`) and the built edge assets
//! (`EDGESEAL_EDGE_ASSETS`). It fails, never skips, when they are missing.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_under_load_drop_no_legitimate_request_and_let_no_attack_through() {
    let mut settings = common::settings("edgeseal-e2e");
    settings.duration = Duration::from_secs(24);
    settings.rotations = 3;
    settings.rate = 30;
    settings.attack_rate = 8;
    settings.propagation = Duration::from_secs(3);

    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);

    common::assert_rotated_cleanly(&report, settings.rotations);
    assert!(
        report.count(Kind::Legitimate) > 300,
        "too little traffic to mean anything"
    );
    for kind in [
        Kind::Unsigned,
        Kind::Forged,
        Kind::Tampered,
        Kind::ReplayedExpired,
    ] {
        assert!(report.count(kind) >= 5, "too few {kind:?} requests");
    }
    // Every rotation published a version.
    assert_eq!(report.edge_versions, settings.rotations + 1);
    // The authorizer itself saw and denied the attacks for the expected reasons.
    assert!(
        report.reasons.get("deny too_old").copied().unwrap_or(0) >= 5,
        "{:?}",
        report.reasons
    );
    assert!(
        report
            .reasons
            .get("deny bad_signature")
            .copied()
            .unwrap_or(0)
            >= 10,
        "{:?}",
        report.reasons
    );
    assert!(
        std::fs::read_to_string(&report.chart)
            .unwrap()
            .starts_with("<svg")
    );
}

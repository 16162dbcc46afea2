//! What the demo's tests need from `scripts/test`: moto (`EDGESEAL_MOTO_URL`), the
//! authorizer binary (`EDGESEAL_AUTHORIZER_BIN`) and the built edge assets
//! (`EDGESEAL_EDGE_ASSETS`). Missing ones fail the test, never skip it.

use std::path::PathBuf;

use edgeseal_demo::{Report, Settings};

fn required(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the tests with `bash scripts/test`"))
}

/// Settings for a quiet run writing under the temp dir's `{name}-{pid}`.
pub fn settings(name: &str) -> Settings {
    let out = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let mut settings = Settings::new(
        edgeseal_testkit::moto_url(),
        PathBuf::from(required("EDGESEAL_AUTHORIZER_BIN")),
        PathBuf::from(required("EDGESEAL_EDGE_ASSETS")),
        out,
    );
    settings.progress = false;
    settings
}

/// What every clean run shows: each of `rotations` rotations finished, no legitimate
/// request refused, no attack let through, and traffic moved from key to key (one key id,
/// or API key id, per rotation plus the first).
pub fn assert_rotated_cleanly(report: &Report, rotations: usize) {
    assert!(
        report.failed_rotations.is_empty(),
        "{:?}",
        report.failed_rotations
    );
    let (legit_rejected, attacks_passed) = report.mistakes();
    assert_eq!(legit_rejected, 0, "legitimate requests were rejected");
    assert_eq!(attacks_passed, 0, "attacks got through");
    let finished = report
        .timeline
        .iter()
        .filter(|e| e.what == "finishSecret done")
        .count();
    assert_eq!(finished, rotations, "rotations finished");
    let keyids = edgeseal_demo::per_keyid(&report.outcomes, 1.0);
    assert_eq!(
        keyids.len(),
        rotations + 1,
        "{:?}",
        keyids.keys().collect::<Vec<_>>()
    );
}

//! `--jwt`, shortened: user tokens through CloudFront to the real authorizer binary,
//! which checks them after the edge signature, while the stand-in issuer adds a key (and
//! signs with it at once), then retires the old one, and Secrets Manager rotates the edge
//! key twice. No legitimate token may be refused, no bad one let through.
//!
//! Needs what `scripts/test` provides (moto, `EDGESEAL_AUTHORIZER_BIN`,
//! `EDGESEAL_EDGE_ASSETS`); fails, never skips, without them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

// Only its settings: this run has no attacks or keyid timeline to check.
#[allow(dead_code)]
mod common;

use std::time::Duration;

use edgeseal_demo::Fate;
use edgeseal_demo::{TokenKind, run_jwt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tokens_across_issuer_and_edge_key_rotations_refuse_no_legitimate_one() {
    let mut settings = common::settings("edgeseal-jwt");
    settings.duration = Duration::from_secs(24);
    settings.rotations = 2;
    settings.rate = 40;
    settings.propagation = Duration::from_secs(3);

    let report = run_jwt(&settings).await.expect("the demo runs");
    println!("{}", report.summary);

    assert_eq!(report.legitimate_refused(), 0, "legitimate tokens refused");
    assert_eq!(report.bad_allowed(), 0, "bad tokens let through");
    assert!(
        report.failed_rotations.is_empty(),
        "{:?}",
        report.failed_rotations
    );
    assert_eq!(
        report
            .rotations
            .iter()
            .filter(|r| matches!(r.fate, Fate::Completed { .. }))
            .count(),
        settings.rotations,
        "every edge key rotation completed"
    );
    assert!(report.passed(), "every kind sent");
    // Tokens under the key the issuer added mid-run were let through, and the old key's
    // tokens refused once it was retired.
    let tally = |kind: TokenKind| report.tallies.get(&kind).copied().unwrap_or_default();
    assert!(
        tally(TokenKind::NewKid).allowed >= 20,
        "{:?}",
        report.tallies
    );
    assert!(
        tally(TokenKind::RetiredKid).refused >= 1,
        "{:?}",
        report.tallies
    );
    // The authorizer itself refused them for the token's own reasons.
    for reason in [
        "deny jwt_expired",
        "deny jwt_not_yet_valid",
        "deny jwt_wrong_audience",
        "deny jwt_wrong_issuer",
        "deny jwt_insufficient_scope",
        "deny jwt_bad_algorithm",
        "deny jwt_unknown_kid",
        "deny jwt_missing",
    ] {
        assert!(
            report.reasons.get(reason).copied().unwrap_or(0) >= 1,
            "{reason}: {:?}",
            report.reasons
        );
    }
    assert_eq!(
        report.reasons.get("deny too_old").copied().unwrap_or(0),
        0,
        "no edge signature aged past MAX_AGE_SECS on its way: {:?}",
        report.reasons
    );
}

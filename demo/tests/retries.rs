//! Retries as Secrets Manager makes them (issue 23, item 5): rotations due closer together
//! than CloudFront propagates. The second is refused by the rotator
//! (`PreviousRotationPropagating`) until the first one's change is `Deployed`, and is
//! retried with its own token on a spaced cadence until it completes, late. The third comes
//! due while the second is still incomplete, and `RotateSecret` refuses it ("A previous
//! rotation isn't complete. That rotation will be reattempted."). No legitimate request is
//! rejected, and a refusal that later completes is not a failure.
//!
//! Needs what `scripts/test` provides (see common/mod.rs); fails, never skips, without.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

#[allow(dead_code)]
mod common;

use std::time::Duration;

use edgeseal_demo::Fate;
use edgeseal_demo::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_rotation_is_retried_with_its_token_and_a_new_one_is_refused_meanwhile() {
    let mut settings = common::settings("edgeseal-retries");
    // Due at 10 s, 20 s and 30 s; each distribution change takes 25 s to deploy.
    settings.duration = Duration::from_secs(40);
    settings.rotations = 3;
    settings.rate = 25;
    settings.attack_rate = 6;
    settings.propagation = Duration::from_secs(25);
    settings.rotator_timeout = Duration::from_secs(3);

    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);

    assert!(
        report.failed_rotations.is_empty(),
        "{:?}",
        report.failed_rotations
    );
    let (legit_rejected, attacks_passed) = report.mistakes();
    assert_eq!(legit_rejected, 0, "legitimate requests were rejected");
    assert_eq!(attacks_passed, 0, "attacks got through");
    let of = |rotation: usize| -> Vec<&str> {
        report
            .timeline
            .iter()
            .filter(|e| e.rotation == rotation)
            .map(|e| e.what.as_str())
            .collect()
    };
    // Rotation 2: refused by the rotator while rotation 1's change propagates, retried
    // with the one token RotateSecret gave it, completed.
    let second = of(2);
    assert_eq!(
        second
            .iter()
            .filter(|w| w.starts_with("RotateSecret (token"))
            .count(),
        1,
        "one RotateSecret, one token: {second:?}"
    );
    assert!(
        second
            .iter()
            .any(|w| w.starts_with("setSecret failed (attempt 1)")
                && w.contains("PreviousRotationPropagating")),
        "{second:?}"
    );
    assert!(second.contains(&"finishSecret done"), "{second:?}");
    // Rotation 3: due while rotation 2 is incomplete, refused by RotateSecret.
    let third = of(3);
    assert!(
        third.iter().any(|w| w.starts_with("RotateSecret refused")
            && w.contains("A previous rotation isn't complete")),
        "{third:?}"
    );
    assert!(!third.contains(&"createSecret done"), "{third:?}");
    // The summary's account: rotation 1 on time, rotation 2 late (not before rotation
    // 1's change had deployed, 25 s after it was made), rotation 3 refused.
    match &report.rotations[..] {
        [first, second, third] => {
            assert!(
                matches!(first.fate, Fate::Completed { attempts: 1, .. }),
                "{first:?}"
            );
            let late = second.lateness().expect("rotation 2 completed");
            let first_done = first.lateness().unwrap() + first.scheduled;
            assert!(
                second.scheduled + late >= first_done + 25.0,
                "rotation 2 completed before rotation 1's change deployed: {second:?}"
            );
            assert!(
                matches!(second.fate, Fate::Completed { attempts, .. } if attempts >= 3),
                "{second:?}"
            );
            assert_eq!(third.fate, Fate::Refused { incomplete: 2 });
        }
        other => panic!("three scheduled rotations: {other:?}"),
    }
    assert!(report.summary.contains("late"), "{}", report.summary);
    // Two rotations published two edge versions; traffic moved to each new key.
    assert_eq!(report.edge_versions, 3);
    assert_eq!(edgeseal_demo::per_keyid(&report.outcomes, 1.0).len(), 3);
}

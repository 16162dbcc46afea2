//! More rotations than edge-version pruning keeps (issue 23, item 4): the rotator keeps the
//! `EDGE_KEEP_VERSIONS` (3) newest versions and deletes the rest, so from the fourth
//! rotation on every PublishVersion follows a delete. Lambda never reuses a version number
//! (DataBiosphere/azul#6259); a stand-in that did would hand rotation 4 the number of a
//! version CloudFront already runs with an older key, and every request signed with it
//! would be rejected once AWSCURRENT moved on. Six rotations, short: no legitimate request
//! rejected, an edge version published for every rotation, traffic on every new key.
//!
//! Needs what `scripts/test` provides (see common/mod.rs); fails, never skips, without.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod common;

use std::time::Duration;

use edgeseal_demo::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_rotations_publish_six_versions_and_reject_no_legitimate_request() {
    let mut settings = common::settings("edgeseal-pruning");
    // One rotation every 6 s, each change deployed 2 s after it is made.
    settings.duration = Duration::from_secs(42);
    settings.rotations = 6;
    settings.rate = 20;
    settings.attack_rate = 5;
    settings.propagation = Duration::from_secs(2);

    let report = run(&settings).await.expect("the demo runs");
    println!("{}", report.summary);

    // Every rotation finished, no legitimate request refused, one key id per rotation.
    common::assert_rotated_cleanly(&report, settings.rotations);
    // A version of its own for each rotation, plus the first: none was reused.
    assert_eq!(report.edge_versions, settings.rotations + 1);
}

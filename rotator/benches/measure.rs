//! Wall time of full rotations against the local stand-ins (moto for Secrets Manager and
//! Lambda over loopback HTTP, the in-process CloudFront fake with instant deployment,
//! the loopback origin). A benchmark, not a test: it prints figures and asserts only
//! that each rotation completes. Not in the test command; run it with moto up:
//! `eval "$(bash scripts/moto start)"; cargo bench --profile dev -p edgeseal-rotator --bench measure`
//! (the time is moto's loopback round trips; `--profile dev` reuses the test build instead
//! of compiling the AWS SDK in release).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use edgeseal_rotator::{Outcome, Step, TargetKind};
use edgeseal_testkit::FaultPlan;

const ROTATIONS: usize = 7;

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:7.1} ms  median {:7.1} ms  max {:7.1} ms",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    )
}

async fn measure(mode: TargetKind) {
    let world = World::new(mode).await;
    world.cdn.set_deploy_delay(Duration::ZERO);
    // Pruning included, as deployed (moto numbers versions as Lambda does).
    let plan = FaultPlan::none();
    let rotator = world.rotator_with(world.config_with(&[]), plan.clone(), world.cdn.clone());
    let mut totals = Vec::new();
    let mut per_step: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..ROTATIONS {
        let token = world.start_rotation().await;
        let previous = world.current_version().await;
        let started = Instant::now();
        for step in Step::ALL {
            let t = Instant::now();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            assert_eq!(
                rotator
                    .run(&world.event(step, &token), deadline)
                    .await
                    .unwrap(),
                Outcome::Done
            );
            per_step.entry(step.as_str()).or_default().push(t.elapsed());
        }
        totals.push(started.elapsed());
        world.assert_rotated(&token, &previous).await;
    }
    let calls = plan.calls().len() / ROTATIONS;
    eprintln!(
        "{} mode, {ROTATIONS} full rotations, {calls} AWS calls each:",
        mode.as_str()
    );
    eprintln!("  full rotation  {}", summary(totals));
    for step in Step::ALL {
        eprintln!(
            "  {:<14} {}",
            step.as_str(),
            summary(per_step.remove(step.as_str()).unwrap())
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        measure(TargetKind::Signed).await;
        measure(TargetKind::StaticHeader).await;
    });
}

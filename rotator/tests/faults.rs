//! Fault injection: every AWS call of every step fails once (before it reaches AWS, and
//! for calls that change something also after it took effect with the answer lost);
//! Secrets Manager's retry of the whole rotation must converge, AWSCURRENT must never be
//! lost, and no distribution config that edges may run may name a key the authorizer
//! would reject (checked after every step by `World::check_invariants`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;

use common::*;
use edgeseal_rotator::{Op, TargetKind};
use edgeseal_testkit::{BoxedRotator, FaultPlan, FaultTiming};

type Case = (Op, usize, FaultTiming);

/// Worlds serving many cases keep every edge version (the world's default; see
/// `World::env`); pruning's deletes get fresh worlds of their own.
fn rotator_for(world: &World, plan: std::sync::Arc<FaultPlan>, keep_all: bool) -> BoxedRotator {
    let config = if keep_all {
        world.config_with(&[])
    } else {
        world.config_with(&[("EDGE_KEEP_VERSIONS", "2")])
    };
    world.rotator_with(config, plan, world.cdn.clone())
}

/// Every (operation, occurrence) of a clean rotation, as fault cases.
async fn cases(world: &World) -> (Vec<Op>, Vec<Case>) {
    let plan = FaultPlan::none();
    let rotator = rotator_for(world, plan.clone(), true);
    let token = world.start_rotation().await;
    let previous = world.current_version().await;
    let (attempts, _) = world.rotate_like_secrets_manager(&rotator, &token, 1).await;
    assert_eq!(attempts, 1);
    world.assert_rotated(&token, &previous).await;
    let calls = plan.calls();
    let mut seen: BTreeMap<Op, usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for op in &calls {
        let occurrence = seen.entry(*op).or_default();
        cases.push((*op, *occurrence, FaultTiming::Before));
        if op.mutates() {
            cases.push((*op, *occurrence, FaultTiming::After));
        }
        *occurrence += 1;
    }
    (calls, cases)
}

/// Run `cases` one rotation each, in sequence, on one world.
async fn run_cases(
    world: World,
    cases: Vec<Case>,
    keep_all: bool,
) -> Vec<(Case, usize, Vec<String>)> {
    let mut results = Vec::new();
    for case in cases {
        let (op, occurrence, timing) = case;
        let plan = FaultPlan::fail(op, occurrence, timing);
        let rotator = rotator_for(&world, plan.clone(), keep_all);
        let token = world.start_rotation().await;
        let previous = world.current_version().await;
        let (attempts, errors) = world.rotate_like_secrets_manager(&rotator, &token, 3).await;
        assert!(plan.fired(), "{op} #{occurrence} {timing:?} never happened");
        world.assert_rotated(&token, &previous).await;
        if world.mode == TargetKind::Signed {
            assert_eq!(
                world.edgeseal_versions_for(&token).await,
                1,
                "one edge version per key ({op} {timing:?})"
            );
        }
        results.push((case, attempts, errors));
    }
    results
}

async fn matrix(mode: TargetKind) {
    const WORKERS: usize = 3;
    let first = World::new(mode).await;
    let (calls, cases) = cases(&first).await;
    let mut chunks: Vec<Vec<Case>> = vec![Vec::new(); WORKERS];
    for (i, case) in cases.iter().enumerate() {
        chunks[i % WORKERS].push(*case);
    }
    let mut set = tokio::task::JoinSet::new();
    let mut worlds = vec![first];
    for _ in 1..WORKERS {
        worlds.push(World::new(mode).await);
    }
    for (world, chunk) in worlds.into_iter().zip(chunks) {
        set.spawn(run_cases(world, chunk, true));
    }
    let clean_calls = calls.len();
    let mut calls = calls;
    if mode == TargetKind::Signed {
        // Pruning: a fresh world (first rotation: versions 1 and 2 exist, 3 is published,
        // 1 is pruned) per delete case.
        let plan = FaultPlan::none();
        let world = World::new(mode).await;
        let rotator = rotator_for(&world, plan.clone(), false);
        let token = world.start_rotation().await;
        world.rotate_like_secrets_manager(&rotator, &token, 1).await;
        let deletes = plan
            .calls()
            .iter()
            .filter(|op| **op == Op::DeleteFunctionVersion)
            .count();
        assert_eq!(deletes, 1);
        calls.push(Op::DeleteFunctionVersion);
        for timing in [FaultTiming::Before, FaultTiming::After] {
            let world = World::new(mode).await;
            set.spawn(run_cases(
                world,
                vec![(Op::DeleteFunctionVersion, 0, timing)],
                false,
            ));
        }
    }
    let cases_len = cases.len() + if mode == TargetKind::Signed { 2 } else { 0 };
    let mut results = Vec::new();
    while let Some(done) = set.join_next().await {
        results.extend(done.unwrap());
    }
    assert_eq!(results.len(), cases_len);
    let mut distinct_ops = calls.clone();
    distinct_ops.sort();
    distinct_ops.dedup();
    let struck: Vec<Op> = {
        let mut v: Vec<Op> = results.iter().map(|((op, ..), ..)| *op).collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(
        struck, distinct_ops,
        "every operation of the rotation was struck"
    );
    let retried = results.iter().filter(|r| r.1 > 1).count();
    eprintln!(
        "{} mode: {clean_calls} AWS calls per clean rotation{}, {} distinct operations, {} fault cases: {} converged on Secrets Manager's retry, {} within the first attempt (pruning failures are logged, not fatal)",
        mode.as_str(),
        if mode == TargetKind::Signed {
            " (+1 DeleteFunction when pruning has work)"
        } else {
            ""
        },
        distinct_ops.len(),
        results.len(),
        retried,
        results.len() - retried,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_rotation_converges_after_any_single_fault() {
    matrix(TargetKind::Signed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_header_rotation_converges_after_any_single_fault() {
    matrix(TargetKind::StaticHeader).await;
}

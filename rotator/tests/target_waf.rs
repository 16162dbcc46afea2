//! The `waf` target end to end: the static-header target with a regional web ACL's rule
//! widened before CloudFront sends a new value and narrowed after, through the real SDK
//! against moto (web ACLs with lock tokens; Secrets Manager) and testkit's CloudFront
//! fake (its edges keep running the previous config for a while), with testkit's WAF
//! stand-in applying the web ACL in three areas, each after its own delay.
//!
//! The invariant, watched continuously in the background (every few milliseconds) and
//! asserted after every step: every header value a CloudFront edge may send (the fake's
//! live configs) is let through by every WAF area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_wafv2::types::{PositionalConstraint, Rule, Scope};
use common::*;
use edgeseal_rotator::SdkSecrets;
use edgeseal_rotator::SdkWaf;
use edgeseal_rotator::{
    Config, Op, RotationError, Rotator, Step, TargetKind, WafTarget, custom_headers,
};
use edgeseal_testkit::waf::build::{allow, block, byte_match, visibility};
use edgeseal_testkit::waf::{Verdict, WafOrigin};
use edgeseal_testkit::{
    FakeCloudFront, FaultPlan, FaultTiming, Faulty, PendingValue, end_configuration_test,
    start_configuration_test,
};

const RULE: &str = "StackXOriginVerify";
const INITIAL: &str = "initialStaticValue0123456789abcdef";

type WafRotator = Rotator<Faulty<SdkSecrets>, WafTarget<Faulty<FakeCloudFront>, Faulty<SdkWaf>>>;

/// The static-header world, a web ACL whose rule allows its initial value (AWS's
/// solution's shape, plus a rule of the user's own), the WAF stand-in in front of the
/// origin, and the watcher.
struct WafWorld {
    world: World,
    waf: aws_sdk_wafv2::Client,
    acl_name: String,
    acl_id: String,
    origin: WafOrigin,
    violations: Arc<Mutex<Vec<String>>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for WafWorld {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl WafWorld {
    /// Areas applying a change 0, 150 and 300 ms after it was made.
    async fn new() -> Self {
        Self::with_areas(&[0, 150, 300]).await
    }

    async fn with_areas(area_delays_ms: &[u64]) -> Self {
        let world = World::new(TargetKind::StaticHeader).await;
        let waf = aws_sdk_wafv2::Client::new(&world.sdk);
        let acl_name = edgeseal_testkit::unique_name("origin-acl");
        let header_rule = Rule::builder()
            .name(RULE)
            .priority(0)
            .action(allow())
            .statement(byte_match(HEADER, INITIAL, PositionalConstraint::Exactly))
            .visibility_config(visibility(RULE))
            .build()
            .unwrap();
        let own_rule = Rule::builder()
            .name("BlockBadBots")
            .priority(5)
            .action(block())
            .statement(byte_match("x-bot", "evil", PositionalConstraint::Contains))
            .visibility_config(visibility("BlockBadBots"))
            .build()
            .unwrap();
        let acl_id = edgeseal_testkit::world::create_web_acl(
            &waf,
            &acl_name,
            vec![header_rule, own_rule],
            "OriginVerify",
        )
        .await
        .unwrap();
        let origin = WafOrigin::start(
            waf.clone(),
            &acl_name,
            &acl_id,
            HEADER,
            area_delays_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            Duration::from_millis(10),
            "/prod/health",
        )
        .await;
        let violations = Arc::new(Mutex::new(Vec::new()));
        let watcher = {
            let (cdn, distribution) = (world.cdn.clone(), world.distribution.clone());
            let violations = violations.clone();
            let verdicts = origin.verdicts();
            tokio::spawn(async move {
                loop {
                    for config in cdn.live_configs(&distribution) {
                        for value in custom_headers(&config, HEADER) {
                            for area in 0..verdicts.areas() {
                                let verdict = verdicts.verdict_for(area, Some(value));
                                if verdict != Verdict::Allow {
                                    violations.lock().unwrap().push(format!(
                                        "area {area}: {verdict:?} for a value an edge sends"
                                    ));
                                }
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            })
        };
        Self {
            world,
            waf,
            acl_name,
            acl_id,
            origin,
            violations,
            watcher,
        }
    }

    fn config_with(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![
            ("ROTATION_TARGET", "waf"),
            ("ORIGIN_URL", self.origin.url.as_str()),
            ("WAFACLNAME", self.acl_name.as_str()),
            ("WAFACLID", self.acl_id.as_str()),
            ("WAF_RULE_NAME", RULE),
            // Longer than the slowest area (300 ms) plus the stand-in's poll.
            ("WAF_SETTLE_SECS", "1"),
            ("WAF_PROBE_INTERVAL_MS", "20"),
            // The rule keeps the previous value: no need to wait for Deployed.
            ("WAIT_FOR_DEPLOYED", "false"),
        ];
        vars.extend_from_slice(extra);
        self.world.config_with(&vars)
    }

    fn rotator(&self, config: Config, plan: Arc<FaultPlan>) -> WafRotator {
        let target = WafTarget::from_config(
            &config,
            Faulty::new(self.world.cdn.clone(), plan.clone()),
            Faulty::new(SdkWaf(self.waf.clone()), plan.clone()),
        )
        .unwrap();
        Rotator::new(
            config,
            Faulty::new(SdkSecrets::new(&self.world.sdk), plan),
            target,
        )
    }

    /// `GetWebACL`: the web ACL and its lock token.
    async fn read(&self) -> (aws_sdk_wafv2::types::WebAcl, String) {
        let out = self
            .waf
            .get_web_acl()
            .name(&self.acl_name)
            .id(&self.acl_id)
            .scope(Scope::Regional)
            .send()
            .await
            .unwrap();
        (out.web_acl.unwrap(), out.lock_token.unwrap())
    }

    /// The values the rule accepts now, in statement order.
    async fn rule_values(&self) -> Vec<String> {
        let (acl, _) = self.read().await;
        let rule = acl.rules.iter().flatten().find(|r| r.name == RULE).unwrap();
        edgeseal_rotator::testing::waf::read_rule(rule, HEADER)
            .unwrap()
            .values
            .iter()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .collect()
    }

    async fn lock_token(&self) -> String {
        self.read().await.1
    }

    async fn value_of(&self, version: &str) -> String {
        let stored = secret_value(&self.world.sm, &self.world.secret, version)
            .await
            .unwrap();
        match edgeseal::SecretValue::parse(&stored, Some(FIELD)).unwrap() {
            edgeseal::SecretValue::StaticHeader(v) => v.expose().to_owned(),
            edgeseal::SecretValue::Hmac(_) => panic!("a signing key"),
        }
    }

    fn assert_no_violation(&self, when: &str) {
        let violations = self.violations.lock().unwrap();
        assert!(
            violations.is_empty(),
            "{when}: {} instants where WAF refused what an edge sends, first: {:?}",
            violations.len(),
            violations.first()
        );
        let refusals = self.origin.waf().refusals();
        assert!(refusals.is_empty(), "{when}: AWS would refuse {refusals:?}");
    }

    /// Drive the four steps as Secrets Manager does (a failed step: the whole rotation
    /// again with the same token), the invariant checked after every step.
    async fn rotate(&self, rotator: &WafRotator, token: &str, max_attempts: usize) -> Vec<String> {
        let mut errors = Vec::new();
        for _ in 0..max_attempts {
            let mut failed = false;
            for step in Step::ALL {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                let result = rotator.run(&self.world.event(step, token), deadline).await;
                self.assert_no_violation(&format!("after {step}"));
                if let Err(e) = result {
                    errors.push(format!("{step}: {e}"));
                    failed = true;
                    break;
                }
            }
            if !failed {
                return errors;
            }
        }
        panic!("rotation did not converge in {max_attempts} attempts: {errors:?}");
    }

    /// After a rotation to `token` (replacing `previous`): labels moved, CloudFront sends
    /// the new value, and the rule accepts exactly the new and the replaced value.
    async fn assert_rotated(&self, token: &str, previous: &str) {
        let stages = version_stages(&self.world.sm, &self.world.secret).await;
        assert!(
            stages[token].iter().any(|s| s == "AWSCURRENT"),
            "{stages:?}"
        );
        assert!(
            stages[previous].iter().any(|s| s == "AWSPREVIOUS"),
            "{stages:?}"
        );
        let (new, old) = (self.value_of(token).await, self.value_of(previous).await);
        let config = self.world.cdn.config(&self.world.distribution).unwrap();
        assert_eq!(
            custom_headers(&config, HEADER).collect::<Vec<_>>(),
            [new.as_str()]
        );
        assert_eq!(self.rule_values().await, [new, old]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_with_every_step_run_twice() {
    let w = WafWorld::new().await;
    let rotator = w.rotator(w.config_with(&[]), FaultPlan::none());
    // AWS's timing: CloudFront deploys for minutes, so every rerun of a step below finds
    // the distribution `InProgress` with this rotation's change; between two scheduled
    // rotations it finishes. (With the world's 30 ms a rerun found it `Deployed` or not
    // depending on the machine's speed, and a rerun of setSecret that saw it `InProgress`
    // accepted the previous value again: see WafTarget::set.)
    w.world.cdn.set_deploy_delay(Duration::from_secs(3600));
    let mut previous = w.world.initial_token.clone();
    for round in 0..2 {
        w.world.cdn.complete_deployments();
        let token = w.world.start_rotation().await;
        for step in Step::ALL {
            for run in 0..2 {
                let before = (w.lock_token().await, w.world.cdn.update_count());
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                rotator
                    .run(&w.world.event(step, &token), deadline)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, {step} #{run}: {e}"));
                w.assert_no_violation(&format!("round {round}, {step} #{run}"));
                if run == 1 && step != Step::Finish {
                    // The rerun finds everything done: no web ACL or distribution write.
                    let after = (w.lock_token().await, w.world.cdn.update_count());
                    assert_eq!(before, after, "round {round}: a rerun of {step} wrote");
                }
            }
            if step == Step::Set {
                // Before testSecret: the rule accepts pending and current, and not the
                // value before them: the distribution was `Deployed` when the rotation
                // started, and is `InProgress` now only with the change to pending.
                assert_eq!(
                    w.rule_values().await,
                    [w.value_of(&token).await, w.value_of(&previous).await]
                );
            }
        }
        w.assert_rotated(&token, &previous).await;
        previous = token;
    }
    // The other rule, the default action and everything else is as it was.
    let (acl, _) = w.read().await;
    let own = acl
        .rules
        .iter()
        .flatten()
        .find(|r| r.name == "BlockBadBots")
        .unwrap();
    assert_eq!(own.priority, 5);
    assert_eq!(
        own.statement,
        Some(byte_match("x-bot", "evil", PositionalConstraint::Contains))
    );
    assert!(acl.default_action.unwrap().block.is_some());
    let mine = acl.rules.iter().flatten().find(|r| r.name == RULE).unwrap();
    assert_eq!(
        (mine.priority, mine.visibility_config.clone()),
        (0, Some(visibility(RULE)))
    );
    // Traffic through the WAF saw every probe of the rotator, none refused at the end.
    assert!(w.origin.served().len() > 10);
}

/// A rotation that starts while the last one is still deploying: setSecret widens the
/// rule to the value before the current one too (edges may still send it), and CloudFront
/// is not pointed; once CloudFront has deployed, its retry narrows the rule as it points,
/// and a rerun after that (CloudFront `InProgress` with the change to pending) changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_while_the_last_rotation_deploys_accepts_the_value_before_until_it_points() {
    let w = WafWorld::new().await;
    let rotator = w.rotator(w.config_with(&[]), FaultPlan::none());
    w.world.cdn.set_deploy_delay(Duration::from_secs(3600));
    let first = w.world.start_rotation().await;
    w.rotate(&rotator, &first, 1).await;
    let initial = w.world.initial_token.clone();
    w.assert_rotated(&first, &initial).await;
    // CloudFront still deploys the change to `first`: edges send it or the initial value.

    let second = w.world.start_rotation().await;
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(20);
    rotator
        .run(&w.world.event(Step::Create, &second), deadline())
        .await
        .unwrap();
    let updates = w.world.cdn.update_count();
    let refused = rotator
        .run(&w.world.event(Step::Set, &second), deadline())
        .await
        .expect_err("pointed CloudFront while the last rotation was deploying");
    assert!(
        matches!(refused, RotationError::PreviousRotationPropagating(_)),
        "{refused}"
    );
    assert_eq!(w.world.cdn.update_count(), updates);
    let (pending, current, before) = (
        w.value_of(&second).await,
        w.value_of(&first).await,
        w.value_of(&initial).await,
    );
    assert_eq!(
        w.rule_values().await,
        [pending.clone(), current.clone(), before]
    );
    w.assert_no_violation("setSecret refused while deploying");

    w.world.cdn.complete_deployments();
    for run in 0..2 {
        let before = (w.lock_token().await, w.world.cdn.update_count());
        rotator
            .run(&w.world.event(Step::Set, &second), deadline())
            .await
            .unwrap_or_else(|e| panic!("setSecret #{run} once deployed: {e}"));
        assert_eq!(
            w.rule_values().await,
            [pending.clone(), current.clone()],
            "setSecret #{run} once deployed"
        );
        let after = (w.lock_token().await, w.world.cdn.update_count());
        if run == 0 {
            assert_eq!(after.1, before.1 + 1, "CloudFront not pointed");
        } else {
            assert_eq!(before, after, "a rerun of setSecret wrote");
        }
        w.assert_no_violation(&format!("setSecret #{run} once deployed"));
    }
    for step in [Step::Test, Step::Finish] {
        rotator
            .run(&w.world.event(step, &second), deadline())
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    w.assert_rotated(&second, &first).await;
}

/// Every AWS call of a clean rotation fails once: before it reaches AWS, and for calls
/// that change something, also after it took effect with the answer lost. Secrets
/// Manager's retry converges, and no edge ever sends a value a WAF area refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_every_call_fails_once_and_the_rotation_converges() {
    let w = WafWorld::new().await;
    let plan = FaultPlan::none();
    let rotator = w.rotator(w.config_with(&[]), plan.clone());
    let first = w.world.start_rotation().await;
    w.rotate(&rotator, &first, 1).await;
    w.assert_rotated(&first, &w.world.initial_token).await;

    let mut seen: BTreeMap<Op, usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for op in plan.calls() {
        let occurrence = seen.entry(op).or_default();
        cases.push((op, *occurrence, FaultTiming::Before));
        if op.mutates() {
            cases.push((op, *occurrence, FaultTiming::After));
        }
        *occurrence += 1;
    }
    assert!(seen.contains_key(&Op::GetWebAcl) && seen.contains_key(&Op::UpdateWebAcl));

    let mut previous = first;
    let mut per_op: BTreeMap<Op, usize> = BTreeMap::new();
    let mut retried = 0;
    for (op, occurrence, timing) in &cases {
        let plan = FaultPlan::fail(*op, *occurrence, *timing);
        let rotator = w.rotator(w.config_with(&[]), plan.clone());
        let token = w.world.start_rotation().await;
        let errors = w.rotate(&rotator, &token, 3).await;
        assert!(plan.fired(), "{op} #{occurrence} {timing:?} never happened");
        w.assert_rotated(&token, &previous).await;
        *per_op.entry(*op).or_default() += 1;
        retried += usize::from(!errors.is_empty());
        previous = token;
    }
    eprintln!(
        "waf fault matrix: {} cases ({} calls in a clean rotation), {retried} needed a retry; per operation: {per_op:?}",
        cases.len(),
        plan.calls().len()
    );
}

/// The watcher can fail: trusting the first probe WAF lets through (no settle window)
/// makes CloudFront send a value the slowest area still refuses. (setSecret's own
/// pre-flight probe may land on a lagging area and fail the step: Secrets Manager's
/// retry runs it again, as here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusting_the_first_passing_probe_lets_edges_send_what_a_slow_area_refuses() {
    let w = WafWorld::with_areas(&[0, 0, 400]).await;
    let rotator = w.rotator(
        w.config_with(&[("WAF_SETTLE_SECS", "0")]),
        FaultPlan::none(),
    );
    let token = w.world.start_rotation().await;
    let (create, set) = (
        w.world.event(Step::Create, &token),
        w.world.event(Step::Set, &token),
    );
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(20);
    rotator.run(&create, deadline()).await.unwrap();
    let mut pointed = false;
    for _ in 0..20 {
        if rotator.run(&set, deadline()).await.is_ok() {
            pointed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(pointed, "setSecret never got through");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let violations = w.violations.lock().unwrap().len();
    assert!(
        violations > 0,
        "no instant where an edge's value was refused"
    );
}

/// A configuration test (Secrets Manager's `RotateImmediately=false`) checks the rule
/// read-only; a rule in a shape the rotator cannot rewrite (here: it inspects another
/// header than the configured one) fails it, naming the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_test_checks_the_rule_and_changes_nothing() {
    let w = WafWorld::new().await;
    let rotator = w.rotator(w.config_with(&[]), FaultPlan::none());
    let before = w.lock_token().await;
    for value in [PendingValue::Empty, PendingValue::CopyOfCurrent] {
        let token = start_configuration_test(
            &w.world.sm,
            &w.world.secret,
            &w.world.rotation_lambda_arn,
            value,
        )
        .await
        .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let outcome = rotator
            .run(&w.world.event(Step::Test, &token), deadline)
            .await
            .unwrap();
        assert_eq!(outcome, edgeseal_rotator::Outcome::ConfigurationTested);
        end_configuration_test(&w.world.sm, &w.world.secret, &token)
            .await
            .unwrap();
    }
    // A rule that no longer accepts the current value (edited by hand): named.
    let other = w.rotator(
        w.config_with(&[("HEADER_NAME", "x-other-header")]),
        FaultPlan::none(),
    );
    let token = start_configuration_test(
        &w.world.sm,
        &w.world.secret,
        &w.world.rotation_lambda_arn,
        PendingValue::Empty,
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let err = other
        .run(&w.world.event(Step::Test, &token), deadline)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(RULE), "{err}");
    end_configuration_test(&w.world.sm, &w.world.secret, &token)
        .await
        .unwrap();
    assert_eq!(w.lock_token().await, before, "nothing written");
}

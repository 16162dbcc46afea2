//! The WAF header rule through the real SDK against moto: rewriting only the rule's
//! statement, idempotence, lock conflicts with a real concurrent writer (moto checks
//! `LockToken`s), refused shapes, and the invariant that a WAF applying the web ACL with
//! a propagation delay (testkit's `WafOrigin`) lets through the value "CloudFront" sends
//! at every instant of two rotations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, CustomResponseBody, DefaultAction, NotStatement,
    PositionalConstraint, ResponseContentType, Rule, RuleAction, Scope, Statement, WebAcl,
};
use edgeseal::StaticHeaderValue;
use edgeseal_rotator::testing::waf::{
    Applied, after_rotation, apply_values, check_rule, wait_until_let_through, while_rotating,
};
use edgeseal_rotator::{ApiError, Credential, OriginProbe};
use edgeseal_rotator::{ExpectedStatus, OriginTest};
use edgeseal_rotator::{
    LockedWebAcl, SdkWaf, ShapeError, WafError, WafSettings, WebAclApi, WebAclRef,
};
use edgeseal_testkit::waf::build::{allow, block, byte_match, visibility};
use edgeseal_testkit::waf::{Verdict, WafOrigin};
use tokio::time::Instant;

const HEADER: &str = "x-origin-verify";
const RULE: &str = "StackXOriginVerify";

fn value(text: &str) -> StaticHeaderValue {
    StaticHeaderValue::new(text.to_owned()).unwrap()
}

/// A web ACL as a user of AWS's solution has it: the header rule (priority 0) and a rule
/// of their own (priority 5, blocking a bad header), a description and a custom response.
struct Acl {
    client: aws_sdk_wafv2::Client,
    reference: WebAclRef,
}

impl Acl {
    async fn create(header_rule: Rule, default_block: bool) -> Self {
        let config = edgeseal_testkit::sdk_config().await;
        let client = aws_sdk_wafv2::Client::new(&config);
        let name = edgeseal_testkit::unique_name("origin-acl");
        let own_rule = Rule::builder()
            .name("BlockBadBots")
            .priority(5)
            .action(block())
            .statement(byte_match("x-bot", "evil", PositionalConstraint::Contains))
            .visibility_config(visibility("BlockBadBots"))
            .build()
            .unwrap();
        let default = if default_block {
            DefaultAction::builder()
                .block(BlockAction::builder().build())
                .build()
        } else {
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build()
        };
        let out = client
            .create_web_acl()
            .name(&name)
            .scope(Scope::Regional)
            .default_action(default)
            .description("CloudFront origin verify")
            .rules(header_rule)
            .rules(own_rule)
            .visibility_config(visibility("OriginVerify"))
            .custom_response_bodies(
                "denied",
                CustomResponseBody::builder()
                    .content_type(ResponseContentType::TextPlain)
                    .content("denied")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let id = out.summary().unwrap().id().unwrap().to_owned();
        Self {
            client,
            reference: WebAclRef { name, id },
        }
    }

    /// The prior art's shape: Allow when the header is exactly `value`, default Block.
    async fn allowing(value: &str) -> Self {
        Self::create(
            header_rule(
                allow(),
                byte_match(HEADER, value, PositionalConstraint::Exactly),
            ),
            true,
        )
        .await
    }

    async fn read(&self) -> LockedWebAcl {
        SdkWaf(self.client.clone())
            .get_web_acl(&self.reference)
            .await
            .unwrap()
    }

    fn settings(&self, settle_ms: u64, interval_ms: u64) -> WafSettings {
        WafSettings {
            web_acl: self.reference.clone(),
            region: None,
            rule_name: RULE.to_owned(),
            settle: Duration::from_millis(settle_ms),
            probe_interval: Duration::from_millis(interval_ms),
            update_attempts: 3,
        }
    }
}

fn header_rule(action: RuleAction, statement: Statement) -> Rule {
    Rule::builder()
        .name(RULE)
        .priority(0)
        .action(action)
        .statement(statement)
        .visibility_config(visibility(RULE))
        .build()
        .unwrap()
}

fn rule_values(acl: &WebAcl) -> Vec<String> {
    let rule = acl.rules.iter().flatten().find(|r| r.name == RULE).unwrap();
    edgeseal_rotator::testing::waf::read_rule(rule, HEADER)
        .unwrap()
        .values
        .iter()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .collect()
}

/// Everything but the header rule's statement.
fn without_statement(acl: &WebAcl) -> WebAcl {
    let mut acl = acl.clone();
    for rule in acl.rules.iter_mut().flatten() {
        if rule.name == RULE {
            rule.statement = None;
        }
    }
    acl
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

#[tokio::test]
async fn only_the_statement_changes_and_a_rerun_writes_nothing() {
    let (old, current, pending) = (
        value("old-value-0"),
        value("current-value-1"),
        value("pending-value-2"),
    );
    let acl = Acl::allowing("current-value-1").await;
    let settings = acl.settings(0, 10);
    let api = SdkWaf(acl.client.clone());
    let before = acl.read().await;

    let widened = while_rotating(&pending, &current, Some(&old));
    let applied = apply_values(&api, &settings, HEADER, &widened, soon())
        .await
        .unwrap();
    assert_eq!(applied, Applied::Updated { attempt: 1 });
    let after = acl.read().await;
    assert_eq!(
        rule_values(&after.web_acl),
        ["pending-value-2", "current-value-1", "old-value-0"]
    );
    // Name, priority, action, visibility, the other rule, default action, description
    // and custom response: exactly as they were.
    assert_eq!(
        without_statement(&after.web_acl),
        without_statement(&before.web_acl)
    );
    assert_ne!(after.lock_token, before.lock_token);

    // The step run again: the rule already accepts exactly those values.
    let again = apply_values(&api, &settings, HEADER, &widened, soon())
        .await
        .unwrap();
    assert_eq!(again, Applied::Unchanged);
    assert_eq!(
        acl.read().await.lock_token,
        after.lock_token,
        "nothing written"
    );

    // finishSecret: the new current and the previous only.
    let narrowed = after_rotation(&pending, Some(&current));
    apply_values(&api, &settings, HEADER, &narrowed, soon())
        .await
        .unwrap();
    assert_eq!(
        rule_values(&acl.read().await.web_acl),
        ["pending-value-2", "current-value-1"]
    );
    // A first rotation (no previous) narrows to one value: a bare byte match, as WAF
    // accepts no OrStatement of one.
    apply_values(
        &api,
        &settings,
        HEADER,
        &after_rotation(&pending, None),
        soon(),
    )
    .await
    .unwrap();
    let single = acl.read().await.web_acl;
    let rule = single
        .rules
        .iter()
        .flatten()
        .find(|r| r.name == RULE)
        .unwrap();
    let statement = rule.statement.as_ref().unwrap();
    assert!(statement.byte_match_statement.is_some() && statement.or_statement.is_none());
    assert_eq!(rule_values(&single), ["pending-value-2"]);
}

#[tokio::test]
async fn a_block_rule_keeps_its_not_statement() {
    let (current, pending) = (value("current-value-1"), value("pending-value-2"));
    let negated = Statement::builder()
        .not_statement(
            NotStatement::builder()
                .statement(byte_match(
                    HEADER,
                    "current-value-1",
                    PositionalConstraint::Exactly,
                ))
                .build(),
        )
        .build();
    let acl = Acl::create(header_rule(block(), negated), false).await;
    let api = SdkWaf(acl.client.clone());
    apply_values(
        &api,
        &acl.settings(0, 10),
        HEADER,
        &while_rotating(&pending, &current, None),
        soon(),
    )
    .await
    .unwrap();
    let after = acl.read().await.web_acl;
    let rule = after
        .rules
        .iter()
        .flatten()
        .find(|r| r.name == RULE)
        .unwrap();
    assert_eq!(rule.action, Some(block()));
    let inner = rule
        .statement
        .as_ref()
        .unwrap()
        .not_statement
        .as_ref()
        .unwrap();
    assert!(inner.statement.as_ref().unwrap().or_statement.is_some());
    assert_eq!(rule_values(&after), ["pending-value-2", "current-value-1"]);
}

#[tokio::test]
async fn an_unknown_shape_or_a_missing_rule_is_refused_and_nothing_is_written() {
    let (current, pending) = (value("current-value-1"), value("pending-value-2"));
    // STARTS_WITH would let any value with that prefix through: not ours to rewrite.
    let acl = Acl::create(
        header_rule(
            allow(),
            byte_match(HEADER, "current", PositionalConstraint::StartsWith),
        ),
        true,
    )
    .await;
    let api = SdkWaf(acl.client.clone());
    let before = acl.read().await;
    let values = while_rotating(&pending, &current, None);
    let err = apply_values(&api, &acl.settings(0, 10), HEADER, &values, soon())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WafError::Shape { source: ShapeError::Positional(p), .. } if p == "STARTS_WITH"),
        "{err}"
    );
    assert!(err.to_string().contains(RULE), "{err}");
    let mut other_name = acl.settings(0, 10);
    other_name.rule_name = "NoSuchRule".into();
    let err = apply_values(&api, &other_name, HEADER, &values, soon())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("NoSuchRule") && err.to_string().contains("WAF_RULE_NAME"),
        "{err}"
    );
    assert_eq!(
        acl.read().await.lock_token,
        before.lock_token,
        "nothing written"
    );
    // The configuration test names the same problem, read-only.
    let err = check_rule(&api, &acl.settings(0, 10), HEADER, &current)
        .await
        .unwrap_err();
    assert!(matches!(err, WafError::Shape { .. }), "{err}");
}

#[tokio::test]
async fn the_configuration_check_wants_the_current_value_in_the_rule() {
    let acl = Acl::allowing("current-value-1").await;
    let api = SdkWaf(acl.client.clone());
    let settings = acl.settings(0, 10);
    check_rule(&api, &settings, HEADER, &value("current-value-1"))
        .await
        .unwrap();
    let err = check_rule(&api, &settings, HEADER, &value("another-value"))
        .await
        .unwrap_err();
    assert!(matches!(err, WafError::CurrentNotAccepted { .. }), "{err}");
    assert!(!err.to_string().contains("another-value"), "{err}");
}

/// Another writer (a console edit, a Firewall Manager policy, a stack update) changes the
/// web ACL between the rotator's GetWebACL and its UpdateWebACL, `conflicts` times.
struct ConcurrentWriter {
    inner: SdkWaf,
    conflicts: Mutex<u32>,
}

impl WebAclApi for ConcurrentWriter {
    async fn get_web_acl(&self, acl: &WebAclRef) -> Result<LockedWebAcl, ApiError> {
        self.inner.get_web_acl(acl).await
    }

    async fn update_web_acl(
        &self,
        acl: &WebAclRef,
        web_acl: &WebAcl,
        lock_token: &str,
    ) -> Result<String, ApiError> {
        let interfere = {
            let mut left = self.conflicts.lock().unwrap();
            let go = *left > 0;
            *left = left.saturating_sub(1);
            go
        };
        if interfere {
            let mut theirs = self.inner.get_web_acl(acl).await?;
            let n = theirs.web_acl.description.clone().unwrap_or_default();
            theirs.web_acl.description = Some(format!("{n} +edit"));
            self.inner
                .update_web_acl(acl, &theirs.web_acl, &theirs.lock_token)
                .await?;
        }
        self.inner.update_web_acl(acl, web_acl, lock_token).await
    }
}

#[tokio::test]
async fn a_concurrent_writers_change_is_kept_and_the_update_retried_on_the_real_lock_error() {
    let (current, pending) = (value("current-value-1"), value("pending-value-2"));
    let acl = Acl::allowing("current-value-1").await;
    let api = ConcurrentWriter {
        inner: SdkWaf(acl.client.clone()),
        conflicts: Mutex::new(2),
    };
    let values = while_rotating(&pending, &current, None);
    let applied = apply_values(&api, &acl.settings(0, 10), HEADER, &values, soon())
        .await
        .unwrap();
    assert_eq!(applied, Applied::Updated { attempt: 3 });
    let after = acl.read().await.web_acl;
    assert_eq!(
        after.description.as_deref(),
        Some("CloudFront origin verify +edit +edit")
    );
    assert_eq!(rule_values(&after), ["pending-value-2", "current-value-1"]);

    // More conflicts than attempts: a typed error, and the other writer's edits stand.
    let api = ConcurrentWriter {
        inner: SdkWaf(acl.client.clone()),
        conflicts: Mutex::new(10),
    };
    let next = value("next-value-3");
    let err = apply_values(
        &api,
        &acl.settings(0, 10),
        HEADER,
        &while_rotating(&next, &pending, None),
        soon(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, WafError::LockContention { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(
        rule_values(&acl.read().await.web_acl),
        ["pending-value-2", "current-value-1"]
    );
}

/// What "CloudFront" sends, and every request of steady traffic sent with it.
struct Traffic {
    sending: Arc<Mutex<StaticHeaderValue>>,
    rejected: Arc<Mutex<Vec<String>>>,
    sent: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

fn probe_for(url: &str) -> OriginProbe {
    OriginProbe::new(OriginTest {
        url: url.parse().unwrap(),
        method: http::Method::GET,
        expected: ExpectedStatus::Success,
        timeout: Duration::from_secs(2),
        profile: edgeseal::Profile::default(),
    })
}

impl Traffic {
    fn start(url: &str, first: StaticHeaderValue) -> Self {
        let sending = Arc::new(Mutex::new(first));
        let rejected = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(0));
        let probe = probe_for(url);
        let task = {
            let (sending, rejected, sent) = (sending.clone(), rejected.clone(), sent.clone());
            tokio::spawn(async move {
                loop {
                    let value = sending.lock().unwrap().clone();
                    let outcome = probe
                        .probe(Credential::Header {
                            name: HEADER,
                            value: &value,
                        })
                        .await;
                    *sent.lock().unwrap() += 1;
                    if let Err(e) = outcome {
                        rejected.lock().unwrap().push(e.to_string());
                    }
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            })
        };
        Self {
            sending,
            rejected,
            sent,
            task,
        }
    }

    fn send(&self, value: &StaticHeaderValue) {
        *self.sending.lock().unwrap() = value.clone();
    }
}

/// Two rotations of the header rule with the rotator's order: widen, prove, point
/// CloudFront, narrow. Returns the requests sent, the refusals, and the web ACL versions
/// AWS would have refused.
async fn two_rotations(settle_ms: u64) -> (usize, Vec<String>, Vec<String>) {
    let values = [
        value("value-zero-0"),
        value("value-one-1"),
        value("value-two-2"),
    ];
    let acl = Acl::allowing("value-zero-0").await;
    // Three WAF areas that apply a change 0, 150 and 300 ms after it was made.
    let origin = WafOrigin::start(
        acl.client.clone(),
        &acl.reference.name,
        &acl.reference.id,
        HEADER,
        vec![
            Duration::ZERO,
            Duration::from_millis(150),
            Duration::from_millis(300),
        ],
        Duration::from_millis(20),
        "/prod/health",
    )
    .await;
    let settings = acl.settings(settle_ms, 15);
    let api = SdkWaf(acl.client.clone());
    let traffic = Traffic::start(&origin.url, values[0].clone());
    let probe = probe_for(&origin.url);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut previous: Option<&StaticHeaderValue> = None;
    for round in 0..2 {
        let (current, pending) = (&values[round], &values[round + 1]);
        // setSecret: accept pending too, prove WAF lets it through, then CloudFront.
        apply_values(
            &api,
            &settings,
            HEADER,
            &while_rotating(pending, current, previous),
            soon(),
        )
        .await
        .unwrap();
        wait_until_let_through(
            || {
                probe.probe(Credential::Header {
                    name: HEADER,
                    value: pending,
                })
            },
            &settings,
            soon(),
        )
        .await
        .unwrap();
        traffic.send(pending);
        tokio::time::sleep(Duration::from_millis(400)).await;
        // finishSecret: current OR previous.
        apply_values(
            &api,
            &settings,
            HEADER,
            &after_rotation(pending, Some(current)),
            soon(),
        )
        .await
        .unwrap();
        previous = Some(current);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    traffic.task.abort();
    let sent = *traffic.sent.lock().unwrap();
    let rejected = traffic.rejected.lock().unwrap().clone();
    // The stand-in saw every change: the first widening (its narrowing keeps the same two
    // values: nothing written), the second widening (with the previous value, in its
    // grace: no distribution to ask here) and its narrowing.
    assert_eq!(origin.waf().versions_seen(), 4);
    // The oldest value is refused everywhere at the end: narrowing took effect.
    for area in 0..origin.waf().areas() {
        assert_eq!(
            origin.verdict_in(area, Some("value-zero-0")),
            Verdict::Block
        );
        assert_eq!(origin.verdict_in(area, Some("value-two-2")), Verdict::Allow);
    }
    (sent, rejected, origin.waf().refusals())
}

#[tokio::test]
async fn waf_lets_through_what_cloudfront_sends_at_every_instant_of_two_rotations() {
    // Settle longer than the slowest area (300 ms) plus the stand-in's poll (20 ms).
    let (sent, rejected, refusals) = two_rotations(450).await;
    assert!(sent > 100, "only {sent} requests");
    assert!(
        rejected.is_empty(),
        "{} of {sent} refused: {rejected:?}",
        rejected.len()
    );
    assert!(refusals.is_empty(), "AWS would refuse: {refusals:?}");
}

/// The stand-in is not kinder than AWS: trusting the first probe that passes (what a
/// single-area, instant WAF such as moto's would allow) drops requests while other
/// areas still run the old rule.
#[tokio::test]
async fn trusting_one_passing_probe_drops_requests_in_areas_still_behind() {
    let (sent, rejected, _) = two_rotations(0).await;
    assert!(!rejected.is_empty(), "no request of {sent} was refused");
    assert!(rejected.iter().all(|e| e.contains("403")), "{rejected:?}");
}

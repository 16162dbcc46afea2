//! Operations checks: is anyone told when edgeseal breaks? The template
//! (deploy/template.yaml, "operations") creates an EventBridge rule on Secrets Manager's
//! `RotationFailed` for the secret and CloudWatch alarms on that rule's matches, on the
//! rotator's Lambda `Errors` and on the authorizer's denials by reason. These checks find
//! them by what they watch, not by name (a stack names them after itself; a user may have
//! made their own), and report whether they exist, are enabled, and their state.
//!
//! Not found is a skip, not a failure (alarms are an operator's choice), with a fix that
//! says what to deploy. A rule that is disabled, or an alarm in `ALARM`, fails: the first
//! silences failed rotations, the second says something is broken now.

use std::future::Future;

use edgeseal::Rejection;
use serde_json::Value;

use super::Finding;

/// What the operations checks read from AWS.
pub trait Operations: Sync {
    /// The secret's ARN and its rotation function's ARN (`DescribeSecret`).
    fn rotation(&self, secret_id: &str) -> impl Future<Output = Result<Rotation, String>> + Send;
    /// Every rule on the default event bus (`events:ListRules`, all pages).
    fn rules(&self) -> impl Future<Output = Result<Vec<Rule>, String>> + Send;
    /// Every metric alarm (`cloudwatch:DescribeAlarms`, all pages).
    fn alarms(&self) -> impl Future<Output = Result<Vec<Alarm>, String>> + Send;
}

/// The secret as rotation knows it.
#[derive(Clone, Debug, Default)]
pub struct Rotation {
    /// The secret's full ARN (what EventBridge events carry).
    pub secret_arn: String,
    /// `RotationLambdaARN`, when rotation was ever configured.
    pub function_arn: Option<String>,
}

/// An EventBridge rule as `ListRules` shows it.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// `ENABLED`, `DISABLED`, `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
    pub state: String,
    /// The event pattern (JSON), `None` for a scheduled rule.
    pub event_pattern: Option<String>,
}

/// A CloudWatch metric alarm as `DescribeAlarms` shows it.
#[derive(Clone, Debug, Default)]
pub struct Alarm {
    /// Its name.
    pub name: String,
    /// The metric's namespace.
    pub namespace: String,
    /// The metric's name.
    pub metric: String,
    /// The metric's dimensions.
    pub dimensions: Vec<(String, String)>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// Why it is in that state (CloudWatch's words).
    pub state_reason: String,
    /// Its `AlarmActions` (the topic it notifies).
    pub actions: Vec<String>,
    /// `ActionsEnabled`.
    pub actions_enabled: bool,
}

/// The metric the authorizer emits per verdict (origin-verifier/src/metrics.rs: metric
/// `Requests`, dimensions `Verdict` and `Reason`; a test below reads them off its line).
const DENIAL_METRIC: &str = "Requests";
/// The reasons the template alarms on: those legitimate traffic gets when edgeseal
/// itself is broken (deploy/template.yaml says why each).
pub const ALARMED_REASONS: [Rejection; 3] = [
    Rejection::NoKeys,
    Rejection::UnknownKey,
    Rejection::PreviousKeyRetired,
];

/// Where the fix points when something is not deployed.
const DEPLOY_FIX: &str = "deploy deploy/template.yaml (its operations section: RotationFailedRule and the alarms; set AlarmTopicArn to be notified)";

/// Run the operations checks for `secret_id`; `namespace` is the authorizer's
/// `METRICS_NAMESPACE`.
pub async fn run<O: Operations>(ops: &O, secret_id: &str, namespace: &str) -> Vec<Finding> {
    let rotation = ops.rotation(secret_id).await;
    let rules = ops.rules().await;
    let alarms = ops.alarms().await;
    check(rotation, rules, alarms, namespace)
}

/// The findings, from what was read (split from [`run`] so each outcome is testable).
pub fn check(
    rotation: Result<Rotation, String>,
    rules: Result<Vec<Rule>, String>,
    alarms: Result<Vec<Alarm>, String>,
    namespace: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let rotation = match rotation {
        Ok(r) => r,
        Err(e) => {
            findings.push(
                Finding::new("ops", "failed rotations and denials are alarmed on")
                    .skip(format!("cannot read the secret: {e}")),
            );
            return findings;
        }
    };
    let rule = rule_finding(&rotation, rules, &mut findings);
    let alarms = match alarms {
        Ok(a) => a,
        Err(e) => {
            findings.push(
                Finding::new(
                    "ops-alarms",
                    "the operations alarms exist and are not firing",
                )
                .skip_with_fix(
                    format!("cannot list alarms: {e}"),
                    "grant cloudwatch:DescribeAlarms to run this check",
                ),
            );
            return findings;
        }
    };
    findings.push(match rule {
        Some(name) => alarm_finding(
            Finding::new(
                "rotation-failed-alarm",
                "an alarm counts the RotationFailed rule's matches",
            ),
            &alarms,
            "AWS/Events",
            "MatchedEvents",
            &[("RuleName", &name)],
        ),
        None => Finding::new(
            "rotation-failed-alarm",
            "an alarm counts the RotationFailed rule's matches",
        )
        .skip_with_fix("no RotationFailed rule to count", DEPLOY_FIX),
    });
    let function = rotation
        .function_arn
        .as_deref()
        .map(|arn| edgeseal::function_name(arn).to_owned());
    findings.push(match function {
        Some(function) => alarm_finding(
            Finding::new(
                "rotator-errors-alarm",
                "an alarm watches the rotator's errors",
            ),
            &alarms,
            "AWS/Lambda",
            "Errors",
            &[("FunctionName", &function)],
        ),
        None => Finding::new(
            "rotator-errors-alarm",
            "an alarm watches the rotator's errors",
        )
        .skip("the secret names no rotation function"),
    });
    for reason in ALARMED_REASONS {
        findings.push(alarm_finding(
            Finding::new(
                denial_id(reason),
                "an alarm watches the authorizer's denials for this reason",
            ),
            &alarms,
            namespace,
            DENIAL_METRIC,
            &[("Verdict", "deny"), ("Reason", reason.code())],
        ));
    }
    findings
}

fn denial_id(reason: Rejection) -> &'static str {
    match reason {
        Rejection::NoKeys => "denied-no_keys-alarm",
        Rejection::UnknownKey => "denied-unknown_key-alarm",
        Rejection::PreviousKeyRetired => "denied-previous_key_retired-alarm",
        _ => "denied-alarm",
    }
}

/// The rule finding; the matching rule's name when there is one.
fn rule_finding(
    rotation: &Rotation,
    rules: Result<Vec<Rule>, String>,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let finding = Finding::new(
        "rotation-failed-rule",
        "an enabled EventBridge rule matches Secrets Manager's RotationFailed for this secret",
    );
    let rules = match rules {
        Ok(r) => r,
        Err(e) => {
            findings.push(finding.skip_with_fix(
                format!("cannot list rules: {e}"),
                "grant events:ListRules to run this check",
            ));
            return None;
        }
    };
    let matching: Vec<&Rule> = rules
        .iter()
        .filter(|r| {
            r.event_pattern
                .as_deref()
                .is_some_and(|p| matches_rotation_failed(p, &rotation.secret_arn))
        })
        .collect();
    let Some(rule) = matching
        .iter()
        .find(|r| r.state.starts_with("ENABLED"))
        .or_else(|| matching.first())
    else {
        findings.push(finding.skip_with_fix(
            format!(
                "no EventBridge rule on the default bus matches RotationFailed for {}",
                rotation.secret_arn
            ),
            DEPLOY_FIX,
        ));
        return None;
    };
    if rule.state.starts_with("ENABLED") {
        findings.push(finding.pass(format!("rule {} is {}", rule.name, rule.state)));
    } else {
        findings.push(finding.fail(
            format!("rule {} is {}", rule.name, rule.state),
            "a disabled rule matches nothing: a failed rotation alarms nobody",
            format!("aws events enable-rule --name {}", rule.name),
        ));
    }
    Some(rule.name.clone())
}

/// Whether an event pattern matches Secrets Manager's `RotationFailed` for `secret_arn`:
/// its source and event name admit them, and it names either no secret (every secret) or
/// this one.
pub fn matches_rotation_failed(pattern: &str, secret_arn: &str) -> bool {
    let Ok(pattern) = serde_json::from_str::<Value>(pattern) else {
        return false;
    };
    let admits = |v: Option<&Value>, want: &str| match v {
        None => true,
        Some(Value::Array(values)) => values.iter().any(|x| x.as_str() == Some(want)),
        Some(_) => false,
    };
    let detail = pattern.get("detail");
    if !admits(pattern.get("source"), "aws.secretsmanager")
        || !admits(detail.and_then(|d| d.get("eventName")), "RotationFailed")
        || detail.and_then(|d| d.get("eventName")).is_none()
    {
        return false;
    }
    let mut named = Vec::new();
    if let Some(detail) = detail {
        secret_values(detail, &mut named);
    }
    named.is_empty() || named.contains(&secret_arn)
}

/// The values a pattern matches secret-id fields against (`SecretId`, `secretId`, `arn`).
fn secret_values<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                let key = k.to_ascii_lowercase();
                if key == "secretid" || key == "arn" {
                    if let Value::Array(values) = v {
                        out.extend(values.iter().filter_map(Value::as_str));
                    }
                } else {
                    secret_values(v, out);
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|v| secret_values(v, out)),
        _ => {}
    }
}

fn alarm_finding(
    finding: Finding,
    alarms: &[Alarm],
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
) -> Finding {
    let on_it = |a: &&Alarm| {
        a.namespace == namespace
            && a.metric == metric
            && a.dimensions.len() == dimensions.len()
            && dimensions
                .iter()
                .all(|(n, v)| a.dimensions.iter().any(|(an, av)| an == n && av == v))
    };
    let watched = format!(
        "{namespace} {metric} {}",
        dimensions
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let found: Vec<&Alarm> = alarms.iter().filter(on_it).collect();
    if found.is_empty() {
        return finding.skip_with_fix(format!("no alarm on {watched}"), DEPLOY_FIX);
    }
    if let Some(firing) = found.iter().find(|a| a.state == "ALARM") {
        return finding.fail(
            format!("alarm {} is ALARM: {}", firing.name, firing.state_reason),
            format!("{watched} crossed the alarm's threshold"),
            "read the alarm's description and the function's log; the alarm returns to OK by itself",
        );
    }
    let described: Vec<String> = found
        .iter()
        .map(|a| {
            let notifies = if !a.actions_enabled {
                "actions disabled".to_owned()
            } else if a.actions.is_empty() {
                "notifies nobody (no AlarmTopicArn)".to_owned()
            } else {
                format!("notifies {}", a.actions.join(", "))
            };
            format!("{} is {}, {notifies}", a.name, a.state)
        })
        .collect();
    finding.pass(described.join("; "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use edgeseal::UnixTime;
    use origin_verifier::{Metrics, MetricsSink, Verdict};

    use super::*;

    #[test]
    fn the_denial_alarms_watch_what_the_authorizer_emits() {
        let namespace = origin_verifier::Config::DEFAULT_METRICS_NAMESPACE;
        let metrics = Metrics::new(namespace, MetricsSink::Discard);
        for reason in ALARMED_REASONS {
            let line = metrics.line(UnixTime::from_secs(1), Verdict::Deny, reason.code(), "r");
            let v: Value = serde_json::from_str(&line).unwrap();
            let emf = &v["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(emf["Metrics"][0]["Name"], DENIAL_METRIC);
            assert!(
                emf["Dimensions"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!(["Verdict", "Reason"]))
            );
            assert_eq!(v["Verdict"], "deny");
            assert_eq!(v["Reason"], reason.code());
        }
    }

    #[test]
    fn a_pattern_for_another_secret_or_event_does_not_count() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf";
        let ours = format!(
            r#"{{"source":["aws.secretsmanager"],"detail":{{"eventName":["RotationFailed"],"$or":[{{"additionalEventData":{{"SecretId":["{arn}"]}}}}]}}}}"#
        );
        assert!(matches_rotation_failed(&ours, arn));
        assert!(!matches_rotation_failed(
            &ours,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123"
        ));
        let every_secret = r#"{"source":["aws.secretsmanager"],"detail":{"eventName":["RotationFailed","RotationSucceeded"]}}"#;
        assert!(matches_rotation_failed(every_secret, arn));
        let succeeded =
            r#"{"source":["aws.secretsmanager"],"detail":{"eventName":["RotationSucceeded"]}}"#;
        assert!(!matches_rotation_failed(succeeded, arn));
        let any_event = r#"{"source":["aws.secretsmanager"]}"#;
        assert!(!matches_rotation_failed(any_event, arn));
        assert!(!matches_rotation_failed("not json", arn));
    }
}

//! `edgeseal doctor`'s operations checks (`edgeseal_cli::doctor::ops`) through the real
//! SDK against moto (`EDGESEAL_MOTO_URL`): EventBridge `ListRules`, CloudWatch
//! `DescribeAlarms`, Secrets Manager `DescribeSecret`. The rule and alarms are made the
//! way deploy/template.yaml makes them (same pattern, metrics and dimensions).
//!
//! Tests share one moto server, and the denial alarms are keyed on a namespace, not on a
//! stack: each test uses its own namespace (`--metrics-namespace`), as two stacks with
//! their own `METRICS_NAMESPACE` would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use edgeseal_cli::doctor::ops;
use edgeseal_cli::doctor::sdk::Sdk;
use edgeseal_cli::doctor::{Finding, Verdict};
use edgeseal_testkit::{sdk_config, unique_name};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:edgeseal-alarms";

/// A secret; with `rotation`, rotation configured with a (moto) function. Returns the
/// secret's ARN and the function's name.
async fn secret(rotation: bool) -> (String, Option<String>) {
    let config = sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let created = sm
        .create_secret()
        .name(unique_name("edgeseal-ops"))
        .secret_string(
            r#"{"alg":"hmac-sha256","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        )
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    if !rotation {
        return (arn, None);
    }
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name(unique_name("edgeseal-ops-rotator"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    // Any zip will do: moto never runs it (rotate_immediately false).
    let zip: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    let name = unique_name("edgeseal-ops-rotator");
    let function = aws_sdk_lambda::Client::new(&config)
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(zip))
                .build(),
        )
        .send()
        .await
        .unwrap();
    sm.rotate_secret()
        .secret_id(&arn)
        .rotation_lambda_arn(function.function_arn().unwrap())
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .schedule_expression("rate(7 days)")
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .unwrap();
    (arn, Some(name))
}

/// The template's RotationFailedRule pattern for `secret_arn`.
fn rotation_failed_pattern(secret_arn: &str) -> String {
    serde_json::json!({
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed"],
            "$or": [
                {"additionalEventData": {"SecretId": [secret_arn]}},
                {"requestParameters": {"secretId": [secret_arn]}}
            ]
        }
    })
    .to_string()
}

async fn put_rule(secret_arn: &str) -> String {
    let name = unique_name("edgeseal-rotation-failed");
    aws_sdk_eventbridge::Client::new(&sdk_config().await)
        .put_rule()
        .name(&name)
        .event_pattern(rotation_failed_pattern(secret_arn))
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .send()
        .await
        .unwrap();
    name
}

async fn put_alarm(name: &str, namespace: &str, metric: &str, dimensions: &[(&str, &str)]) {
    let mut request = aws_sdk_cloudwatch::Client::new(&sdk_config().await)
        .put_metric_alarm()
        .alarm_name(name)
        .namespace(namespace)
        .metric_name(metric)
        .statistic(Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .alarm_actions(TOPIC);
    for (n, v) in dimensions {
        request = request.dimensions(Dimension::builder().name(*n).value(*v).build());
    }
    request.send().await.unwrap();
}

/// Everything the template's operations section creates, for one secret and namespace;
/// the rule's name and the alarms' names by finding id.
async fn deploy_operations(
    secret_arn: &str,
    function: &str,
    namespace: &str,
) -> (String, Vec<(&'static str, String)>) {
    let rule = put_rule(secret_arn).await;
    let mut alarms = Vec::new();
    let name = unique_name("rotation-failed");
    put_alarm(&name, "AWS/Events", "MatchedEvents", &[("RuleName", &rule)]).await;
    alarms.push(("rotation-failed-alarm", name));
    let name = unique_name("rotator-errors");
    put_alarm(&name, "AWS/Lambda", "Errors", &[("FunctionName", function)]).await;
    alarms.push(("rotator-errors-alarm", name));
    for (id, reason) in [
        ("denied-no_keys-alarm", "no_keys"),
        ("denied-unknown_key-alarm", "unknown_key"),
        ("denied-previous_key_retired-alarm", "previous_key_retired"),
    ] {
        let name = unique_name(reason);
        put_alarm(
            &name,
            namespace,
            "Requests",
            &[("Verdict", "deny"), ("Reason", reason)],
        )
        .await;
        alarms.push((id, name));
    }
    (rule, alarms)
}

async fn run(secret_id: &str, namespace: &str) -> Vec<Finding> {
    let sdk = Sdk::new(&sdk_config().await);
    ops::run(&sdk, secret_id, namespace).await
}

fn finding<'a>(findings: &'a [Finding], id: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no finding {id} in {findings:#?}"))
}

const IDS: [&str; 6] = [
    "rotation-failed-rule",
    "rotation-failed-alarm",
    "rotator-errors-alarm",
    "denied-no_keys-alarm",
    "denied-unknown_key-alarm",
    "denied-previous_key_retired-alarm",
];

#[tokio::test]
async fn nothing_deployed_is_a_skip_that_says_what_to_deploy() {
    let (arn, _) = secret(false).await;
    let findings = run(&arn, &unique_name("ns")).await;
    for id in IDS {
        let f = finding(&findings, id);
        assert_eq!(f.verdict, Verdict::Skip, "{f:#?}");
    }
    for id in ["rotation-failed-rule", "denied-no_keys-alarm"] {
        let fix = finding(&findings, id).fix.as_deref().unwrap_or_default();
        assert!(fix.contains("deploy/template.yaml"), "{id}: {fix}");
    }
}

#[tokio::test]
async fn the_templates_rule_and_alarms_pass_with_their_state_and_topic() {
    let (arn, function) = secret(true).await;
    let namespace = unique_name("ns");
    let (rule, _) = deploy_operations(&arn, function.as_deref().unwrap(), &namespace).await;
    let findings = run(&arn, &namespace).await;
    for id in IDS {
        let f = finding(&findings, id);
        assert_eq!(f.verdict, Verdict::Pass, "{f:#?}");
    }
    assert!(
        finding(&findings, "rotation-failed-rule")
            .detail
            .contains(&rule)
    );
    let alarm = &finding(&findings, "denied-no_keys-alarm").detail;
    assert!(alarm.contains(TOPIC), "{alarm}");
    // The state is reported: CloudWatch starts a new alarm in INSUFFICIENT_DATA, moto in
    // OK; neither fails the check.
    assert!(
        alarm.contains(" is OK,") || alarm.contains(" is INSUFFICIENT_DATA,"),
        "{alarm}"
    );
}

#[tokio::test]
async fn an_alarm_in_alarm_or_a_disabled_rule_fails() {
    let (arn, function) = secret(true).await;
    let namespace = unique_name("ns");
    let (rule, alarms) = deploy_operations(&arn, function.as_deref().unwrap(), &namespace).await;
    let config = sdk_config().await;
    let no_keys = &alarms
        .iter()
        .find(|(id, _)| *id == "denied-no_keys-alarm")
        .unwrap()
        .1;
    aws_sdk_cloudwatch::Client::new(&config)
        .set_alarm_state()
        .alarm_name(no_keys)
        .state_value(StateValue::Alarm)
        .state_reason("Threshold Crossed: 1 datapoint [3.0] was >= 1.0")
        .send()
        .await
        .unwrap();
    aws_sdk_eventbridge::Client::new(&config)
        .disable_rule()
        .name(&rule)
        .send()
        .await
        .unwrap();
    let findings = run(&arn, &namespace).await;
    let f = finding(&findings, "denied-no_keys-alarm");
    assert_eq!(f.verdict, Verdict::Fail, "{f:#?}");
    assert!(f.detail.contains("Threshold Crossed"), "{f:#?}");
    let f = finding(&findings, "rotation-failed-rule");
    assert_eq!(f.verdict, Verdict::Fail, "{f:#?}");
    assert_eq!(
        f.fix.as_deref(),
        Some(format!("aws events enable-rule --name {rule}").as_str())
    );
    // The other alarms are untouched.
    assert_eq!(
        finding(&findings, "denied-unknown_key-alarm").verdict,
        Verdict::Pass
    );
}

#[tokio::test]
async fn a_rule_and_alarms_for_another_secret_do_not_count() {
    let (ours, _) = secret(false).await;
    let (theirs, function) = secret(true).await;
    let namespace = unique_name("ns");
    deploy_operations(&theirs, function.as_deref().unwrap(), &unique_name("ns")).await;
    let findings = run(&ours, &namespace).await;
    for id in IDS {
        let f = finding(&findings, id);
        assert_eq!(f.verdict, Verdict::Skip, "{f:#?}");
    }
}

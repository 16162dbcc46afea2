#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, CountAction, RateBasedStatement, RateBasedStatementAggregateKeyType,
    UriPath, VisibilityConfig,
};

use super::*;

const HEADER: &str = "x-origin-verify";

fn value(text: &str) -> StaticHeaderValue {
    StaticHeaderValue::new(text.to_owned()).unwrap()
}

fn rule(action: RuleAction, statement: Statement) -> Rule {
    Rule::builder()
        .name("StackXOriginVerify")
        .priority(7)
        .action(action)
        .statement(statement)
        .visibility_config(
            VisibilityConfig::builder()
                .sampled_requests_enabled(true)
                .cloud_watch_metrics_enabled(true)
                .metric_name("StackXOriginVerify")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn allow() -> RuleAction {
    RuleAction::builder()
        .allow(AllowAction::builder().build())
        .build()
}

fn block() -> RuleAction {
    RuleAction::builder()
        .block(BlockAction::builder().build())
        .build()
}

fn values_of(rule: &Rule) -> Vec<String> {
    read_rule(rule, HEADER)
        .unwrap()
        .values
        .iter()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .collect()
}

#[test]
fn the_prior_arts_allow_rule_with_two_values_reads_and_keeps_its_shape() {
    let (pending, current) = (value("pending-value"), value("current-value"));
    let statement = header_match(HEADER, &[&pending, &current]).unwrap();
    let original = rule(allow(), statement);
    let read = read_rule(&original, HEADER).unwrap();
    assert_eq!(read.shape, RuleShape::AllowMatching);
    assert!(read.accepts_exactly(&[&current, &pending]));
    assert!(!read.accepts_exactly(&[&current]));
    assert_eq!(values_of(&original), ["pending-value", "current-value"]);
}

#[test]
fn one_value_is_a_bare_byte_match_and_several_an_or_statement() {
    let (a, b, c) = (value("aaaa"), value("bbbb"), value("cccc"));
    let one = header_match(HEADER, &[&a]).unwrap();
    assert!(one.byte_match_statement.is_some());
    assert!(one.or_statement.is_none());
    let three = header_match(HEADER, &[&a, &b, &c]).unwrap();
    assert_eq!(three.or_statement.as_ref().unwrap().statements.len(), 3);
    assert!(matches!(
        header_match(HEADER, &[]),
        Err(ShapeError::NoValues)
    ));
}

#[test]
fn each_byte_match_is_exact_on_the_lower_case_header_without_transformation() {
    let statement = header_match("X-Origin-Verify", &[&value("v1")]).unwrap();
    let byte_match = statement.byte_match_statement.unwrap();
    let field = byte_match.field_to_match.unwrap();
    assert_eq!(field.single_header.unwrap().name, "x-origin-verify");
    assert_eq!(
        byte_match.positional_constraint,
        PositionalConstraint::Exactly
    );
    assert_eq!(byte_match.text_transformations.len(), 1);
    assert_eq!(byte_match.text_transformations[0].priority, 0);
    assert_eq!(
        byte_match.text_transformations[0].r#type,
        TextTransformationType::None
    );
    assert_eq!(byte_match.search_string.as_ref(), b"v1");
}

#[test]
fn rewriting_changes_only_the_statement_and_keeps_a_block_rules_not() {
    let old = value("old-value");
    let negated = Statement::builder()
        .not_statement(
            NotStatement::builder()
                .statement(header_match(HEADER, &[&old]).unwrap())
                .build(),
        )
        .build();
    let original = rule(block(), negated);
    assert_eq!(
        read_rule(&original, HEADER).unwrap().shape,
        RuleShape::BlockOthers
    );
    let (p, c) = (value("pending"), value("current"));
    let rewritten = with_values(&original, RuleShape::BlockOthers, HEADER, &[&p, &c]).unwrap();
    assert_eq!(rewritten.name, original.name);
    assert_eq!(rewritten.priority, original.priority);
    assert_eq!(rewritten.action, original.action);
    assert_eq!(rewritten.visibility_config, original.visibility_config);
    assert_eq!(values_of(&rewritten), ["pending", "current"]);
    let inner = rewritten.statement.unwrap().not_statement.unwrap();
    assert!(inner.statement.unwrap().or_statement.is_some());
}

#[test]
fn narrowing_to_one_value_drops_the_or_statement() {
    let (p, c) = (value("pending"), value("current"));
    let wide = rule(allow(), header_match(HEADER, &[&p, &c]).unwrap());
    let narrow = with_values(&wide, RuleShape::AllowMatching, HEADER, &[&p]).unwrap();
    let statement = narrow.statement.as_ref().unwrap();
    assert!(statement.or_statement.is_none());
    assert_eq!(values_of(&narrow), ["pending"]);
}

#[test]
fn unknown_shapes_are_refused_with_what_is_wrong() {
    let v = value("value-1");
    let good = header_match(HEADER, &[&v]).unwrap();
    let count = RuleAction::builder()
        .count(CountAction::builder().build())
        .build();
    assert_eq!(
        read_rule(&rule(count, good.clone()), HEADER).unwrap_err(),
        ShapeError::Action("Count")
    );
    assert!(matches!(
        read_rule(&rule(block(), good.clone()), HEADER).unwrap_err(),
        ShapeError::Polarity {
            action: "Block",
            ..
        }
    ));
    let not_good = Statement::builder()
        .not_statement(NotStatement::builder().statement(good.clone()).build())
        .build();
    assert!(matches!(
        read_rule(&rule(allow(), not_good), HEADER).unwrap_err(),
        ShapeError::Polarity {
            action: "Allow",
            ..
        }
    ));
    assert_eq!(
        read_rule(&rule(allow(), good.clone()), "x-other").unwrap_err(),
        ShapeError::OtherHeader {
            found: HEADER.into(),
            expected: "x-other".into()
        }
    );
    // The name is compared as WAF does: case-insensitively.
    assert!(read_rule(&rule(allow(), good.clone()), "X-Origin-Verify").is_ok());

    let mut contains = good.byte_match_statement.clone().unwrap();
    contains.positional_constraint = PositionalConstraint::Contains;
    let contains = Statement::builder().byte_match_statement(contains).build();
    assert_eq!(
        read_rule(&rule(allow(), contains), HEADER).unwrap_err(),
        ShapeError::Positional("CONTAINS".into())
    );

    let mut lowercase = good.byte_match_statement.clone().unwrap();
    lowercase.text_transformations[0].r#type = TextTransformationType::Lowercase;
    let lowercase = Statement::builder().byte_match_statement(lowercase).build();
    assert_eq!(
        read_rule(&rule(allow(), lowercase), HEADER).unwrap_err(),
        ShapeError::Transformed
    );

    let mut path = good.byte_match_statement.clone().unwrap();
    path.field_to_match = Some(
        FieldToMatch::builder()
            .uri_path(UriPath::builder().build())
            .build(),
    );
    let path = Statement::builder().byte_match_statement(path).build();
    assert_eq!(
        read_rule(&rule(allow(), path), HEADER).unwrap_err(),
        ShapeError::OtherField
    );

    let rate = Statement::builder()
        .rate_based_statement(
            RateBasedStatement::builder()
                .limit(100)
                .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                .build()
                .unwrap(),
        )
        .build();
    assert_eq!(
        read_rule(&rule(allow(), rate.clone()), HEADER).unwrap_err(),
        ShapeError::OtherStatement
    );
    let mixed_or = Statement::builder()
        .or_statement(
            OrStatement::builder()
                .statements(good.clone())
                .statements(rate)
                .build()
                .unwrap(),
        )
        .build();
    assert_eq!(
        read_rule(&rule(allow(), mixed_or), HEADER).unwrap_err(),
        ShapeError::OtherStatement
    );
    // Two statement kinds set in one Statement (not a valid WAF statement) is refused.
    let mut both = good.clone();
    both.not_statement = Some(NotStatement::builder().statement(good.clone()).build());
    assert_eq!(
        read_rule(&rule(allow(), both), HEADER).unwrap_err(),
        ShapeError::OtherStatement
    );
    let mut no_statement = rule(allow(), good);
    no_statement.statement = None;
    assert_eq!(
        read_rule(&no_statement, HEADER).unwrap_err(),
        ShapeError::NoStatement
    );
}

#[test]
fn limits_name_their_variable_and_never_the_value() {
    let long = value(&"v".repeat(MAX_SEARCH_STRING_BYTES + 1));
    let err = header_match(HEADER, &[&long]).unwrap_err();
    assert_eq!(err, ShapeError::ValueTooLong(201));
    assert!(err.to_string().contains("SECRET_KEY_LENGTH"), "{err}");
    assert!(!err.to_string().contains("vvv"), "{err}");
    assert!(header_match(HEADER, &[&value(&"v".repeat(200))]).is_ok());
    let name = "x".repeat(MAX_HEADER_NAME_BYTES + 1);
    let err = header_match(&name, &[&value("v")]).unwrap_err();
    assert!(err.to_string().contains("HEADER_NAME"), "{err}");
}

#[test]
fn a_rule_value_is_never_shown_in_debug() {
    let secret = value("hunter2-hunter2");
    let r = rule(allow(), header_match(HEADER, &[&secret]).unwrap());
    let shown = format!("{:?}", read_rule(&r, HEADER).unwrap());
    assert!(!shown.contains("hunter2"), "{shown}");
}

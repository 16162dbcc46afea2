//! Building web ACL pieces for tests and the demo: the statements and settings a user of
//! AWS's "CloudFront origin security with WAF and Secrets Manager" solution has.

use aws_sdk_wafv2::primitives::Blob;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, ByteMatchStatement, FieldToMatch, PositionalConstraint, RuleAction,
    SingleHeader, Statement, TextTransformation, TextTransformationType, VisibilityConfig,
};

/// A byte match of `value` on the single header `header`, without transformation.
///
/// # Panics
/// Never: every required field is given.
#[allow(clippy::expect_used)]
pub fn byte_match(header: &str, value: &str, constraint: PositionalConstraint) -> Statement {
    let single_header = SingleHeader::builder()
        .name(header)
        .build()
        .expect("a header name");
    let none = TextTransformation::builder()
        .priority(0)
        .r#type(TextTransformationType::None)
        .build()
        .expect("a transformation");
    Statement::builder()
        .byte_match_statement(
            ByteMatchStatement::builder()
                .search_string(Blob::new(value))
                .field_to_match(FieldToMatch::builder().single_header(single_header).build())
                .text_transformations(none)
                .positional_constraint(constraint)
                .build()
                .expect("a byte match"),
        )
        .build()
}

/// Sampled requests and CloudWatch metrics on, under `metric`.
///
/// # Panics
/// Never: every required field is given.
#[allow(clippy::expect_used)]
pub fn visibility(metric: &str) -> VisibilityConfig {
    VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()
        .expect("a visibility config")
}

/// The `Allow` rule action.
pub fn allow() -> RuleAction {
    RuleAction::builder()
        .allow(AllowAction::builder().build())
        .build()
}

/// The `Block` rule action.
pub fn block() -> RuleAction {
    RuleAction::builder()
        .block(BlockAction::builder().build())
        .build()
}

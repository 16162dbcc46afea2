//! WAF's evaluation of a web ACL (the subset the header rule uses) and the checks AWS
//! makes on `UpdateWebACL` that moto does not (see the module docs of [`super`]).

use aws_sdk_wafv2::types::{
    ByteMatchStatement, PositionalConstraint, Statement, TextTransformationType, WebAcl,
};

/// What WAF decided for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forwarded to the origin.
    Allow,
    /// Answered `403` by WAF.
    Block,
    /// The web ACL holds something this stand-in does not evaluate.
    Unsupported(String),
}

/// Evaluate `acl` for a request with `headers` (names in any case): rules by ascending
/// priority, `Allow`/`Block` end the evaluation, `Count` goes on, then the default action.
pub fn evaluate(acl: &WebAcl, headers: &[(String, String)]) -> Verdict {
    let mut rules: Vec<_> = acl.rules.iter().flatten().collect();
    rules.sort_by_key(|r| r.priority);
    for rule in rules {
        let Some(statement) = rule.statement.as_ref() else {
            return Verdict::Unsupported(format!("rule {} has no statement", rule.name));
        };
        let matched = match matches(statement, headers) {
            Ok(m) => m,
            Err(what) => return Verdict::Unsupported(format!("rule {}: {what}", rule.name)),
        };
        if !matched {
            continue;
        }
        let Some(action) = rule.action.as_ref() else {
            return Verdict::Unsupported(format!("rule {} has no action", rule.name));
        };
        if action.allow.is_some() {
            return Verdict::Allow;
        }
        if action.block.is_some() {
            return Verdict::Block;
        }
        if action.count.is_none() {
            return Verdict::Unsupported(format!("rule {}: action not evaluated here", rule.name));
        }
    }
    match acl.default_action.as_ref() {
        Some(d) if d.allow.is_some() => Verdict::Allow,
        Some(d) if d.block.is_some() => Verdict::Block,
        _ => Verdict::Unsupported("no default action".into()),
    }
}

fn matches(statement: &Statement, headers: &[(String, String)]) -> Result<bool, String> {
    if let Some(byte_match) = &statement.byte_match_statement {
        return byte_matches(byte_match, headers);
    }
    if let Some(or) = &statement.or_statement {
        let mut any = false;
        for s in &or.statements {
            any |= matches(s, headers)?;
        }
        return Ok(any);
    }
    if let Some(and) = &statement.and_statement {
        let mut all = true;
        for s in &and.statements {
            all &= matches(s, headers)?;
        }
        return Ok(all);
    }
    if let Some(not) = &statement.not_statement {
        let inner = not.statement.as_deref().ok_or("NOT without a statement")?;
        return Ok(!matches(inner, headers)?);
    }
    Err("a statement kind not evaluated here".into())
}

fn byte_matches(
    statement: &ByteMatchStatement,
    headers: &[(String, String)],
) -> Result<bool, String> {
    let name = statement
        .field_to_match
        .as_ref()
        .and_then(|f| f.single_header.as_ref())
        .map(|h| h.name.as_str())
        .ok_or("a byte match on another field than a single header")?;
    // A request without the header does not match (there is nothing to inspect).
    let Some((_, value)) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
        return Ok(false);
    };
    let mut inspected = value.as_bytes().to_vec();
    let search = statement.search_string.as_ref();
    let mut transformations: Vec<_> = statement.text_transformations.iter().collect();
    transformations.sort_by_key(|t| t.priority);
    for t in transformations {
        match t.r#type {
            TextTransformationType::None => {}
            // WAF transforms what it inspects, never the search string.
            TextTransformationType::Lowercase => inspected.make_ascii_lowercase(),
            ref other => {
                return Err(format!(
                    "text transformation {} not evaluated here",
                    other.as_str()
                ));
            }
        }
    }
    Ok(match statement.positional_constraint {
        PositionalConstraint::Exactly => inspected == search,
        PositionalConstraint::StartsWith => inspected.starts_with(search),
        PositionalConstraint::EndsWith => inspected.ends_with(search),
        PositionalConstraint::Contains => {
            inspected.windows(search.len().max(1)).any(|w| w == search)
        }
        ref other => {
            return Err(format!(
                "positional constraint {} not evaluated here",
                other.as_str()
            ));
        }
    })
}

/// Why AWS would have refused this web ACL on `UpdateWebACL` (moto accepted it).
pub fn refusal(acl: &WebAcl) -> Option<String> {
    let rules = acl.rules.as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let earlier = rules.get(..i).unwrap_or_default();
        if earlier.iter().any(|r| r.name == rule.name) {
            return Some(format!("two rules are named {}", rule.name));
        }
        if earlier.iter().any(|r| r.priority == rule.priority) {
            return Some(format!("two rules have priority {}", rule.priority));
        }
        if let Some(statement) = &rule.statement
            && let Some(why) = statement_refusal(statement)
        {
            return Some(format!("rule {}: {why}", rule.name));
        }
    }
    None
}

fn statement_refusal(statement: &Statement) -> Option<String> {
    if let Some(or) = &statement.or_statement {
        if or.statements.len() < 2 {
            return Some("an OrStatement needs more than one statement".into());
        }
        return or.statements.iter().find_map(statement_refusal);
    }
    if let Some(and) = &statement.and_statement {
        if and.statements.len() < 2 {
            return Some("an AndStatement needs more than one statement".into());
        }
        return and.statements.iter().find_map(statement_refusal);
    }
    if let Some(inner) = statement
        .not_statement
        .as_ref()
        .and_then(|n| n.statement.as_deref())
    {
        return statement_refusal(inner);
    }
    if let Some(byte_match) = &statement.byte_match_statement {
        let len = byte_match.search_string.as_ref().len();
        if len == 0 || len > 200 {
            return Some(format!("a SearchString of {len} bytes (1-200)"));
        }
        if let Some(header) = byte_match
            .field_to_match
            .as_ref()
            .and_then(|f| f.single_header.as_ref())
            && !(1..=64).contains(&header.name.len())
        {
            return Some(format!(
                "a SingleHeader name of {} bytes (1-64)",
                header.name.len()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_sdk_wafv2::types::{
        AllowAction, BlockAction, DefaultAction, NotStatement, OrStatement, Rule, RuleAction,
    };

    use super::*;

    fn byte_match(value: &str) -> Statement {
        super::super::build::byte_match("x-origin-verify", value, PositionalConstraint::Exactly)
    }

    fn acl(default_block: bool, rules: Vec<Rule>) -> WebAcl {
        let default = if default_block {
            DefaultAction::builder()
                .block(BlockAction::builder().build())
                .build()
        } else {
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build()
        };
        WebAcl::builder()
            .name("a")
            .id("i")
            .arn("arn")
            .default_action(default)
            .set_rules(Some(rules))
            .build()
            .unwrap()
    }

    fn rule(priority: i32, allow: bool, statement: Statement) -> Rule {
        let action = if allow {
            RuleAction::builder()
                .allow(AllowAction::builder().build())
                .build()
        } else {
            RuleAction::builder()
                .block(BlockAction::builder().build())
                .build()
        };
        Rule::builder()
            .name(format!("r{priority}"))
            .priority(priority)
            .action(action)
            .statement(statement)
            .build()
            .unwrap()
    }

    fn with(value: &str) -> Vec<(String, String)> {
        vec![("X-Origin-Verify".to_owned(), value.to_owned())]
    }

    #[test]
    fn an_allow_rule_over_default_block_lets_exactly_its_values_through() {
        let or = Statement::builder()
            .or_statement(
                OrStatement::builder()
                    .statements(byte_match("new"))
                    .statements(byte_match("old"))
                    .build()
                    .unwrap(),
            )
            .build();
        let acl = acl(true, vec![rule(0, true, or)]);
        assert_eq!(evaluate(&acl, &with("new")), Verdict::Allow);
        assert_eq!(evaluate(&acl, &with("old")), Verdict::Allow);
        assert_eq!(evaluate(&acl, &with("ne")), Verdict::Block);
        assert_eq!(evaluate(&acl, &with("NEW")), Verdict::Block);
        assert_eq!(evaluate(&acl, &[]), Verdict::Block);
        assert_eq!(refusal(&acl), None);
    }

    #[test]
    fn a_block_rule_on_not_the_match_blocks_the_rest() {
        let not = Statement::builder()
            .not_statement(NotStatement::builder().statement(byte_match("v")).build())
            .build();
        let acl = acl(false, vec![rule(3, false, not)]);
        assert_eq!(evaluate(&acl, &with("v")), Verdict::Allow);
        assert_eq!(evaluate(&acl, &with("w")), Verdict::Block);
        assert_eq!(evaluate(&acl, &[]), Verdict::Block);
    }

    #[test]
    fn rules_run_by_priority_and_what_aws_refuses_is_named() {
        // A block on "bad" at priority 1 runs before the allow at priority 2.
        let ordered = acl(
            true,
            vec![
                rule(2, true, byte_match("bad")),
                rule(1, false, byte_match("bad")),
            ],
        );
        assert_eq!(evaluate(&ordered, &with("bad")), Verdict::Block);
        let lonely_or = Statement::builder()
            .or_statement(
                OrStatement::builder()
                    .statements(byte_match("v"))
                    .build()
                    .unwrap(),
            )
            .build();
        let refused = refusal(&acl_with_one(lonely_or)).unwrap();
        assert!(refused.contains("more than one"), "{refused}");
        let long = byte_match(&"v".repeat(201));
        assert!(refusal(&acl_with_one(long)).unwrap().contains("201"));
        let twins = acl(
            true,
            vec![
                rule(1, true, byte_match("a")),
                rule(1, true, byte_match("b")),
            ],
        );
        assert!(refusal(&twins).is_some());
    }

    fn acl_with_one(statement: Statement) -> WebAcl {
        acl(true, vec![rule(0, true, statement)])
    }
}

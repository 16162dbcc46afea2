//! A regional AWS WAF in front of a loopback origin, for the WAF header rule's tests.
//!
//! moto keeps web ACLs (rule statements stored as sent, `LockToken` checked on
//! `UpdateWebACL`, `WAFOptimisticLockException` on a stale one: moto 5.2
//! `moto/wafv2/models.py`), but nothing *applies* them, and it applies every change at
//! once. [`WafOrigin`] is the missing part: it reads the web ACL from moto through the
//! real SDK (polling `GetWebACL`), evaluates each request against it as WAF does, and
//! serves `200` (the origin behind) or WAF's default block response `403 Forbidden`
//! (AWS WAF developer guide, *Customized web requests and responses*).
//!
//! **Propagation.** AWS documents that a web ACL change takes "from a few seconds to a
//! number of minutes" to propagate, and that meanwhile it "might be in effect in one area
//! where the web ACL is used and not in another" (UpdateWebACL, *Temporary
//! inconsistencies during updates*, WAFV2 API reference). So the stand-in has several
//! *areas*, each applying a change only after its own delay, and sends successive
//! requests (each a new connection, as the rotator's probes are) to successive areas:
//! one request let through proves nothing about the next.
//!
//! **What moto lets through and AWS refuses.** moto stores any statement; AWS refuses an
//! `OrStatement`/`AndStatement` of fewer than two statements, a `SearchString` over 200
//! bytes, a `SingleHeader` name over 64 bytes, and two rules with one name or one
//! priority (`OrStatement`, `ByteMatchStatement`, `SingleHeader`, `Rule` in the WAFV2 API
//! reference; *Setting rule priority* in the developer guide). Each web ACL version the
//! stand-in reads is checked for these and the finding kept in
//! [`WafOrigin::refusals`], which tests assert empty.
//!
//! Only the statements the header rule and its tests use are evaluated (byte match on a
//! single header with `NONE`/`LOWERCASE`, `AND`, `OR`, `NOT`); any other statement makes
//! the request fail with `500` and is recorded, never guessed at.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_wafv2::types::{
    ByteMatchStatement, PositionalConstraint, Scope, Statement, TextTransformationType, WebAcl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

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

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Served {
    /// When.
    pub at: Instant,
    /// Which area evaluated it.
    pub area: usize,
    /// The value of the inspected header, if the request had it.
    pub header_value: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

struct State {
    /// Every web ACL version read, with when the poller first saw it.
    versions: Mutex<Vec<(Instant, WebAcl)>>,
    area_delays: Vec<Duration>,
    next_area: AtomicUsize,
    header: String,
    served: Mutex<Vec<Served>>,
    refusals: Mutex<Vec<String>>,
}

/// A loopback origin behind a WAF that applies a moto web ACL (see the module docs).
pub struct WafOrigin {
    /// `http://127.0.0.1:PORT/` plus the path given to [`WafOrigin::start`].
    pub url: String,
    state: Arc<State>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for WafOrigin {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WafOrigin {
    /// Serve on a free loopback port, applying the REGIONAL web ACL `name`/`id` read
    /// from `client` every `poll`; area `i` applies a change `area_delays[i]` after the
    /// poller saw it (at least one area). `header` is the header recorded in
    /// [`Served`]. Returns once the first version was read.
    ///
    /// # Panics
    /// When the web ACL cannot be read or the port cannot be bound (test setup).
    #[allow(clippy::expect_used)]
    pub async fn start(
        client: aws_sdk_wafv2::Client,
        name: &str,
        id: &str,
        header: &str,
        area_delays: Vec<Duration>,
        poll: Duration,
        path: &str,
    ) -> Self {
        assert!(!area_delays.is_empty(), "a WAF has at least one area");
        let state = Arc::new(State {
            versions: Mutex::new(Vec::new()),
            area_delays,
            next_area: AtomicUsize::new(0),
            header: header.to_ascii_lowercase(),
            served: Mutex::new(Vec::new()),
            refusals: Mutex::new(Vec::new()),
        });
        let read = |client: aws_sdk_wafv2::Client, name: String, id: String| async move {
            client
                .get_web_acl()
                .name(name)
                .id(id)
                .scope(Scope::Regional)
                .send()
                .await
        };
        let first = read(client.clone(), name.to_owned(), id.to_owned())
            .await
            .expect("GetWebACL for the WAF stand-in");
        let mut last_token = first.lock_token().unwrap_or_default().to_owned();
        record(&state, first.web_acl.expect("a web ACL"));

        let poller = {
            let (state, name, id) = (state.clone(), name.to_owned(), id.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(poll).await;
                    let Ok(out) = read(client.clone(), name.clone(), id.clone()).await else {
                        continue;
                    };
                    let token = out.lock_token().unwrap_or_default().to_owned();
                    if token != last_token
                        && let Some(acl) = out.web_acl
                    {
                        last_token = token;
                        record(&state, acl);
                    }
                }
            })
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move { serve(stream, &state).await });
                }
            })
        };
        Self {
            url: format!("http://{addr}{path}"),
            state,
            tasks: vec![poller, server],
        }
    }

    /// Every request answered so far.
    pub fn served(&self) -> Vec<Served> {
        lock(&self.state.served).clone()
    }

    /// Web ACL versions AWS would have refused (see the module docs), with why.
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.state.refusals).clone()
    }

    /// How many web ACL versions the poller has seen (the first included).
    pub fn versions_seen(&self) -> usize {
        lock(&self.state.versions).len()
    }

    /// The verdict area `area` would give now for `header_value` (no request recorded).
    pub fn verdict_in(&self, area: usize, header_value: Option<&str>) -> Verdict {
        let headers: Vec<(String, String)> = header_value
            .map(|v| vec![(self.state.header.clone(), v.to_owned())])
            .unwrap_or_default();
        match applied(&self.state, area, Instant::now()) {
            Some(acl) => evaluate(&acl, &headers),
            None => Verdict::Unsupported("no web ACL read".into()),
        }
    }

    /// How many areas there are.
    pub fn areas(&self) -> usize {
        self.state.area_delays.len()
    }
}

fn record(state: &State, acl: WebAcl) {
    if let Some(why) = refusal(&acl) {
        lock(&state.refusals).push(why);
    }
    lock(&state.versions).push((Instant::now(), acl));
}

/// The web ACL area `area` runs at `now`: the newest version it has had time to apply
/// (the first version is in place from the start).
fn applied(state: &State, area: usize, now: Instant) -> Option<WebAcl> {
    let delay = state.area_delays.get(area).copied().unwrap_or_default();
    let versions = lock(&state.versions);
    let mut chosen = versions.first().map(|(_, acl)| acl);
    for (seen, acl) in versions.iter().skip(1) {
        if *seen + delay <= now {
            chosen = Some(acl);
        }
    }
    chosen.cloned()
}

async fn serve(mut stream: tokio::net::TcpStream, state: &State) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let headers: Vec<(String, String)> = text
        .split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let area = state.next_area.fetch_add(1, Ordering::SeqCst) % state.area_delays.len();
    let now = Instant::now();
    let verdict = match applied(state, area, now) {
        Some(acl) => evaluate(&acl, &headers),
        None => Verdict::Unsupported("no web ACL read".into()),
    };
    let status = match verdict {
        Verdict::Allow => "200 OK",
        Verdict::Block => "403 Forbidden",
        Verdict::Unsupported(_) => "500 Internal Server Error",
    };
    lock(&state.served).push(Served {
        at: now,
        area,
        header_value: headers
            .iter()
            .find(|(n, _)| *n == state.header)
            .map(|(_, v)| v.clone()),
        verdict,
    });
    let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_sdk_wafv2::types::{
        AllowAction, BlockAction, DefaultAction, FieldToMatch, NotStatement, OrStatement, Rule,
        RuleAction, SingleHeader, TextTransformation,
    };
    use aws_smithy_types::Blob;

    use super::*;

    fn byte_match(value: &str) -> Statement {
        Statement::builder()
            .byte_match_statement(
                ByteMatchStatement::builder()
                    .search_string(Blob::new(value))
                    .field_to_match(
                        FieldToMatch::builder()
                            .single_header(
                                SingleHeader::builder()
                                    .name("x-origin-verify")
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .text_transformations(
                        TextTransformation::builder()
                            .priority(0)
                            .r#type(TextTransformationType::None)
                            .build()
                            .unwrap(),
                    )
                    .positional_constraint(PositionalConstraint::Exactly)
                    .build()
                    .unwrap(),
            )
            .build()
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

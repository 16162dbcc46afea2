//! `edgeseal-iam-eval`: one IAM decision per line, for the local deployment runs.
//!
//! Reads JSON lines on stdin:
//! `{"principal": "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION",
//!   "policies": [{"name": "...", "document": {...}}], "action": "service:Api",
//!   "resources": ["arn:..."], "context": {"kms:ViaService": "..."}}`
//! and writes `{"decision": "Allow" | "Deny" | "DefaultDeny"}` (or `{"error": "..."}`).
//!
//! The evaluation is scratchstack-aspen's (`PolicySet::evaluate`): an explicit Deny
//! wins, else any Allow, else the implicit deny; actions and resources match with IAM's
//! wildcards, conditions with IAM's operators over the request's context keys. This
//! crate adds no rule of its own: it only builds the request context.

use std::io::{BufRead as _, Write as _};
use std::str::FromStr as _;

use scratchstack_arn::Arn;
use scratchstack_aspen::{Context, Decision, Policy, PolicySet, PolicySource};
use scratchstack_aws_principal::{AssumedRole, Principal, SessionData, SessionValue};
use serde::Deserialize;

#[derive(Deserialize)]
struct NamedPolicy {
    name: String,
    document: serde_json::Value,
}

#[derive(Deserialize)]
struct Request {
    principal: String,
    policies: Vec<NamedPolicy>,
    action: String,
    resources: Vec<String>,
    #[serde(default)]
    context: std::collections::BTreeMap<String, String>,
}

fn decide(line: &str) -> Result<&'static str, String> {
    let request: Request = serde_json::from_str(line).map_err(|e| format!("request: {e}"))?;
    let role = AssumedRole::from_str(&request.principal)
        .map_err(|e| format!("principal {}: {e}", request.principal))?;
    let role_arn = format!(
        "arn:{}:iam::{}:role/{}",
        role.partition(),
        role.account_id(),
        role.role_name()
    );
    let mut set = PolicySet::new();
    for p in &request.policies {
        let policy = Policy::from_str(&p.document.to_string())
            .map_err(|e| format!("policy {}: {e}", p.name))?;
        set.add_policy(
            PolicySource::new_entity_inline(role_arn.as_str(), "AROALOCALROLE", p.name.as_str()),
            policy,
        );
    }
    let (service, api) = request
        .action
        .split_once(':')
        .ok_or_else(|| format!("action {}: not service:Api", request.action))?;
    let mut resources = Vec::new();
    for r in &request.resources {
        resources.push(Arn::from_str(r).map_err(|e| format!("resource {r}: {e}"))?);
    }
    let mut session = SessionData::new();
    for (k, v) in &request.context {
        session.insert(k, SessionValue::String(v.clone()));
    }
    let context = Context::builder()
        .service(service)
        .api(api)
        .actor(Principal::from(role))
        .resources(resources)
        .session_data(session)
        .build()
        .map_err(|e| format!("context: {e}"))?;
    let (decision, _) = set
        .evaluate(&context)
        .map_err(|e| format!("evaluate: {e}"))?;
    Ok(match decision {
        Decision::Allow => "Allow",
        Decision::Deny => "Deny",
        Decision::DefaultDeny => "DefaultDeny",
    })
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let answer = match decide(&line) {
            Ok(d) => serde_json::json!({ "decision": d }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}

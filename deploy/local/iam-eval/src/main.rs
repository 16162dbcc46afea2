//! `edgeseal-iam-eval`: one IAM decision per line, for the local deployment runs.
//!
//! Reads JSON lines on stdin:
//! `{"principal": "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION",
//!   "policies": [{"name": "...", "document": {...}}], "action": "service:Api",
//!   "resources": ["arn:..."], "context": {"kms:ViaService": "..."}}`
//! and writes `{"decision": "Allow" | "Deny" | "DefaultDeny"}` (or `{"error": "..."}`).
//!
//! A service calling another on its own behalf (API Gateway or Secrets Manager invoking a
//! function) is `"principal": "apigateway.amazonaws.com"` with the function's resource
//! policy, `{"name": ..., "document": ..., "resource": "arn:aws:lambda:..."}`: its
//! statements name the principal (`Principal: {"Service": ...}`), which aspen matches
//! against the service identity.
//!
//! The evaluation is scratchstack-aspen's (`PolicySet::evaluate`): an explicit Deny
//! wins, else any Allow, else the implicit deny; actions and resources match with IAM's
//! wildcards, conditions with IAM's operators over the request's context keys. This
//! crate adds no rule of its own: it only builds the request context.

use std::io::{BufRead as _, Write as _};
use std::str::FromStr as _;

use scratchstack_arn::Arn;
use scratchstack_aspen::{Context, Decision, Policy, PolicySet, PolicySource};
use scratchstack_aws_principal::{
    AssumedRole, Principal, PrincipalIdentity, Service, SessionData, SessionValue,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct NamedPolicy {
    name: String,
    document: serde_json::Value,
    /// Set for a resource-based policy: the resource it is attached to.
    #[serde(default)]
    resource: Option<String>,
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
    // A service principal is its DNS name (`secretsmanager.amazonaws.com`), as
    // resource-based policies name it; anything else is an assumed-role session ARN.
    let (actor, entity_arn) = match request.principal.strip_suffix(".amazonaws.com") {
        Some(name) if !request.principal.starts_with("arn:") => {
            let service = Service::new(name, None, "amazonaws.com")
                .map_err(|e| format!("principal {}: {e}", request.principal))?;
            (
                Principal::from(vec![PrincipalIdentity::from(service)]),
                request.principal.clone(),
            )
        }
        _ => {
            let role = AssumedRole::from_str(&request.principal)
                .map_err(|e| format!("principal {}: {e}", request.principal))?;
            let arn = format!(
                "arn:{}:iam::{}:role/{}",
                role.partition(),
                role.account_id(),
                role.role_name()
            );
            (Principal::from(role), arn)
        }
    };
    let mut set = PolicySet::new();
    for p in &request.policies {
        let policy = Policy::from_str(&p.document.to_string())
            .map_err(|e| format!("policy {}: {e}", p.name))?;
        let source = match &p.resource {
            Some(resource) => PolicySource::new_resource(resource.as_str(), Some(p.name.as_str())),
            None => PolicySource::new_entity_inline(
                entity_arn.as_str(),
                "AROALOCALROLE",
                p.name.as_str(),
            ),
        };
        set.add_policy(source, policy);
    }
    let (service, api) = request
        .action
        .split_once(':')
        .ok_or_else(|| format!("action {}: not service:Api", request.action))?;
    let mut resources = Vec::new();
    // "*": a call on no particular resource (a list call); aspen then needs a statement
    // whose Resource is "*".
    for r in request.resources.iter().filter(|r| r.as_str() != "*") {
        resources.push(Arn::from_str(r).map_err(|e| format!("resource {r}: {e}"))?);
    }
    let mut session = SessionData::new();
    for (k, v) in &request.context {
        session.insert(k, SessionValue::String(v.clone()));
    }
    let context = Context::builder()
        .service(service)
        .api(api)
        .actor(actor)
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

//! `status`, per distribution: its state, each cache behavior's origin-request
//! association, what each edge version it names runs (by code hash), and the behaviors
//! that run the signer without forwarding all query strings.

use std::fmt::Write as _;

use aws_sdk_cloudfront::types::{CacheBehavior, DefaultCacheBehavior, EventType};
use edgeseal_cli::doctor::edge_code::{Carried, carried};
use edgeseal_cli::doctor::sdk::Sdk;
use serde_json::{Value, json};

use crate::error::CliError;
use crate::output::date;

struct Behavior {
    path_pattern: String,
    origin_request: Option<String>,
}

impl Behavior {
    fn version(&self) -> Option<&str> {
        let arn = self.origin_request.as_deref()?;
        let last = edgeseal::arn_qualifier(arn)?;
        last.bytes().all(|b| b.is_ascii_digit()).then_some(last)
    }

    /// The function's name, from `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION]`.
    fn function_name(&self) -> Option<&str> {
        let arn = self.origin_request.as_deref()?;
        edgeseal::FunctionArn::parse(arn)
            .is_ok()
            .then(|| edgeseal::function_name(arn))
    }

    fn json(&self) -> Value {
        json!({
            "path_pattern": self.path_pattern,
            "origin_request_function_arn": self.origin_request,
            "edge_version": self.version(),
        })
    }
}

fn origin_request_arn(
    associations: Option<&aws_sdk_cloudfront::types::LambdaFunctionAssociations>,
) -> Option<String> {
    associations?
        .items()
        .iter()
        .find(|a| a.event_type() == &EventType::OriginRequest)
        .map(|a| a.lambda_function_arn().to_owned())
}

fn default_behavior(b: &DefaultCacheBehavior) -> Behavior {
    Behavior {
        path_pattern: "*".into(),
        origin_request: origin_request_arn(b.lambda_function_associations()),
    }
}

fn behavior(b: &CacheBehavior) -> Behavior {
    Behavior {
        path_pattern: b.path_pattern().to_owned(),
        origin_request: origin_request_arn(b.lambda_function_associations()),
    }
}

/// A Lambda function's name from its name, partial ARN or ARN.
pub fn function_name_of(name_or_arn: &str) -> &str {
    match name_or_arn.split_once("function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

/// One distribution: its status and each behavior's origin-request association.
pub async fn distribution_status(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
    edge_function: Option<&str>,
    signs: bool,
    warnings: &mut Vec<String>,
) -> Result<(Value, String), CliError> {
    let got = cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|err| CliError::aws("GetDistribution", err))?;
    let dist = got.distribution().ok_or_else(|| CliError::Aws {
        operation: "GetDistribution",
        detail: "no distribution in the answer".into(),
    })?;
    let mut behaviors = Vec::new();
    if let Some(cfg) = dist.distribution_config() {
        if let Some(b) = cfg.default_cache_behavior() {
            behaviors.push(default_behavior(b));
        }
        if let Some(list) = cfg.cache_behaviors() {
            behaviors.extend(list.items().iter().map(behavior));
        }
    }
    for b in behaviors.iter().filter(|_| signs) {
        match (&b.origin_request, edge_function) {
            (None, _) => warnings.push(format!(
                "{id}: cache behavior {} has no origin-request association: its requests are not signed",
                b.path_pattern
            )),
            (Some(arn), Some(function)) if b.function_name() != Some(function) => {
                warnings.push(format!(
                    "{id}: cache behavior {} runs {arn} on origin-request, not the edge function {function}",
                    b.path_pattern
                ));
            }
            _ => {}
        }
    }
    let mut arns: Vec<&str> = behaviors
        .iter()
        .filter_map(|b| b.origin_request.as_deref())
        .collect();
    arns.sort_unstable();
    arns.dedup();
    if signs && arns.len() > 1 {
        warnings.push(format!(
            "{id}: cache behaviors name different edge function versions"
        ));
    }
    let hidden = match dist.distribution_config() {
        Some(cfg) if signs => {
            query_strings_hidden(cloudfront, id, cfg, &arns, edge_function, warnings).await
        }
        _ => Vec::new(),
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "distribution {} ({}) {}",
        dist.id(),
        dist.domain_name(),
        dist.status()
    );
    for b in &behaviors {
        let _ = match (&b.origin_request, b.version()) {
            (Some(arn), Some(version)) => writeln!(
                text,
                "  {:<24} origin-request {arn} (version {version})",
                b.path_pattern
            ),
            (Some(arn), None) => writeln!(text, "  {:<24} origin-request {arn}", b.path_pattern),
            (None, _) => writeln!(
                text,
                "  {:<24} no origin-request association",
                b.path_pattern
            ),
        };
    }
    let json = json!({
        "id": dist.id(),
        "arn": dist.arn(),
        "domain_name": dist.domain_name(),
        "status": dist.status(),
        "last_modified": date(Some(dist.last_modified_time())),
        "behaviors": behaviors.iter().map(Behavior::json).collect::<Vec<_>>(),
        "query_strings_hidden": hidden,
    });
    Ok((json, text))
}

/// What each edge version a distribution names runs, by code hash
/// (`edgeseal_cli::doctor::edge_code`): the key whose published package it is, and a
/// warning unless that is the AWSCURRENT or AWSPENDING key. No key is read or shown.
pub async fn edge_code_status(
    lambda: &Sdk,
    id: &str,
    distribution: &Value,
    sendable: &[(&str, &str)],
    text: &mut String,
    warnings: &mut Vec<String>,
) -> Value {
    let mut arns: Vec<&str> = distribution["behaviors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["origin_request_function_arn"].as_str())
        .collect();
    arns.sort_unstable();
    arns.dedup();
    let mut rows = Vec::new();
    for arn in arns {
        let runs = match lambda.edge_version(arn).await {
            Ok(version) => version.code_sha256,
            Err(err) => {
                warnings.push(format!("{id}: cannot read what {arn} runs: {err}"));
                continue;
            }
        };
        let published = match lambda
            .published_versions(edgeseal_rotator::unqualified(arn))
            .await
        {
            Ok(p) => p,
            Err(err) => {
                warnings.push(format!(
                    "{id}: cannot list the edge function's versions: {err}"
                ));
                continue;
            }
        };
        let verdict = carried(&published, &runs);
        let carried = match &verdict {
            Carried::Key(keyid) => Some(*keyid),
            Carried::NoPackage | Carried::Disputed { .. } => None,
        };
        let stage = carried.and_then(|keyid| {
            sendable
                .iter()
                .find(|(sent, _)| *sent == keyid)
                .map(|(_, stage)| *stage)
        });
        match (verdict, stage) {
            (Carried::Key(keyid), Some(stage)) => {
                let _ = writeln!(text, "  {arn} runs the package of {keyid} ({stage})");
            }
            (Carried::Key(keyid), None) => warnings.push(format!(
                "{id}: {arn} runs the package of key {keyid}, which is neither AWSCURRENT nor AWSPENDING"
            )),
            (Carried::NoPackage, _) => warnings.push(format!(
                "{id}: {arn} runs code (CodeSha256 {runs}) that is no package the rotator published for a key"
            )),
            (Carried::Disputed { keyid, hashes }, _) => warnings.push(format!(
                "{id}: {arn} runs code (CodeSha256 {runs}); the versions described as keyid {keyid} run different code ({})",
                hashes.join(", ")
            )),
        }
        rows.push(json!({
            "arn": arn,
            "code_sha256": runs,
            "carries_keyid": carried,
            "stage": stage,
        }));
    }
    Value::Array(rows)
}

/// The path patterns of behaviors running the edge function on origin requests without
/// forwarding all query strings: the rotator's own check (it refuses to associate the
/// signer there), each reported as a warning.
async fn query_strings_hidden(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
    config: &aws_sdk_cloudfront::types::DistributionConfig,
    origin_request_arns: &[&str],
    edge_function: Option<&str>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let cdn = edgeseal_rotator::SdkCloudFront(cloudfront.clone());
    let mut functions: Vec<&str> = origin_request_arns
        .iter()
        .map(|arn| edgeseal_rotator::unqualified(arn))
        .filter(|f| edge_function.is_none_or(|e| function_name_of(f) == function_name_of(e)))
        .collect();
    functions.sort_unstable();
    functions.dedup();
    let mut hidden = Vec::new();
    for function in functions {
        match edgeseal_rotator::hidden_query_string_behaviors(&cdn, config, function).await {
            Ok(patterns) => hidden.extend(patterns),
            Err(err) => warnings.push(format!(
                "{id}: cannot check the query-string policies: {err}"
            )),
        }
    }
    if !hidden.is_empty() {
        warnings.push(format!(
            "{id}: cache behavior(s) {} run the edge signer but do not forward all query strings (cache or origin request policy with QueryStringBehavior all): signed requests with a query string are denied, and the rotator refuses to rotate",
            hidden.join(", ")
        ));
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_arn(arn: Option<&str>) -> Behavior {
        Behavior {
            path_pattern: "*".into(),
            origin_request: arn.map(str::to_owned),
        }
    }

    #[test]
    fn association_arns_give_function_and_version() {
        let b = with_arn(Some(
            "arn:aws:lambda:us-east-1:123456789012:function:edge-signer:17",
        ));
        assert_eq!(b.function_name(), Some("edge-signer"));
        assert_eq!(b.version(), Some("17"));
        let unqualified = with_arn(Some(
            "arn:aws:lambda:us-east-1:123456789012:function:edge-signer",
        ));
        assert_eq!(unqualified.function_name(), Some("edge-signer"));
        assert_eq!(unqualified.version(), None);
        let alias = with_arn(Some(
            "arn:aws:lambda:us-east-1:123456789012:function:edge-signer:live",
        ));
        assert_eq!(alias.version(), None);
        assert_eq!(with_arn(None).function_name(), None);
    }

    #[test]
    fn function_names_from_names_and_arns() {
        for given in [
            "edge",
            "123456789012:function:edge",
            "arn:aws:lambda:us-east-1:123456789012:function:edge",
        ] {
            assert_eq!(function_name_of(given), "edge", "{given}");
        }
    }
}

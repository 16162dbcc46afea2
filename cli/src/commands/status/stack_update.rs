//! `status`, per distribution: would a CloudFormation stack update put another edge
//! version back, and how old is the edge version it runs?
//!
//! A stack that owns a distribution writes the template's associations whenever an
//! update touches it. The deployment template reads the association from the rotator's
//! edge version record (`EdgeVersionParameter`, `rotator/src/edge_version.rs`), so an
//! update keeps what runs exactly when that parameter names it. Without a record, a
//! distribution tagged by a stack (`aws:cloudformation:stack-name`) gets whatever its
//! template says.

use std::fmt::Write as _;

use edgeseal::UnixTime;
use edgeseal_cli::doctor::sdk::lambda_time;
use serde_json::{Value, json};

/// What a stack update would do to the association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outlook {
    /// The record names the version that runs: an update writes it back.
    Keeps,
    /// The record names another version: an update would write that one.
    Reverts { to: String },
    /// No record, and a stack owns the distribution: an update writes the template's.
    Unknown { stack: String },
    /// No stack owns the distribution: no stack update touches it.
    NotStackManaged,
    /// The behaviors run no single version; nothing to compare.
    NoSingleVersion,
}

/// Decide, from the versions the behaviors run, the record's value (when there is a
/// record) and the stack that owns the distribution (when one does).
pub fn outlook(running: &[&str], recorded: Option<Option<&str>>, stack: Option<&str>) -> Outlook {
    let [running] = running else {
        return Outlook::NoSingleVersion;
    };
    match (recorded, stack) {
        (Some(Some(value)), _) if value == *running => Outlook::Keeps,
        (Some(Some(value)), _) => Outlook::Reverts {
            to: value.to_owned(),
        },
        (Some(None), _) => Outlook::Reverts {
            to: "(the parameter is missing: the stack update fails or writes its default)".into(),
        },
        (None, Some(stack)) => Outlook::Unknown {
            stack: stack.to_owned(),
        },
        (None, None) => Outlook::NotStackManaged,
    }
}

/// `3d 4h`, `5h 12m`, `42s`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Read what the outlook needs and describe it. `distribution` is `status`'s JSON for
/// one distribution (its `arn` and behaviors).
pub async fn describe(
    config: &aws_config::SdkConfig,
    distribution: &Value,
    parameter: Option<&str>,
    now: UnixTime,
    warnings: &mut Vec<String>,
) -> (Value, String) {
    let id = distribution["id"].as_str().unwrap_or_default();
    let mut running: Vec<&str> = distribution["behaviors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["origin_request_function_arn"].as_str())
        .collect();
    running.sort_unstable();
    running.dedup();

    if running.len() != 1 {
        let why = "unknown: the behaviors do not run one edge version";
        return (
            json!({"would_revert": null, "reason": why}),
            format!("  stack update would revert the association: {why}\n"),
        );
    }
    let recorded = match parameter {
        None => None,
        Some(name) => {
            let ssm = aws_sdk_ssm::Client::new(config);
            match ssm.get_parameter().name(name).send().await {
                Ok(out) => Some(out.parameter.and_then(|p| p.value)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_parameter_not_found()) =>
                {
                    Some(None)
                }
                Err(e) => {
                    warnings.push(format!(
                        "{id}: cannot read the edge version record {name}: {}",
                        crate::error::CliError::aws("GetParameter", e)
                    ));
                    return (Value::Null, String::new());
                }
            }
        }
    };
    let stack = match distribution["arn"].as_str() {
        Some(arn) if recorded.is_none() => {
            let cloudfront = aws_sdk_cloudfront::Client::new(config);
            match cloudfront
                .list_tags_for_resource()
                .resource(arn)
                .send()
                .await
            {
                Ok(out) => out.tags().and_then(|t| t.items.as_ref()).and_then(|items| {
                    items
                        .iter()
                        .find(|t| t.key == "aws:cloudformation:stack-name")
                        .and_then(|t| t.value.clone())
                }),
                Err(e) => {
                    warnings.push(format!(
                        "{id}: cannot read its tags to find an owning stack: {}",
                        crate::error::CliError::aws("ListTagsForResource", e)
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    let verdict = outlook(
        &running,
        recorded.as_ref().map(Option::as_deref),
        stack.as_deref(),
    );
    let (would_revert, why) = match &verdict {
        Outlook::Keeps => (
            Some(false),
            format!(
                "no: the edge version record ({}) names the version it runs",
                parameter.unwrap_or_default()
            ),
        ),
        Outlook::Reverts { to } => (
            Some(true),
            format!("YES: the edge version record names {to}"),
        ),
        Outlook::Unknown { stack } => (
            None,
            format!(
                "unknown: stack {stack} owns it and no edge version record is configured; an update writes the template's association"
            ),
        ),
        Outlook::NotStackManaged => (
            Some(false),
            "no: no CloudFormation stack owns it".to_owned(),
        ),
        Outlook::NoSingleVersion => (
            None,
            "unknown: the behaviors do not run one version".to_owned(),
        ),
    };
    match &verdict {
        Outlook::Reverts { .. } => warnings.push(format!(
            "{id}: a stack update would put another edge version back ({why}); run edgeseal rotate, or check the rotator's EDGE_VERSION_PARAMETER and its log"
        )),
        Outlook::Unknown { .. } => warnings.push(format!(
            "{id}: {why}: deploy the template that reads EdgeVersionParameter (docs/deployment.md)"
        )),
        _ => {}
    }

    // How old the running version is.
    let mut published = None;
    if let [arn] = running.as_slice() {
        let lambda = aws_sdk_lambda::Client::new(config);
        match lambda
            .get_function_configuration()
            .function_name(*arn)
            .send()
            .await
        {
            Ok(out) => published = out.last_modified().and_then(lambda_time),
            Err(e) => warnings.push(format!(
                "{id}: cannot read edge version {arn}: {}",
                crate::error::CliError::aws("GetFunctionConfiguration", e)
            )),
        }
    }
    let age_secs = published.map(|p| now.as_secs().saturating_sub(p.as_secs()));

    let mut text = String::new();
    let _ = writeln!(text, "  stack update would revert the association: {why}");
    if let Some(secs) = age_secs {
        let _ = writeln!(text, "  edge version published {} ago", age(secs));
    }
    let json = json!({
        "would_revert": would_revert,
        "reason": why,
        "edge_version_parameter": parameter,
        "recorded_version": recorded.flatten(),
        "owning_stack": stack,
        "edge_version_age_secs": age_secs,
    });
    (json, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V6: &str = "arn:aws:lambda:us-east-1:1:function:edge:6";
    const V7: &str = "arn:aws:lambda:us-east-1:1:function:edge:7";

    #[test]
    fn a_record_naming_the_running_version_keeps_it() {
        assert_eq!(outlook(&[V7], Some(Some(V7)), Some("s")), Outlook::Keeps);
    }

    #[test]
    fn a_record_naming_another_version_reverts() {
        assert_eq!(
            outlook(&[V7], Some(Some(V6)), None),
            Outlook::Reverts { to: V6.into() }
        );
        assert!(matches!(
            outlook(&[V7], Some(None), None),
            Outlook::Reverts { .. }
        ));
    }

    #[test]
    fn without_a_record_the_owning_stack_decides() {
        assert_eq!(
            outlook(&[V7], None, Some("edgeseal")),
            Outlook::Unknown {
                stack: "edgeseal".into()
            }
        );
        assert_eq!(outlook(&[V7], None, None), Outlook::NotStackManaged);
        assert_eq!(
            outlook(&[V6, V7], Some(Some(V7)), None),
            Outlook::NoSingleVersion
        );
    }

    #[test]
    fn ages_and_lambda_times_read_naturally() {
        assert_eq!(age(42), "42s");
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 5), "3d 4h");
        assert_eq!(
            lambda_time("2026-01-01T00:00:00.000+0000").map(UnixTime::as_secs),
            Some(1_767_225_600)
        );
    }
}

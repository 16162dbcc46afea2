//! `edgeseal status`: the secret's versions and rotation; per distribution, what its
//! cache behaviors run on origin requests, which key that edge code carries, and
//! whether a stack update would put another edge version back. Without
//! `--distribution-id` (or `--edge-version-parameter`) the secret's rotation function
//! says, its environment parsed by the rotator's own parser ([`rotator`]).

mod distributions;
mod rotator;
mod stack_update;

use std::fmt::Write as _;

use edgeseal::{SecretValue, Stage, UnixTime};
use edgeseal_cli::doctor::sdk::Sdk;
use serde_json::{Value, json};

use crate::args::{Cli, StatusArgs};
use crate::aws;
use crate::error::{CliError, FAILED, OK};
use crate::output::{Output, date};

pub async fn run(cli: &Cli, args: &StatusArgs, out: &Output) -> Result<u8, CliError> {
    let config = aws::sdk_config(&cli.global).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let described = secrets
        .describe_secret()
        .secret_id(&args.secret_id)
        .send()
        .await
        .map_err(|err| CliError::aws("DescribeSecret", err))?;
    let versions = aws::list_versions(&secrets, &args.secret_id).await?;

    let mut warnings: Vec<String> = Vec::new();
    let rotation_enabled = described.rotation_enabled().unwrap_or(false);
    if !rotation_enabled {
        warnings.push("rotation is not enabled on the secret".into());
    }
    let schedule = described.rotation_rules().and_then(|r| {
        r.schedule_expression()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                r.automatically_after_days()
                    .filter(|d| *d > 0)
                    .map(|d| format!("every {d} days"))
            })
    });
    let rotation_lambda = described.rotation_lambda_arn().filter(|a| !a.is_empty());

    let mut version_rows = Vec::new();
    let mut current_kind = None;
    for v in versions.iter().filter(|v| !v.stages.is_empty()) {
        // Reading values only classifies them; status still works for an operator
        // who may describe the secret but not read it.
        let kind = match secrets
            .get_secret_value()
            .secret_id(&args.secret_id)
            .version_id(&v.version_id)
            .send()
            .await
        {
            Ok(mut value) => value_kind(
                aws::take_secret_string(&mut value)
                    .as_deref()
                    .map(String::as_str),
            ),
            Err(err) => {
                let err = CliError::aws("GetSecretValue", err);
                warnings.push(format!("version {} is unreadable: {err}", v.version_id));
                "unreadable"
            }
        };
        if v.stages.iter().any(|s| s == Stage::Current.label()) {
            current_kind = Some(kind);
        }
        version_rows.push((v, kind));
    }
    // Current first, then pending, previous, others.
    let rank = |stages: &[String]| {
        stages
            .iter()
            .filter_map(|s| Stage::from_label(s))
            .max()
            .map_or(0, |s| s as u8 + 1)
    };
    version_rows.sort_by_key(|(v, _)| std::cmp::Reverse(rank(&v.stages)));
    match current_kind {
        None => warnings.push("no version is AWSCURRENT".into()),
        Some("not-a-key" | "unreadable") => warnings.push(
            "AWSCURRENT is neither an edgeseal key nor a static header value (or is unreadable)"
                .into(),
        ),
        Some(_) => {}
    }
    // A completed rotation leaves AWSPENDING on the new AWSCURRENT version; only a
    // separate AWSPENDING version means a rotation in progress or failed (RotateSecret
    // API reference: RotateSecret refuses to start while AWSPENDING is "present but not
    // attached to the same version as AWSCURRENT"). `doctor`'s rotation check agrees.
    if versions.iter().any(|v| {
        v.stages.iter().any(|s| s == Stage::Pending.label())
            && !v.stages.iter().any(|s| s == Stage::Current.label())
    }) {
        warnings.push(
            "an AWSPENDING version exists apart from AWSCURRENT: a rotation is in progress or failed (see the rotator's logs)"
                .into(),
        );
    }

    // Which distributions: the flag, else what the rotation function is configured with.
    let mut rotator_json = Value::Null;
    let mut distribution_ids = args.distribution_id.clone();
    let mut edge_function = None;
    let mut edge_version_parameter = args.edge_version_parameter.clone();
    // Whether the rotator signs (its target is `signed`): the other targets send an
    // origin custom header, and no edge association is expected.
    let mut signs = true;
    if (distribution_ids.is_empty() || edge_version_parameter.is_none())
        && let Some(arn) = rotation_lambda
    {
        match rotator::read(&config, arn).await {
            Ok(settings) => {
                signs = settings.signs();
                edge_function = settings.edge_function();
                rotator_json = json!({
                    "function_arn": arn,
                    "distributions": settings.config.distributions,
                    "edge_function": edge_function,
                    "mode": settings.config.kind().as_str(),
                });
                if distribution_ids.is_empty() {
                    distribution_ids = settings.config.distributions;
                }
                edge_version_parameter = edge_version_parameter.or(settings.edge_version_parameter);
            }
            Err(warning) => warnings.push(warning),
        }
    }

    let mut distributions = Vec::new();
    let mut dist_text = String::new();
    if !distribution_ids.is_empty() {
        let cloudfront = aws_sdk_cloudfront::Client::new(&config);
        let lambda = Sdk::new(&config);
        // The keys an edge should carry now: AWSCURRENT, and AWSPENDING mid-rotation.
        let sendable: Vec<(&str, &str)> = versions
            .iter()
            .flat_map(|v| {
                v.stages
                    .iter()
                    .filter(|s| *s == Stage::Current.label() || *s == Stage::Pending.label())
                    .map(|s| (v.version_id.as_str(), s.as_str()))
            })
            .collect();
        for id in &distribution_ids {
            let (mut json, mut text) = distributions::distribution_status(
                &cloudfront,
                id,
                edge_function.as_deref(),
                signs,
                &mut warnings,
            )
            .await?;
            if !signs {
                distributions.push(json);
                dist_text.push_str(&text);
                continue;
            }
            let code = distributions::edge_code_status(
                &lambda,
                id,
                &json,
                &sendable,
                &mut text,
                &mut warnings,
            )
            .await;
            if let Some(fields) = json.as_object_mut() {
                fields.insert("edge_code".into(), code);
            }
            let (outlook, outlook_text) = stack_update::describe(
                &config,
                &json,
                edge_version_parameter.as_deref(),
                UnixTime::now(),
                &mut warnings,
            )
            .await;
            if let Some(fields) = json.as_object_mut() {
                fields.insert("stack_update".into(), outlook);
            }
            distributions.push(json);
            dist_text.push_str(&text);
            dist_text.push_str(&outlook_text);
        }
    }

    let mut text = String::new();
    let _ = writeln!(
        text,
        "secret {} ({})",
        described.arn().unwrap_or_default(),
        described.name().unwrap_or_default()
    );
    let _ = writeln!(
        text,
        "rotation {}{}{}",
        if rotation_enabled {
            "enabled"
        } else {
            "disabled"
        },
        schedule
            .as_deref()
            .map(|s| format!(", schedule {s}"))
            .unwrap_or_default(),
        rotation_lambda
            .map(|a| format!(", by {a}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        text,
        "  last rotated {}, next rotation {}",
        date(described.last_rotated_date())
            .as_deref()
            .unwrap_or("never"),
        date(described.next_rotation_date())
            .as_deref()
            .unwrap_or("not scheduled")
    );
    let _ = writeln!(text, "versions");
    for (v, kind) in &version_rows {
        let _ = writeln!(
            text,
            "  {}  {:<24} created {}  {kind}",
            v.version_id,
            v.stages.join(","),
            v.created
                .and_then(unix_date)
                .unwrap_or_else(|| "?".to_owned())
        );
    }
    text.push_str(&dist_text);
    if !warnings.is_empty() {
        let _ = writeln!(text, "warnings");
        for w in &warnings {
            let _ = writeln!(text, "  - {w}");
        }
    }
    out.result(
        &json!({
            "secret": {
                "arn": described.arn(),
                "name": described.name(),
                "rotation_enabled": rotation_enabled,
                "rotation_lambda_arn": rotation_lambda,
                "schedule": schedule,
                "last_rotated": date(described.last_rotated_date()),
                "next_rotation": date(described.next_rotation_date()),
                "versions": version_rows.iter().map(|(v, kind)| json!({
                    "version_id": v.version_id,
                    "stages": v.stages,
                    "created": v.created.map(UnixTime::as_secs),
                    "kind": kind,
                })).collect::<Vec<_>>(),
            },
            "rotator": rotator_json,
            "distributions": distributions,
            "warnings": warnings,
        }),
        &text,
    );
    Ok(if args.check && !warnings.is_empty() {
        FAILED
    } else {
        OK
    })
}

fn unix_date(t: UnixTime) -> Option<String> {
    let secs = i64::try_from(t.as_secs()).ok()?;
    date(Some(&aws_smithy_types::DateTime::from_secs(secs)))
}

/// What a version's value is, without showing it.
fn value_kind(secret_string: Option<&str>) -> &'static str {
    // `APIKEY`: the appsync-api-key target's field (the AWS blog's format), besides the
    // static-header fields SecretValue knows.
    match secret_string.map(|s| SecretValue::parse(s, Some("APIKEY"))) {
        Some(Ok(SecretValue::Hmac(_))) => "edgeseal-key",
        Some(Ok(SecretValue::StaticHeader(_))) => "static-header",
        Some(Err(_)) | None => "not-a-key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_kinds_never_need_the_value_shown() {
        assert_eq!(
            value_kind(Some(
                r#"{"alg":"hmac-sha256","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#
            )),
            "edgeseal-key"
        );
        assert_eq!(
            value_kind(Some(r#"{"HEADERVALUE":"abcdefghijklmnop"}"#)),
            "static-header"
        );
        assert_eq!(
            value_kind(Some(r#"{"APIKEY":"da2-abcdefghijklmnopqrstuvwxyz"}"#)),
            "static-header"
        );
        assert_eq!(
            value_kind(Some(r#"{"edgeseal":"placeholder"}"#)),
            "not-a-key"
        );
        assert_eq!(value_kind(None), "not-a-key");
    }
}

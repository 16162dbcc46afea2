//! The commands. Each returns the exit code of a completed run (0, or 1 for a failed
//! verification / check / non-2xx answer) or a [`CliError`].

use std::fmt::Write as _;
use std::time::Duration;

use aws_sdk_cloudfront::types::{CacheBehavior, DefaultCacheBehavior, EventType};
use edgeseal::{KeyId, SecretValue, Signer, Stage, UnixTime};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::args::{
    Cli, Command, KeyFormat, KeygenArgs, RotateArgs, SignArgs, StatusArgs, VerifyArgs,
};
use crate::error::CliError;
use crate::output::Output;
use crate::target::Target;
use crate::{aws, keys, send};

const OK: u8 = 0;
const FAILED: u8 = CliError::FAILED_EXIT;

pub async fn run(cli: &Cli, out: &Output) -> Result<u8, CliError> {
    match &cli.command {
        Command::Keygen(args) => keygen(args, out),
        Command::Sign(args) => sign(cli, args, out).await,
        Command::Verify(args) => verify(cli, args, out).await,
        Command::Explain(args) => crate::explain::explain(cli, args, out).await,
        Command::Status(args) => status(cli, args, out).await,
        Command::Rotate(args) => rotate(cli, args, out).await,
        Command::Doctor(args) => crate::doctor_command::run(cli, args, out).await,
    }
}

pub fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime::from_secs(secs)
}

fn check_method(method: &str) -> Result<(), CliError> {
    if edgeseal::canonical::is_method(method) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--method {method:?} is not an HTTP method"
        )))
    }
}

fn keygen(args: &KeygenArgs, out: &Output) -> Result<u8, CliError> {
    let key = keys::generate()?;
    // keygen exists to print a key; nothing else in this CLI does.
    match args.format {
        KeyFormat::Secret => {
            // The secret JSON is the JSON output too: printed from its zeroizing buffer,
            // never copied into a serde_json value.
            out.text(&edgeseal::edgeseal_secret_json(&key));
        }
        KeyFormat::Base64 if out.json() => {
            let encoded = key.to_base64();
            let mut line = Zeroizing::new(String::with_capacity(encoded.len() + 10));
            line.push_str("{\"key\":\"");
            line.push_str(&encoded);
            line.push_str("\"}");
            out.text(&line);
        }
        KeyFormat::Base64 => out.text(&key.to_base64()),
    }
    Ok(OK)
}

async fn sign(cli: &Cli, args: &SignArgs, out: &Output) -> Result<u8, CliError> {
    check_method(&args.request.method)?;
    let target = Target::parse(&args.request.url)?;
    let extra_headers = args
        .headers
        .iter()
        .map(|h| send::parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;

    let (keyid, key) = match (&args.key.secret_id, &args.key.key_file) {
        (Some(secret_id), _) => {
            let config = aws::sdk_config(&cli.global).await;
            let client = aws_sdk_secretsmanager::Client::new(&config);
            aws::key_at_stage(&client, secret_id, &args.stage).await?
        }
        (None, Some(path)) => {
            let keyid = args.keyid.as_deref().ok_or_else(|| {
                CliError::Usage(
                    "--key-file needs --keyid (the key's id, as the verifier knows it)".into(),
                )
            })?;
            let keyid =
                KeyId::new(keyid).map_err(|err| CliError::Usage(format!("--keyid: {err}")))?;
            (keyid, keys::from_file(path)?)
        }
        (None, None) => return Err(CliError::Usage("give --secret-id or --key-file".into())),
    };
    let signer = Signer::new(&args.profile.label, keyid.clone(), key)
        .map_err(|err| CliError::Usage(format!("--label: {err}")))?
        .with_tag(args.profile.tag())
        .map_err(|err| CliError::Usage(format!("--tag: {err}")))?;
    let created = args.created.map_or_else(now, UnixTime::from_secs);
    let view = target.view(&args.request.method, args.profile.signing_profile);
    // In the raw profile a body is bound as the edge binds one: Content-Digest, covered.
    let fields = match (args.profile.signing_profile, &args.data) {
        (edgeseal::Profile::Raw, Some(body)) => {
            signer.sign_body_at(created, &view, body.as_bytes())
        }
        _ => signer.sign_at(created, &view),
    }
    .map_err(|err| CliError::Usage(format!("cannot sign this request: {err}")))?;

    // Members the caller already put in the signature headers stay, except ours.
    let (mut headers, existing): (Vec<_>, Vec<_>) = extra_headers
        .into_iter()
        .partition(|(name, _)| name != "signature-input" && name != "signature");
    let find = |name: &str| {
        existing
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (signature_input, signature) = fields.merge_into(
        &args.profile.label,
        find("signature-input"),
        find("signature"),
    );

    let signed = json!({
        "signature_input": signature_input,
        "signature": signature,
        "content_digest": fields.content_digest(),
        "keyid": keyid.as_str(),
        "created": created.as_secs(),
        "label": args.profile.label,
        "profile": args.profile.signing_profile.name(),
    });
    if !args.send {
        let digest = fields
            .content_digest()
            .map(|d| format!("\nContent-Digest: {d}"))
            .unwrap_or_default();
        out.result(
            &signed,
            &format!("Signature-Input: {signature_input}\nSignature: {signature}{digest}"),
        );
        return Ok(OK);
    }
    if let Some(digest) = fields.content_digest() {
        headers.retain(|(name, _)| name != edgeseal::CONTENT_DIGEST);
        headers.push((edgeseal::CONTENT_DIGEST.into(), digest.to_owned()));
    }

    headers.push(("signature-input".into(), signature_input.clone()));
    headers.push(("signature".into(), signature.clone()));
    let response = send::send(
        &args.request.method,
        &target,
        &headers,
        args.data.as_deref(),
        Duration::from_secs(args.timeout_secs.max(1)),
        &[],
    )
    .await?;
    let ok = (200..300).contains(&response.status);
    let mut text = format!("HTTP {}\n{}", response.status, response.body);
    if response.truncated {
        let _ = write!(text, "\n[body truncated at {} bytes]", send::MAX_BODY);
    }
    out.result(
        &json!({
            "status": response.status,
            "ok": ok,
            "body": response.body,
            "truncated": response.truncated,
            "request": signed,
        }),
        &text,
    );
    Ok(if ok { OK } else { FAILED })
}

async fn verify(cli: &Cli, args: &VerifyArgs, out: &Output) -> Result<u8, CliError> {
    check_method(&args.request.method)?;
    let target = Target::parse(&args.request.url)?;
    let request = target
        .view(&args.request.method, args.profile.signing_profile)
        .with_header("signature-input", &args.signature_input)
        .with_header("signature", &args.signature);
    let verifier = args.check.verifier(&args.profile)?;
    let at = args.check.at.map_or_else(now, UnixTime::from_secs);

    let rejected = |reason: edgeseal::Rejection, skipped: &[String]| {
        out.result(
            &json!({
                "valid": false,
                "reason": reason.code(),
                "message": reason.to_string(),
                "skipped_versions": skipped,
            }),
            &format!("rejected: {} ({reason})", reason.code()),
        );
        Ok(FAILED)
    };

    let candidate = match verifier.parse(&request) {
        Ok(candidate) => candidate,
        Err(reason) => return rejected(reason, &[]),
    };
    let (keys, skipped) = keys::key_set(
        &cli.global,
        &args.key,
        args.keyid.as_deref(),
        candidate.keyid(),
        args.check.previous_grace_secs,
    )
    .await?;
    match verifier.verify_candidate_at(at, &request, &candidate, &keys) {
        Ok(verified) => {
            out.result(
                &json!({
                    "valid": true,
                    "keyid": verified.keyid().as_str(),
                    "stage": verified.stage().label(),
                    "created": verified.created().as_secs(),
                    "age_secs": verified.age_secs(),
                    "skipped_versions": skipped,
                }),
                &format!(
                    "valid: keyid {} ({}), created {}, age {}s",
                    verified.keyid().as_str(),
                    verified.stage().label(),
                    verified.created().as_secs(),
                    verified.age_secs()
                ),
            );
            Ok(OK)
        }
        Err(reason) => rejected(reason, &skipped),
    }
}

fn unix_date(t: UnixTime) -> Option<String> {
    let secs = i64::try_from(t.as_secs()).ok()?;
    date(Some(&aws_smithy_types::DateTime::from_secs(secs)))
}

fn date(d: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
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

struct Behavior {
    path_pattern: String,
    origin_request: Option<String>,
}

impl Behavior {
    fn version(&self) -> Option<&str> {
        let arn = self.origin_request.as_deref()?;
        let (_, last) = arn.rsplit_once(':')?;
        last.bytes().all(|b| b.is_ascii_digit()).then_some(last)
    }

    /// The function's name, from `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION]`.
    fn function_name(&self) -> Option<&str> {
        self.origin_request.as_deref()?.split(':').nth(6)
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

async fn status(cli: &Cli, args: &StatusArgs, out: &Output) -> Result<u8, CliError> {
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
    let mut rotator = Value::Null;
    let mut distribution_ids = args.distribution_id.clone();
    let mut edge_function = None;
    let mut edge_version_parameter = args.edge_version_parameter.clone();
    // Whether the rotator signs (ROTATION_TARGET, as the rotator defaults it): the other
    // targets send an origin custom header, and no edge association is expected.
    let mut signs = true;
    if (distribution_ids.is_empty() || edge_version_parameter.is_none())
        && let Some(arn) = rotation_lambda
    {
        match rotator_settings(&config, arn).await {
            Ok(settings) => {
                signs = settings
                    .mode
                    .as_deref()
                    .map_or(settings.edge_function.is_some(), |m| m == "signed");
                rotator = json!({
                    "function_arn": arn,
                    "distributions": settings.distributions,
                    "edge_function": settings.edge_function,
                    "mode": settings.mode,
                });
                if distribution_ids.is_empty() {
                    distribution_ids = settings.distributions;
                }
                edge_function = settings.edge_function;
                edge_version_parameter = edge_version_parameter.or(settings.edge_version_parameter);
            }
            Err(err) => warnings.push(format!(
                "cannot read the rotation function's configuration (give --distribution-id): {err}"
            )),
        }
    }

    let mut distributions = Vec::new();
    let mut dist_text = String::new();
    if !distribution_ids.is_empty() {
        let cloudfront = aws_sdk_cloudfront::Client::new(&config);
        let lambda = edgeseal_cli::doctor::sdk::Sdk::new(&config);
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
            let (mut json, mut text) = distribution_status(
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
            let code =
                edge_code_status(&lambda, id, &json, &sendable, &mut text, &mut warnings).await;
            if let Some(fields) = json.as_object_mut() {
                fields.insert("edge_code".into(), code);
            }
            let (outlook, outlook_text) = crate::stack_update::describe(
                &config,
                &json,
                edge_version_parameter.as_deref(),
                now(),
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
            "rotator": rotator,
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

/// What the rotation function is configured with (its environment; no secrets there).
struct RotatorSettings {
    distributions: Vec<String>,
    edge_function: Option<String>,
    edge_version_parameter: Option<String>,
    mode: Option<String>,
}

async fn rotator_settings(
    config: &aws_config::SdkConfig,
    function_arn: &str,
) -> Result<RotatorSettings, CliError> {
    let lambda = aws_sdk_lambda::Client::new(config);
    let got = lambda
        .get_function_configuration()
        .function_name(function_arn)
        .send()
        .await
        .map_err(|err| CliError::aws("GetFunctionConfiguration", err))?;
    let vars = got.environment().and_then(|e| e.variables());
    let var = |name: &str| {
        vars.and_then(|v| v.get(name))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(RotatorSettings {
        distributions: var("CLOUDFRONT_DISTRIBUTION_ID")
            .map(|ids| {
                ids.split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        edge_function: var("EDGE_FUNCTION_NAME").map(|f| function_name_of(&f).to_owned()),
        edge_version_parameter: var("EDGE_VERSION_PARAMETER"),
        mode: var("ROTATION_TARGET").or_else(|| var("ROTATION_MODE")),
    })
}

/// A Lambda function's name from its name, partial ARN or ARN.
fn function_name_of(name_or_arn: &str) -> &str {
    match name_or_arn.split_once("function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

/// One distribution: its status and each behavior's origin-request association.
async fn distribution_status(
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
async fn edge_code_status(
    lambda: &edgeseal_cli::doctor::sdk::Sdk,
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
        use edgeseal_cli::doctor::edge_code::{Carried, carried};
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
    let cdn = edgeseal_rotator::aws::sdk::SdkCloudFront(cloudfront.clone());
    let mut functions: Vec<&str> = origin_request_arns
        .iter()
        .map(|arn| edgeseal_rotator::unqualified(arn))
        .filter(|f| edge_function.is_none_or(|e| function_name_of(f) == function_name_of(e)))
        .collect();
    functions.sort_unstable();
    functions.dedup();
    let mut hidden = Vec::new();
    for function in functions {
        match edgeseal_rotator::cloudfront::query_strings::hidden_query_string_behaviors(
            &cdn, config, function,
        )
        .await
        {
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

async fn rotate(cli: &Cli, args: &RotateArgs, out: &Output) -> Result<u8, CliError> {
    let config = aws::sdk_config(&cli.global).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let rotated = client
        .rotate_secret()
        .secret_id(&args.secret_id)
        .send()
        .await
        .map_err(|err| CliError::aws("RotateSecret", err))?;
    let version = rotated.version_id().unwrap_or_default();
    out.result(
        &json!({
            "secret_arn": rotated.arn(),
            "version_id": version,
        }),
        &format!(
            "rotation started for {}: new version {version}\n(follow it with `edgeseal status --secret-id ...`; the rotator waits for the distribution to deploy)",
            rotated.arn().unwrap_or(&args.secret_id)
        ),
    );
    Ok(OK)
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

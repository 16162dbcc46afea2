//! `edgeseal explain`: why the authorizer allows or denies one request.
//!
//! Everything here goes through the authorizer's own code: the event is read by
//! `origin_verifier::AuthorizerEvent` (the same shapes, decoding and `BASE_PATH_MAP`),
//! the signature parsed and checked by `edgeseal::Verifier`, the base built by the
//! signature itself. This file only prints what they found.

mod jwt;

use std::io::Read as _;

use edgeseal::{RequestView, UnixTime};
use origin_verifier::{AuthorizerEvent, BasePathMap, HeaderSelection};
use serde_json::{Value, json};

use crate::args::{Cli, ExplainArgs};
use crate::error::{CliError, FAILED, OK};
use crate::keys;
use crate::output::Output;
use crate::target::Target;

/// The request as the authorizer sees it, and where it came from.
struct Seen {
    source: &'static str,
    view: RequestView,
}

fn read_event(path: &std::path::Path) -> Result<String, CliError> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| CliError::Usage(format!("--event -: cannot read stdin: {err}")))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|err| CliError::Usage(format!("--event {}: {err}", path.display())))?;
    }
    Ok(text)
}

fn seen(args: &ExplainArgs) -> Result<Seen, CliError> {
    if let Some(path) = &args.input.event {
        let event: AuthorizerEvent = serde_json::from_str(&read_event(path)?).map_err(|err| {
            CliError::Usage(format!("--event {}: not JSON: {err}", path.display()))
        })?;
        let kind = event
            .kind()
            .map_err(|err| CliError::Usage(format!("--event {}: {err}", path.display())))?;
        let map = BasePathMap::parse(&args.base_path_map)
            .map_err(|err| CliError::Usage(format!("--base-path-map: {err}")))?;
        let view = event
            .request_view(kind, &map, HeaderSelection::All)
            .map_err(|err| CliError::Usage(format!("--event {}: {err}", path.display())))?;
        return Ok(Seen {
            source: kind.as_str(),
            view,
        });
    }
    let url = args.input.url.as_deref().unwrap_or_default();
    let view = Target::parse(url)?
        .view(&args.method, args.profile.signing_profile)
        .with_header(
            "signature-input",
            args.signature_input.as_deref().unwrap_or(""),
        )
        .with_header("signature", args.signature.as_deref().unwrap_or(""));
    let view = match &args.authorization {
        Some(value) => view.with_header("authorization", value),
        None => view,
    };
    Ok(Seen {
        source: "request",
        view,
    })
}

/// `(name, value)` of the four components, `-` for an unusable Host.
fn components(view: &RequestView) -> [(&'static str, String); 4] {
    [
        ("@method", view.method().to_owned()),
        ("@authority", view.authority().unwrap_or("-").to_owned()),
        ("@path", view.path().to_owned()),
        ("@query", view.query().to_owned()),
    ]
}

pub async fn run(cli: &Cli, args: &ExplainArgs, out: &Output) -> Result<u8, CliError> {
    let Seen { source, view } = seen(args)?;
    let verifier = args.check.verifier(&args.profile)?;
    let at = args
        .check
        .at
        .map_or_else(UnixTime::now, UnixTime::from_secs);
    let seen_components = components(&view);
    let mut text = format!("request as the authorizer sees it ({source}):\n");
    for (name, value) in &seen_components {
        text.push_str(&format!("  {name:<11} {value}\n"));
    }
    let mut report = serde_json::Map::new();
    report.insert("source".into(), json!(source));
    report.insert(
        "components".into(),
        Value::Object(
            seen_components
                .iter()
                .map(|(n, v)| ((*n).to_owned(), Value::String(v.clone())))
                .collect(),
        ),
    );

    // The request the edge signed, if given: which components differ.
    let sent = match &args.sent_url {
        Some(url) => Some(Target::parse(url)?.view(view.method(), view.profile())),
        None => None,
    };
    let differing: Vec<(&'static str, String, String)> = match &sent {
        Some(sent) => components(sent)
            .into_iter()
            .zip(seen_components.iter())
            .filter(|((_, signed), (_, seen))| signed != seen)
            .map(|((name, signed), (_, seen))| (name, signed, seen.clone()))
            .collect(),
        None => Vec::new(),
    };

    // The bearer token (with --jwt-issuers): the authorizer checks it after the
    // signature; shown whatever the signature's verdict.
    let jwt = jwt::explain(&args.jwt, &view, at).await?;
    let jwt_failed = jwt.as_ref().is_some_and(|j| !j.allowed);
    if let Some(jwt) = jwt {
        report.insert("jwt".into(), jwt.report);
        text.push_str(&jwt.text);
    }
    let candidate = match verifier.parse(&view) {
        Ok(candidate) => candidate,
        Err(reason) => {
            text.push_str(&format!("verdict: deny ({}): {reason}\n", reason.code()));
            report.insert("verdict".into(), json!("deny"));
            report.insert("reason".into(), json!(reason.code()));
            out.result(&Value::Object(report), text.trim_end());
            return Ok(FAILED);
        }
    };
    if let Ok(base) = candidate.signature_base(&view) {
        text.push_str("signature base:\n");
        for line in base.as_str().lines() {
            text.push_str(&format!("  {line}\n"));
        }
        report.insert("signature_base".into(), json!(base.as_str()));
    }
    let keyid = candidate.keyid().as_str();
    let (keys, skipped) = keys::key_set(
        &cli.global,
        &args.key,
        args.keyid.as_deref(),
        candidate.keyid(),
        args.check.previous_grace_secs,
    )
    .await?;
    let stage = keys.find_at(keyid, at).map(|(_, stage)| stage.label());
    text.push_str(&format!(
        "keyid: {keyid}; looked for among AWSCURRENT, AWSPENDING and AWSPREVIOUS (within its grace): {}\n",
        match &stage {
            Ok(label) => format!("found, {label}"),
            Err(reason) => format!("not usable ({})", reason.code()),
        }
    ));
    report.insert("keyid".into(), json!(keyid));
    report.insert("stage".into(), json!(stage.as_ref().ok()));
    report.insert("skipped_versions".into(), json!(skipped));

    let verdict = verifier.verify_candidate_at(at, &view, &candidate, &keys);
    let code = match &verdict {
        Ok(_) if jwt_failed => {
            text.push_str(
                "verdict: deny (the signature verifies; the bearer token does not, above)\n",
            );
            report.insert("verdict".into(), json!("deny"));
            report.insert(
                "reason".into(),
                report
                    .get("jwt")
                    .and_then(|j| j.get("reason"))
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            FAILED
        }
        Ok(verified) => {
            text.push_str(&format!(
                "verdict: allow (signature, {}, age {}s)\n",
                verified.stage().label(),
                verified.age_secs()
            ));
            report.insert("verdict".into(), json!("allow"));
            OK
        }
        Err(reason) => {
            text.push_str(&format!("verdict: deny ({}): {reason}\n", reason.code()));
            report.insert("verdict".into(), json!("deny"));
            report.insert("reason".into(), json!(reason.code()));
            FAILED
        }
    };
    if let Some(signed) = candidate.signed_path() {
        text.push_str(&format!(
            "the signature records the path it signed: {signed} (an HTTP API cannot deliver it unchanged)\n"
        ));
        report.insert("signed_path".into(), json!(signed));
    }
    if let Some(sent) = &sent {
        if differing.is_empty() {
            text.push_str("the request as sent (--sent-url) has the same components\n");
        }
        for (name, signed, seen) in &differing {
            text.push_str(&format!("differs: {name}: sent {signed}, seen {seen}\n"));
        }
        let differs: Vec<Value> = differing
            .iter()
            .map(|(name, signed, seen)| json!({"component": name, "sent": signed, "seen": seen}))
            .collect();
        report.insert("differs".into(), Value::Array(differs));
        if verdict.is_err() && !differing.is_empty() {
            let mut as_sent = sent.clone();
            for name in ["signature-input", "signature"] {
                if let Some(value) = view.header(name) {
                    as_sent.push_header(name, &value);
                }
            }
            let matches = verifier
                .verify_candidate_at(at, &as_sent, &candidate, &keys)
                .is_ok();
            text.push_str(if matches {
                "the signature verifies over the request as sent: the edge signed it, and what reached the authorizer differs in the components above\n"
            } else {
                "the signature does not verify over the request as sent either (another --sent-url, another key, or a forgery)\n"
            });
            report.insert("verifies_as_sent".into(), json!(matches));
        }
    }
    out.result(&Value::Object(report), text.trim_end());
    Ok(code)
}

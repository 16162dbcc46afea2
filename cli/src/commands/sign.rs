//! `edgeseal sign`: sign a request as the edge would, print the signature headers or
//! `--send` the request.

use std::fmt::Write as _;
use std::time::Duration;

use edgeseal::{KeyId, Signer, UnixTime};
use serde_json::json;

use crate::args::{Cli, SignArgs};
use crate::error::{CliError, FAILED, OK};
use crate::output::Output;
use crate::target::{Target, check_method};
use crate::{aws, keys, send};

pub async fn run(cli: &Cli, args: &SignArgs, out: &Output) -> Result<u8, CliError> {
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
            keys::key_at_stage(&client, secret_id, &args.stage).await?
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
    let created = args.created.map_or_else(UnixTime::now, UnixTime::from_secs);
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

//! `edgeseal verify`: check a signature as the authorizer would, with the secret's keys
//! or a key file.

use edgeseal::UnixTime;
use serde_json::json;

use crate::args::{Cli, VerifyArgs};
use crate::error::{CliError, FAILED, OK};
use crate::keys;
use crate::output::Output;
use crate::target::{Target, check_method};

pub async fn run(cli: &Cli, args: &VerifyArgs, out: &Output) -> Result<u8, CliError> {
    check_method(&args.request.method)?;
    let target = Target::parse(&args.request.url)?;
    let request = target
        .view(&args.request.method, args.profile.signing_profile)
        .with_header("signature-input", &args.signature_input)
        .with_header("signature", &args.signature);
    let verifier = args.check.verifier(&args.profile)?;
    let at = args
        .check
        .at
        .map_or_else(UnixTime::now, UnixTime::from_secs);

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

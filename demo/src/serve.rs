//! `--serve`: the stack stays up after the scripted run, for a user to poke by hand, until
//! Ctrl-C.
//!
//! Secrets Manager runs a rotation itself when someone calls `RotateSecret` (it invokes
//! the rotation function with createSecret, setSecret, testSecret, finishSecret:
//! <https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html>);
//! moto only stages the new version id AWSPENDING and cannot invoke the function. So this
//! loop watches the secret and, when a rotation is incomplete (AWSPENDING on a version that
//! is not AWSCURRENT, whoever called `RotateSecret`: `edgeseal rotate` included), drives
//! its four steps with the demo's rotator and token, retrying a failed attempt on the
//! demo's cadence ([`crate::schedule::RetryCadence::DEMO`]) as Secrets Manager retries.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::rotation::Driver;
use crate::world::incomplete_rotation;
use crate::{DemoError, Settings, Stack};

/// How often the secret is polled for a rotation someone started.
const POLL: Duration = Duration::from_secs(1);

/// What a user needs to try the stack by hand: URLs, ids and the environment for the CLI
/// and `curl`.
/// `cli` is the `edgeseal` binary to show in the commands.
pub fn instructions(stack: &Stack, settings: &Settings, cli: &str) -> String {
    let t = &stack.targets;
    let mut text = String::new();
    let _ = writeln!(text, "The stack is up; Ctrl-C stops it.");
    let _ = writeln!(
        text,
        "  distribution: {} (Host: {}, id {})",
        t.cloudfront,
        t.cloudfront_host,
        crate::DISTRIBUTION_ID
    );
    let _ = writeln!(
        text,
        "  origin:       {}/{} (Host: {})",
        t.origin, t.stage, t.origin_host
    );
    let _ = writeln!(text, "  secret:       {}", stack.aws.secret);
    let _ = writeln!(text, "  moto server:  {}", settings.moto_url);
    let _ = writeln!(text, "In another shell:");
    let _ = writeln!(text, "  export AWS_ENDPOINT_URL={}", settings.moto_url);
    let _ = writeln!(
        text,
        "  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    );
    let _ = writeln!(
        text,
        "  curl -i -H 'Host: {}' {}/health            # through CloudFront: 200",
        t.cloudfront_host, t.cloudfront
    );
    let _ = writeln!(
        text,
        "  curl -i -H 'Host: {}' {}/{}/health       # straight to the origin: 403",
        t.origin_host, t.origin, t.stage
    );
    let _ = writeln!(text, "  {cli} status --secret-id {}", stack.aws.secret);
    let _ = writeln!(
        text,
        "  {cli} rotate --secret-id {}   # this stack runs the four steps",
        stack.aws.secret
    );
    let _ = write!(
        text,
        "  {cli} sign --secret-id {} --url 'http://{}/{}/health'",
        stack.aws.secret, t.origin_host, t.stage
    );
    text
}

/// Keep the stack up until `stop` resolves (Ctrl-C in the binary), driving every rotation
/// someone starts. Returns how many rotations it completed.
pub async fn serve_until(
    stack: &Stack,
    settings: &Settings,
    stop: impl Future<Output = ()>,
) -> Result<usize, DemoError> {
    tokio::pin!(stop);
    let mut timeline = Vec::new();
    let mut timings = Vec::new();
    let mut driver = Driver {
        rotator: &stack.rotator,
        aws: &stack.aws,
        timeout: settings.rotator_timeout,
        started: Instant::now(),
        timeline: &mut timeline,
        timings: &mut timings,
    };
    let mut completed = 0;
    // The token of the rotation under way, with its failed attempts and when to retry.
    let mut retry: Option<(String, u32, Instant)> = None;
    loop {
        tokio::select! {
            () = &mut stop => return Ok(completed),
            () = tokio::time::sleep(POLL) => {}
        }
        let described = match stack
            .aws
            .sm
            .describe_secret()
            .secret_id(&stack.aws.secret)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(
                    "DescribeSecret: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                );
                continue;
            }
        };
        let Some(token) = incomplete_rotation(described.version_ids_to_stages()) else {
            retry = None;
            continue;
        };
        let failed = match &retry {
            Some((t, failed, at)) if *t == token => {
                if Instant::now() < *at {
                    continue;
                }
                *failed
            }
            _ => 0,
        };
        let short = token.get(..8).unwrap_or(&token).to_owned();
        eprintln!("serve: RotateSecret seen (token {short}), running the four steps");
        match driver.attempt(completed + 1, &token, failed + 1).await {
            Ok(()) => {
                completed += 1;
                retry = None;
                eprintln!("serve: rotation {short} completed");
                clear_leftover_pending(stack, &token).await;
            }
            Err(e) => {
                let wait = crate::schedule::RetryCadence::DEMO.after(failed + 1);
                eprintln!("serve: rotation {short} failed ({e}); retrying in {wait:?}");
                retry = Some((token, failed + 1, Instant::now() + wait));
            }
        }
    }
}

/// finishSecret leaves AWSPENDING on the new AWSCURRENT version; Secrets Manager starts
/// the next rotation regardless, moto's `RotateSecret` refuses while the label is there
/// (the same workaround as `edgeseal_testkit::start_rotation`, whose doc says so). Clearing
/// it here lets the next `edgeseal rotate` reach moto unchanged.
async fn clear_leftover_pending(stack: &Stack, token: &str) {
    if let Err(e) = stack
        .aws
        .sm
        .update_secret_version_stage()
        .secret_id(&stack.aws.secret)
        .version_stage("AWSPENDING")
        .remove_from_version_id(token)
        .send()
        .await
    {
        tracing::warn!(
            "UpdateSecretVersionStage: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        );
    }
}

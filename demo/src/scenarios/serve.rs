//! `--serve`: the stack stays up after the scripted run, for a user to poke by hand, until
//! Ctrl-C.
//!
//! `RotateSecret` on a secret with a rotation function starts the rotation and returns;
//! Secrets Manager then invokes the function with the new version id as
//! `ClientRequestToken`, step by step (createSecret, setSecret, testSecret, finishSecret:
//! RotateSecret API reference, "configures and starts the asynchronous process of
//! rotating the secret";
//! <https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html>).
//! moto cannot invoke a function; `testkit/moto/server.py` makes its `RotateSecret` stage
//! the new version AWSPENDING, with the configured function, and leave it there, as AWS
//! does before the first step runs. This loop plays the invoker: it watches the secret
//! and, when a rotation of the demo's rotation function is incomplete (AWSPENDING on a
//! version that is not AWSCURRENT, whoever called `RotateSecret`: `edgeseal rotate`
//! included), drives its four steps with the demo's rotator and that token, retrying a
//! failed attempt on the demo's cadence ([`crate::run::schedule::RetryCadence::DEMO`]) as
//! Secrets Manager retries.
//!
//! A run with no rotation (`--rotations 0`) has not configured the function on the
//! secret yet; [`serve_until`] first turns rotation on as the template's
//! `RotationSchedule` does with `RotateImmediately=false` (the testSecret-only
//! configuration test, [`crate::run::rotation::Driver::configuration_test`]).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::run::rotation::Driver;
use crate::stack::Stack;
use crate::stack::aws::{describe_secret, incomplete_rotation};
use crate::{DemoError, Settings};

/// How often the secret is polled for a rotation someone started.
const POLL: Duration = Duration::from_secs(1);

/// What a user needs to try the stack by hand: URLs, ids, the environment for the CLI
/// and `curl`, and which CLI commands work here. `cli` is the `edgeseal` binary to show;
/// `control_plane`, where `stack::cloudfront_api` serves CloudFront's API.
pub fn serve_instructions(
    stack: &Stack,
    settings: &Settings,
    cli: &str,
    control_plane: std::net::SocketAddr,
) -> String {
    let t = &stack.targets;
    let secret = &stack.aws.secret;
    let origin_url = format!("https://{}/{}/health", t.origin_host, t.stage);
    let mut text = String::new();
    let mut line = |l: String| {
        let _ = writeln!(text, "{l}");
    };
    line("The stack is up; Ctrl-C stops it.".into());
    line(format!(
        "  distribution: {} (Host: {}, id {})",
        t.cloudfront,
        t.cloudfront_host,
        crate::stack::DISTRIBUTION_ID
    ));
    line(format!(
        "  origin:       {}/{} (Host: {})",
        t.origin, t.stage, t.origin_host
    ));
    line(format!("  secret:       {secret}"));
    line(format!("  moto server:  {}", settings.moto_url));
    line("In another shell (the CLI and the AWS CLI then talk to this stack's AWS):".into());
    line(format!("  export AWS_ENDPOINT_URL={}", settings.moto_url));
    line(format!(
        "  export AWS_ENDPOINT_URL_CLOUDFRONT=http://{control_plane}   # CloudFront's API, from the stack's own state"
    ));
    line(
        "  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
            .into(),
    );
    line(format!(
        "  curl -i -H 'Host: {}' {}/health            # through CloudFront: 200",
        t.cloudfront_host, t.cloudfront
    ));
    line(format!(
        "  curl -i -H 'Host: {}' {}/{}/health       # straight to the origin, unsigned: 401",
        t.origin_host, t.origin, t.stage
    ));
    line(format!(
        "  {cli} status --secret-id {secret}      # versions, rotation, keys"
    ));
    line(format!(
        "  {cli} rotate --secret-id {secret}      # this stack runs the four steps, as Secrets Manager does"
    ));
    line(format!(
        "  {cli} sign --secret-id {secret} --url '{origin_url}'"
    ));
    line(format!(
        "      # then curl -H 'Host: {}' with its Signature and Signature-Input headers: {}/{}/health",
        t.origin_host, t.origin, t.stage
    ));
    line(format!(
        "  {cli} explain --secret-id {secret} --url '{origin_url}' --signature-input '...' --signature '...'"
    ));
    let id = crate::stack::DISTRIBUTION_ID;
    line(format!(
        "  {cli} status --secret-id {secret} --distribution-id {id}"
    ));
    line(format!(
        "  {cli} doctor --secret-id {secret} --distribution-id {id} --path /health \\\n      --connect-to {}={} --connect-to {}={}",
        t.cloudfront_host, t.cloudfront, t.origin_host, t.origin
    ));
    let _ = write!(
        text,
        "Not here: doctor's authorizer-cache check skips (moto has no API Gateway GetAuthorizers for this API) and its operations checks skip (this stack deploys no RotationFailed rule or alarms); CloudFront's API serves reads only (GetDistribution, GetDistributionConfig, GetCachePolicy, GetOriginRequestPolicy, ListTagsForResource): updates stay with the stack's rotator."
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
    if configured_function(stack).await?.as_deref() != Some(&stack.aws.rotation_lambda_arn) {
        driver.configuration_test().await?;
        eprintln!(
            "serve: rotation turned on (RotateSecret, RotateImmediately=false: testSecret passed)"
        );
    }
    let mut completed = 0;
    // The token of the rotation under way, with its failed attempts and when to retry.
    let mut retry: Option<(String, u32, Instant)> = None;
    loop {
        tokio::select! {
            () = &mut stop => return Ok(completed),
            () = tokio::time::sleep(POLL) => {}
        }
        let described = match describe_secret(&stack.aws).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("{e}");
                continue;
            }
        };
        // Only rotations Secrets Manager would invoke the demo's rotator for.
        if described.rotation_lambda_arn() != Some(stack.aws.rotation_lambda_arn.as_str()) {
            continue;
        }
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
            }
            Err(e) => {
                let wait = crate::run::schedule::RetryCadence::DEMO.after(failed + 1);
                eprintln!("serve: rotation {short} failed ({e}); retrying in {wait:?}");
                retry = Some((token, failed + 1, Instant::now() + wait));
            }
        }
    }
}

/// The rotation function configured on the secret (DescribeSecret's RotationLambdaARN).
async fn configured_function(stack: &Stack) -> Result<Option<String>, DemoError> {
    let described = describe_secret(&stack.aws).await?;
    Ok(described
        .rotation_lambda_arn()
        .filter(|a| !a.is_empty())
        .map(str::to_owned))
}

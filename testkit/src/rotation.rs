//! Standing in for Secrets Manager's rotation driver, which moto does not run: starting
//! a rotation as `RotateSecret` does, and its testSecret-only configuration test.

mod configuration_test;

pub use configuration_test::{PendingValue, end_configuration_test, start_configuration_test};

/// A Secrets Manager version id as Secrets Manager makes them: a random UUID (v4).
pub fn new_version_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    // Version 4, RFC 4122 variant.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    ))
}

/// What Secrets Manager does when a rotation starts, for drivers that stand in for it
/// (moto cannot invoke a rotation function, so tests and the local demo run the four
/// steps themselves): `RotateSecret`, which stages a new version id AWSPENDING without a
/// value and turns rotation on. Returns that version id: the token of the four steps.
///
/// Refused, as AWS refuses it, while a previous rotation is incomplete (AWSPENDING on a
/// version that is not AWSCURRENT): the patched moto server reproduces that rule and
/// lets a rotation start where a finished one left AWSPENDING on AWSCURRENT
/// (testkit/moto/server.py, `_rotation_left_to_its_invoker`, which cites the API
/// reference), so nothing is cleared here first.
pub async fn start_rotation(
    sm: &aws_sdk_secretsmanager::Client,
    secret: &str,
    rotation_lambda_arn: &str,
) -> Result<String, String> {
    use aws_sdk_secretsmanager::error::DisplayErrorContext;
    let token = new_version_id().map_err(|e| format!("random: {e}"))?;
    sm.rotate_secret()
        .secret_id(secret)
        .client_request_token(&token)
        .rotation_lambda_arn(rotation_lambda_arn)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(true)
        .send()
        .await
        .map_err(|e| format!("RotateSecret: {}", DisplayErrorContext(e)))?;
    Ok(token)
}

/// Secrets Manager's retries of an incomplete rotation: the four steps in order, each
/// run by `run_step`; when one fails, the whole rotation is tried again with the same
/// token, up to `max_attempts` times. `after_step` runs after every step, failed or not
/// (a world's invariant checks). Returns how many attempts it took with the failures on
/// the way (`"{step}: {error}"`), or every failure when it did not converge.
pub async fn rotate_like_secrets_manager<Run, Ran, After, Checked>(
    max_attempts: usize,
    mut run_step: Run,
    mut after_step: After,
) -> Result<(usize, Vec<String>), Vec<String>>
where
    // Closures returning futures rather than async closures: the futures of async
    // closures that borrow are not `Send` for every lifetime, and tests spawn these.
    Run: FnMut(edgeseal_rotator::Step) -> Ran,
    Ran: Future<Output = Result<(), String>>,
    After: FnMut() -> Checked,
    Checked: Future<Output = ()>,
{
    let mut errors = Vec::new();
    for attempt in 1..=max_attempts {
        let mut failed = false;
        for step in edgeseal_rotator::Step::ALL {
            let result = run_step(step).await;
            after_step().await;
            if let Err(e) = result {
                errors.push(format!("{step}: {e}"));
                failed = true;
                break;
            }
        }
        if !failed {
            return Ok((attempt, errors));
        }
    }
    Err(errors)
}

//! The demo's functions configured from the rendered template ([`crate::stack::template`]):
//! the parameter values its options give, the resource ids it substitutes, and each
//! function's environment with the overrides of [`crate::settings`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use edgeseal_rotator::TargetKind;

use crate::DemoError;
use crate::settings::Settings;
use crate::settings::{Function, jwt_parameter, parameter};
use crate::stack::aws::AwsWorld;
use crate::stack::template::{Physical, Rendered};

/// The parameter values the demo's options give, before any resource exists.
pub fn base_parameters(
    settings: &Settings,
    previous_grace_secs: u64,
    stage: &str,
) -> Result<Vec<(String, String)>, DemoError> {
    let mut out = vec![
        parameter("MaxAgeSecs", settings.max_age_secs.to_string())?,
        parameter("PreviousKeyGraceSecs", previous_grace_secs.to_string())?,
        parameter("RotatorTestPath", format!("/{stage}/health"))?,
        parameter(
            "RotateImmediately",
            (settings.first_rotation == crate::run::rotation::FirstRotation::Immediate).to_string(),
        )?,
    ];
    if settings.mode != TargetKind::Signed {
        out.push(parameter("AuthMode", "static-header")?);
        out.push(parameter(
            "SecretKeyName",
            crate::scenarios::static_header::SECRET_FIELD,
        )?);
    }
    for (name, value) in &settings.authorizer_env {
        if let Some(p) = jwt_parameter(name) {
            out.push(parameter(p, value.clone())?);
        }
    }
    Ok(out)
}

/// `--target waf`'s parameters: the web ACL, the API behind it, the distribution.
pub fn waf_parameters(
    acl: &crate::scenarios::waf::WebAcl,
    api_domain: &str,
    distribution_id: &str,
) -> Result<Vec<(String, String)>, DemoError> {
    Ok(vec![
        parameter("WafWebAclName", acl.name.clone())?,
        parameter("WafWebAclId", acl.id.clone())?,
        parameter("WafRuleName", crate::scenarios::waf::RULE_NAME)?,
        parameter("OriginUrl", format!("https://{api_domain}"))?,
        parameter("ExistingDistributionId", distribution_id)?,
    ])
}

/// `--target api-gateway-api-key`'s parameters: the usage plan, the API, the
/// distribution and the secret holding the key.
pub fn api_key_parameters(
    keyed: &crate::scenarios::api_key::KeyedStage,
    api_domain: &str,
    distribution_id: &str,
    secret_arn: &str,
) -> Result<Vec<(String, String)>, DemoError> {
    Ok(vec![
        parameter("ApiKeyUsagePlanId", keyed.usage_plan.clone())?,
        parameter("OriginUrl", format!("https://{api_domain}"))?,
        parameter("ExistingDistributionId", distribution_id)?,
        parameter("ExistingSecretArn", secret_arn)?,
    ])
}

/// The label and maximum age the edge signs with: the template's rotator packages
/// every version with its `SIGNATURE_LABEL` and `SIGNATURE_MAX_AGE_SECS`.
pub fn edge_signing(rendered: &Rendered) -> Result<(String, u64), DemoError> {
    let label = rendered.string(
        "RotatorFunction",
        &["Environment", "Variables", "SIGNATURE_LABEL"],
    )?;
    let max_age = rendered
        .string(
            "RotatorFunction",
            &["Environment", "Variables", "SIGNATURE_MAX_AGE_SECS"],
        )?
        .parse()
        .map_err(|_| rendered.error("RotatorFunction SIGNATURE_MAX_AGE_SECS is not a number"))?;
    Ok((label, max_age))
}

/// The demo's resources in place of the template's.
pub fn physical(
    rendered: &Rendered,
    aws: &AwsWorld,
    api_id: &str,
    distribution_id: &str,
) -> Result<Physical, DemoError> {
    let mut physical = Physical::default();
    let edge_arn = edgeseal_rotator::unqualified(&aws.first_version_arn).to_owned();
    physical
        .reference("Secret", aws.secret_arn.clone())
        .reference("ExampleDistribution", distribution_id)
        .reference("ExampleHttpApi", api_id)
        .reference("EdgeFunction", aws.function.clone())
        .attribute("EdgeFunction", "Arn", &edge_arn)
        .attribute("RotatorFunction", "Arn", &aws.rotation_lambda_arn);
    if rendered.creates("EdgeVersionParameter") {
        // An SSM parameter's Ref is its name. The demo's in-process rotator does not
        // record the edge version (the rotator's Lambda main does: rotator/src/main.rs).
        physical.reference(
            "EdgeVersionParameter",
            rendered.string("EdgeVersionParameter", &["Name"])?,
        );
    }
    Ok(physical)
}

/// What the authorizer runs with besides the template's environment.
pub struct AuthorizerLocal<'a> {
    /// Secrets Manager's endpoint (moto, or the chaos proxy).
    pub secrets_manager_url: &'a str,
    /// `--chaos`'s variables.
    pub chaos: Vec<(String, String)>,
}

/// The authorizer's environment: the template's, then the listed overrides.
pub fn authorizer_env(
    rendered: &Rendered,
    physical: &Physical,
    settings: &Settings,
    local: AuthorizerLocal<'_>,
) -> Result<Vec<(String, String)>, DemoError> {
    let f = Function::Authorizer;
    let mut env = rendered.environment(f, physical)?;
    for (name, value) in [
        ("AWS_ENDPOINT_URL", local.secrets_manager_url),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("UNKNOWN_KEY_MIN_INTERVAL_SECS", "1"),
        ("RUST_LOG", "info"),
    ] {
        rendered.apply_override(&mut env, f, name, value.to_owned())?;
    }
    for (name, value) in local.chaos {
        rendered.apply_override(&mut env, f, &name, value)?;
    }
    // --jwt: its JWT_* went in as parameters; the rest are listed overrides.
    for (name, value) in &settings.authorizer_env {
        if jwt_parameter(name).is_none() {
            rendered.apply_override(&mut env, f, name, value.clone())?;
        }
    }
    Ok(env.into_iter().collect())
}

/// Where the rotator's probes go, and the target's own settings.
pub struct RotatorLocal<'a> {
    /// The API's execute-api domain (the template's `ORIGIN_URL` host).
    pub api_domain: &'a str,
    /// Where that API (or the WAF in front of it) listens here.
    pub origin_addr: SocketAddr,
    /// The built edge assets.
    pub edge_assets_dir: &'a std::path::Path,
    /// The target's variables the template does not set (`--target waf`,
    /// `api-gateway-api-key`; those the template sets are left to it).
    pub target: Vec<(&'static str, String)>,
}

/// The rotator's environment: the template's, then the listed overrides.
pub fn rotator_env(
    rendered: &Rendered,
    physical: &Physical,
    local: RotatorLocal<'_>,
) -> Result<HashMap<String, String>, DemoError> {
    let f = Function::Rotator;
    let mut env: BTreeMap<String, String> = rendered.environment(f, physical)?;
    let origin = env.get("ORIGIN_URL").cloned().unwrap_or_default();
    let expected = format!("https://{}", local.api_domain);
    let Some(rest) = origin.strip_prefix(&expected) else {
        return Err(rendered.error(format!(
            "RotatorFunction ORIGIN_URL is {origin:?}, not the API the distribution fronts ({expected})"
        )));
    };
    let origin_here = format!("http://{}{rest}", local.origin_addr);
    rendered.apply_override(&mut env, f, "ORIGIN_URL", origin_here)?;
    rendered.apply_override(
        &mut env,
        f,
        "EDGE_ASSETS_DIR",
        local.edge_assets_dir.display().to_string(),
    )?;
    rendered.apply_override(&mut env, f, "DEADLINE_MARGIN_MS", "0".to_owned())?;
    for (name, value) in local.target {
        if env.contains_key(name) && crate::settings::is_listed(f, name).is_none() {
            // The template sets it (the web ACL, the usage plan): the template's value.
            continue;
        }
        rendered.apply_override(&mut env, f, name, value)?;
    }
    Ok(env.into_iter().collect())
}

/// Why the authorizer could not start, if one of its `slots` processes logged that it
/// cannot (its configuration refused). Lambda writes a failed init to the function's log
/// group and fails each invocation (`Runtime.ExitError`); the Runtime API emulator
/// restarts the process, so the log (`{function}-{n}.log`, as CloudWatch Logs would hold
/// it) is where the reason is.
pub fn authorizer_init_failure(
    dir: &std::path::Path,
    function: &str,
    slots: usize,
) -> Option<String> {
    (0..slots).find_map(|n| {
        let log = std::fs::read_to_string(dir.join(format!("{function}-{n}.log"))).ok()?;
        log.lines()
            .filter(|l| l.contains("cannot start"))
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                v.get("error")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("see its log")
                    .to_owned()
            })
    })
}

//! What the demo reads from the rendered template's resources: `SecretRotation`,
//! `HttpApiAuthorizer`, `EdgeFunction` and `Secret`, each refused here when the stand-ins
//! (or AWS) would refuse it, and the summary's line on where the stack came from.

use serde_json::Value;

use super::Rendered;
use crate::DemoError;

/// `SecretRotation`'s settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationSettings {
    /// `RotateImmediatelyOnUpdate`.
    pub rotate_immediately: bool,
    /// `RotationRules.ScheduleExpression` (the demo rotates on its own plan instead,
    /// `--rotations` in `--seconds`: shown in the summary).
    pub schedule: String,
}

/// Read `SecretRotation`.
pub fn rotation(rendered: &Rendered) -> Result<RotationSettings, DemoError> {
    let immediately = rendered.string("SecretRotation", &["RotateImmediatelyOnUpdate"])?;
    let rotate_immediately = match immediately.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(rendered.error(format!(
                "SecretRotation.RotateImmediatelyOnUpdate is {other:?}, not true or false"
            )));
        }
    };
    let schedule = rendered.string("SecretRotation", &["RotationRules", "ScheduleExpression"])?;
    if !(schedule.starts_with("rate(") || schedule.starts_with("cron(")) {
        return Err(rendered.error(format!(
            "SecretRotation's ScheduleExpression {schedule:?} is neither rate(...) nor cron(...)"
        )));
    }
    Ok(RotationSettings {
        rotate_immediately,
        schedule,
    })
}

/// What API Gateway's stand-in takes from `HttpApiAuthorizer`: the identity sources'
/// header names (lowercase). The stand-in implements payload 2.0 with simple responses
/// and no authorizer cache; a template asking for anything else is refused.
pub fn identity_headers(rendered: &Rendered) -> Result<Vec<String>, DemoError> {
    let props = rendered.properties("HttpApiAuthorizer")?;
    let expect = |key: &str, want: &Value| -> Result<(), DemoError> {
        match props.get(key) {
            Some(v) if v == want || v.to_string().trim_matches('"') == want.to_string().trim_matches('"') => Ok(()),
            other => Err(rendered.error(format!(
                "HttpApiAuthorizer {key} is {other:?}; the demo's API Gateway implements {want} only"
            ))),
        }
    };
    expect("AuthorizerType", &Value::from("REQUEST"))?;
    expect("AuthorizerPayloadFormatVersion", &Value::from("2.0"))?;
    expect("EnableSimpleResponses", &Value::from(true))?;
    expect("AuthorizerResultTtlInSeconds", &Value::from(0))?;
    let Some(sources) = props.get("IdentitySource") else {
        // No identity source (migration mode): every request invokes the authorizer.
        return Ok(Vec::new());
    };
    let sources = sources
        .as_array()
        .ok_or_else(|| rendered.error("HttpApiAuthorizer IdentitySource is not a list"))?;
    sources
        .iter()
        .map(|s| {
            s.as_str()
                .and_then(|s| s.strip_prefix("$request.header."))
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| {
                    rendered.error(format!(
                        "HttpApiAuthorizer identity source {s} is not a request header"
                    ))
                })
        })
        .collect()
}

/// `EdgeFunction`'s properties the demo creates it with.
#[derive(Clone, Debug)]
pub struct EdgeFunctionSettings {
    /// `Runtime` (Lambda@Edge: a managed Node.js or Python runtime).
    pub runtime: String,
    /// `Handler`.
    pub handler: String,
    /// `Timeout` in seconds (origin-request: at most 30).
    pub timeout: i32,
    /// `Architectures` (Lambda@Edge: x86_64 only).
    pub architecture: String,
}

/// Read `EdgeFunction`, with the Lambda@Edge limits CloudFront enforces when it
/// associates a version (CloudFront Developer Guide, "Restrictions on Lambda@Edge"): a
/// template that breaks them is refused here, as the association would be.
pub fn edge_function(rendered: &Rendered) -> Result<EdgeFunctionSettings, DemoError> {
    let props = rendered.properties("EdgeFunction")?;
    let runtime = rendered.string("EdgeFunction", &["Runtime"])?;
    if !runtime.starts_with("nodejs") {
        return Err(rendered.error(format!(
            "EdgeFunction runtime {runtime}: the edge handler is Node.js (Lambda@Edge runs managed Node.js and Python only)"
        )));
    }
    let timeout: i32 = rendered
        .string("EdgeFunction", &["Timeout"])?
        .parse()
        .map_err(|_| rendered.error("EdgeFunction Timeout is not a whole number"))?;
    if !(1..=30).contains(&timeout) {
        return Err(rendered.error(format!(
            "EdgeFunction Timeout {timeout}: origin-request functions run at most 30 s"
        )));
    }
    let architecture = props
        .get("Architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("x86_64")
        .to_owned();
    if architecture != "x86_64" {
        return Err(rendered.error(format!(
            "EdgeFunction architecture {architecture}: Lambda@Edge runs x86_64 only"
        )));
    }
    if props.get("Environment").is_some() {
        return Err(rendered.error(
            "EdgeFunction has environment variables: Lambda@Edge allows none (its settings travel in the zip)",
        ));
    }
    Ok(EdgeFunctionSettings {
        runtime,
        handler: rendered.string("EdgeFunction", &["Handler"])?,
        timeout,
        architecture,
    })
}

/// `Secret`'s `GenerateSecretString`, as Secrets Manager (CloudFormation's handler)
/// generates the first value: `GetRandomPassword` with these settings, its result put
/// under `GenerateStringKey` of `SecretStringTemplate`.
#[derive(Clone, Debug)]
pub struct GeneratedSecret {
    /// `SecretStringTemplate`, parsed.
    pub template: serde_json::Map<String, Value>,
    /// `GenerateStringKey`.
    pub key: String,
    /// `PasswordLength` (default 32).
    pub length: i64,
    /// `ExcludePunctuation`.
    pub exclude_punctuation: bool,
    /// `IncludeSpace`.
    pub include_space: bool,
    /// `ExcludeCharacters`.
    pub exclude_characters: Option<String>,
    /// `Description`.
    pub description: Option<String>,
}

/// Read `Secret`.
pub fn generated_secret(rendered: &Rendered) -> Result<GeneratedSecret, DemoError> {
    let props = rendered.properties("Secret")?;
    let generate = props
        .get("GenerateSecretString")
        .ok_or_else(|| rendered.error("Secret has no GenerateSecretString"))?;
    let template = generate
        .get("SecretStringTemplate")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.as_object().cloned())
        .ok_or_else(|| rendered.error("Secret's SecretStringTemplate is not a JSON object"))?;
    let flag = |name: &str| {
        generate
            .get(name)
            .is_some_and(|v| v == &Value::from(true) || v == &Value::from("true"))
    };
    Ok(GeneratedSecret {
        template,
        key: generate
            .get("GenerateStringKey")
            .and_then(Value::as_str)
            .ok_or_else(|| rendered.error("Secret has no GenerateStringKey"))?
            .to_owned(),
        length: generate
            .get("PasswordLength")
            .map_or(Some(32), |v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .ok_or_else(|| rendered.error("Secret's PasswordLength is not a number"))?,
        exclude_punctuation: flag("ExcludePunctuation"),
        include_space: flag("IncludeSpace"),
        exclude_characters: generate
            .get("ExcludeCharacters")
            .and_then(Value::as_str)
            .map(str::to_owned),
        description: props
            .get("Description")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// The summary's line on where the stack came from.
pub fn summary_line(rendered: &Rendered, rotation: &RotationSettings) -> String {
    let set: Vec<String> = rendered
        .demo_parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "Stack: {} with deploy/parameters/{}.json and {} (rendered in {:.1} s); rotation schedule {} (the demo rotates on its own plan)\n",
        rendered.describe(),
        rendered.path,
        set.join(" "),
        rendered.took.as_secs_f64(),
        rotation.schedule
    )
}

//! Doctor for the rotation targets that are not signatures: `static-header`, `waf`,
//! `api-gateway-api-key` and `appsync-api-key` (docs/configuration.md, "Target ...").
//!
//! There the origin's check is not the edgeseal authorizer but API Gateway's API-key
//! check, a WAF rule or AppSync's key check, and the value CloudFront sends is an origin
//! custom header, not a signature. So instead of the signature probes these checks ask:
//! - `rotation-target`: which target the secret's rotation function rotates, read from
//!   that function's environment and parsed by the rotator's own configuration code
//!   (a configuration the rotator would refuse at its cold start fails here too);
//! - `secret-shape`: AWSCURRENT holds a value of the target's shape under its field;
//! - `origin-header`: the distribution's origin sends AWSCURRENT in the target's header;
//! - `through-distribution`: a viewer request through CloudFront is accepted by the
//!   target's check;
//! - `direct-current`: the target's check accepts AWSCURRENT sent straight to the origin
//!   (what the rotator's probe and testSecret rely on);
//! - `direct-without-key`: the target's check refuses a request without it.

use edgeseal::StaticHeaderValue;
use edgeseal_rotator::{Config, TargetKind, TargetSettings};

use super::ops::Operations;
use super::probes::{default_origin, expect};
use super::sdk::Sdk;
use super::{Distribution, Environment, Expect, Finding, Report, Request, Settings};

/// What the checks read before sending anything.
pub struct TargetFacts {
    /// The rotation function's ARN.
    pub function_arn: String,
    /// Its configuration, parsed as the rotator parses it.
    pub config: Config,
    /// AWSCURRENT's `SecretString` (never printed).
    pub current: Option<zeroize::Zeroizing<String>>,
}

/// What the secret's rotation function rotates, read from AWS (`DescribeSecret`, the
/// function's `GetFunctionConfiguration`, AWSCURRENT). `Ok(None)`: no rotation function,
/// or it rotates signatures (the signature checks apply). `Err`: the finding that says
/// why the target could not be known.
pub async fn read_facts(sdk: &Sdk, secret_id: &str) -> Result<Option<TargetFacts>, Finding> {
    let unreadable = |e: String| {
        Finding::new(
            "rotation-target",
            "the secret's rotation function and its target can be read",
        )
        .fail(
            e,
            "missing lambda:GetFunctionConfiguration on the rotator",
            "grant it (docs/deployment.md lists what doctor reads)",
        )
    };
    // The secret itself first: a wrong --secret-id is the `secret` check's failure,
    // whatever the target.
    let rotation = sdk
        .rotation(secret_id)
        .await
        .map_err(super::secret_unreadable)?;
    let Some(function_arn) = rotation.function_arn else {
        return Ok(None);
    };
    let env = sdk
        .function_environment(&function_arn)
        .await
        .map_err(unreadable)?;
    let config = Config::from_lookup(|name| env.get(name).cloned()).map_err(|e| {
        Finding::new(
            "rotation-target",
            "the rotation function's configuration is one its cold start accepts",
        )
        .fail(
            format!("{function_arn}: {e}"),
            "the rotator refuses this configuration at its cold start: no rotation can run",
            "fix the variable named (docs/configuration.md)",
        )
    })?;
    if config.target.kind() == TargetKind::Signed {
        return Ok(None);
    }
    let current = sdk.current_value(secret_id).await.ok();
    Ok(Some(TargetFacts {
        function_arn,
        config,
        current,
    }))
}

/// Every target check: the distribution first (nothing else can be checked without it).
pub async fn run_all<E: Environment>(env: &E, settings: &Settings, facts: &TargetFacts) -> Report {
    let mut report = Report::default();
    match env.distribution(&settings.distribution_id).await {
        Ok(distribution) => report
            .findings
            .extend(run(env, settings, &distribution, facts).await),
        Err(e) => report.findings.push(
            Finding::new("distribution", "the distribution can be read").fail(
                e,
                "wrong --distribution-id, or missing cloudfront:GetDistribution",
                "pass the distribution in front of the origin; grant cloudfront:GetDistribution",
            ),
        ),
    }
    report
}

/// The origin custom header CloudFront sends to the target, and the status its check
/// answers a request without the header with.
fn header_and_refusal(config: &Config) -> (String, u16) {
    match &config.target {
        // API Gateway: a method with "API Key Required" and no valid key → 403
        // (gateway response INVALID_API_KEY; rotator/src/targets/api_key/README.md).
        TargetSettings::ApiKey(s) => (s.header_name.clone(), 403),
        // WAF's default block response is 403 Forbidden (AWS WAF developer guide).
        TargetSettings::Waf(..) => (config.header_name.clone(), 403),
        // AppSync: a missing or refused key → 401 UnauthorizedException.
        TargetSettings::AppSync(_) => (edgeseal_rotator::APPSYNC_KEY_HEADER.into(), 401),
        // The static-header authorizers deny with 403.
        TargetSettings::StaticHeader(_) | TargetSettings::Signed(_) => {
            (config.header_name.clone(), 403)
        }
    }
}

/// Whether `value` has the shape the target's check can accept; `Err` says why not.
fn shape(kind: TargetKind, value: &StaticHeaderValue) -> Result<(), String> {
    let v = value.expose();
    match kind {
        // CreateApiKey: a value of 20 to 128 characters (the rotator's bounds).
        TargetKind::ApiKey if !(20..=128).contains(&v.len()) => Err(format!(
            "{} characters; API Gateway keys hold 20 to 128",
            v.len()
        )),
        // ByteMatchStatement.SearchString: at most 200 bytes.
        TargetKind::Waf if v.len() > 200 => Err(format!(
            "{} bytes; a WAF SearchString holds at most 200",
            v.len()
        )),
        // AppSync's API keys are `da2-...`.
        TargetKind::AppSyncApiKey if !v.starts_with("da2-") => {
            Err("not an AppSync API key (they start with da2-)".into())
        }
        _ => Ok(()),
    }
}

/// The checks for a target other than `signed`.
pub async fn run<E: Environment>(
    env: &E,
    settings: &Settings,
    distribution: &Distribution,
    facts: &TargetFacts,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let kind = facts.config.target.kind();
    let (header, refusal) = header_and_refusal(&facts.config);
    findings.push(
        Finding::new(
            "rotation-target",
            "the secret's rotation function rotates this target, with a configuration its cold start accepts",
        )
        .pass(format!(
            "ROTATION_TARGET={} ({}); CloudFront sends it as {header}",
            kind.as_str(),
            facts.function_arn
        )),
    );

    let field = &facts.config.secret_key_name;
    let shape_finding = Finding::new(
        "secret-shape",
        "AWSCURRENT holds a value of the target's shape under SECRET_KEY_NAME",
    );
    let current = match facts
        .current
        .as_deref()
        .map(|s| edgeseal::SecretValue::parse(s, Some(field)))
    {
        None => {
            findings.push(shape_finding.fail(
                "the secret has no AWSCURRENT value",
                "a secret created empty",
                "put the value the origin accepts now, as {\"FIELD\": \"...\"}",
            ));
            None
        }
        Some(Ok(edgeseal::SecretValue::StaticHeader(value))) => match shape(kind, &value) {
            Ok(()) => {
                findings.push(shape_finding.pass(format!(
                    "{{\"{field}\": ...}}, {} characters",
                    value.expose().len()
                )));
                Some(value)
            }
            Err(why) => {
                findings.push(shape_finding.fail(
                    format!("{{\"{field}\": ...}}: {why}"),
                    "the secret holds another target's value",
                    "put the value the origin accepts now under SECRET_KEY_NAME",
                ));
                None
            }
        },
        Some(Ok(edgeseal::SecretValue::Hmac(_))) => {
            findings.push(shape_finding.fail(
                "AWSCURRENT is an edgeseal signing key",
                format!("this target sends a value under {field}, not a signing key"),
                "give the stack the secret the origin's value is in (ExistingSecretArn)",
            ));
            None
        }
        Some(Err(e)) => {
            findings.push(shape_finding.fail(
                format!("AWSCURRENT: {e}"),
                format!("no string field {field} in the secret's JSON"),
                format!("store {{\"{field}\": \"...\"}}, or set SecretKeyName"),
            ));
            None
        }
    };

    let Some((https, origin_domain, origin_path)) = default_origin(distribution) else {
        findings.push(
            Finding::new("origin", "the default behavior's origin is known").fail(
                "the default cache behavior names no origin of the distribution",
                "a malformed distribution config",
                "fix the distribution's default cache behavior",
            ),
        );
        return findings;
    };

    let sent = distribution
        .config
        .origins
        .as_ref()
        .into_iter()
        .flat_map(|o| o.items.iter())
        .filter(|o| o.domain_name == origin_domain)
        .flat_map(|o| o.custom_headers().map(|h| h.items()).unwrap_or_default())
        .find(|h| h.header_name.eq_ignore_ascii_case(&header))
        .map(|h| h.header_value.clone());
    let sends = Finding::new(
        "origin-header",
        "the distribution's origin sends AWSCURRENT in the target's header",
    );
    findings.push(match (&sent, &current) {
        (None, _) => sends.fail(
            format!("origin {origin_domain} has no custom header {header}"),
            "the distribution was never given the header, or it names another origin",
            format!("add the origin custom header {header} with the current value"),
        ),
        (Some(value), Some(current)) if current.matches(value) => {
            sends.pass(format!("{origin_domain} gets {header} = AWSCURRENT"))
        }
        (Some(_), Some(_)) => sends.fail(
            format!("{origin_domain} gets {header} with a value that is not AWSCURRENT"),
            "a rotation in progress or failed half-way, or the header was changed by hand",
            "edgeseal status; let the rotation finish, or rotate again",
        ),
        (Some(_), None) => sends.skip("AWSCURRENT could not be read (above)"),
    });

    let (path, query) = match settings.path.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (settings.path.clone(), String::new()),
    };
    // AppSync answers GraphQL: the rotator's own test query, POSTed as JSON.
    let (method, body, mut headers) = match &facts.config.target {
        TargetSettings::AppSync(s) => (
            "POST".to_owned(),
            Some(serde_json::json!({ "query": s.test_query }).to_string()),
            vec![("content-type".to_owned(), "application/json".to_owned())],
        ),
        _ => (settings.method.clone(), None, Vec::new()),
    };
    let through = Request {
        method: method.clone(),
        https: true,
        authority: distribution.domain_name.clone(),
        path: path.clone(),
        query: query.clone(),
        headers: headers.clone(),
        body: body.clone(),
    };
    findings.push(
        expect(
            env,
            Finding::new(
                "through-distribution",
                "a viewer request through CloudFront carries a value the target's check accepts, and reaches the backend",
            ),
            &through,
            settings.expect,
            |status| {
                if status == refusal {
                    ("the target's check refused the value CloudFront sends".into(),
                     "see origin-header and direct-current; edgeseal status".into())
                } else {
                    ("the backend answered something else for this path".into(),
                     "name a path that answers with --path, or the status with --expect".into())
                }
            },
        )
        .await,
    );

    let mut direct = Request {
        method,
        https,
        authority: origin_domain,
        path: format!("{origin_path}{path}"),
        query,
        headers: headers.clone(),
        body,
    };
    findings.push(
        expect(
            env,
            Finding::new(
                "direct-without-key",
                "a request straight to the origin without the target's header is refused by the target's check",
            ),
            &direct,
            Expect::Status(refusal),
            |status| {
                if (200..300).contains(&status) {
                    ("the origin does not check the header: anyone who finds its URL is let in".into(),
                     "require the API key on every method / put the WAF rule in the web ACL associated with the origin".into())
                } else {
                    ("the origin refused it, but not as the target's check does".into(),
                     "check that the origin is the one the target's check guards".into())
                }
            },
        )
        .await,
    );
    if let Some(current) = &current {
        headers.push((header.clone(), current.expose().to_owned()));
        direct.headers = headers;
        findings.push(
            expect(
                env,
                Finding::new(
                    "direct-current",
                    "AWSCURRENT sent straight to the origin is accepted by the target's check: the rotator's probe is such a request, so it must reach the origin and be judged by the same check",
                ),
                &direct,
                settings.expect,
                |_| {
                    ("the target's check does not accept the current value: a key not in the usage plan, a WAF rule that does not match it, an expired AppSync key".into(),
                     "edgeseal status; rotate again; read the rotator's logs".into())
                },
            )
            .await,
        );
    }
    findings
}

#[cfg(test)]
#[path = "targets_tests.rs"]
mod tests;

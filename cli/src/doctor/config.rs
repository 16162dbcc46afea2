//! Configuration checks: what `status --check` looks at, plus the API's authorizer cache.

use aws_sdk_cloudfront::types::{EventType, LambdaFunctionAssociations};
use edgeseal::accepted::{LabelHistory, ListedVersion, accepted_now};
use edgeseal_rotator::{behaviors_hiding_query_strings, policies_to_resolve, resolve_policies};

use super::{Distribution, Environment, Finding, Secret, Settings};

/// One cache behavior, as far as the association check cares.
struct Behavior {
    pattern: String,
    origin_request: Option<String>,
}

fn origin_request(associations: Option<&LambdaFunctionAssociations>) -> Option<String> {
    associations?
        .items
        .iter()
        .flatten()
        .find(|a| a.event_type == EventType::OriginRequest)
        .map(|a| a.lambda_function_arn.clone())
}

fn behaviors(distribution: &Distribution) -> Vec<Behavior> {
    let config = &distribution.config;
    let mut out = Vec::new();
    if let Some(b) = &config.default_cache_behavior {
        out.push(Behavior {
            pattern: "*".into(),
            origin_request: origin_request(b.lambda_function_associations.as_ref()),
        });
    }
    for b in config
        .cache_behaviors
        .iter()
        .flat_map(|c| c.items.iter().flatten())
    {
        out.push(Behavior {
            pattern: b.path_pattern.clone(),
            origin_request: origin_request(b.lambda_function_associations.as_ref()),
        });
    }
    out
}

/// `arn:aws:lambda:R:A:function:NAME:N` → (`NAME`, `N`); unqualified → `$LATEST`.
fn name_and_version(arn: &str) -> (&str, &str) {
    let version = edgeseal::arn_qualifier(arn).unwrap_or("$LATEST");
    (edgeseal::function_name(arn), version)
}

fn date(t: edgeseal::UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| {
            aws_smithy_types::DateTime::from_secs(s)
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .ok()
        })
        .unwrap_or_else(|| t.as_secs().to_string())
}

/// Every configuration check.
pub async fn run<E: Environment>(
    env: &E,
    settings: &Settings,
    distribution: &Distribution,
    secret: &Secret,
) -> Vec<Finding> {
    let behaviors = behaviors(distribution);
    let mut findings = vec![associations(&behaviors)];
    findings.push(query_strings_forwarded(env, distribution, &behaviors).await);
    let versions: std::collections::BTreeSet<&str> = behaviors
        .iter()
        .filter_map(|b| b.origin_request.as_deref())
        .collect();
    for arn in versions {
        findings.push(edge_version(env, settings, secret, arn).await);
    }
    findings.push(rotation(secret));
    findings.push(grace(settings, distribution, secret));
    findings.push(super::authorizer_cache::check(env, distribution).await);
    findings
}

fn associations(behaviors: &[Behavior]) -> Finding {
    let f = Finding::new(
        "associations",
        "every cache behavior runs the same edge version on origin-request, so every origin request is signed with one key",
    );
    let missing: Vec<&str> = behaviors
        .iter()
        .filter(|b| b.origin_request.is_none())
        .map(|b| b.pattern.as_str())
        .collect();
    if !missing.is_empty() {
        return f.fail(
            format!("no origin-request association on {}", missing.join(", ")),
            "a behavior added after the edge function was associated, or the association was removed",
            "associate the edge version the other behaviors name with the origin-request event of these behaviors",
        );
    }
    let arns: std::collections::BTreeSet<&str> = behaviors
        .iter()
        .filter_map(|b| b.origin_request.as_deref())
        .collect();
    let functions: std::collections::BTreeSet<&str> =
        arns.iter().map(|a| name_and_version(a).0).collect();
    if functions.len() > 1 {
        return f.fail(
            format!(
                "behaviors name different functions: {}",
                functions.into_iter().collect::<Vec<_>>().join(", ")
            ),
            "another origin-request function on some behaviors; the rotator moves only its own",
            "use the edgeseal edge function on every behavior that goes to the API origin",
        );
    }
    if arns.len() > 1 {
        return f.fail(
            format!(
                "behaviors name different versions: {}",
                arns.into_iter().collect::<Vec<_>>().join(", ")
            ),
            "a rotation stopped between behaviors, or someone edited one behavior",
            "edgeseal rotate (the rotator points every origin-request association of the function)",
        );
    }
    f.pass(format!(
        "{} behavior(s) on {}",
        behaviors.len(),
        arns.into_iter().next().unwrap_or_default()
    ))
}

/// The rotator's own check ([`edgeseal_rotator::query_strings`]), once per
/// origin-request function the behaviors name. Behaviors without one are the
/// associations check's failure.
async fn query_strings_forwarded<E: Environment>(
    env: &E,
    distribution: &Distribution,
    behaviors: &[Behavior],
) -> Finding {
    let f = Finding::new(
        "query-strings",
        "every behavior running the edge signer forwards all query strings, so the edge signs the same @query the origin receives",
    );
    let config = &distribution.config;
    let functions: std::collections::BTreeSet<&str> = behaviors
        .iter()
        .filter_map(|b| b.origin_request.as_deref())
        .map(edgeseal_rotator::unqualified)
        .collect();
    let mut dropping = Vec::new();
    for function in &functions {
        let forwards_all =
            match resolve_policies(policies_to_resolve(config, function), |p| async move {
                env.policy_forwards_all_query_strings(&p)
                    .await
                    .map_err(|e| format!("cannot read {p:?}: {e}"))
            })
            .await
            {
                Ok(answers) => answers,
                Err(e) => return f.skip(e),
            };
        dropping.extend(behaviors_hiding_query_strings(
            config,
            function,
            &forwards_all,
        ));
    }
    if dropping.is_empty() {
        f.pass(format!(
            "{} behavior(s) running {} forward all query strings",
            behaviors
                .iter()
                .filter(|b| b.origin_request.is_some())
                .count(),
            functions.into_iter().collect::<Vec<_>>().join(", ")
        ))
    } else {
        f.fail(
            format!("not all query strings forwarded on {}", dropping.join(", ")),
            "the cache and origin request policies include no or only some query strings: the edge then signs an empty @query while the origin receives the viewer's query, and every request with a query string is denied",
            "use the managed origin request policy AllViewerExceptHostHeader (b689b0a8-53d0-40ab-baf2-68738e2966ac), or a policy that forwards all query strings",
        )
    }
}

/// When a freshly started authorizer takes AWSPREVIOUS to have been demoted: the last
/// rotation's completion (`LastRotatedDate`), else AWSCURRENT's creation (the
/// authorizer's own rule, `edgeseal::accepted::cold_start_demotion`). A warm authorizer
/// dates it at its first refresh after the label moved (up to one cache TTL later).
fn demoted_at(settings: &Settings, secret: &Secret) -> Option<edgeseal::UnixTime> {
    edgeseal::accepted::cold_start_demotion(
        secret
            .with_stage(edgeseal::Stage::Current.label())
            .and_then(|v| v.created),
        secret.last_rotated,
        settings.now,
    )
}

/// The keyids a freshly started authorizer accepts now, with their stage, strongest
/// first (the authorizer's own rule, `edgeseal::accepted::accepted_now`).
fn accepted(settings: &Settings, secret: &Secret) -> Vec<(String, &'static str)> {
    let listing: Vec<ListedVersion> = secret
        .versions
        .iter()
        .map(|v| ListedVersion {
            version_id: v.id.clone(),
            stages: v.stages.clone(),
            created: v.created,
        })
        .collect();
    let mut versions = accepted_now(
        &listing,
        secret.last_rotated,
        &LabelHistory::default(),
        settings.previous_grace_secs,
        settings.now,
    )
    .versions;
    versions.retain(|v| v.is_accepted_at(settings.now));
    versions.sort_by_key(|v| std::cmp::Reverse(v.stage));
    versions
        .into_iter()
        .map(|v| {
            let stage = match v.stage {
                edgeseal::Stage::Previous => "AWSPREVIOUS (in its grace)",
                other => other.label(),
            };
            (v.version_id, stage)
        })
        .collect()
}

async fn edge_version<E: Environment>(
    env: &E,
    settings: &Settings,
    secret: &Secret,
    arn: &str,
) -> Finding {
    let f = Finding::new(
        "edge-key",
        "the edge version the distribution runs is Active and signs with a key the authorizer accepts now",
    );
    let version = match env.edge_version(arn).await {
        Ok(v) => v,
        Err(e) => {
            return f.fail(
                format!("{arn}: {e}"),
                "the version was deleted, or lambda:GetFunctionConfiguration is not allowed",
                "edgeseal rotate publishes and associates a fresh version",
            );
        }
    };
    if version.state != "Active" {
        return f.fail(
            format!("{arn} is {}", version.state),
            "a version is usable by CloudFront only once Active",
            "wait for Active, or edgeseal rotate",
        );
    }
    let Some(described) = version.keyid() else {
        return f.fail(
            format!("{arn} was not published by the rotator (description {:?})", version.description),
            "the bootstrap version (its key is held by no secret) or a hand-published version: the first rotation did not complete, or a stack update put an old association back",
            "edgeseal rotate; with the example distribution, deploy the template that reads EdgeVersionParameter",
        );
    };
    // The description is what the version was published as; the code hash is what it
    // runs. Trust the second (edge_code.rs).
    let function = edgeseal_rotator::unqualified(arn);
    let published = match env.published_versions(function).await {
        Ok(p) => p,
        Err(e) => {
            return f.fail(
                format!("{function}: {e}"),
                "the versions the rotator published cannot be listed (lambda:ListVersionsByFunction not allowed?)",
                "allow lambda:ListVersionsByFunction on the edge function",
            );
        }
    };
    let keyid = match super::edge_code::carried(&published, &version.code_sha256) {
        super::edge_code::Carried::Key(keyid) => keyid,
        super::edge_code::Carried::NoPackage => {
            return f.fail(
                format!(
                    "{arn} is described as keyid {described} but runs code (CodeSha256 {}) that is no package the rotator published for a key",
                    version.code_sha256
                ),
                "the version number names other code than the rotator published for it: an association made by hand, or a version published outside the rotator",
                "edgeseal rotate (publishes a version with the current key and points every association at it)",
            );
        }
        super::edge_code::Carried::Disputed { keyid, hashes } => {
            return f.fail(
                format!(
                    "{arn} runs code (CodeSha256 {}); the versions described as keyid {keyid} run different code ({})",
                    version.code_sha256,
                    hashes.join(", ")
                ),
                "a version described as carrying that key was published outside the rotator (the rotator builds one package per key)",
                "edgeseal rotate (publishes a version with the current key and points every association at it); delete the foreign version",
            );
        }
    };
    if keyid != described {
        return f.fail(
            format!(
                "{arn} is described as keyid {described} but runs the package the rotator published for keyid {keyid}"
            ),
            "the version's description and its code disagree: a version published outside the rotator",
            "edgeseal rotate (publishes a version with the current key and points every association at it)",
        );
    }
    let accepted = accepted(settings, secret);
    match accepted.iter().find(|(id, _)| id == keyid) {
        Some((_, stage)) => f.pass(format!("{arn} signs with keyid {keyid} ({stage})")),
        None => {
            let staged = secret
                .versions
                .iter()
                .find(|v| v.id == keyid)
                .map(|v| v.stages.join("+"));
            let why = match staged {
                Some(stages) if stages.contains(edgeseal::Stage::Previous.label()) => {
                    "it is AWSPREVIOUS and its grace has ended".to_owned()
                }
                Some(stages) => format!("it is staged {stages}"),
                None => "the secret has no staged version with that id".to_owned(),
            };
            f.fail(
                format!(
                    "{arn} signs with keyid {keyid}, which the authorizer does not accept: {why} (accepted: {})",
                    accepted
                        .iter()
                        .map(|(id, s)| format!("{id} {s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "the distribution was pointed at an old or foreign edge version (a stack update with a template naming a fixed version, a manual edit, or a rotation that failed after pointing)",
                "edgeseal rotate (publishes a version with the current key and points every association at it); keep EdgeVersionParameter in the template's association",
            )
        }
    }
}

fn rotation(secret: &Secret) -> Finding {
    let f = Finding::new(
        "rotation",
        "rotation is enabled and no rotation is stuck half-way",
    );
    if !secret.rotation_enabled {
        return f.fail(
            "rotation is not enabled on the secret",
            "the RotationSchedule resource is missing or rotation was turned off",
            "deploy the template's SecretRotation, or aws secretsmanager rotate-secret with the rotator",
        );
    }
    let current = secret
        .with_stage(edgeseal::Stage::Current.label())
        .map(|v| v.id.as_str());
    if let Some(pending) = secret.with_stage(edgeseal::Stage::Pending.label())
        && Some(pending.id.as_str()) != current
    {
        return f.fail(
            format!("version {} is AWSPENDING: a rotation has not finished", pending.id),
            "a rotation is running or failed (Secrets Manager retries it; RotateSecret fails meanwhile); a rotation whose probe the origin refuses never completes: the probe goes from the rotator Lambda straight to ORIGIN_URL, and an origin only CloudFront can reach (security group on the cloudfront.origin-facing prefix list, WAF IP rules, a resource policy, a disabled execute-api endpoint) refuses it",
            "read the rotator's log for the failed step (an OriginRejected error names the probe's likely cause); fix it (for an origin only CloudFront can reach: PROBE=off and SETTLE_SECS, docs/deployment.md), then edgeseal rotate",
        );
    }
    f.pass(match secret.last_rotated {
        Some(t) => format!("enabled, last rotated {}", date(t)),
        None => "enabled, never rotated".into(),
    })
}

fn grace(settings: &Settings, distribution: &Distribution, secret: &Secret) -> Finding {
    let f = Finding::new(
        "grace",
        "the previous key stays accepted at least as long as the last distribution change took to reach the edges, plus the maximum age",
    );
    // The grace runs from the demotion (the rotation's completion, as the authorizer
    // dates it on a cold start); edges send the previous key until the change that
    // switched them has reached every edge.
    let (Some(demoted), Some(changed)) = (demoted_at(settings, secret), distribution.last_modified)
    else {
        return f.skip("the previous key's demotion or the distribution's last change is unknown");
    };
    let deployed = distribution.status == "Deployed";
    // Until Deployed, edges may still send the previous key: count to now.
    let until = if deployed { changed } else { settings.now };
    let needed = until.as_secs().saturating_sub(demoted.as_secs()) + settings.max_age_secs;
    let after = |t: edgeseal::UnixTime| {
        if t.as_secs() >= demoted.as_secs() {
            format!("{} s after the demotion", t.as_secs() - demoted.as_secs())
        } else {
            format!("{} s before the demotion", demoted.as_secs() - t.as_secs())
        }
    };
    if settings.previous_grace_secs >= needed {
        f.pass(format!(
            "grace {} s ≥ {} s (last change {}, {}; max age {} s)",
            settings.previous_grace_secs,
            needed,
            after(changed),
            distribution.status,
            settings.max_age_secs
        ))
    } else {
        f.fail(
            format!(
                "grace {} s < {} s needed (last change {}, {})",
                settings.previous_grace_secs,
                needed,
                after(changed),
                distribution.status
            ),
            "the previous key stopped being accepted while edges could still send it: requests were denied during the rotation",
            "raise PreviousKeyGraceSecs (PREVIOUS_KEY_GRACE_SECS) above the propagation time you see plus MaxAgeSecs",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_name_and_version() {
        assert_eq!(
            name_and_version("arn:aws:lambda:us-east-1:1:function:edge:7"),
            ("edge", "7")
        );
    }
}

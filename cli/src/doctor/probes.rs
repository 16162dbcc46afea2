//! Live requests: through the distribution, and straight to the origin signed, unsigned,
//! forged and replayed.

use edgeseal::{KeyId, Signer, SigningKey, UnixTime};

use super::{Distribution, Environment, Expect, Finding, Request, Secret, Settings};

/// The origin the default behavior sends to: (https, domain, origin path).
pub fn default_origin(distribution: &Distribution) -> Option<(bool, String, String)> {
    let config = &distribution.config;
    let target = &config.default_cache_behavior.as_ref()?.target_origin_id;
    let origin = config
        .origins
        .as_ref()?
        .items
        .iter()
        .find(|o| &o.id == target)?;
    let https = origin.custom_origin_config.as_ref().is_none_or(|c| {
        c.origin_protocol_policy != aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpOnly
    });
    Some((
        https,
        origin.domain_name.clone(),
        origin.origin_path.clone().unwrap_or_default(),
    ))
}

fn split(path_and_query: &str) -> (String, String) {
    match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (path_and_query.to_owned(), String::new()),
    }
}

fn signed(
    settings: &Settings,
    base: &Request,
    keyid: &str,
    key: SigningKey,
    created: UnixTime,
) -> Result<Request, String> {
    let keyid = KeyId::new(keyid).map_err(|e| e.to_string())?;
    let signer = Signer::new(&settings.label, keyid, key)
        .and_then(|s| s.with_tag(settings.tag.as_deref()))
        .map_err(|e| e.to_string())?
        .with_expires_after(settings.max_age_secs);
    let view = edgeseal::RequestView::new(&base.method, &base.authority, &base.path, &base.query);
    let fields = signer.sign_at(created, &view).map_err(|e| e.to_string())?;
    let mut request = base.clone();
    request.headers.push((
        "signature-input".into(),
        fields.signature_input().to_owned(),
    ));
    request
        .headers
        .push(("signature".into(), fields.signature().to_owned()));
    Ok(request)
}

pub(super) async fn expect<E: Environment>(
    env: &E,
    finding: Finding,
    request: &Request,
    expected: Expect,
    on_fail: impl FnOnce(u16) -> (String, String),
) -> Finding {
    let shown = format!(
        "{} {}://{}{}{}{}",
        request.method,
        if request.https { "https" } else { "http" },
        request.authority,
        request.path,
        if request.query.is_empty() { "" } else { "?" },
        request.query
    );
    match env.send(request).await {
        Ok(status) if expected.accepts(status) => finding.pass(format!("{shown} → {status}")),
        Ok(status) => {
            let (cause, fix) = on_fail(status);
            finding.fail(
                format!("{shown} → {status}, expected {expected}"),
                cause,
                fix,
            )
        }
        Err(e) => finding.fail(
            format!("{shown}: {e}"),
            "the endpoint cannot be reached (DNS, TLS, network, or a distribution still being created)",
            "check the URL; wait for the distribution to be Deployed; run again",
        ),
    }
}

/// The five requests.
pub async fn run<E: Environment>(
    env: &E,
    settings: &Settings,
    distribution: &Distribution,
    secret: &Secret,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (path, query) = split(&settings.path);

    let through = Request {
        method: settings.method.clone(),
        https: true,
        authority: distribution.domain_name.clone(),
        path: path.clone(),
        query: query.clone(),
        headers: Vec::new(),
        body: None,
    };
    findings.push(
        expect(
            env,
            Finding::new(
                "through-distribution",
                "a viewer request through CloudFront is signed by the edge with a key the authorizer accepts, and reaches the backend",
            ),
            &through,
            settings.expect,
            |status| match status {
                401 => ("the origin saw no signature: the behavior has no origin-request association of the edge function, or it runs a version without edgeseal".into(),
                        "associate the edge version (EdgeBootstrapVersionArn, then edgeseal rotate); see the associations check below".into()),
                403 => ("the authorizer rejected the edge's signature: the edge version signs with a key the secret no longer accepts, or what the edge signs (@authority, @path, @query) differs from what API Gateway shows".into(),
                        "see the edge-key check below; if the key is accepted, forward the origin's Host (AllViewerExceptHostHeader) and all query strings, and set PATH_PREFIX when CloudFront's origin path is hidden from the API".into()),
                s if s >= 500 => ("the origin or the authorizer failed (authorizer error, timeout, or the backend)".into(),
                                  "read the authorizer's and the backend's logs".into()),
                _ => ("the backend answered something else for this path".into(),
                      "name a path that answers with --path, or the status with --expect".into()),
            },
        )
        .await,
    );

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
    let direct = Request {
        method: settings.method.clone(),
        https,
        authority: origin_domain,
        path: format!("{origin_path}{path}"),
        query,
        headers: Vec::new(),
        body: None,
    };
    let current = secret.with_stage(edgeseal::Stage::Current.label());
    let current_key = current.and_then(|v| v.key.clone().map(|k| (v.id.clone(), k)));

    // The control: a fresh signature with the current key must pass, or the denials
    // below prove nothing.
    let control = Finding::new(
        "direct-signed",
        "a request signed as the edge signs, with AWSCURRENT, is allowed at the origin: key, label, tag and canonical forms agree; the rotator's probe is such a request, sent from the rotator Lambda straight to the origin, so it must reach the origin and be judged by the rule that judges CloudFront's requests (or the rotator runs with PROBE=off)",
    );
    findings.push(match &current_key {
        None => control.fail(
            "AWSCURRENT is not an edgeseal key",
            "no rotation has completed yet (the first value is not used by edges), or the secret holds a static header",
            "edgeseal rotate --secret-id ...; then run doctor again",
        ),
        Some((keyid, key)) => match signed(settings, &direct, keyid, key.clone(), settings.now) {
            Ok(request) => {
                expect(env, control, &request, settings.expect, |status| match status {
                    403 => ("the authorizer does not accept the current key or computes another signature base; or a rule that judges the source refuses requests that do not come from CloudFront (WAF IP-set or IP-reputation rules, an API resource policy, a disabled execute-api endpoint), which refuses the rotator's probe too".into(),
                            "check the authorizer's SECRET_ID, SIGNATURE_LABEL, SIGNATURE_TAG and PATH_PREFIX against --label/--tag; read its reason code in the logs. If the origin admits only CloudFront, let the rotator's probe through the same rule, or run the rotator with PROBE=off and SETTLE_SECS (docs/deployment.md, \"The rotator's probe\")".into()),
                    401 => ("API Gateway did not pass the signature headers to the authorizer".into(),
                            "the authorizer's identity sources must be the signature headers or none".into()),
                    _ => ("the origin answered something else for this path".into(),
                          "name a path that answers with --path, or the status with --expect".into()),
                })
                .await
            }
            Err(e) => control.fail(e, "cannot sign this request", "check --label, --tag and --path"),
        },
    });

    let unsigned = Finding::new(
        "direct-unsigned",
        "a request straight to the origin without a signature is refused (401)",
    );
    findings.push(
        expect(env, unsigned, &direct, Expect::Status(401), |status| {
            if (200..300).contains(&status) {
                ("the route has no authorizer: the origin is open to anyone who finds its URL".into(),
                 "attach the edgeseal authorizer to every route (AuthorizerId output)".into())
            } else {
                ("the authorizer has no identity sources (migration mode) or is a REST authorizer: it denies with 403 instead".into(),
                 "expected in AuthMode=migration; with AuthMode=signature the identity sources are the two signature headers".into())
            }
        })
        .await,
    );

    let denial = |status: u16| {
        if (200..300).contains(&status) {
            ("the authorizer let it through: a cached Allow, or an authorizer that does not verify".into(),
             "set AuthorizerResultTtlInSeconds to 0 (see the authorizer-cache check) and use AuthMode=signature".into())
        } else {
            (
                "the origin answered neither allow nor a denial".into(),
                "read the authorizer's logs".into(),
            )
        }
    };
    if let Some((keyid, key)) = &current_key {
        let forged = Finding::new(
            "direct-forged",
            "a signature made with another key, under the current keyid, is refused (403)",
        );
        let other = SigningKey::generate().map_err(|e| e.to_string());
        findings.push(
            match other.and_then(|k| signed(settings, &direct, keyid, k, settings.now)) {
                Ok(request) => expect(env, forged, &request, Expect::Status(403), denial).await,
                Err(e) => forged.skip(format!("cannot make a forged signature: {e}")),
            },
        );
        let replayed = Finding::new(
            "direct-replayed",
            "a valid signature older than the maximum age is refused (403): a captured request cannot be replayed later",
        );
        let old = UnixTime::from_secs(
            settings
                .now
                .as_secs()
                .saturating_sub(settings.max_age_secs + 60),
        );
        findings.push(match signed(settings, &direct, keyid, key.clone(), old) {
            Ok(request) => expect(env, replayed, &request, Expect::Status(403), denial).await,
            Err(e) => replayed.skip(format!("cannot sign: {e}")),
        });
    }
    findings
}

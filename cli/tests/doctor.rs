//! `edgeseal doctor`'s checks against the demo's stack: the real edge zip in Node.js
//! behind the CloudFront stand-in, the real authorizer binary behind the API Gateway
//! stand-in, Secrets Manager and Lambda on moto.
//!
//! What is not AWS here, and why it is faithful enough for these checks:
//! - CloudFront's control plane is the rotator's in-process fake
//!   (`edgeseal_testkit::FakeCloudFront`, moto drops LambdaFunctionAssociations); the
//!   distribution's domain is the stand-in's `d<id>.cloudfront.net`, requests to it go to
//!   the stand-in's port with that Host; its `LastModifiedTime` is the fake's, set on
//!   every update as CloudFront sets it;
//! - the API's authorizer settings are the stand-in's own behaviour
//!   (`edgeseal_demo::IDENTITY_SOURCES`, no result cache), reported as
//!   `GetAuthorizers` reports an HTTP API authorizer.
//!
//! Needs what `scripts/test` provides (moto, `EDGESEAL_AUTHORIZER_BIN`,
//! `EDGESEAL_EDGE_ASSETS`); fails, never skips, without them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use edgeseal::{KeyId, SigningKey, UnixTime};
use edgeseal_cli::doctor::sdk::Sdk;
use edgeseal_cli::doctor::{
    self, Authorizer, AuthorizerKind, Distribution, EdgeVersion, Environment, Expect, PolicyRef,
    Request, Secret, Settings, Verdict,
};
use edgeseal_demo::{DISTRIBUTION_ID, Stack};
use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, package_zip};
use edgeseal_rotator::{DeployStatus, DistributionApi as _};
use http_body_util::Full;

fn required(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the tests with `bash scripts/test`"))
}

struct DemoEnv<'a> {
    stack: &'a Stack,
    sdk: Sdk,
    /// Host → where its stand-in listens.
    routes: HashMap<String, String>,
    client: edgeseal_demo::HttpClient,
}

impl Environment for DemoEnv<'_> {
    async fn distribution(&self, id: &str) -> Result<Distribution, String> {
        let (config, _) = self
            .stack
            .control
            .get_config(id)
            .await
            .map_err(|e| e.to_string())?;
        let status = match self
            .stack
            .control
            .status(id)
            .await
            .map_err(|e| e.to_string())?
        {
            DeployStatus::Deployed => "Deployed".to_owned(),
            DeployStatus::InProgress => "InProgress".to_owned(),
            DeployStatus::Other(s) => s,
        };
        Ok(Distribution {
            domain_name: self.stack.cdn.domain_name.clone(),
            status,
            last_modified: self
                .stack
                .control
                .last_modified(id)
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| UnixTime::from_secs(d.as_secs())),
            config,
        })
    }

    async fn policy_forwards_all_query_strings(&self, policy: &PolicyRef) -> Result<bool, String> {
        Err(format!(
            "the demo names only managed policies, not {policy:?}"
        ))
    }

    async fn secret(&self, id: &str) -> Result<Secret, String> {
        self.sdk.secret(id).await
    }

    async fn edge_version(&self, arn: &str) -> Result<EdgeVersion, String> {
        self.sdk.edge_version(arn).await
    }

    async fn published_versions(
        &self,
        function_arn: &str,
    ) -> Result<Vec<doctor::edge_code::PublishedVersion>, String> {
        self.sdk.published_versions(function_arn).await
    }

    async fn authorizers(&self, _origin_domain: &str) -> Result<Vec<Authorizer>, String> {
        Ok(vec![Authorizer {
            api_id: "demo".into(),
            id: "edgeseal".into(),
            name: "edgeseal (API Gateway stand-in)".into(),
            kind: AuthorizerKind::HttpRequest,
            ttl_secs: Some(0),
            identity_sources: edgeseal_demo::IDENTITY_SOURCES
                .iter()
                .map(|h| format!("$request.header.{h}"))
                .collect(),
        }])
    }

    async fn send(&self, request: &Request) -> Result<u16, String> {
        let base = self
            .routes
            .get(&request.authority)
            .ok_or_else(|| format!("no stand-in serves {}", request.authority))?;
        let query = if request.query.is_empty() {
            String::new()
        } else {
            format!("?{}", request.query)
        };
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(format!("{base}{}{query}", request.path))
            .header("host", request.authority.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = self.client.request(req).await.map_err(|e| e.to_string())?;
        Ok(response.status().as_u16())
    }
}

fn now() -> UnixTime {
    UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

fn settings(stack: &Stack, demo: &edgeseal_demo::Settings) -> Settings {
    Settings {
        distribution_id: DISTRIBUTION_ID.to_owned(),
        secret_id: stack.aws.secret.clone(),
        path: "/health?probe=doctor&b=2&a=1".to_owned(),
        method: "GET".to_owned(),
        expect: Expect::Success,
        label: edgeseal::DEFAULT_LABEL.to_owned(),
        tag: Some(edgeseal::DEFAULT_TAG.to_owned()),
        max_age_secs: demo.max_age_secs,
        previous_grace_secs: demo.previous_grace_secs,
        now: now(),
    }
}

fn show(report: &doctor::Report) -> String {
    report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {}: {} | cause: {} | fix: {}",
                f.verdict.as_str(),
                f.id,
                f.detail,
                f.cause.as_deref().unwrap_or("-"),
                f.fix.as_deref().unwrap_or("-")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Publish an edge version that signs with a key no secret holds (as a foreign or stale
/// version would) and point the distribution at it, as a stack update or a manual edit
/// would.
async fn point_at_wrong_key(stack: &Stack, assets: &EdgeAssets, max_age_secs: u64) -> String {
    let keyid = format!("not-in-the-secret-{}", std::process::id());
    point_at_package(stack, assets, max_age_secs, &keyid, &keyid).await;
    keyid
}

/// Publish a version described as signing with `described` whose package carries a new
/// random key under the keyid `packaged`, and point the distribution at it. Returns its
/// ARN.
async fn point_at_package(
    stack: &Stack,
    assets: &EdgeAssets,
    max_age_secs: u64,
    described: &str,
    packaged: &str,
) -> String {
    let keyid = packaged;
    let zip = package_zip(
        assets,
        &EdgeConfig {
            label: edgeseal::DEFAULT_LABEL.to_owned(),
            keyid: KeyId::new(keyid).unwrap(),
            key: SigningKey::generate().unwrap(),
            max_age_secs,
            profiles: Default::default(),
        },
    )
    .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&stack.sdk);
    lambda
        .update_function_code()
        .function_name(&stack.aws.function)
        .zip_file(zip.clone().into())
        .send()
        .await
        .unwrap();
    let published = lambda
        .publish_version()
        .function_name(&stack.aws.function)
        .description(format!(
            "{}{described}",
            edgeseal_rotator::VERSION_DESCRIPTION_PREFIX
        ))
        .send()
        .await
        .unwrap();
    let arn = format!(
        "{}:{}",
        edgeseal_rotator::unqualified(published.function_arn().unwrap()),
        published.version().unwrap()
    );
    stack.edges.publish(&arn, zip);
    let (mut config, etag) = stack.control.get_config(DISTRIBUTION_ID).await.unwrap();
    for a in config
        .default_cache_behavior
        .as_mut()
        .unwrap()
        .lambda_function_associations
        .as_mut()
        .unwrap()
        .items
        .iter_mut()
        .flatten()
    {
        a.lambda_function_arn.clone_from(&arn);
    }
    stack
        .control
        .update_config(DISTRIBUTION_ID, config, &etag)
        .await
        .unwrap();
    for _ in 0..100 {
        if stack.control.status(DISTRIBUTION_ID).await.unwrap() == DeployStatus::Deployed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_on_the_demo_stack_and_names_a_wrong_edge_key() {
    let out = std::env::temp_dir().join(format!("edgeseal-doctor-{}", std::process::id()));
    let mut demo = edgeseal_demo::Settings::new(
        edgeseal_testkit::moto_url(),
        PathBuf::from(required("EDGESEAL_AUTHORIZER_BIN")),
        PathBuf::from(required("EDGESEAL_EDGE_ASSETS")),
        out,
    );
    demo.propagation = Duration::from_millis(500);
    demo.progress = false;
    demo.authorizer_processes = 1;
    let stack = edgeseal_demo::start(&demo)
        .await
        .expect("the demo stack starts");
    // A real rotation by the real rotator, driven as Secrets Manager drives it (moto
    // cannot invoke a rotation Lambda), so the edge runs a version the rotator published.
    let token = edgeseal_demo::start_rotation(&stack.aws).await.unwrap();
    for step in edgeseal_rotator::Step::ALL {
        let event = edgeseal_demo::rotation_event(&stack.aws, step, &token).unwrap();
        stack
            .rotator
            .run(
                &event,
                tokio::time::Instant::now() + Duration::from_secs(60),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", step.as_str()));
    }

    let routes = HashMap::from([
        (
            stack.targets.cloudfront_host.clone(),
            stack.targets.cloudfront.clone(),
        ),
        (
            stack.targets.origin_host.clone(),
            stack.targets.origin.clone(),
        ),
    ]);
    let env = DemoEnv {
        stack: &stack,
        sdk: Sdk::new(&stack.sdk),
        routes,
        client: edgeseal_demo::http_client(),
    };

    let healthy = doctor::run(&env, &settings(&stack, &demo)).await;
    println!("healthy stack:\n{}\n", show(&healthy));
    assert!(
        healthy.ok(),
        "doctor fails on a healthy stack:\n{}",
        show(&healthy)
    );
    for id in [
        "through-distribution",
        "direct-signed",
        "direct-unsigned",
        "direct-forged",
        "direct-replayed",
        "associations",
        "query-strings",
        "edge-key",
        "rotation",
        "grace",
        "authorizer-cache",
    ] {
        let f = healthy
            .get(id)
            .unwrap_or_else(|| panic!("{id} did not run"));
        assert_eq!(f.verdict, Verdict::Pass, "{id}: {}", show(&healthy));
    }

    let assets = EdgeAssets::from_dir(&demo.edge_assets_dir).unwrap();
    let wrong = point_at_wrong_key(&stack, &assets, demo.max_age_secs).await;
    let broken = doctor::run(&env, &settings(&stack, &demo)).await;
    println!("edge on a wrong key:\n{}\n", show(&broken));
    assert!(!broken.ok());
    let through = broken.get("through-distribution").unwrap();
    assert_eq!(through.verdict, Verdict::Fail, "{}", show(&broken));
    assert!(through.detail.contains("403"), "{}", through.detail);
    let edge_key = broken.get("edge-key").unwrap();
    assert_eq!(edge_key.verdict, Verdict::Fail, "{}", show(&broken));
    assert!(
        edge_key.detail.contains(&wrong) && edge_key.detail.contains("does not accept"),
        "the failure does not name the key: {}",
        edge_key.detail
    );
    assert!(
        edge_key
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains("edgeseal rotate")
    );
    // The distribution changed after the current key was created (the edit above):
    // the previous key must stay accepted for that time plus the maximum age. A grace
    // shorter than the maximum age alone cannot cover it.
    // Key creation and the rotation's update fall in one second here; a later edit (a
    // console user, another pipeline) makes the time between them unambiguous.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.control.touch(DISTRIBUTION_ID, |c| {
        c.comment = "edited after the rotation".into()
    });
    let short_grace = Settings {
        previous_grace_secs: demo.max_age_secs - 1,
        ..settings(&stack, &demo)
    };
    let grace = doctor::run(&env, &short_grace).await;
    let f = grace.get("grace").unwrap();
    assert_eq!(f.verdict, Verdict::Fail, "{}", show(&grace));
    assert!(
        f.detail
            .starts_with(&format!("grace {} s < ", demo.max_age_secs - 1)),
        "{}",
        f.detail
    );
    assert!(
        f.fix
            .as_deref()
            .unwrap_or_default()
            .contains("PREVIOUS_KEY_GRACE_SECS")
    );

    // The origin itself is fine: the direct checks still pass, which points at the edge.
    assert_eq!(broken.get("direct-signed").unwrap().verdict, Verdict::Pass);

    // A version described as carrying the current key runs another key's package (a
    // number naming other code than the rotator published for it; issue 23). The
    // description alone passed before: the code hash is what is compared now.
    let current = env
        .secret(&stack.aws.secret)
        .await
        .unwrap()
        .with_stage("AWSCURRENT")
        .unwrap()
        .id
        .clone();
    let foreign = point_at_package(&stack, &assets, demo.max_age_secs, &current, &current).await;
    let misnamed = doctor::run(&env, &settings(&stack, &demo)).await;
    println!(
        "edge runs another package than its description says:\n{}\n",
        show(&misnamed)
    );
    let edge_key = misnamed.get("edge-key").unwrap();
    assert_eq!(edge_key.verdict, Verdict::Fail, "{}", show(&misnamed));
    assert!(
        edge_key.detail.contains(&foreign) && edge_key.detail.contains("run different code"),
        "{}",
        edge_key.detail
    );
}

/// The REST API branch through the real SDK against moto's API Gateway, which keeps
/// every field of an authorizer (`moto/apigateway/models.py`, `Authorizer`) and, like
/// AWS, answers 300 for a TTL that was never set. moto has no `apigatewayv2
/// GetAuthorizers` (only `GetAuthorizer`), so the HTTP API branch is covered by the
/// decision's unit tests and the demo's stand-in above.
#[tokio::test]
async fn doctor_reads_a_rest_api_authorizer_cache_and_its_fix_turns_it_off() {
    let config = edgeseal_testkit::sdk_config().await;
    let rest = aws_sdk_apigateway::Client::new(&config);
    let api = rest
        .create_rest_api()
        .name(edgeseal_testkit::unique_name("doctor-rest"))
        .send()
        .await
        .unwrap();
    let api_id = api.id().unwrap();
    let created = rest
        .create_authorizer()
        .rest_api_id(api_id)
        .name("edgeseal")
        .r#type(aws_sdk_apigateway::types::AuthorizerType::Request)
        .authorizer_uri("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:edgeseal-authorizer/invocations")
        .identity_source("method.request.header.Signature-Input,method.request.header.Signature")
        .send()
        .await
        .unwrap();
    let authorizer_id = created.id().unwrap();
    let domain = format!("{api_id}.execute-api.us-east-1.amazonaws.com");
    let sdk = Sdk::new(&config);

    let read = sdk.authorizers(&domain).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].kind, AuthorizerKind::RestRequest);
    assert_eq!(read[0].id, authorizer_id);
    assert_eq!(
        read[0].identity_sources,
        [
            "method.request.header.Signature-Input",
            "method.request.header.Signature"
        ]
    );
    let before = doctor::authorizer_cache::finding(&read, Some("prod"));
    println!(
        "default TTL: {}",
        show(&doctor::Report {
            findings: vec![before.clone()]
        })
    );
    assert_eq!(before.verdict, Verdict::Fail);
    assert!(before.detail.contains("ttl 300 s"), "{}", before.detail);
    let command = format!(
        "aws apigateway update-authorizer --rest-api-id {api_id} --authorizer-id {authorizer_id} --patch-operations op=replace,path=/authorizerResultTtlInSeconds,value=0"
    );
    assert!(
        before.fix.as_deref().unwrap().contains(&command),
        "{:?}",
        before.fix
    );

    // What that command sends.
    rest.update_authorizer()
        .rest_api_id(api_id)
        .authorizer_id(authorizer_id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/authorizerResultTtlInSeconds")
                .value("0")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let after =
        doctor::authorizer_cache::finding(&sdk.authorizers(&domain).await.unwrap(), Some("prod"));
    assert_eq!(after.verdict, Verdict::Pass, "{}", after.detail);
    assert!(after.detail.contains("ttl 0 s"), "{}", after.detail);

    // An id no REST API has falls through to the HTTP API read; moto lacks that call,
    // so this only proves the REST branch does not swallow the id.
    assert!(
        sdk.authorizers("nope123.execute-api.us-east-1.amazonaws.com")
            .await
            .is_err()
    );
}

//! The CLI with the authorizer's bearer-token settings, against testkit's stand-in OIDC
//! issuer (discovery document and JWK Set over HTTP on loopback) and Secrets Manager on
//! moto (`EDGESEAL_MOTO_URL`, started by `scripts/test`):
//! - `edgeseal explain --jwt-issuers …` shows the token's verdict, its reason code and
//!   the claim that failed, with the value it had;
//! - `edgeseal doctor --jwt-issuer …` passes its `jwt-issuer` check against a working
//!   issuer and fails it, saying what it saw, against a discovery document that names
//!   another issuer, an issuer that answers 503, and a key set nobody answers at.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Output, Stdio};

use edgeseal::{KeyId, RequestView, Signer, SigningKey, UnixTime};
use edgeseal_testkit::oidc::{OidcIssuer, unsigned_token};
use edgeseal_testkit::{moto_url, sdk_config, unique_name};
use serde_json::{Value, json};

const CLIENT: &str = "edgeseal-cli-client";
const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";
const SCOPES: &str = "GET /prod/orders/{id}=orders/read";

/// Run the binary against moto, off the async runtime (the issuer answers on it).
async fn edgeseal(args: Vec<String>, stdin: Option<String>) -> Output {
    let url = moto_url();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgeseal"))
            .args(["--endpoint-url", &url, "--json"])
            .args(&args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run edgeseal");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            std::io::Write::write_all(&mut input, text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A secret on moto holding a fresh edgeseal key: (name, version id = keyid, key).
async fn secret() -> (String, String, SigningKey) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let key = SigningKey::from_bytes(&bytes).unwrap();
    let name = unique_name("edgeseal-cli-jwt");
    let created = aws_sdk_secretsmanager::Client::new(&sdk_config().await)
        .create_secret()
        .name(&name)
        .secret_string(edgeseal::edgeseal_secret_json(&key).to_string())
        .send()
        .await
        .unwrap();
    (name, created.version_id().unwrap().to_owned(), key)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The HTTP API 2.0 fixture, signed at `at` as the edge signs it, with `authorization`.
fn event(keyid: &str, key: &SigningKey, at: u64, authorization: Option<&str>) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/apigw/http-api-v2-request.json"
    );
    let mut event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let signer = Signer::new(
        "edgeseal",
        KeyId::new(keyid).unwrap(),
        SigningKey::from_base64(key.to_base64().as_str()).unwrap(),
    )
    .unwrap();
    let edge = RequestView::new("GET", HOST, "/prod/orders/42", "b=2&a=1&a=0&q=caf%C3%A9");
    let fields = signer.sign_at(UnixTime::from_secs(at), &edge).unwrap();
    event["headers"]["signature-input"] = fields.signature_input().into();
    event["headers"]["signature"] = fields.signature().into();
    if let Some(value) = authorization {
        event["headers"]["authorization"] = value.into();
    }
    serde_json::to_string(&event).unwrap()
}

struct Explained {
    code: Option<i32>,
    report: Value,
}

/// `edgeseal explain` of the signed fixture carrying `token` (`None`: no header).
async fn explain(issuer: &OidcIssuer, token: Option<&str>) -> Explained {
    let (name, keyid, key) = secret().await;
    let at = now();
    let authorization = token.map(|t| format!("Bearer {t}"));
    let event = event(&keyid, &key, at, authorization.as_deref());
    let args = [
        "explain",
        "--event",
        "-",
        "--secret-id",
        &name,
        "--at",
        &at.to_string(),
        "--jwt-issuers",
        issuer.issuer(),
        "--jwt-audiences",
        CLIENT,
        "--jwt-scopes",
        SCOPES,
        "--jwt-token-use",
        "access",
    ]
    .map(str::to_owned)
    .to_vec();
    let out = edgeseal(args, Some(event)).await;
    Explained {
        code: out.status.code(),
        report: json(&out),
    }
}

fn claims(issuer: &OidcIssuer, patch: Value) -> Value {
    let mut claims = issuer.access_claims(CLIENT, now(), 3600, "openid orders/read");
    for (name, value) in patch.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_allows_a_valid_token_naming_its_issuer_key_and_scopes() {
    let issuer = OidcIssuer::start().await.unwrap();
    let token = issuer.sign(&claims(&issuer, json!({})));
    let e = explain(&issuer, Some(&token)).await;
    assert_eq!(e.code, Some(0), "{}", e.report);
    assert_eq!(e.report["verdict"], "allow", "{}", e.report);
    let jwt = &e.report["jwt"];
    assert_eq!(jwt["verdict"], "allow", "{jwt}");
    assert_eq!(jwt["issuer"], issuer.issuer(), "{jwt}");
    assert_eq!(jwt["kid"], "rsa-1", "{jwt}");
    assert_eq!(jwt["scopes"], json!(["openid", "orders/read"]), "{jwt}");
    assert!(
        !e.report.to_string().contains(&token),
        "the token must not be printed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_the_reason_and_the_failing_claim_of_each_bad_token() {
    let issuer = OidcIssuer::start().await.unwrap();
    let t = now();
    let good = claims(&issuer, json!({}));
    // (token, reason code, failing claim, that claim's value)
    let cases: Vec<(Option<String>, &str, Option<&str>, Value)> = vec![
        (
            Some(issuer.sign(&claims(&issuer, json!({"iat": t - 7200, "exp": t - 3600})))),
            "jwt_expired",
            Some("exp"),
            json!(t - 3600),
        ),
        (
            Some(issuer.sign(&claims(&issuer, json!({"nbf": t + 3600})))),
            "jwt_not_yet_valid",
            Some("nbf"),
            json!(t + 3600),
        ),
        (
            Some(issuer.sign(&claims(&issuer, json!({"client_id": "another-client"})))),
            "jwt_wrong_audience",
            Some("aud"),
            json!("another-client"),
        ),
        (
            Some(issuer.sign(&claims(
                &issuer,
                json!({"iss": "https://idp.attacker.example"}),
            ))),
            "jwt_wrong_issuer",
            Some("iss"),
            json!("https://idp.attacker.example"),
        ),
        (
            Some(issuer.sign(&claims(&issuer, json!({"scope": "openid profile"})))),
            "jwt_insufficient_scope",
            Some("scope"),
            json!("openid profile"),
        ),
        (
            Some(issuer.sign(&claims(&issuer, json!({"token_use": "id"})))),
            "jwt_wrong_token_use",
            Some("token_use"),
            json!("id"),
        ),
        (
            Some(unsigned_token(&good)),
            "jwt_bad_algorithm",
            Some("alg"),
            Value::Null,
        ),
        (
            Some(issuer.hmac_with_public_key("rsa-1", &good)),
            "jwt_bad_algorithm",
            Some("alg"),
            Value::Null,
        ),
        (
            Some(issuer.sign_with("rsa-3", &good)),
            "jwt_unknown_kid",
            Some("kid"),
            Value::Null,
        ),
        (None, "jwt_missing", None, Value::Null),
    ];
    for (token, reason, claim, value) in cases {
        let e = explain(&issuer, token.as_deref()).await;
        let jwt = &e.report["jwt"];
        let case = format!("{reason}: {}", e.report);
        // The signature verifies; the token decides.
        assert_eq!(e.code, Some(1), "{case}");
        assert_eq!(e.report["verdict"], "deny", "{case}");
        assert_eq!(e.report["reason"], reason, "{case}");
        assert_eq!(e.report["stage"], "AWSCURRENT", "{case}");
        assert_eq!(jwt["verdict"], "deny", "{case}");
        assert_eq!(jwt["reason"], reason, "{case}");
        assert_eq!(jwt["claim"].as_str(), claim, "{case}");
        if claim.is_some_and(|c| c != "alg" && c != "kid") {
            assert_eq!(jwt["claim_value"], value, "{case}");
        }
        if reason == "jwt_unknown_kid" {
            assert_eq!(jwt["kid"], "rsa-3", "{case}");
        }
        if let Some(token) = &token {
            assert!(!e.report.to_string().contains(token.as_str()), "{case}");
        }
    }
}

/// `edgeseal doctor` with `--jwt-issuer`; returns the `jwt-issuer` check. The stack's
/// other checks fail here (the distribution does not exist on moto): only this one is
/// looked at.
async fn doctor_jwt_check(issuer: &str, jwks_urls: Option<&str>) -> Value {
    let (secret, _, _) = secret().await;
    let mut args = [
        "doctor",
        "--secret-id",
        &secret,
        "--distribution-id",
        "EDGESEALNONE01",
        "--jwt-issuer",
        issuer,
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(urls) = jwks_urls {
        args.extend(["--jwks-urls".to_owned(), urls.to_owned()]);
    }
    let out = edgeseal(args, None).await;
    let report = json(&out);
    assert_eq!(report["ok"], false, "{report}");
    let checks = report["checks"].as_array().unwrap();
    let found: Vec<&Value> = checks.iter().filter(|c| c["id"] == "jwt-issuer").collect();
    assert_eq!(found.len(), 1, "one jwt-issuer check: {report}");
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_working_issuer_and_lists_its_keys() {
    let issuer = OidcIssuer::start().await.unwrap();
    let check = doctor_jwt_check(issuer.issuer(), None).await;
    assert_eq!(check["result"], "PASS", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains(&issuer.jwks_url()), "{detail}");
    assert!(detail.contains("2 signing key(s): ec-1, rsa-1"), "{detail}");
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_discovery_document_naming_another_issuer() {
    let issuer = OidcIssuer::start().await.unwrap();
    // A trailing slash: the same document, whose `issuer` is not the configured one
    // (tokens carry the document's, so the authorizer would refuse them all).
    let configured = format!("{}/", issuer.issuer());
    let check = doctor_jwt_check(&configured, None).await;
    assert_eq!(check["result"], "FAIL", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("names issuer Some(\"{}\")", issuer.issuer())),
        "{detail}"
    );
    assert!(check["fix"].as_str().unwrap().contains("JWT_ISSUERS"));
    assert_eq!(
        issuer.jwks_requests(),
        0,
        "no key set from a wrong document"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_an_issuer_that_does_not_serve_its_discovery_document() {
    let issuer = OidcIssuer::start().await.unwrap();
    issuer.set_failing(true);
    let check = doctor_jwt_check(issuer.issuer(), None).await;
    assert_eq!(check["result"], "FAIL", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("/.well-known/openid-configuration") && detail.contains("503"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_key_set_nobody_answers_at() {
    let issuer = OidcIssuer::start().await.unwrap();
    // A port that was free a moment ago: connections to it are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let jwks = format!("http://{closed}/.well-known/jwks.json");
    let check = doctor_jwt_check(
        issuer.issuer(),
        Some(&format!("{}={jwks}", issuer.issuer())),
    )
    .await;
    assert_eq!(check["result"], "FAIL", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("GET {jwks}")), "{detail}");
    assert!(
        check["cause"].as_str().unwrap().contains("unreachable"),
        "{check}"
    );
    assert_eq!(issuer.discovery_requests(), 0, "JWKS_URLS skips discovery");
}

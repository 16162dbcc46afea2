//! API Gateway as it really delivers requests: every fixture in `tests/fixtures/apigw/`
//! (shapes from live captures and public reports, sources in that folder's README) is
//! filled with the signature the REAL edge handler (`edge-signer/js/index.mjs` + the
//! built `signer.wasm`, under `node`) put on the CloudFront request that produces it,
//! and answered by the real authorizer (`Authorizer::handle_at`). Legitimate requests
//! must be allowed, requests API Gateway cannot deliver faithfully denied with their own
//! reason, and every tampered event denied.
//!
//! Needs `node` and the built assets (`bash scripts/build-edge`; `scripts/test` does it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;

use edgeseal::{SigningKey, UnixTime, edgeseal_secret_json};
use edgeseal_tests::{cf_header, repo, sign_with_edge};
use origin_verifier::{
    Authorizer, AuthorizerEvent, AuthorizerResponse, Config, MetricsSink, SecretsSource,
    SourceError, VersionInfo,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

const KEYID: &str = "3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21";
const EXECUTE_API: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";
const CUSTOM_DOMAIN: &str = "api.example.com";

/// What the authorizer must answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allow,
    Deny(&'static str),
}

/// One fixture and the CloudFront origin request that API Gateway turned into it.
struct Case {
    fixture: &'static str,
    origin_domain: &'static str,
    origin_path: &'static str,
    uri: &'static str,
    querystring: &'static str,
    env: &'static [(&'static str, &'static str)],
    expect: Expect,
}

const QUERY: &str = "q=hello+world&plus=a%2Bb&sp=a%20b&tag=z&tag=a&redirect=https%3A%2F%2Fx.example%2F%3Fa%3Db&empty=";

const fn case(
    fixture: &'static str,
    origin_path: &'static str,
    uri: &'static str,
    querystring: &'static str,
    expect: Expect,
) -> Case {
    Case {
        fixture,
        origin_domain: EXECUTE_API,
        origin_path,
        uri,
        querystring,
        env: &[],
        expect,
    }
}

fn cases() -> Vec<Case> {
    use Expect::{Allow, Deny};
    vec![
        case(
            "http-api-v2-request",
            "/prod",
            "/orders/42",
            "b=2&a=1&a=0&q=caf%C3%A9",
            Allow,
        ),
        case(
            "rest-request",
            "/prod",
            "/orders/42",
            "b=2&a=1&a=0&q=caf%C3%A9",
            Allow,
        ),
        case(
            "http-v2-decoded-path",
            "/prod",
            "/files/my%20file/caf%C3%A9/a%2Fb/hash%23tag/unicode-%CE%BB-%E4%B8%96%E7%95%8C",
            "",
            Allow,
        ),
        case("http-v2-query", "/prod", "/search", QUERY, Allow),
        case(
            "http-v2-encoded-question-mark",
            "/prod",
            "/files/what%3Fvalue",
            "v=1",
            Deny("path_not_representable"),
        ),
        case(
            "http-v2-double-encoded",
            "/prod",
            "/files/literal%252Fvalue",
            "",
            Deny("path_not_representable"),
        ),
        case(
            "http-v2-encoded-percent",
            "/prod",
            "/files/100%2525",
            "",
            Deny("path_not_representable"),
        ),
        case("http-v2-default-stage", "", "/orders/42", "b=2&a=1", Allow),
        Case {
            env: &[("BASE_PATH_MAP", "/prod=/v1")],
            origin_domain: CUSTOM_DOMAIN,
            ..case(
                "http-v2-custom-domain-stage-name",
                "/v1",
                "/orders/42",
                "",
                Allow,
            )
        },
        Case {
            origin_domain: CUSTOM_DOMAIN,
            ..case(
                "http-v2-custom-domain-stage-name",
                "/v1",
                "/orders/42",
                "",
                Deny("bad_signature"),
            )
        },
        Case {
            origin_domain: CUSTOM_DOMAIN,
            ..case(
                "http-v2-custom-domain-mapping-key",
                "/v1",
                "/orders/42",
                "",
                Allow,
            )
        },
        case(
            "http-v1-authorizer",
            "/prod",
            "/files/my%20file",
            "q=hello+world&b=2",
            Allow,
        ),
        case(
            "http-v1-authorizer-multivalue",
            "/prod",
            "/files/my%20file",
            "q=hello+world&tag=z&tag=a&plus=a%2Bb",
            Allow,
        ),
        case("rest-query", "/prod", "/search", QUERY, Allow),
        case(
            "rest-encoded-path",
            "/prod",
            "/files/literal%252Fvalue/what%3Fvalue/my%20file",
            "",
            Allow,
        ),
        Case {
            origin_domain: CUSTOM_DOMAIN,
            ..case(
                "rest-custom-domain-base-path",
                "/v1",
                "/orders/42",
                "",
                Allow,
            )
        },
        Case {
            origin_domain: CUSTOM_DOMAIN,
            ..case(
                "rest-custom-domain-multi-level",
                "/orders/v2",
                "/items/7",
                "",
                Allow,
            )
        },
        Case {
            origin_domain: CUSTOM_DOMAIN,
            ..case(
                "rest-custom-domain-none-mapping",
                "",
                "/orders/42",
                "",
                Allow,
            )
        },
    ]
}

fn load(path: &str) -> Value {
    let path = repo().join(path);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The CloudFront origin-request event for `case` (the origin domain is also the Host
/// CloudFront sends, as it is unless a policy forwards the viewer's).
fn cloudfront_event(case: &Case) -> Value {
    let mut event = load("tests/fixtures/cloudfront/origin-request-origin-path.json");
    let request = &mut event["Records"][0]["cf"]["request"];
    request["method"] = json!("GET");
    request["uri"] = json!(case.uri);
    request["querystring"] = json!(case.querystring);
    request["origin"]["custom"]["domainName"] = json!(case.origin_domain);
    request["origin"]["custom"]["path"] = json!(case.origin_path);
    request["headers"]["host"] = json!([{"key": "Host", "value": case.origin_domain}]);
    event
}

/// The fixture with the signature fields added where API Gateway puts headers.
fn fill(mut event: Value, fields: &[(&str, String)]) -> Value {
    let rest_style = event["version"] != json!("2.0");
    for (name, value) in fields {
        if rest_style {
            let canonical = if *name == "signature" {
                "Signature"
            } else {
                "Signature-Input"
            };
            event["headers"][canonical] = json!(value);
            if event
                .get("multiValueHeaders")
                .is_some_and(|m| m.is_object())
            {
                event["multiValueHeaders"][canonical] = json!([value]);
            }
        } else {
            event["headers"][name] = json!(value);
        }
    }
    event
}

/// One AWSCURRENT version holding the edge's key: the steady state Secrets Manager
/// reports between rotations (ListSecretVersionIds / GetSecretValue); the cache and its
/// Secrets Manager behaviour are tested against moto in origin-verifier's own tests.
struct OneKey(SigningKey);

impl SecretsSource for OneKey {
    async fn list_versions(&self, _secret_id: &str) -> Result<Vec<VersionInfo>, SourceError> {
        Ok(vec![VersionInfo {
            version_id: KEYID.to_owned(),
            stages: vec!["AWSCURRENT".to_owned()],
            created: Some(UnixTime::from_secs(1_700_000_000)),
        }])
    }

    async fn get_version(
        &self,
        _secret_id: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        Ok((version_id == KEYID).then(|| edgeseal_secret_json(&self.0)))
    }
}

fn authorizer(key: &SigningKey, env: &[(&str, &str)]) -> Authorizer<OneKey> {
    let mut map: HashMap<&str, &str> = env.iter().copied().collect();
    map.insert("SECRET_ID", "edgeseal/key");
    let config = Config::from_lookup(|name| map.get(name).map(|v| (*v).to_owned())).unwrap();
    Authorizer::new(&config, OneKey(key.clone()), MetricsSink::Discard).unwrap()
}

fn verdict(response: &AuthorizerResponse) -> Expect {
    if response.is_allowed() {
        Expect::Allow
    } else {
        Expect::Deny(response.context().reason.unwrap())
    }
}

/// The response format each payload requires: HTTP API 2.0 a simple response (the
/// default RESPONSE_MODE), payload 1.0 and REST an IAM policy on the event's ARN.
fn check_format(name: &str, event: &Value, response: &AuthorizerResponse) {
    let v = serde_json::to_value(response).unwrap();
    if event["version"] == json!("2.0") {
        assert!(v.get("isAuthorized").is_some(), "{name}: {v}");
    } else {
        assert_eq!(
            v["policyDocument"]["Statement"][0]["Resource"], event["methodArn"],
            "{name}: {v}"
        );
    }
}

/// Change what API Gateway reports about the path and the query, one at a time, and
/// the MAC: each must be denied.
fn tampered(event: &Value) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let mut path = event.clone();
    for pointer in [
        "/rawPath",
        "/path",
        "/requestContext/path",
        "/requestContext/http/path",
    ] {
        if let Some(Value::String(p)) = path.pointer_mut(pointer) {
            p.push('x');
        }
    }
    out.push(("path", path));
    let mut query = event.clone();
    if query["version"] == json!("2.0") {
        let raw = query["rawQueryString"].as_str().unwrap_or("").to_owned();
        query["rawQueryString"] = json!(if raw.is_empty() {
            "x=1".to_owned()
        } else {
            format!("{raw}&x=1")
        });
    } else {
        for field in ["queryStringParameters", "multiValueQueryStringParameters"] {
            if !query[field].is_object() {
                query[field] = json!({});
            }
        }
        query["queryStringParameters"]["x"] = json!("1");
        query["multiValueQueryStringParameters"]["x"] = json!(["1"]);
    }
    out.push(("query", query));
    let mut method = event.clone();
    for pointer in [
        "/httpMethod",
        "/requestContext/httpMethod",
        "/requestContext/http/method",
    ] {
        if let Some(m) = method.pointer_mut(pointer) {
            *m = json!("DELETE");
        }
    }
    out.push(("method", method));
    out
}

#[tokio::test]
async fn every_fixture_gets_the_verdict_its_shape_calls_for() {
    let key = SigningKey::from_bytes(&[0x5a; 64]).unwrap();
    let cases = cases();
    let events: Vec<Value> = cases.iter().map(cloudfront_event).collect();
    let signed = sign_with_edge(KEYID, &key, &events).unwrap();
    let now = UnixTime::now().plus_secs(1);

    let mut failures = Vec::new();
    for (case, request) in cases.iter().zip(&signed) {
        let name = case.fixture;
        let fields = [
            (
                "signature-input",
                cf_header(request, "signature-input").expect("signed"),
            ),
            (
                "signature",
                cf_header(request, "signature").expect("signed"),
            ),
        ];
        let event = fill(load(&format!("tests/fixtures/apigw/{name}.json")), &fields);
        let authorizer = authorizer(&key, case.env);
        let parsed: AuthorizerEvent = serde_json::from_value(event.clone()).unwrap();
        match authorizer.handle_at(now, &parsed).await {
            Ok(response) => {
                check_format(name, &event, &response);
                let got = verdict(&response);
                if got != case.expect {
                    failures.push(format!(
                        "{name} {:?}: expected {:?}, got {got:?}",
                        case.env, case.expect
                    ));
                }
            }
            Err(err) => failures.push(format!(
                "{name}: expected {:?}, got the error {err}",
                case.expect
            )),
        }
        if case.expect != Expect::Allow {
            continue;
        }
        for (what, bad) in tampered(&event) {
            let parsed: AuthorizerEvent = serde_json::from_value(bad).unwrap();
            let response = authorizer.handle_at(now, &parsed).await;
            match response {
                Ok(r) if !r.is_allowed() => {}
                other => failures.push(format!("{name}: tampered {what} gave {other:?}")),
            }
        }
        let mut forged = fields.clone();
        let mac_start = forged[1].1.find("edgeseal=:").unwrap() + "edgeseal=:".len();
        let mut bytes = forged[1].1.clone().into_bytes();
        bytes[mac_start] = if bytes[mac_start] == b'A' { b'B' } else { b'A' };
        forged[1].1 = String::from_utf8(bytes).unwrap();
        let bad = fill(load(&format!("tests/fixtures/apigw/{name}.json")), &forged);
        let parsed: AuthorizerEvent = serde_json::from_value(bad).unwrap();
        match authorizer.handle_at(now, &parsed).await {
            Ok(r) if verdict(&r) == Expect::Deny("bad_signature") => {}
            other => failures.push(format!("{name}: a forged MAC gave {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Without any signature a REST API gets `Unauthorized` (401); an HTTP API payload 1.0
/// event gets a Deny policy (a Lambda error would be a 500 there), a 2.0 event a simple
/// deny.
#[tokio::test]
async fn unsigned_requests_get_the_answer_each_format_takes() {
    let key = SigningKey::from_bytes(&[0x5a; 64]).unwrap();
    let authorizer = authorizer(&key, &[]);
    let now = UnixTime::now();
    for (fixture, expected) in [
        ("rest-query", None),
        ("http-v1-authorizer", Some("policy")),
        ("http-v2-query", Some("simple")),
    ] {
        let event: AuthorizerEvent =
            serde_json::from_value(load(&format!("tests/fixtures/apigw/{fixture}.json"))).unwrap();
        match (expected, authorizer.handle_at(now, &event).await) {
            (None, Err(err)) => assert_eq!(err.to_string(), "Unauthorized", "{fixture}"),
            (Some(format), Ok(response)) => {
                let v = serde_json::to_value(&response).unwrap();
                assert_eq!(
                    v.get("policyDocument").is_some(),
                    format == "policy",
                    "{fixture}: {v}"
                );
                assert_eq!(verdict(&response), Expect::Deny("missing"), "{fixture}");
            }
            (_, other) => panic!("{fixture}: {other:?}"),
        }
    }
}

//! The cost of the bearer-token check (`JWT_ISSUERS`), per handler event, in the same
//! run as the same event without it: event JSON in, verdict JSON out, warm key caches,
//! one core. Then the cold start: a new verifier loading the key set from the stand-in
//! issuer on loopback (one JWKS fetch with `JWKS_URLS`; discovery + JWKS without).
//!
//! `cargo bench -p edgeseal-origin-verifier --bench jwt`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgeseal::{KeyId, RequestView, Signer, SigningKey, UnixTime, edgeseal_secret_json};
use edgeseal_testkit::oidc::OidcIssuer;
use origin_verifier::jwt::JwtVerifier;
use origin_verifier::{
    Authorizer, AuthorizerEvent, Config, MetricsSink, SecretsSource, SourceError, VersionInfo,
};
use serde_json::Value;
use zeroize::Zeroizing;

const KEYID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";
const CLIENT: &str = "bench-client";

struct InMemory {
    json: String,
}

impl SecretsSource for InMemory {
    async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
        Ok(vec![VersionInfo {
            version_id: KEYID.to_owned(),
            stages: vec!["AWSCURRENT".to_owned()],
            created: Some(UnixTime::from_secs(1_700_000_000)),
        }])
    }

    async fn get_version(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        Ok(Some(Zeroizing::new(self.json.clone())))
    }
}

fn event(key: &SigningKey, at: UnixTime, token: Option<&str>) -> Vec<u8> {
    let signer = Signer::new("edgeseal", KeyId::new(KEYID).unwrap(), key.clone()).unwrap();
    let view = RequestView::new("GET", HOST, "/prod/orders/42", "b=2&a=1&a=0&q=caf%C3%A9");
    let fields = signer.sign_at(at, &view).unwrap();
    let path = format!(
        "{}/../tests/fixtures/apigw/http-api-v2-request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["headers"]["signature-input"] = fields.signature_input().into();
    v["headers"]["signature"] = fields.signature().into();
    if let Some(token) = token {
        v["headers"]["authorization"] = format!("Bearer {token}").into();
    }
    serde_json::to_vec(&v).unwrap()
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut map: HashMap<&str, String> = extra.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    map.insert("SECRET_ID", "bench/secret".to_owned());
    Config::from_lookup(|name| map.get(name).cloned()).unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(OidcIssuer::start()).unwrap();
    let key = SigningKey::from_bytes(&[7; 32]).unwrap();
    let source = || InMemory {
        json: edgeseal_secret_json(&key).to_string(),
    };
    let jwt_vars = |memo: &'static str| {
        vec![
            ("JWT_ISSUERS", issuer.issuer().to_owned()),
            ("JWT_AUDIENCES", CLIENT.to_owned()),
            ("JWT_SCOPES", "GET /prod/orders/{id}=orders/read".to_owned()),
            ("JWT_CACHE_MAX_ENTRIES", memo.to_owned()),
        ]
    };
    let with = |vars: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        config(&pairs)
    };
    let plain = Authorizer::new(&config(&[]), source(), MetricsSink::Discard).unwrap();
    let remembered =
        Authorizer::new(&with(jwt_vars("10000")), source(), MetricsSink::Discard).unwrap();
    let every_time = Authorizer::new(&with(jwt_vars("0")), source(), MetricsSink::Discard).unwrap();
    for a in [&remembered, &every_time] {
        rt.block_on(a.jwt().unwrap().jwks().load_all_at(UnixTime::now()));
    }
    let now = UnixTime::now();
    let claims = issuer.access_claims(CLIENT, now.as_secs(), 3600, "openid orders/read");
    let rs256 = issuer.sign_with("rsa-1", &claims);
    let es256 = issuer.sign_with("ec-1", &claims);
    let without = event(&key, now, None);
    let with_rs = event(&key, now, Some(&rs256));
    let with_es = event(&key, now, Some(&es256));

    let run = |authorizer: &Authorizer<InMemory>, bytes: &[u8]| {
        let event: AuthorizerEvent = serde_json::from_slice(bytes).unwrap();
        let response = rt.block_on(authorizer.handle_at(now, &event)).unwrap();
        assert!(response.is_allowed());
        serde_json::to_vec(&response).unwrap()
    };
    // Warm-up and the claim the bench makes: every verdict an allow, no network call.
    let fetched = (issuer.jwks_requests(), issuer.discovery_requests());
    for _ in 0..100 {
        run(&plain, &without);
        run(&remembered, &with_rs);
        run(&every_time, &with_rs);
        run(&every_time, &with_es);
    }
    assert_eq!(
        (issuer.jwks_requests(), issuer.discovery_requests()),
        fetched,
        "no network call per request"
    );
    println!("issuer requests per 400 warm requests: 0");

    let mut group = c.benchmark_group("jwt");
    group.throughput(Throughput::Elements(1));
    group.bench_function("http_api_v2_allow_without_jwt", |b| {
        b.iter(|| black_box(run(&plain, black_box(&without))))
    });
    group.bench_function("http_api_v2_allow_jwt_rs256_remembered", |b| {
        b.iter(|| black_box(run(&remembered, black_box(&with_rs))))
    });
    group.bench_function("http_api_v2_allow_jwt_rs256_verified", |b| {
        b.iter(|| black_box(run(&every_time, black_box(&with_rs))))
    });
    group.bench_function("http_api_v2_allow_jwt_es256_verified", |b| {
        b.iter(|| black_box(run(&every_time, black_box(&with_es))))
    });
    group.finish();

    // Cold start: a new verifier, its key set loaded from the issuer on loopback.
    let cold = |extra: Option<(&'static str, String)>| {
        let mut vars = jwt_vars("10000");
        vars.extend(extra);
        let cfg = with(vars);
        let jwt_config = cfg.jwt.clone().unwrap();
        let mut samples = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let verifier = JwtVerifier::new(&jwt_config);
            rt.block_on(verifier.jwks().load_all_at(UnixTime::now()));
            samples.push(started.elapsed());
            assert!(verifier.jwks().fetch_count() >= 1);
        }
        samples.sort();
        samples[samples.len() / 2]
    };
    let one_fetch = cold(Some((
        "JWKS_URLS",
        format!("{}={}", issuer.issuer(), issuer.jwks_url()),
    )));
    let discovery = cold(None);
    println!(
        "cold start, key set load (median of 50): JWKS_URLS (1 fetch) {:?}; discovery + JWKS (2 fetches) {:?}",
        one_fetch, discovery
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

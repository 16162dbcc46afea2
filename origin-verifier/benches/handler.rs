//! In-process throughput of the whole handler: event JSON in, verdict JSON out, on one
//! core (a current-thread runtime), with a warm key cache. Also prints how many
//! Secrets Manager calls 10,000 requests cost after warm-up.
//!
//! `cargo bench -p edgeseal-origin-verifier --bench handler`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::future::Future as _;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgeseal::{
    KeyId, KeySet, RequestView, Signer, SigningKey, UnixTime, Verifier, edgeseal_secret_json,
};
use origin_verifier::{
    Authorizer, AuthorizerEvent, BasePathMap, Config, CountingSource, HeaderSelection, Metrics,
    MetricsSink, SecretsSource, SourceError, Verdict, VersionInfo,
};
use serde_json::Value;
use zeroize::Zeroizing;

const KEYID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const HOST: &str = "abcdef1234.execute-api.us-east-1.amazonaws.com";

/// One version, AWSCURRENT, in memory: the bench measures the handler, not moto.
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

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/apigw/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn signed_event(name: &str, rest: bool, key: &SigningKey, at: UnixTime) -> Vec<u8> {
    let signer = Signer::new("edgeseal", KeyId::new(KEYID).unwrap(), key.clone()).unwrap();
    let view = RequestView::new("GET", HOST, "/prod/orders/42", "b=2&a=1&a=0&q=caf%C3%A9");
    let fields = signer.sign_at(at, &view).unwrap();
    let mut v = fixture(name);
    for (n, value) in [
        ("Signature-Input", fields.signature_input()),
        ("Signature", fields.signature()),
    ] {
        if rest {
            v["headers"][n] = value.into();
            v["multiValueHeaders"][n] = Value::Array(vec![value.into()]);
        } else {
            v["headers"][n.to_ascii_lowercase()] = value.into();
        }
    }
    serde_json::to_vec(&v).unwrap()
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]).unwrap();
    let source = CountingSource::new(InMemory {
        json: edgeseal_secret_json(&key).to_string(),
    });
    let config = Config::with_secret_id("bench/secret");
    let authorizer = Authorizer::new(&config, source.clone(), MetricsSink::Discard).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let now = UnixTime::from_secs(1_800_000_000);

    let http = signed_event("http-api-v2-request.json", false, &key, now);
    let rest = signed_event("rest-request.json", true, &key, now);
    let wrong = signed_event(
        "http-api-v2-request.json",
        false,
        &SigningKey::from_bytes(&[8; 32]).unwrap(),
        now,
    );

    // With a warm cache the handler never waits (the cache lock is uncontended), so one
    // poll completes it: measure the handler, not an executor's block_on. A Pending
    // (which would mean a Secrets Manager call) falls back to the runtime.
    let run = |bytes: &[u8]| {
        let event: AuthorizerEvent = serde_json::from_slice(bytes).unwrap();
        let mut future = pin!(authorizer.handle_at(now, &event));
        let response = match future
            .as_mut()
            .poll(&mut TaskContext::from_waker(Waker::noop()))
        {
            Poll::Ready(response) => response,
            Poll::Pending => rt.block_on(future),
        };
        serde_json::to_vec(&response.unwrap()).unwrap()
    };
    // Warm-up, then check the verdicts are what the bench claims to measure.
    assert!(
        String::from_utf8(run(&http))
            .unwrap()
            .contains(r#""isAuthorized":true"#)
    );
    assert!(
        String::from_utf8(run(&rest))
            .unwrap()
            .contains(r#""Effect":"Allow""#)
    );
    assert!(
        String::from_utf8(run(&wrong))
            .unwrap()
            .contains("bad_signature")
    );

    let warm = source.calls();
    for _ in 0..10_000 {
        black_box(run(&http));
    }
    println!(
        "secrets manager calls per 10,000 requests after warm-up: {}",
        source.calls() - warm
    );

    let mut group = c.benchmark_group("handler");
    group.throughput(Throughput::Elements(1));
    group.bench_function("http_api_v2_allow", |b| {
        b.iter(|| black_box(run(black_box(&http))))
    });
    group.bench_function("rest_allow", |b| {
        b.iter(|| black_box(run(black_box(&rest))))
    });
    group.bench_function("http_api_v2_bad_signature", |b| {
        b.iter(|| black_box(run(black_box(&wrong))))
    });
    group.finish();

    // Where the time goes: each stage of the allow path on its own.
    let mut parts = c.benchmark_group("breakdown");
    parts.throughput(Throughput::Elements(1));
    parts.bench_function("1_parse_event_json", |b| {
        b.iter(|| black_box(serde_json::from_slice::<AuthorizerEvent>(black_box(&http)).unwrap()))
    });
    let event: AuthorizerEvent = serde_json::from_slice(&http).unwrap();
    let kind = event.kind().unwrap();
    let names = ["signature-input", "signature", "x-origin-verify"];
    parts.bench_function("2_request_view", |b| {
        b.iter(|| {
            black_box(
                event
                    .request_view(kind, &BasePathMap::default(), HeaderSelection::Only(&names))
                    .unwrap(),
            )
        })
    });
    let view = event
        .request_view(kind, &BasePathMap::default(), HeaderSelection::Only(&names))
        .unwrap();
    let verifier = Verifier::default();
    let mut keys = KeySet::new();
    keys.insert_current(KeyId::new(KEYID).unwrap(), key.clone());
    parts.bench_function("3_edgeseal_verify_at", |b| {
        b.iter(|| black_box(verifier.verify_at(now, black_box(&view), &keys).unwrap()))
    });
    let response = rt.block_on(authorizer.handle_at(now, &event)).unwrap();
    parts.bench_function("4_serialize_response", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&response)).unwrap()))
    });
    let metrics = Metrics::new("edgeseal", MetricsSink::Discard);
    parts.bench_function("5_emf_line", |b| {
        b.iter(|| {
            black_box(metrics.line(now, Verdict::Allow, "signature_current", "JKJaXmPLvHcESHA="))
        })
    });
    parts.bench_function("6_handle_at_on_parsed_event", |b| {
        b.iter(|| {
            black_box(
                rt.block_on(authorizer.handle_at(now, black_box(&event)))
                    .unwrap(),
            )
        })
    });
    parts.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

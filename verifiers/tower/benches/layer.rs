//! Cost per request of the tower layer against `Verifier::verify_at` over the same
//! request, on one core, with a warm key cache.
//!
//! `cargo bench -p edgeseal-tower --bench layer`
//!
//! - `verify_at`: the signing core alone, on a `RequestView` built beforehand (the
//!   figure `shared/benches/verify.rs` reports).
//! - `view_and_verify_at`: what any caller of `verify_at` does per request: build the
//!   view from the `http::Request` it received, then verify.
//! - `layer`: `Edgeseal::call` on the request, through to a trivial inner service:
//!   view, key cache, verify, log (disabled level) and EMF metric line (built, then
//!   discarded), the boxed future, the response.
//!
//! Each request is built with `http::Request::builder` for every call of every case
//! (hyper hands the layer a request it built; the baseline gets the same one), so the
//! ratios compare like with like. After criterion's figures, the run prints
//! layer / verify_at measured pair by pair (alternating batches, median of the rounds).
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use edgeseal::{
    KeyId, KeySet, RequestView, Signer, SigningKey, UnixTime, Verifier, edgeseal_secret_json,
};
use edgeseal_tower::{EdgesealLayer, LayerConfig};
use http_body_util::Full;
use origin_verifier::{Metrics, MetricsSink, SecretsSource, SourceError, Verdict, VersionInfo};
use tower::{Layer as _, Service as _, ServiceExt as _};
use zeroize::Zeroizing;

const KEYID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const HOST: &str = "internal-orders-1234567890.us-east-1.elb.amazonaws.com";
const PATH: &str = "/v1/orders/8f14e45f/items";
const QUERY: &str = "limit=50&cursor=eyJpZCI6IjEyMyJ9&sort=desc";
const NOW: u64 = 1_767_225_600;

/// One version, AWSCURRENT, in memory: the bench measures the layer, not moto.
struct InMemory {
    json: String,
}

impl SecretsSource for InMemory {
    async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
        Ok(vec![VersionInfo {
            version_id: KEYID.to_owned(),
            stages: vec!["AWSCURRENT".to_owned()],
            created: Some(UnixTime::from_secs(NOW - 100)),
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

/// Poll a future that never waits (every await here is ready at once).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the bench's futures never wait"),
    }
}

struct Setup {
    key: SigningKey,
    input: String,
    signature: String,
    verifier: Verifier,
    keys: KeySet,
    view: RequestView,
}

fn setup() -> Setup {
    let key = SigningKey::from_bytes(&[7; 64]).unwrap();
    let signer = Signer::new("edgeseal", KeyId::new(KEYID).unwrap(), key.clone()).unwrap();
    let request = RequestView::raw("GET", HOST, PATH, QUERY);
    let fields = signer.sign_at(UnixTime::from_secs(NOW), &request).unwrap();
    let mut keys = KeySet::new();
    keys.insert_current(KeyId::new(KEYID).unwrap(), key.clone());
    let view = request
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    Setup {
        key,
        input: fields.signature_input().to_owned(),
        signature: fields.signature().to_owned(),
        verifier: Verifier::default(),
        keys,
        view,
    }
}

fn http_request(s: &Setup) -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method("GET")
        .uri(const_format_uri())
        .header("host", HOST)
        .header("user-agent", "Amazon CloudFront")
        .header(
            "x-amz-cf-id",
            "Y1uGQ2bWb1wZf8Gq7nOQm9o5u0xk0sVq3E0x0r8lXzH9_DcJr2J3Ag==",
        )
        .header("signature-input", &s.input)
        .header("signature", &s.signature)
        .body(Full::default())
        .unwrap()
}

fn const_format_uri() -> &'static str {
    "/v1/orders/8f14e45f/items?limit=50&cursor=eyJpZCI6IjEyMyJ9&sort=desc"
}

/// The view of `request` any caller of `verify_at` holding an `http::Request` builds.
fn view_of(request: &http::Request<Full<Bytes>>) -> RequestView {
    let uri = request.uri();
    let mut view = RequestView::raw(
        request.method().as_str(),
        request.headers()["host"].to_str().unwrap(),
        uri.path(),
        uri.query().unwrap_or_default(),
    );
    for name in ["signature-input", "signature"] {
        view.push_header(name, request.headers()[name].to_str().unwrap());
    }
    view
}

/// `verify_at` the way a caller holding an `http::Request` must call it.
fn view_and_verify(s: &Setup, request: &http::Request<Full<Bytes>>) -> bool {
    s.verifier
        .verify_at(UnixTime::from_secs(NOW), &view_of(request), &s.keys)
        .is_ok()
}

type Service = edgeseal_tower::Edgeseal<
    tower::util::ServiceFn<
        fn(
            http::Request<edgeseal_tower::SealedBody<Full<Bytes>>>,
        ) -> std::future::Ready<Result<http::Response<Full<Bytes>>, Infallible>>,
    >,
    InMemory,
>;

fn ok(
    _: http::Request<edgeseal_tower::SealedBody<Full<Bytes>>>,
) -> std::future::Ready<Result<http::Response<Full<Bytes>>, Infallible>> {
    std::future::ready(Ok(http::Response::new(Full::default())))
}

fn layered(s: &Setup) -> Service {
    let json = edgeseal_secret_json(&s.key).to_string();
    let layer = EdgesealLayer::new(
        &LayerConfig::with_secret_id("bench"),
        InMemory { json },
        MetricsSink::Discard,
    )
    .unwrap()
    .with_clock(Arc::new(|| UnixTime::from_secs(NOW)));
    ready(layer.cache().refresh_at(UnixTime::from_secs(NOW))).unwrap();
    let f: fn(_) -> _ = ok;
    layer.layer(tower::service_fn(f))
}

fn through_layer(service: &mut Service, request: http::Request<Full<Bytes>>) -> u16 {
    ready(async {
        let service = service.ready().await.unwrap();
        service.call(request).await.unwrap().status().as_u16()
    })
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut service = layered(&s);
    assert!(view_and_verify(&s, &http_request(&s)));
    assert_eq!(through_layer(&mut service, http_request(&s)), 200);
    let mut group = c.benchmark_group("tower");
    group.bench_function("verify_at", |b| {
        b.iter(|| {
            black_box(
                s.verifier
                    .verify_at(UnixTime::from_secs(NOW), black_box(&s.view), &s.keys)
                    .is_ok(),
            )
        });
    });
    group.bench_function("build_request", |b| b.iter(|| black_box(http_request(&s))));
    group.bench_function("view_and_verify_at", |b| {
        b.iter(|| black_box(view_and_verify(&s, &http_request(&s))));
    });
    group.bench_function("layer", |b| {
        b.iter(|| black_box(through_layer(&mut service, http_request(&s))));
    });
    group.finish();

    // What the layer does per request besides the view and the verification, each alone.
    let request = http_request(&s);
    let mut parts = c.benchmark_group("tower_parts");
    parts.bench_function("view_from_request", |b| {
        b.iter(|| black_box(view_of(black_box(&request))));
    });
    let metrics = Metrics::new("edgeseal", MetricsSink::Discard);
    parts.bench_function("metric_line", |b| {
        b.iter(|| {
            black_box(metrics.line(
                UnixTime::from_secs(NOW),
                Verdict::Allow,
                "signature_current",
                black_box("Y1uGQ2bWb1wZf8Gq7nOQm9o5u0xk0sVq3E0x0r8lXzH9_DcJr2J3Ag=="),
            ))
        });
    });
    let verified = s
        .verifier
        .verify_at(UnixTime::from_secs(NOW), &s.view, &s.keys)
        .unwrap();
    parts.bench_function("extensions_insert", |b| {
        b.iter(|| {
            let mut extensions = http::Extensions::new();
            extensions.insert(black_box(&verified).clone());
            black_box(extensions)
        });
    });
    parts.finish();
}

fn batch_ns(batch: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(batch)
}

/// layer / verify_at, batch against batch, alternating (see shared/benches/verify.rs):
/// the median of the per-round ratios, for the request built per call (both sides) and
/// net of building it.
fn paired_ratio() {
    const ROUNDS: usize = 1_001;
    const BATCH: u32 = 100;
    let s = setup();
    let mut service = layered(&s);
    let mut rounds: Vec<[f64; 4]> = (0..ROUNDS)
        .map(|_| {
            let build = batch_ns(BATCH, || {
                black_box(http_request(&s));
            });
            let verify = batch_ns(BATCH, || {
                black_box(
                    s.verifier
                        .verify_at(UnixTime::from_secs(NOW), black_box(&s.view), &s.keys)
                        .is_ok(),
                );
            });
            let caller = batch_ns(BATCH, || {
                black_box(view_and_verify(&s, &http_request(&s)));
            });
            let layer = batch_ns(BATCH, || {
                black_box(through_layer(&mut service, http_request(&s)));
            });
            [build, verify, caller, layer]
        })
        .collect();
    let median = |rounds: &mut Vec<[f64; 4]>, f: fn(&[f64; 4]) -> f64| {
        rounds.sort_by(|a, b| f(a).total_cmp(&f(b)));
        f(&rounds[rounds.len() / 2])
    };
    let build = median(&mut rounds, |r| r[0]);
    let verify = median(&mut rounds, |r| r[1]);
    let caller = median(&mut rounds, |r| r[2]);
    let layer = median(&mut rounds, |r| r[3]);
    let net = median(&mut rounds, |r| (r[3] - r[0]) / r[1]);
    let vs_caller = median(&mut rounds, |r| r[3] / r[2]);
    println!(
        "medians of {ROUNDS} paired rounds of {BATCH} calls: build request {build:.0} ns, \
         verify_at {verify:.0} ns, view + verify_at {caller:.0} ns (request built), \
         layer {layer:.0} ns (request built)"
    );
    println!(
        "ratio layer / verify_at over the same request (net of building the request): {net:.2}x; \
         layer / (view + verify_at), both with the request built: {vs_caller:.2}x"
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().any(|a| a == "--bench") {
        paired_ratio();
    }
}

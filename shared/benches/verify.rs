//! `sign`, `verify`, and a raw HMAC-SHA256 over the same signature base, in one run, so
//! the cost of parsing and canonicalization above the physical floor is visible.
//!
//! Run: `cargo bench -p edgeseal --bench verify`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use edgeseal::{
    KeyId, KeySet, REQUIRED_COMPONENTS, RequestView, SignatureBase, Signer, SigningKey, UnixTime,
    Verifier,
};
use hmac::{KeyInit as _, Mac as _};

const NOW: u64 = 1_767_225_600;

fn bench(c: &mut Criterion) {
    let key_bytes = [7u8; 32];
    let key = SigningKey::from_bytes(&key_bytes).unwrap();
    let keyid = KeyId::new("a1b2c3d4-5678-4abc-9def-0123456789ab").unwrap();
    let signer = Signer::new("edgeseal", keyid.clone(), key.clone()).unwrap();
    // A typical API call through CloudFront: a stage, a resource path, a few parameters.
    let request = RequestView::new(
        "GET",
        "abc123defg.execute-api.us-east-1.amazonaws.com",
        "/prod/v1/orders/8f14e45f/items",
        "limit=50&cursor=eyJpZCI6IjEyMyJ9&sort=desc",
    );
    let now = UnixTime::from_secs(NOW);
    let fields = signer.sign_at(now, &request).unwrap();
    let arriving = request
        .clone()
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let mut keys = KeySet::new();
    keys.insert_current(keyid, key);
    let verifier = Verifier::default();
    assert!(verifier.verify_at(now, &arriving, &keys).is_ok());

    let params = fields.signature_input().strip_prefix("edgeseal=").unwrap();
    let base = SignatureBase::new(&request, &REQUIRED_COMPONENTS, params).unwrap();
    eprintln!("signature base: {} bytes", base.as_bytes().len());

    let mut group = c.benchmark_group("edgeseal");
    group.bench_function("raw_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(black_box(&key_bytes)).unwrap();
            mac.update(black_box(base.as_bytes()));
            black_box(mac.finalize().into_bytes())
        });
    });
    group.bench_function("sign", |b| {
        b.iter(|| black_box(signer.sign_at(black_box(now), black_box(&request)).unwrap()));
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            black_box(
                verifier
                    .verify_at(black_box(now), black_box(&arriving), black_box(&keys))
                    .unwrap(),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Profiling harness: verify one request N times (for callgrind / perf).
//! `cargo build --release -p edgeseal --example verify_loop && valgrind --tool=callgrind target/release/examples/verify_loop`
#![allow(clippy::unwrap_used, missing_docs, clippy::print_stdout)]

use edgeseal::{KeyId, KeySet, RequestView, Signer, SigningKey, UnixTime, Verifier};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let key = SigningKey::from_bytes(&[7u8; 32]).unwrap();
    let keyid = KeyId::new("a1b2c3d4-5678-4abc-9def-0123456789ab").unwrap();
    let request = RequestView::new(
        "GET",
        "abc123defg.execute-api.us-east-1.amazonaws.com",
        "/prod/v1/orders/8f14e45f/items",
        "limit=50&cursor=eyJpZCI6IjEyMyJ9&sort=desc",
    );
    let now = UnixTime::from_secs(1_767_225_600);
    let fields = Signer::new("edgeseal", keyid.clone(), key.clone())
        .unwrap()
        .sign_at(now, &request)
        .unwrap();
    let arriving = request
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let mut keys = KeySet::new();
    keys.insert_current(keyid, key);
    let verifier = Verifier::default();
    let mut ok = 0u32;
    for _ in 0..n {
        ok += u32::from(
            verifier
                .verify_at(
                    std::hint::black_box(now),
                    std::hint::black_box(&arriving),
                    &keys,
                )
                .is_ok(),
        );
    }
    println!("{ok} of {n} verified");
}

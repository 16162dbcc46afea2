//! `sign`, `verify`, and a raw HMAC-SHA256 over the same signature base, in one run, so
//! the cost of parsing and canonicalization above the physical floor is visible.
//!
//! Run: `cargo bench -p edgeseal --bench verify`
//!
//! "Raw HMAC-SHA256" is RustCrypto's general-purpose `hmac` crate keyed for every
//! message (what a verifier does that does not keep the key's pad states), over the
//! signature base alone. After criterion's figures, the run prints `verify` / raw HMAC
//! measured pair by pair (alternating batches, median of the rounds), so the ratio holds
//! while the machine's speed drifts.
//!
//! Figures (AMD EPYC with SHA extensions, shared 2 vCPU; 329-byte base; raw HMAC
//! ≈ 362 ns, 9 SHA-NI compressions), verify / raw HMAC by the paired rounds:
//!
//! | verifier | verify | ratio | software SHA-256 |
//! |---|---|---|---|
//! | `sfv` parsing both fields | 1.41 µs | 3.9 | 1.58 |
//! | the fields' own parser (`src/fields/`), base fed straight into the MAC | 0.99 µs | 2.8 | 1.38 |
//! | now | 0.40 µs | 1.11 | 0.92 |
//!
//! What "now" does on a request the edge signed: both fields in the signer's exact
//! serialization are read by literal comparisons (`fields/fast.rs`, anything else goes
//! to the general parser); the key id is looked up as written, no candidate and no
//! allocation are made; the four components' values are canonical already and written
//! with their names in nine pieces into a 512-byte buffer, which goes through the
//! compression function with its padding in one call; buffers are cleared with plain
//! stores and a barrier instead of `zeroize`'s volatile byte stores; the tag is
//! compared as four words. The 7 compressions are then about 70% of a verify.
//! Instructions per verify (callgrind, `examples/verify_loop`, software SHA-256 under
//! valgrind, difference between 20,000 and 10,000 verifications): 40,509 with `sfv`,
//! 34,928 with the own parser, 25,960 now, of which the 7 compressions are 23,351.
//! Software SHA-256: `RUSTFLAGS='--cfg sha2_256_backend="soft"'` with its own
//! `CARGO_TARGET_DIR` (what a CPU without SHA extensions runs); there verify beats a raw
//! HMAC, which redoes the key's two pad blocks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use edgeseal::{
    KeyId, KeySet, REQUIRED_COMPONENTS, RequestView, SignatureBase, Signer, SigningKey, UnixTime,
    Verifier,
};
use hmac::{KeyInit as _, Mac as _};

const NOW: u64 = 1_767_225_600;
const KEY_BYTES: [u8; 32] = [7; 32];

/// Everything the three benchmarks share.
struct Setup {
    signer: Signer,
    request: RequestView,
    arriving: RequestView,
    keys: KeySet,
    verifier: Verifier,
    base: SignatureBase,
    now: UnixTime,
}

fn setup() -> Setup {
    let key = SigningKey::from_bytes(&KEY_BYTES).unwrap();
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
    Setup {
        signer,
        request,
        arriving,
        keys,
        verifier,
        base,
        now,
    }
}

fn raw_hmac(base: &SignatureBase) -> impl Sized {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(black_box(&KEY_BYTES)).unwrap();
    mac.update(black_box(base.as_bytes()));
    mac.finalize().into_bytes()
}

fn verify(s: &Setup) -> impl Sized {
    s.verifier
        .verify_at(black_box(s.now), black_box(&s.arriving), black_box(&s.keys))
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    eprintln!("signature base: {} bytes", s.base.as_bytes().len());
    let mut group = c.benchmark_group("edgeseal");
    group.bench_function("raw_hmac_sha256", |b| {
        b.iter(|| black_box(raw_hmac(&s.base)))
    });
    group.bench_function("sign", |b| {
        b.iter(|| {
            black_box(
                s.signer
                    .sign_at(black_box(s.now), black_box(&s.request))
                    .unwrap(),
            )
        });
    });
    group.bench_function("verify", |b| b.iter(|| black_box(verify(&s))));
    group.finish();
}

/// Nanoseconds per call of `f`, over one batch.
fn batch_ns(batch: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(batch)
}

/// `verify` / raw HMAC, batch against batch, alternating. Batches are short (well under
/// a scheduler time slice) so that on a shared machine a preemption spoils a few rounds,
/// not the figure: prints the median of the per-round ratios and the ratio of the
/// fastest batches.
fn paired_ratio() {
    const ROUNDS: usize = 2_001;
    const BATCH: u32 = 100;
    let s = setup();
    let mut rounds: Vec<(f64, f64)> = (0..ROUNDS)
        .map(|_| {
            let raw = batch_ns(BATCH, || {
                black_box(raw_hmac(&s.base));
            });
            let verified = batch_ns(BATCH, || {
                black_box(verify(&s));
            });
            (raw, verified)
        })
        .collect();
    let fastest =
        |pick: fn(&(f64, f64)) -> f64| rounds.iter().map(pick).fold(f64::INFINITY, f64::min);
    let (raw_min, verify_min) = (fastest(|r| r.0), fastest(|r| r.1));
    rounds.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
    let ratio = |i: usize| rounds[i].1 / rounds[i].0;
    println!(
        "verify / raw HMAC-SHA256: {:.3} (median of {ROUNDS} paired rounds of {BATCH} calls; \
         quartiles {:.3}-{:.3}); fastest batches: verify {verify_min:.0} ns / raw {raw_min:.0} ns \
         = {:.3}",
        ratio(ROUNDS / 2),
        ratio(ROUNDS / 4),
        ratio(ROUNDS * 3 / 4),
        verify_min / raw_min,
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test --benches` runs each benchmark once as a test: skip the ratio there.
    if std::env::args().any(|a| a == "--bench") {
        paired_ratio();
    }
}

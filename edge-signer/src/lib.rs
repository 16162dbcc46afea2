//! # edgeseal edge-signer
//!
//! The Lambda@Edge **origin-request** function that signs every request CloudFront sends
//! to a custom origin, and the packaging of its deployable zip.
//!
//! Lambda@Edge runs only the managed Node.js and Python runtimes, so the signer is the
//! [`edgeseal`] signing core compiled to `wasm32-unknown-unknown` and loaded by a thin
//! ES-module handler (`js/index.mjs`, runtime `nodejs22.x`). The handler reads
//! `config.json` beside it and instantiates the module once per execution environment, at
//! init; per request it hands the module the request's method, Host, origin domain name,
//! origin path, URI, query string, any `Signature-Input` / `Signature` the viewer sent and
//! the body when the behavior includes it whole, and sets the headers the module returns
//! (`Content-Digest` too when a `raw` origin's body is bound). S3 origins and all other headers pass untouched. A missing
//! or invalid config is logged once (never the key) and requests go unsigned, so the
//! origin denies them: the edge never signs with a malformed key.
//!
//! ## Why raw exports rather than wasm-bindgen
//!
//! The interface is four functions over two byte buffers. Raw `extern "C"` exports keep
//! the module free of generated JS glue (which would have to be bundled, and which
//! instantiates asynchronously by default), keep it small (a few exports, no
//! `wasm-bindgen` section or descriptor functions to strip), and let the handler write
//! strings straight into linear memory with `Buffer.write` and read the result with one
//! `latin1` slice: no JSON and no intermediate copies per request. The price is a few
//! lines of memory plumbing in the handler, tested end to end from Rust and Node.
//!
//! ## The WASM interface
//!
//! Exports (all `i32` results; negative values are status codes):
//!
//! | export | does |
//! |---|---|
//! | `edgeseal_buffer(len) -> addr` | grow the input buffer to `len` bytes, return its address |
//! | `edgeseal_init(len) -> status` | read `config.json` from the input buffer, wipe it; `0` = configured |
//! | `edgeseal_sign(len, now_secs: f64) -> n` | sign the request in the input buffer ([`wire`] layout); `n` = response length |
//! | `edgeseal_output() -> addr` | address of the response (`[u32 len]×3` + `Signature-Input` + `Signature` + `Content-Digest`) |
//!
//! Status codes: `-1` malformed input, `-2` not configured, `-3` invalid method, `-4`
//! invalid Host, `-5` cannot sign, `-6` invalid time, `-7` re-entered; config errors
//! `-10` malformed JSON, `-11` unsupported format, `-12` invalid label, `-13` invalid key
//! id, `-14` invalid key, `-15` invalid max age, `-16` invalid profiles
//! ([`EdgeConfigError::code`]).
//!
//! Only the WASM boundary (module `wasm`, compiled for `wasm32` only) is allowed
//! `unsafe`, for `#[unsafe(no_mangle)]`; it dereferences no raw pointer.
//!
//! ## Config
//!
//! See [`EdgeConfig`] and `config.json`:
//! `{"format":1,"label":"edgeseal","keyid":"…","key":"<base64>","max_age_secs":300}`.
//! `max_age_secs` is written as the signature's `expires` (`0`: none). The optional
//! `profiles` member chooses each origin's signing profile ([`OriginProfiles`]).
//!
//! ## Packaging (native only)
//!
//! [`package_zip`] turns the built [`EdgeAssets`] and an [`EdgeConfig`] into the zip the
//! rotator publishes, deterministically:
//!
//! ```
//! use edgeseal::{KeyId, SigningKey};
//! use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, package_zip};
//!
//! let wasm = b"\0asm\x01\0\0\0".to_vec(); // really: target/edge-assets/signer.wasm
//! let assets = EdgeAssets::new(b"export const handler = ...".to_vec(), wasm);
//! let config = EdgeConfig {
//!     label: "edgeseal".into(),
//!     keyid: KeyId::new("a1b2c3d4-0000-4000-8000-000000000001").unwrap(),
//!     key: SigningKey::from_bytes(&[7u8; 32]).unwrap(),
//!     max_age_secs: 300,
//!     profiles: Default::default(),
//! };
//! let zip = package_zip(&assets, &config).unwrap();
//! assert_eq!(zip, package_zip(&assets, &config).unwrap());
//! ```
//!
//! Build, test and benchmark commands: see `edge-signer/README.md`.

mod config;
mod edge;
#[cfg(not(target_arch = "wasm32"))]
pub mod package;
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod wasm;

pub use crate::config::{
    CONFIG_FILE, CONFIG_FORMAT, EdgeConfig, EdgeConfigError, MAX_MAX_AGE_SECS, OriginProfiles,
};
pub use crate::edge::{EdgeSigner, OriginRequest, SignedHeaders, wire};
#[cfg(not(target_arch = "wasm32"))]
pub use crate::package::{EdgeAssets, PackageError, package_zip};

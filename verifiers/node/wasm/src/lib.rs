//! # edgeseal-verifier-wasm
//!
//! The Node.js verifier's core: [`edgeseal_verifier_core::Engine`] behind raw WASM
//! exports over linear memory (the same pattern as the edge signer's, no bindgen). The
//! JavaScript side (`verifiers/node/src/engine.mjs`) writes an input into the buffer
//! `esv_buffer` returns, calls an export, and reads the JSON answer at `esv_output`.
//!
//! | export | input | answer |
//! |---|---|---|
//! | `esv_configure(len)` | JSON object of settings by the authorizer's names | `{"maxBodyBytes": n}` or `{"error": ...}` |
//! | `esv_refresh_due(now_ms)` | — | 0 no, 1 due (keys held: refresh in the background), 2 due and nothing held (wait) |
//! | `esv_values_needed(len)` | listing JSON `[{"id","stages","created"}]` | `["<version id>", ...]` |
//! | `esv_apply(len, now_ms)` | `{"versions": [...], "lastRotated": secs or null, "values": {"<id>": "<SecretString>" or null}}`; wiped after | `[{"level","text"}]` log lines |
//! | `esv_failed(len, now_ms)` | `{"operation","detail"}` | log lines |
//! | `esv_check(len, now_ms, recheck)` | a request in the [`wire`] layout | `{"refresh": true, "keyid", "logs"}`, `{"readBody": true}` or the verdict |
//! | `esv_check_body(request_len, body_len, now_ms)` | the same request, then its body (`body_len` `0xFFFF_FFFF`: over `MAX_BODY_BYTES` or unreadable) | the verdict (`Content-Digest` compared by the core) |
//!
//! Every export returns the answer's length, or a negative status: -1 bad input, -2 not
//! configured, -3 re-entered. Times are milliseconds since the epoch as `f64`.

pub mod protocol;
pub mod wire;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod exports;

//! # edgeseal-verifier-core
//!
//! The verdict engine the Node.js (WASM) and Python (PyO3) verifiers drive: the
//! authorizer's settings ([`Settings`], same variable names and defaults), its signature
//! check ([`edgeseal::Verifier`]), its key rules ([`edgeseal::accepted`]) and its log and
//! metric lines ([`lines`]). No I/O and no clock: the host lists the secret's versions,
//! reads the values the engine asks for, passes `now` in milliseconds, and prints the
//! lines it gets back.
//!
//! Per request: [`Engine::check`]; on [`Check::RefreshFirst`] (an unknown key id, the
//! refresh rate-limited inside), refresh and [`Engine::recheck`]; on [`Check::ReadBody`]
//! (a valid signature that covers `Content-Digest`), read the body, at most
//! [`Engine::max_body_bytes`], and [`Engine::check_body`]: the core compares it with the
//! digest (`REQUIRE_CONTENT_DIGEST` and `MAX_BODY_BYTES` as the tower layer has them).
//! Before it, when [`Engine::refresh_due`]: refresh in the background if
//! [`Engine::is_usable_at`], else wait for it.

mod engine;
pub mod lines;
mod settings;

pub use crate::engine::{Check, Engine, Outcome};
pub use crate::settings::{Settings, SettingsError, VARIABLES};
pub use edgeseal::accepted::ListedVersion;

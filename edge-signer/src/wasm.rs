//! The WASM boundary: raw `extern "C"` exports over linear memory (see the crate docs for
//! the protocol). The only module allowed `unsafe`, and it needs it for one thing only:
//! `#[unsafe(no_mangle)]`, which gives each export its stable symbol name.
//!
//! No raw pointer is ever dereferenced here. The handler writes into, and reads from,
//! buffers that are ordinary `Vec<u8>`s owned by [`State`]; the exports hand their
//! addresses out and read them back through safe slices. That is sound because the
//! handler touches linear memory only between calls, when no Rust borrow of those
//! buffers exists, and the module has one thread (`wasm32-unknown-unknown` without
//! atomics), so nothing else runs meanwhile.

use std::cell::RefCell;

use edgeseal::{SignError, UnixTime};
use zeroize::Zeroize as _;

use crate::config::EdgeConfig;
use crate::edge::{EdgeSigner, wire};

/// Status codes returned by the exports (negative; non-negative values are results).
/// Config errors use [`EdgeConfigError::code`](crate::EdgeConfigError::code), -10..-15.
mod status {
    /// The request bytes are not in the [`wire`](crate::wire) layout.
    pub const BAD_INPUT: i32 = -1;
    /// `edgeseal_sign` before a successful `edgeseal_init`.
    pub const NOT_CONFIGURED: i32 = -2;
    /// The method is not an HTTP token.
    pub const INVALID_METHOD: i32 = -3;
    /// The Host is empty or not a `host[:port]`.
    pub const INVALID_AUTHORITY: i32 = -4;
    /// Signing failed otherwise (a value that cannot be signed).
    pub const SIGN_FAILED: i32 = -5;
    /// `now` is not a whole, non-negative number of seconds.
    pub const BAD_TIME: i32 = -6;
    /// The module was re-entered (cannot happen from the handler: calls are synchronous).
    pub const BUSY: i32 = -7;
}

/// Everything the module keeps between calls: the configured signer and two reusable
/// buffers, so a warm request allocates nothing new for its input and output.
struct State {
    signer: Option<EdgeSigner>,
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State { signer: None, input: Vec::new(), output: Vec::new() })
    };
}

fn with_state(f: impl FnOnce(&mut State) -> i32) -> i32 {
    STATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut state) => f(&mut state),
        Err(_) => status::BUSY,
    })
}

/// An address in linear memory as the `i32` the JavaScript side reads; addresses fit
/// because this module never grows near 2 GiB (it holds a few kilobytes of state).
fn address(ptr: *const u8) -> i32 {
    i32::try_from(ptr as usize).unwrap_or(status::BAD_INPUT)
}

/// Make the input buffer at least `len` bytes long and return its address; the handler
/// writes the config or a request there. Must be called again after anything that may
/// have grown it (its address can move).
// SAFETY (unsafe attribute): `no_mangle` exports this symbol under its own name; the
// `edgeseal_` prefix keeps it from clashing with any symbol of std or a dependency.
#[unsafe(no_mangle)]
pub extern "C" fn edgeseal_buffer(len: u32) -> i32 {
    with_state(|state| {
        let Ok(len) = usize::try_from(len) else {
            return status::BAD_INPUT;
        };
        if state.input.len() < len {
            state.input.resize(len, 0);
        }
        address(state.input.as_ptr())
    })
}

/// Read `config.json` from the first `len` bytes of the input buffer, then wipe them.
/// Returns 0, or a config error code. Calling it again replaces the configuration.
// SAFETY (unsafe attribute): as for `edgeseal_buffer`: a unique, prefixed symbol name.
#[unsafe(no_mangle)]
pub extern "C" fn edgeseal_init(len: u32) -> i32 {
    with_state(|state| {
        let Some(bytes) = usize::try_from(len).ok().and_then(|l| state.input.get(..l)) else {
            state.input.as_mut_slice().zeroize();
            return status::BAD_INPUT;
        };
        let parsed = EdgeConfig::from_json(bytes).and_then(|c| EdgeSigner::new(&c));
        // The key's base64 must not linger in the buffer requests reuse. Wipe the bytes
        // but keep the length: the handler remembers the buffer's size.
        state.input.as_mut_slice().zeroize();
        match parsed {
            Ok(signer) => {
                state.signer = Some(signer);
                0
            }
            Err(e) => {
                state.signer = None;
                e.code()
            }
        }
    })
}

/// Sign the request in the first `len` bytes of the input buffer as of `now` (Unix
/// seconds). Returns the length of the response written to the output buffer (see
/// `edgeseal_output`), or a negative status code.
// SAFETY (unsafe attribute): as for `edgeseal_buffer`: a unique, prefixed symbol name.
#[unsafe(no_mangle)]
pub extern "C" fn edgeseal_sign(len: u32, now: f64) -> i32 {
    with_state(|state| {
        let State {
            signer,
            input,
            output,
        } = state;
        let Some(signer) = signer.as_ref() else {
            return status::NOT_CONFIGURED;
        };
        let Some(bytes) = usize::try_from(len).ok().and_then(|l| input.get(..l)) else {
            return status::BAD_INPUT;
        };
        let Ok(request) = wire::decode_request(bytes) else {
            return status::BAD_INPUT;
        };
        // 2^53: every integer below it is exact in an f64.
        if !((0.0..9_007_199_254_740_992.0).contains(&now) && now.fract() == 0.0) {
            return status::BAD_TIME;
        }
        let now = UnixTime::from_secs(now as u64);
        match signer.sign_at(now, &request) {
            Ok(headers) => match wire::encode_response(&headers, output) {
                Ok(()) => i32::try_from(output.len()).unwrap_or(status::SIGN_FAILED),
                Err(_) => status::SIGN_FAILED,
            },
            Err(SignError::InvalidMethod) => status::INVALID_METHOD,
            Err(SignError::InvalidAuthority) => status::INVALID_AUTHORITY,
            Err(_) => status::SIGN_FAILED,
        }
    })
}

/// The address of the output buffer (valid until the next call).
// SAFETY (unsafe attribute): as for `edgeseal_buffer`: a unique, prefixed symbol name.
#[unsafe(no_mangle)]
pub extern "C" fn edgeseal_output() -> i32 {
    with_state(|state| address(state.output.as_ptr()))
}

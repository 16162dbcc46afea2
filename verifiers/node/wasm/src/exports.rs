//! The WASM boundary: raw `extern "C"` exports over linear memory. The only module
//! allowed `unsafe`, and it needs it for one thing only: `#[unsafe(no_mangle)]`, which
//! gives each export its stable symbol name.
//!
//! No raw pointer is ever dereferenced here. JavaScript writes into, and reads from,
//! buffers that are ordinary `Vec<u8>`s owned by [`State`]; the exports hand their
//! addresses out and read them back through safe slices. That is sound because
//! JavaScript touches linear memory only between calls, when no Rust borrow of those
//! buffers exists, and the module has one thread (`wasm32-unknown-unknown` without
//! atomics), so nothing else runs meanwhile.

use std::cell::RefCell;

use edgeseal_verifier_core::Engine;
use zeroize::Zeroize as _;

use crate::protocol;

const BAD_INPUT: i32 = -1;
const NOT_CONFIGURED: i32 = -2;
const BUSY: i32 = -3;

struct State {
    engine: Option<Engine>,
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State { engine: None, input: Vec::new(), output: Vec::new() })
    };
}

fn with_state(f: impl FnOnce(&mut State) -> i32) -> i32 {
    STATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut state) => f(&mut state),
        Err(_) => BUSY,
    })
}

/// An address in linear memory as the `i32` JavaScript reads (the module never grows
/// near 2 GiB).
fn address(ptr: *const u8) -> i32 {
    i32::try_from(ptr as usize).unwrap_or(BAD_INPUT)
}

/// Milliseconds from JavaScript's `Date.now()`: whole and non-negative, else 0 (the
/// epoch: every signature is then from the future and denied).
fn millis(now_ms: f64) -> u64 {
    if (0.0..9_007_199_254_740_992.0).contains(&now_ms) {
        now_ms.floor() as u64
    } else {
        0
    }
}

/// Run `f` on the engine and the first `len` input bytes; write its answer.
fn answer(
    len: u32,
    wipe: bool,
    f: impl FnOnce(&mut Engine, &[u8]) -> Result<String, protocol::BadInput>,
) -> i32 {
    with_state(|state| {
        let State {
            engine,
            input,
            output,
        } = state;
        let result = match (
            engine.as_mut(),
            usize::try_from(len).ok().and_then(|l| input.get(..l)),
        ) {
            (None, _) => Err(NOT_CONFIGURED),
            (_, None) => Err(BAD_INPUT),
            (Some(engine), Some(bytes)) => f(engine, bytes).map_err(|_| BAD_INPUT),
        };
        if wipe {
            input.as_mut_slice().zeroize();
        }
        match result {
            Ok(text) => write_output(output, text),
            Err(code) => code,
        }
    })
}

fn write_output(output: &mut Vec<u8>, text: String) -> i32 {
    output.clear();
    output.extend_from_slice(text.as_bytes());
    i32::try_from(output.len()).unwrap_or(BAD_INPUT)
}

/// Make the input buffer at least `len` bytes long; returns its address.
// SAFETY (unsafe attribute): `no_mangle` exports this symbol under its own name; the
// `esv_` prefix keeps it from clashing with any symbol of std or a dependency.
#[unsafe(no_mangle)]
pub extern "C" fn esv_buffer(len: u32) -> i32 {
    with_state(|state| {
        let Ok(len) = usize::try_from(len) else {
            return BAD_INPUT;
        };
        if state.input.len() < len {
            state.input.resize(len, 0);
        }
        address(state.input.as_ptr())
    })
}

/// The address of the last answer (valid until the next call).
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_output() -> i32 {
    with_state(|state| address(state.output.as_ptr()))
}

/// Configure from a JSON object of settings; replaces any earlier engine. Answers
/// `{"maxBodyBytes": n}` or `{"error": ...}`.
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_configure(len: u32) -> i32 {
    with_state(|state| {
        let Some(bytes) = usize::try_from(len).ok().and_then(|l| state.input.get(..l)) else {
            return BAD_INPUT;
        };
        let text = match protocol::configure(bytes) {
            Ok(engine) => {
                let answer = protocol::configured(&engine);
                state.engine = Some(engine);
                answer
            }
            Err(message) => serde_json::json!({ "error": message }).to_string(),
        };
        write_output(&mut state.output, text)
    })
}

/// 0: no refresh due; 1: due, keys held (refresh in the background); 2: due, nothing
/// held (wait for it).
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_refresh_due(now_ms: f64) -> i32 {
    with_state(|state| match &state.engine {
        None => NOT_CONFIGURED,
        Some(engine) => {
            let now = millis(now_ms);
            match (engine.refresh_due(now), engine.is_usable_at(now)) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            }
        }
    })
}

/// The version ids to read for a listing.
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_values_needed(len: u32) -> i32 {
    answer(len, false, |engine, bytes| {
        protocol::values_needed(engine, bytes)
    })
}

/// A successful refresh, values included; the input (key material) is wiped after.
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_apply(len: u32, now_ms: f64) -> i32 {
    answer(len, true, |engine, bytes| {
        protocol::apply(engine, millis(now_ms), bytes)
    })
}

/// A failed refresh.
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_failed(len: u32, now_ms: f64) -> i32 {
    answer(len, false, |engine, bytes| {
        protocol::failed(engine, millis(now_ms), bytes)
    })
}

/// The verdict on a request (`recheck` non-zero: after the refresh a first check asked
/// for).
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_check(len: u32, now_ms: f64, recheck: i32) -> i32 {
    answer(len, false, |engine, bytes| {
        protocol::check(engine, millis(now_ms), bytes, recheck != 0)
    })
}

/// The verdict after a check answered `{"readBody": true}`: the input holds the same
/// request (`request_len` bytes, the [`wire`](crate::wire) layout) followed by its body
/// (`body_len` bytes; `0xFFFF_FFFF`: no body, it was longer than `MAX_BODY_BYTES` or
/// could not be read).
// SAFETY (unsafe attribute): as for `esv_buffer`.
#[unsafe(no_mangle)]
pub extern "C" fn esv_check_body(request_len: u32, body_len: u32, now_ms: f64) -> i32 {
    let body_len = (body_len != crate::wire::ABSENT).then_some(body_len);
    let Some(total) = request_len.checked_add(body_len.unwrap_or(0)) else {
        return BAD_INPUT;
    };
    answer(total, false, |engine, bytes| {
        let split = usize::try_from(request_len).map_err(|_| protocol::BadInput)?;
        let (request, body) = bytes.split_at_checked(split).ok_or(protocol::BadInput)?;
        protocol::check_body(engine, millis(now_ms), request, body_len.map(|_| body))
    })
}

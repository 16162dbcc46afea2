//! The event Secrets Manager sends the rotator, through the rotator's own event type. A
//! step that parses survives its own JSON form.
//!
//! The module is the rotator's `src/event.rs` itself, compiled in here by path: it is
//! plain serde, and depending on the rotator crate would bring three instrumented AWS
//! SDKs into every fuzz build for the sake of one derive.
#![no_main]

#[allow(dead_code, missing_docs)]
#[path = "../../rotator/src/event.rs"]
mod event;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = serde_json::from_slice::<event::RotationEvent>(data) else {
        return;
    };
    let again: event::RotationEvent =
        serde_json::from_slice(&serde_json::to_vec(&parsed).unwrap()).unwrap();
    assert_eq!(again, parsed);
    assert_eq!(again.step.as_str(), parsed.step.to_string());
});

//! An authorizer invocation payload, as Lambda hands it over, through the event parser
//! and the whole handler (signature mode, and migration mode with IAM policies).
#![no_main]

use edgeseal_fuzz::{NOW, authorizers, run};
use libfuzzer_sys::fuzz_target;
use origin_verifier::AuthorizerEvent;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<AuthorizerEvent>(data) else {
        return;
    };
    for authorizer in authorizers() {
        if let Ok(response) = run(authorizer.handle_at(NOW, &event)) {
            serde_json::to_vec(&response).unwrap();
        }
    }
});

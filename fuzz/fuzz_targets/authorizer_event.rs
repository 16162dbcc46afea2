//! An authorizer invocation payload, as Lambda hands it over, through the path the
//! binary runs (`Invocation` from the payload bytes, then `Authorizer::answer_at`) in
//! signature mode with simple responses and in migration mode with IAM policies.
//! Every payload ends in a verdict that serializes, or in `Unauthorized`.
#![no_main]

use edgeseal_fuzz::{NOW, authorizers, run};
use libfuzzer_sys::fuzz_target;
use origin_verifier::{AuthorizerError, Invocation};

fuzz_target!(|data: &[u8]| {
    let invocation = Invocation::from_payload(data);
    for authorizer in authorizers() {
        match run(authorizer.answer_at(NOW, &invocation)) {
            Ok(response) => drop(serde_json::to_vec(&response).unwrap()),
            Err(AuthorizerError::Unauthorized) => {}
            Err(other) => panic!("a Lambda error other than Unauthorized: {other}"),
        }
    }
});

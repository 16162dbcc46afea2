//! A `SecretString` as Secrets Manager returns it, through the secret-value parser. A
//! key that parses survives its own JSON form.
#![no_main]

use edgeseal::{SecretValue, edgeseal_secret_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(SecretValue::Hmac(key)) = SecretValue::parse(text, Some("X_CUSTOM_FIELD")) {
        let again = SecretValue::parse(&edgeseal_secret_json(&key), None).unwrap();
        assert!(again.as_hmac() == Some(&key));
    }
});

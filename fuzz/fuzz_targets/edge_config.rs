//! `config.json` as packaged into the edge zip, through the edge's config parser. A
//! config that parses survives its own JSON form and makes a signer or a typed error.
#![no_main]

use edgeseal_edge_signer::{EdgeConfig, EdgeSigner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = EdgeConfig::from_json(data) else {
        return;
    };
    let again = EdgeConfig::from_json(&config.to_json().unwrap()).unwrap();
    assert_eq!(again, config);
    let _ = EdgeSigner::new(&config);
});

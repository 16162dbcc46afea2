//! The bytes the edge handler (JavaScript) writes into WASM memory for one request,
//! through the wire decoder and the signer. A request that decodes encodes back to the
//! same bytes; a request the edge signs (with no viewer signature fields) verifies.
#![no_main]

use edgeseal::{RequestView, Verifier};
use edgeseal_edge_signer::{EdgeConfig, EdgeSigner, wire};
use edgeseal_fuzz::{KEYID, NOW, key, keys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = wire::decode_request(data) else {
        return;
    };
    assert_eq!(wire::encode_request(&request), data);
    let config = EdgeConfig {
        label: edgeseal::DEFAULT_LABEL.to_owned(),
        keyid: edgeseal::KeyId::new(KEYID).unwrap(),
        key: key(),
        max_age_secs: 300,
        profiles: Default::default(),
    };
    let Ok(signed) = EdgeSigner::new(&config).unwrap().sign_at(NOW, &request) else {
        return;
    };
    let mut out = Vec::new();
    wire::encode_response(&signed, &mut out).unwrap();
    if request.signature_input.is_none() && request.signature.is_none() {
        let prefix = request.origin_path.trim_end_matches('/');
        let slash = if request.uri.starts_with('/') {
            ""
        } else {
            "/"
        };
        let path = format!("{prefix}{slash}{}", request.uri);
        let arriving = RequestView::new(request.method, request.host, &path, request.querystring)
            .with_header("signature-input", &signed.signature_input)
            .with_header("signature", &signed.signature);
        if let Err(rejection) = Verifier::default().verify_at(NOW, &arriving, keys()) {
            panic!("the edge signed a request its own verifier rejects: {rejection}");
        }
    }
});

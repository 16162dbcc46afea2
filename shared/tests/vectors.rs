//! Known-answer tests from data files: RFC 9421 B.2.5, the canonical forms, and the
//! edgeseal profile signatures (computed independently, see vectors/signatures.json).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use edgeseal::{
    Component, KeyId, KeySet, Rejection, RequestView, SignatureBase, SignatureParams, Signer,
    SigningKey, UnixTime, Verifier, canonical, sign_with,
};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn pairs(v: &Value) -> Vec<(&str, &str)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (s(&p[0]), s(&p[1])))
        .collect()
}

#[test]
fn rfc9421_b25_hmac_sha256_byte_for_byte() {
    let v = load("rfc9421-b25.json");
    let r = &v["request"];
    let mut request = RequestView::new(
        s(&r["method"]),
        s(&r["host"]),
        s(&r["path"]),
        s(&r["query"]),
    );
    for h in r["headers"].as_array().unwrap() {
        request.push_header(s(&h[0]), s(&h[1]));
    }
    let components: Vec<Component> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match s(c) {
            "@authority" => Component::Authority,
            name => Component::header(name).unwrap(),
        })
        .collect();
    let label = s(&v["label"]);
    let input_value = s(&v["signature_input"])
        .strip_prefix(&format!("{label}="))
        .unwrap();

    let base = SignatureBase::new(&request, &components, input_value).unwrap();
    assert_eq!(base.as_str(), s(&v["signature_base"]));

    let params = SignatureParams {
        created: UnixTime::from_secs(v["created"].as_u64().unwrap()),
        expires: None,
        keyid: KeyId::new(s(&v["keyid"])).unwrap(),
        alg: false,
        nonce: None,
        tag: None,
    };
    let key = SigningKey::from_base64(s(&v["key_base64"])).unwrap();
    let fields = sign_with(label, &key, &request, &components, &params).unwrap();
    assert_eq!(fields.signature_input(), s(&v["signature_input"]));
    assert_eq!(fields.signature(), s(&v["signature"]));
}

#[test]
fn canonical_forms_match_the_vectors_file() {
    let v = load("canonical.json");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for (i, c) in cases.iter().enumerate() {
        let name = s(&c["name"]);
        assert_eq!(
            canonical::authority(s(&c["host"])).as_deref(),
            Some(s(&c["authority"])),
            "case {i}: {name}"
        );
        assert_eq!(
            canonical::origin_path(s(&c["origin_path"]), s(&c["uri"])),
            s(&c["path"]),
            "case {i}: {name}"
        );
        assert_eq!(
            canonical::query_from_raw(s(&c["raw_query"])),
            s(&c["query"]),
            "case {i}: {name}"
        );
        assert_eq!(
            canonical::query_from_pairs(pairs(&c["query_pairs"])),
            s(&c["query"]),
            "case {i}: {name}"
        );
        assert_eq!(
            canonical::http_api_path(s(&c["path"])).as_deref(),
            c["http_api_path"].as_str(),
            "case {i}: {name}"
        );
    }
}

/// Percent-decode a canonical path into what an HTTP API puts in `rawPath`.
fn decoded(canonical_path: &str) -> String {
    let bytes = canonical_path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&canonical_path[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn profile_signatures_match_an_independent_implementation() {
    let v = load("signatures.json");
    let key = SigningKey::from_base64(s(&v["key_base64"])).unwrap();
    let keyid = KeyId::new(s(&v["keyid"])).unwrap();
    let created = UnixTime::from_secs(v["created"].as_u64().unwrap());
    let signer = Signer::new("edgeseal", keyid.clone(), key.clone()).unwrap();
    let mut keys = KeySet::new();
    keys.insert_current(keyid, key);
    let verifier = Verifier::default();

    for (i, c) in v["cases"].as_array().unwrap().iter().enumerate() {
        let name = s(&c["name"]);
        // The edge's view: origin path + uri, raw query.
        let path = canonical::origin_path(s(&c["origin_path"]), s(&c["uri"]));
        let edge = RequestView::new(s(&c["method"]), s(&c["host"]), &path, s(&c["raw_query"]));
        let fields = signer.sign_at(created, &edge).unwrap();
        assert_eq!(
            fields.signature_input(),
            s(&c["signature_input"]),
            "case {i}: {name}"
        );
        assert_eq!(fields.signature(), s(&c["signature"]), "case {i}: {name}");

        // An HTTP API authorizer's view (raw query) and a REST one's (decoded pairs).
        let http = RequestView::new(s(&c["method"]), s(&c["host"]), &path, s(&c["raw_query"]));
        let rest = RequestView::from_query_pairs(
            s(&c["method"]),
            s(&c["host"]),
            &path,
            pairs(&c["query_pairs"]),
        );
        for view in [http, rest] {
            let arriving = view
                .with_header("Signature-Input", s(&c["signature_input"]))
                .with_header("Signature", s(&c["signature"]));
            let ok = verifier.verify_at(created.plus_secs(1), &arriving, &keys);
            assert!(ok.is_ok(), "case {i}: {name}: {ok:?}");
        }

        // An HTTP API's view: the path as it delivers it, decoded.
        let delivered = c["http_api_path"].as_str().unwrap_or(&path);
        let http_api = RequestView::new(s(&c["method"]), s(&c["host"]), "", s(&c["raw_query"]))
            .with_decoded_path(&decoded(delivered))
            .with_header("Signature-Input", s(&c["signature_input"]))
            .with_header("Signature", s(&c["signature"]));
        let result = verifier.verify_at(created.plus_secs(1), &http_api, &keys);
        if c["http_api_path"].is_string() {
            assert_eq!(
                result.unwrap_err(),
                Rejection::PathNotRepresentable,
                "case {i}: {name}"
            );
        } else {
            assert!(result.is_ok(), "case {i}: {name}: {result:?}");
        }
    }
}

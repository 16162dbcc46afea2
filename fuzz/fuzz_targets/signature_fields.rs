//! `Signature-Input` and `Signature` as a viewer or an attacker may send them, through
//! the verifier (both halves), against the reference parser (`sfv`), and through the
//! edge's member removal.
//! Input: `signature-input \n signature \n path \n query` (UTF-8).
#![no_main]

use edgeseal::differential::compare;
use edgeseal::{DEFAULT_LABEL, FieldLimits, RequestView, Verifier, remove_member};
use edgeseal_fuzz::{NOW, keys, pieces};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some([input, signature, path, query]) = pieces::<4>(data) else {
        return;
    };
    let request = RequestView::new("GET", "api.example.com", path, query)
        .with_header("signature-input", input)
        .with_header("signature", signature);
    // `verify_at` (the signer-shaped path where the fields are the signer's own, the
    // general path otherwise), the two halves and `verify_naming_at` reach the same
    // verdict, with the same reason and result.
    let verifier = Verifier::default();
    let whole = verifier.verify_at(NOW, &request, keys());
    let halves = verifier
        .parse(&request)
        .and_then(|candidate| verifier.verify_candidate_at(NOW, &request, &candidate, keys()));
    assert_eq!(whole, halves, "the two halves disagree with verify_at");
    let naming = verifier.verify_naming_at(NOW, &request, keys());
    assert_eq!(
        naming.map_err(|(rejection, _)| rejection),
        whole,
        "verify_naming_at disagrees with verify_at"
    );
    // The verifier's own parser and the reference agree: accept or reject alike, with
    // the same rejection, and the same values (default settings, any tag, tight limits).
    let tight = FieldLimits {
        max_field_bytes: 160,
        max_members: 2,
        max_components: 4,
        max_params: 4,
    };
    for verifier in [
        verifier.clone(),
        verifier.clone().with_tag(None).unwrap(),
        verifier.with_limits(tight),
    ] {
        if let Err(disagreement) = compare(&verifier, &request) {
            panic!("parsers disagree: {disagreement}");
        }
    }
    // What the edge does to a viewer's fields: whatever is kept carries no member
    // under our label.
    for field in [input, signature] {
        if let Some(kept) = remove_member(field, DEFAULT_LABEL) {
            assert!(remove_member(&kept, DEFAULT_LABEL).as_deref() == Some(kept.as_str()));
        }
    }
});

//! Verification behaviour: round trips, every rejection reason, tampering, and the exact
//! time boundaries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashSet;

use edgeseal::{
    FieldLimits, KeyId, KeySet, Rejection, RequestView, Signer, SigningKey, Stage, UnixTime,
    Verifier, remove_member,
};

const NOW: u64 = 1_767_225_600;

fn keyid(n: u8) -> KeyId {
    KeyId::new(format!("v{n}-3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21")).unwrap()
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32]).unwrap()
}

fn request() -> RequestView {
    RequestView::new("GET", "api.example.com", "/prod/orders/42", "b=2&a=1")
}

fn keys() -> KeySet {
    let mut set = KeySet::new();
    set.insert_current(keyid(1), key(1));
    set.insert_pending(keyid(2), key(2));
    set.insert_previous(keyid(0), key(0), UnixTime::from_secs(NOW + 100));
    set
}

fn signed_with(n: u8, at: u64, base: RequestView) -> RequestView {
    let fields = Signer::new("edgeseal", keyid(n), key(n))
        .unwrap()
        .sign_at(UnixTime::from_secs(at), &base)
        .unwrap();
    base.with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature())
}

/// A request carrying exactly these two field values.
fn with_fields(input: &str, signature: &str) -> RequestView {
    request()
        .with_header("signature-input", input)
        .with_header("signature", signature)
}

fn verify(req: &RequestView) -> Result<edgeseal::Verified, Rejection> {
    Verifier::default().verify_at(UnixTime::from_secs(NOW), req, &keys())
}

/// The two field values of a valid signature over `request()` at NOW with key 1.
fn valid_fields() -> (String, String) {
    let r = signed_with(1, NOW, request());
    (
        r.header("signature-input").unwrap().into_owned(),
        r.header("signature").unwrap().into_owned(),
    )
}

#[test]
fn round_trip_reports_key_stage_and_age() {
    let verified = Verifier::default()
        .verify_at(
            UnixTime::from_secs(NOW + 7),
            &signed_with(1, NOW, request()),
            &keys(),
        )
        .unwrap();
    assert_eq!(verified.keyid(), &keyid(1));
    assert_eq!(verified.stage(), Stage::Current);
    assert_eq!(verified.age_secs(), 7);
    assert_eq!(verified.created(), UnixTime::from_secs(NOW));

    let pending = verify(&signed_with(2, NOW, request())).unwrap();
    assert_eq!(pending.stage(), Stage::Pending);
    let previous = verify(&signed_with(0, NOW, request())).unwrap();
    assert_eq!(previous.stage(), Stage::Previous);
}

#[test]
fn every_rejection_reason_is_reachable() {
    let (input, sig) = valid_fields();
    let params = input.split_once(')').unwrap().1.to_owned(); // ;created=...;keyid=...
    let components = r#"("@method" "@authority" "@path" "@query")"#;
    let m = |s: &str| format!("edgeseal={s}");
    let cases: Vec<(&str, RequestView, Rejection)> = vec![
        ("no fields", request(), Rejection::Missing),
        (
            "other label only",
            with_fields(
                &input.replace("edgeseal=", "other="),
                &sig.replace("edgeseal=", "other="),
            ),
            Rejection::Missing,
        ),
        (
            "input without signature",
            request().with_header("signature-input", &input),
            Rejection::Unpaired,
        ),
        (
            "signature without input",
            request().with_header("signature", &sig),
            Rejection::Unpaired,
        ),
        (
            "field too large",
            with_fields(
                &format!("{input}, {}", "x=1, ".repeat(1000).trim_end_matches(", ")),
                &sig,
            ),
            Rejection::FieldTooLarge,
        ),
        (
            "too many members",
            with_fields(
                &format!("{input}, a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8"),
                &sig,
            ),
            Rejection::TooManyMembers,
        ),
        (
            "not a dictionary",
            with_fields("edgeseal=(", &sig),
            Rejection::Malformed,
        ),
        (
            "input member is an item",
            with_fields("edgeseal=1", &sig),
            Rejection::Malformed,
        ),
        (
            "signature member is a string",
            with_fields(&input, r#"edgeseal="abc""#),
            Rejection::Malformed,
        ),
        (
            "duplicate label",
            with_fields(&format!("{input}, {input}"), &sig),
            Rejection::DuplicateMember,
        ),
        (
            "duplicate parameter",
            with_fields(&format!("{input};created=1"), &sig),
            Rejection::DuplicateMember,
        ),
        (
            "duplicate component",
            with_fields(
                &m(&format!(
                    r#"("@method" "@method" "@authority" "@path" "@query"){params}"#
                )),
                &sig,
            ),
            Rejection::DuplicateMember,
        ),
        (
            "wrong alg",
            with_fields(&input.replace("hmac-sha256", "rsa-pss-sha512"), &sig),
            Rejection::WrongAlgorithm,
        ),
        (
            "wrong tag",
            with_fields(&input.replace(r#"tag="edgeseal""#, r#"tag="other""#), &sig),
            Rejection::WrongTag,
        ),
        (
            "no created",
            with_fields(
                &m(&format!(
                    r#"{components};keyid="{}";tag="edgeseal""#,
                    keyid(1)
                )),
                &sig,
            ),
            Rejection::MissingParameter,
        ),
        (
            "missing component",
            with_fields(
                &m(&format!(r#"("@method" "@authority" "@path"){params}"#)),
                &sig,
            ),
            Rejection::MissingComponent,
        ),
        (
            "unsupported derived component",
            with_fields(
                &m(&format!(
                    r#"("@method" "@authority" "@path" "@query" "@target-uri"){params}"#
                )),
                &sig,
            ),
            Rejection::UnsupportedComponent,
        ),
        (
            "component parameter",
            with_fields(
                &m(&format!(
                    r#"("@method" "@authority" "@path" "@query" "x-a";sf){params}"#
                )),
                &sig,
            ),
            Rejection::UnsupportedComponent,
        ),
        (
            "covered header absent",
            with_fields(
                &m(&format!(
                    r#"("@method" "@authority" "@path" "@query" "x-absent"){params}"#
                )),
                &sig,
            ),
            Rejection::ComponentUnavailable,
        ),
        (
            "from the future",
            signed_with(1, NOW + 11, request()),
            Rejection::FromFuture,
        ),
        (
            "too old",
            signed_with(1, NOW - 301, request()),
            Rejection::TooOld,
        ),
        (
            "expired",
            with_fields(&format!("{input};expires={}", NOW - 1), &sig),
            Rejection::Expired,
        ),
        (
            "unknown key",
            signed_with(9, NOW, request()),
            Rejection::UnknownKey,
        ),
        (
            "bad signature",
            with_fields(&input, &sig.replace(&sig[10..14], "AAAA")),
            Rejection::BadSignature,
        ),
    ];
    let mut reached = HashSet::new();
    for (name, req, expected) in cases {
        assert_eq!(verify(&req).unwrap_err(), expected, "{name}");
        reached.insert(expected);
    }
    // The two reasons that depend on the key set rather than the request.
    let retired = Verifier::default().verify_at(
        UnixTime::from_secs(NOW + 100),
        &signed_with(0, NOW + 50, request()),
        &keys(),
    );
    assert_eq!(retired.unwrap_err(), Rejection::PreviousKeyRetired);
    reached.insert(Rejection::PreviousKeyRetired);
    let empty = Verifier::default().verify_at(
        UnixTime::from_secs(NOW),
        &signed_with(1, NOW, request()),
        &KeySet::new(),
    );
    assert_eq!(empty.unwrap_err(), Rejection::NoKeys);
    reached.insert(Rejection::NoKeys);

    // A path an HTTP API cuts at a decoded `?`: signed as sent, shown cut.
    let sent = RequestView::new("GET", "api.example.com", "/prod/what%3Fvalue", "");
    let fields = Signer::new("edgeseal", KeyId::new("v1").unwrap(), key(1))
        .unwrap()
        .sign_at(UnixTime::from_secs(NOW), &sent)
        .unwrap();
    assert!(
        fields
            .signature_input()
            .contains(r#";edgeseal-path="/prod/what%3Fvalue""#)
    );
    let cut = RequestView::new("GET", "api.example.com", "", "")
        .with_decoded_path("/prod/what")
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let mut one = KeySet::new();
    one.insert_current(KeyId::new("v1").unwrap(), key(1));
    let result = Verifier::default().verify_at(UnixTime::from_secs(NOW), &cut, &one);
    assert_eq!(result.unwrap_err(), Rejection::PathNotRepresentable);
    reached.insert(Rejection::PathNotRepresentable);
    // The same cut path under a REST API (not decoded by the gateway) is a plain mismatch,
    // and so is a forged record.
    let rest = RequestView::new("GET", "api.example.com", "/prod/what", "")
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let result = Verifier::default().verify_at(UnixTime::from_secs(NOW), &rest, &one);
    assert_eq!(result.unwrap_err(), Rejection::BadSignature);

    // Profiles: a raw signature at an apigateway origin (and back); body binding.
    let raw = RequestView::raw("GET", "api.example.com", "/prod/orders/42", "b=2&a=1");
    let raw_signed = signed_with(1, NOW, raw.clone());
    let as_apigateway = request()
        .with_header(
            "signature-input",
            &raw_signed.header("signature-input").unwrap(),
        )
        .with_header("signature", &raw_signed.header("signature").unwrap());
    assert_eq!(verify(&as_apigateway).unwrap_err(), Rejection::WrongProfile);
    reached.insert(Rejection::WrongProfile);
    let requiring = Verifier::default().with_body_required(true);
    let at = UnixTime::from_secs(NOW);
    assert_eq!(
        requiring.verify_at(at, &raw_signed, &keys()).unwrap_err(),
        Rejection::BodyNotSigned
    );
    reached.insert(Rejection::BodyNotSigned);
    let fields = Signer::new("edgeseal", keyid(1), key(1))
        .unwrap()
        .sign_body_at(at, &raw, b"{}")
        .unwrap();
    let bound = raw
        .clone()
        .with_header("content-digest", fields.content_digest().unwrap())
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let verified = requiring.verify_at(at, &bound, &keys()).unwrap();
    assert_eq!(verified.check_body(&bound, b"{}"), Ok(()));
    assert_eq!(
        verified.check_body(&bound, b"{\"x\":1}"),
        Err(Rejection::BodyDigestMismatch)
    );
    reached.insert(Rejection::BodyDigestMismatch);

    let missing: Vec<_> = Rejection::ALL
        .iter()
        .filter(|r| !reached.contains(r))
        .collect();
    assert!(missing.is_empty(), "reasons never reached: {missing:?}");
}

#[test]
fn tampering_with_any_covered_component_is_rejected() {
    let signed = signed_with(1, NOW, request());
    let input = signed.header("signature-input").unwrap().into_owned();
    let sig = signed.header("signature").unwrap().into_owned();
    let tampered = [
        (
            "method",
            RequestView::new("POST", "api.example.com", "/prod/orders/42", "b=2&a=1"),
        ),
        (
            "authority",
            RequestView::new("GET", "evil.example.com", "/prod/orders/42", "b=2&a=1"),
        ),
        (
            "port",
            RequestView::new("GET", "api.example.com:8443", "/prod/orders/42", "b=2&a=1"),
        ),
        (
            "path",
            RequestView::new("GET", "api.example.com", "/prod/orders/43", "b=2&a=1"),
        ),
        (
            "stage",
            RequestView::new("GET", "api.example.com", "/dev/orders/42", "b=2&a=1"),
        ),
        (
            "query value",
            RequestView::new("GET", "api.example.com", "/prod/orders/42", "b=3&a=1"),
        ),
        (
            "query added",
            RequestView::new(
                "GET",
                "api.example.com",
                "/prod/orders/42",
                "b=2&a=1&admin=1",
            ),
        ),
        (
            "query dropped",
            RequestView::new("GET", "api.example.com", "/prod/orders/42", "b=2"),
        ),
    ];
    for (what, view) in tampered {
        let req = view
            .with_header("signature-input", &input)
            .with_header("signature", &sig);
        assert_eq!(verify(&req).unwrap_err(), Rejection::BadSignature, "{what}");
    }
    // Parameters are covered too: a later created or another known keyid breaks the MAC.
    let later = input.replace(&format!("created={NOW}"), &format!("created={}", NOW + 1));
    assert_eq!(
        verify(&with_fields(&later, &sig)).unwrap_err(),
        Rejection::BadSignature
    );
    let other_key = input.replace(keyid(1).as_str(), keyid(2).as_str());
    assert_eq!(
        verify(&with_fields(&other_key, &sig)).unwrap_err(),
        Rejection::BadSignature
    );
    // Reordering the query is not tampering: the canonical form sorts it.
    let reordered = RequestView::new("GET", "api.example.com", "/prod/orders/42", "a=1&b=2")
        .with_header("signature-input", &input)
        .with_header("signature", &sig);
    assert!(verify(&reordered).is_ok());
}

#[test]
fn every_single_byte_change_of_the_signature_is_rejected() {
    let (input, sig) = valid_fields();
    let b64 = sig.trim_start_matches("edgeseal=:").trim_end_matches(':');
    for i in 0..b64.len() - 1 {
        let mut bytes = b64.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = format!("edgeseal=:{}:", String::from_utf8(bytes).unwrap());
        assert!(verify(&with_fields(&input, &changed)).is_err(), "byte {i}");
    }
}

#[test]
fn clock_boundaries_are_exact() {
    let v = Verifier::default()
        .with_max_age_secs(300)
        .with_skew_secs(10);
    let at = |created: u64, now: u64| {
        v.verify_at(
            UnixTime::from_secs(now),
            &signed_with(1, created, request()),
            &keys(),
        )
    };
    assert!(
        at(NOW + 10, NOW).is_ok(),
        "created exactly at the skew limit"
    );
    assert_eq!(at(NOW + 11, NOW).unwrap_err(), Rejection::FromFuture);
    assert!(at(NOW - 300, NOW).is_ok(), "exactly max age old");
    assert_eq!(at(NOW - 301, NOW).unwrap_err(), Rejection::TooOld);
    let future = at(NOW + 5, NOW).unwrap();
    assert_eq!(future.age_secs(), 0);

    // expires: valid up to and including the second it names.
    let fields = Signer::new("edgeseal", keyid(1), key(1))
        .unwrap()
        .with_expires_after(30)
        .sign_at(UnixTime::from_secs(NOW), &request())
        .unwrap();
    let req = request()
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    assert!(
        Verifier::default()
            .verify_at(UnixTime::from_secs(NOW + 30), &req, &keys())
            .is_ok()
    );
    assert_eq!(
        Verifier::default()
            .verify_at(UnixTime::from_secs(NOW + 31), &req, &keys())
            .unwrap_err(),
        Rejection::Expired
    );

    // previous key: accepted strictly before its retirement instant.
    let old = signed_with(0, NOW + 90, request());
    assert!(
        Verifier::default()
            .verify_at(UnixTime::from_secs(NOW + 99), &old, &keys())
            .is_ok()
    );
    assert_eq!(
        Verifier::default()
            .verify_at(UnixTime::from_secs(NOW + 100), &old, &keys())
            .unwrap_err(),
        Rejection::PreviousKeyRetired
    );
}

#[test]
fn foreign_labels_survive_and_a_viewer_cannot_presign() {
    let foreign_input = r#"other=("@method");created=1;keyid="x""#;
    let foreign_sig = "other=:AAAA:";
    let spoofed_input = format!(r#"edgeseal=("@method");created={NOW};keyid="{}""#, keyid(1));
    let viewer_input = format!("{foreign_input}, {spoofed_input}");
    let viewer_sig = format!("edgeseal=:AAAA:, {foreign_sig}");

    let fields = Signer::new("edgeseal", keyid(1), key(1))
        .unwrap()
        .sign_at(UnixTime::from_secs(NOW), &request())
        .unwrap();
    let (input, sig) = fields.merge_into("edgeseal", Some(&viewer_input), Some(&viewer_sig));
    assert_eq!(
        input,
        format!("{foreign_input}, {}", fields.signature_input())
    );
    assert_eq!(sig, format!("{foreign_sig}, {}", fields.signature()));
    assert!(verify(&with_fields(&input, &sig)).is_ok());

    // Unparseable viewer fields are dropped, not forwarded beside ours.
    let (input, _) = fields.merge_into("edgeseal", Some("((("), None);
    assert_eq!(input, fields.signature_input());
    assert_eq!(
        remove_member("edgeseal=:AAAA:, edgeseal=:BBBB:", "edgeseal"),
        None
    );
}

#[test]
fn a_configured_label_and_tag_are_honoured() {
    let fields = Signer::new("cdn", keyid(1), key(1))
        .unwrap()
        .with_tag(Some("shop-prod"))
        .unwrap()
        .sign_at(UnixTime::from_secs(NOW), &request())
        .unwrap();
    let req = request()
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let now = UnixTime::from_secs(NOW);
    assert_eq!(
        Verifier::default()
            .verify_at(now, &req, &keys())
            .unwrap_err(),
        Rejection::Missing
    );
    let cdn = Verifier::new("cdn").unwrap();
    assert_eq!(
        cdn.verify_at(now, &req, &keys()).unwrap_err(),
        Rejection::WrongTag
    );
    assert!(
        cdn.with_tag(Some("shop-prod"))
            .unwrap()
            .verify_at(now, &req, &keys())
            .is_ok()
    );
    assert!(Verifier::new("Not A Key").is_err());
    assert!(Signer::new("", keyid(1), key(1)).is_err());
}

#[test]
fn limits_are_configurable() {
    let (input, sig) = valid_fields();
    let tight = Verifier::default().with_limits(FieldLimits {
        max_field_bytes: 64,
        ..FieldLimits::default()
    });
    assert_eq!(
        tight
            .verify_at(
                UnixTime::from_secs(NOW),
                &with_fields(&input, &sig),
                &keys()
            )
            .unwrap_err(),
        Rejection::FieldTooLarge
    );
    let few = Verifier::default().with_limits(FieldLimits {
        max_components: 3,
        ..FieldLimits::default()
    });
    assert_eq!(
        few.verify_at(
            UnixTime::from_secs(NOW),
            &with_fields(&input, &sig),
            &keys()
        )
        .unwrap_err(),
        Rejection::TooManyMembers
    );
}

/// Audit: every comparison of MAC or secret bytes in the library goes through `subtle`.
/// The test reads the sources; it fails if a comparison site loses its `ct_eq`, or if a
/// non-constant-time comparison helper appears.
#[test]
fn mac_and_secret_comparisons_are_constant_time() {
    let src = |f: &str| {
        std::fs::read_to_string(format!("{}/src/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    assert!(src("verify/mod.rs").contains("expected.matches(&claim.signature)"));
    assert!(src("verify/signer_shaped.rs").contains("expected.matches(&presented)"));
    let key_rs = src("key.rs");
    assert!(
        key_rs.contains("self.0.as_slice().ct_eq(presented.as_slice())"),
        "Tag::matches"
    );
    assert_eq!(
        key_rs.matches(".ct_eq(").count(),
        3,
        "Tag::matches, SigningKey::eq and StaticHeaderValue::matches"
    );
    for f in [
        "verify/mod.rs",
        "verify/signer_shaped.rs",
        "verify/candidate.rs",
        "verify/verified.rs",
        "key.rs",
        "sign.rs",
        "secret.rs",
        "keyset.rs",
    ] {
        let text = src(f);
        for forbidden in [
            "verify_slice",
            "== candidate.signature",
            "expose() ==",
            "== self.expose()",
            ".bytes ==",
            "bytes.as_slice() ==",
            "as_bytes() ==",
        ] {
            assert!(!text.contains(forbidden), "{f} contains `{forbidden}`");
        }
    }
}

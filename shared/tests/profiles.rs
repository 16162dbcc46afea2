//! Signing profiles: `raw` covers the path and query byte for byte (RFC 9421 §2.2.6 /
//! §2.2.7), `apigateway` the canonical form; the tag states which, and a verifier
//! refuses the other; body binding through `Content-Digest`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use edgeseal::{
    KeyId, KeySet, Profile, Rejection, RequestView, SignError, Signer, SigningKey, UnixTime,
    Verifier,
};

const NOW: u64 = 1_767_225_600;

fn keys() -> KeySet {
    let mut set = KeySet::new();
    set.insert_current(
        KeyId::new("k1").unwrap(),
        SigningKey::from_bytes(&[1; 64]).unwrap(),
    );
    set
}

fn signer() -> Signer {
    Signer::new(
        "edgeseal",
        KeyId::new("k1").unwrap(),
        SigningKey::from_bytes(&[1; 64]).unwrap(),
    )
    .unwrap()
}

fn signed(view: RequestView) -> RequestView {
    let fields = signer().sign_at(UnixTime::from_secs(NOW), &view).unwrap();
    view.with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature())
}

fn verify(view: &RequestView) -> Result<edgeseal::Verified, Rejection> {
    Verifier::default().verify_at(UnixTime::from_secs(NOW), view, &keys())
}

#[test]
fn raw_signatures_state_their_profile_in_the_tag() {
    let view = signed(RequestView::raw("GET", "o.example.com", "/a", "x=1"));
    let input = view.header("signature-input").unwrap().into_owned();
    assert!(input.contains(r#";tag="edgeseal-raw""#), "{input}");
    assert!(!input.contains("edgeseal-path"), "{input}");
    let api = signed(RequestView::new("GET", "o.example.com", "/a", "x=1"));
    let input = api.header("signature-input").unwrap().into_owned();
    assert!(input.ends_with(r#";tag="edgeseal""#), "{input}");
}

#[test]
fn raw_signature_base_is_rfc_9421_over_the_bytes_as_sent() {
    let view = RequestView::raw(
        "POST",
        "Origin.Example.com:443",
        "/a%2fb/caf%c3%a9",
        "b=2&a=1+1&a=%7E",
    );
    let fields = signer().sign_at(UnixTime::from_secs(NOW), &view).unwrap();
    let arriving = view
        .clone()
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let candidate = Verifier::default().parse(&arriving).unwrap();
    assert_eq!(candidate.profile(), Some(Profile::Raw));
    let base = candidate.signature_base(&arriving).unwrap();
    let params = fields.signature_input().strip_prefix("edgeseal=").unwrap();
    assert_eq!(
        base.as_str(),
        format!(
            "\"@method\": POST\n\"@authority\": origin.example.com\n\"@path\": /a%2fb/caf%c3%a9\n\"@query\": ?b=2&a=1+1&a=%7E\n\"@signature-params\": {params}"
        )
    );
    assert!(verify(&arriving).is_ok());
    // An empty path is `/`, an empty query `?` (RFC 9421 §2.2.6, §2.2.7).
    let empty = RequestView::raw("GET", "o", "", "");
    assert_eq!((empty.path(), empty.query()), ("/", "?"));
}

#[test]
fn in_raw_every_re_spelling_is_another_request() {
    // Each of these is the same request to the canonical form (apigateway), and a
    // different one byte for byte (raw).
    let pairs = [
        ("/a%2Fb", "", "/a/b", ""),
        ("/caf%C3%A9", "", "/caf%c3%a9", ""),
        ("/%7Ejohn", "", "/~john", ""),
        ("/s", "b=2&a=1", "/s", "a=1&b=2"),
        ("/s", "q=a+b", "/s", "q=a%20b"),
        ("/s", "", "/s", "&"),
    ];
    for (sent_path, sent_query, other_path, other_query) in pairs {
        let raw = signed(RequestView::raw("GET", "o", sent_path, sent_query));
        let respelled = RequestView::raw("GET", "o", other_path, other_query)
            .with_header("signature-input", &raw.header("signature-input").unwrap())
            .with_header("signature", &raw.header("signature").unwrap());
        assert_eq!(verify(&raw).map(|_| ()), Ok(()));
        assert_eq!(
            verify(&respelled).unwrap_err(),
            Rejection::BadSignature,
            "{sent_path}?{sent_query} vs {other_path}?{other_query}"
        );
        let api = signed(RequestView::new("GET", "o", sent_path, sent_query));
        let api_respelled = RequestView::new("GET", "o", other_path, other_query)
            .with_header("signature-input", &api.header("signature-input").unwrap())
            .with_header("signature", &api.header("signature").unwrap());
        assert!(verify(&api_respelled).is_ok(), "{sent_path}?{sent_query}");
    }
}

#[test]
fn a_signature_in_one_profile_never_verifies_in_the_other() {
    let raw = signed(RequestView::raw("GET", "o", "/a", ""));
    let api = signed(RequestView::new("GET", "o", "/a", ""));
    let swap = |from: &RequestView, to: RequestView| {
        to.with_header("signature-input", &from.header("signature-input").unwrap())
            .with_header("signature", &from.header("signature").unwrap())
    };
    assert_eq!(
        verify(&swap(&raw, RequestView::new("GET", "o", "/a", ""))).unwrap_err(),
        Rejection::WrongProfile
    );
    assert_eq!(
        verify(&swap(&api, RequestView::raw("GET", "o", "/a", ""))).unwrap_err(),
        Rejection::WrongProfile
    );
    // A custom application tag carries the profile the same way.
    let custom = signer().with_tag(Some("shop")).unwrap();
    let view = RequestView::raw("GET", "o", "/a", "");
    let fields = custom.sign_at(UnixTime::from_secs(NOW), &view).unwrap();
    assert!(fields.signature_input().contains(r#"tag="shop-raw""#));
    let arriving = view
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let shop = Verifier::default().with_tag(Some("shop")).unwrap();
    assert!(
        shop.verify_at(UnixTime::from_secs(NOW), &arriving, &keys())
            .is_ok()
    );
    assert_eq!(
        Verifier::default()
            .verify_at(UnixTime::from_secs(NOW), &arriving, &keys())
            .unwrap_err(),
        Rejection::WrongTag
    );
    // Untagged signers cannot state the raw profile.
    let untagged = signer().with_tag(None).unwrap();
    assert_eq!(
        untagged.sign_at(
            UnixTime::from_secs(NOW),
            &RequestView::raw("GET", "o", "/", "")
        ),
        Err(SignError::UntaggedProfile)
    );
}

#[test]
fn raw_values_that_would_break_the_base_are_refused() {
    for (path, query) in [("/a\nb", ""), ("/a", "x=\r"), ("/a\u{7f}", "")] {
        assert_eq!(
            signer().sign_at(
                UnixTime::from_secs(NOW),
                &RequestView::raw("GET", "o", path, query)
            ),
            Err(SignError::ComponentUnavailable),
            "{path:?} {query:?}"
        );
    }
}

#[test]
fn body_binding_covers_content_digest_and_checks_the_body() {
    let view = RequestView::raw("POST", "o", "/orders", "")
        .with_header("content-digest", "sha-256=:AAAA:");
    let fields = signer()
        .sign_body_at(UnixTime::from_secs(NOW), &view, b"{\"n\":1}")
        .unwrap();
    assert!(
        fields
            .signature_input()
            .starts_with(r#"edgeseal=("@method" "@authority" "@path" "@query" "content-digest")"#)
    );
    let digest = fields.content_digest().unwrap();
    assert_eq!(digest, edgeseal::content_digest(b"{\"n\":1}"));
    let mut arriving = view.clone();
    // The edge replaces whatever Content-Digest the viewer sent.
    arriving.remove_header("content-digest");
    let arriving = arriving
        .with_header("content-digest", digest)
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature());
    let verified = verify(&arriving).unwrap();
    assert!(verified.covers_content_digest());
    assert_eq!(verified.check_body(&arriving, b"{\"n\":1}"), Ok(()));
    assert_eq!(
        verified.check_body(&arriving, b"{\"n\":2}"),
        Err(Rejection::BodyDigestMismatch)
    );
    // A digest swapped in transit breaks the signature itself.
    let mut swapped = arriving.clone();
    swapped.remove_header("content-digest");
    let swapped = swapped.with_header("content-digest", &edgeseal::content_digest(b"{\"n\":2}"));
    assert_eq!(verify(&swapped).unwrap_err(), Rejection::BadSignature);
    // Body binding needs the raw profile.
    assert_eq!(
        signer().sign_body_at(
            UnixTime::from_secs(NOW),
            &RequestView::new("POST", "o", "/", ""),
            b""
        ),
        Err(SignError::BodyNeedsRawProfile)
    );
    // Unrequired, a signature without the body still verifies and has nothing to check.
    let plain = signed(RequestView::raw("POST", "o", "/orders", ""));
    let verified = verify(&plain).unwrap();
    assert!(!verified.covers_content_digest());
    assert_eq!(verified.check_body(&plain, b"anything"), Ok(()));
}

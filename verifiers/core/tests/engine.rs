//! The engine as a host drives it, and its lines against the authorizer's own writers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edgeseal::{KeyId, RequestView, Signer, SigningKey, UnixTime, edgeseal_secret_json};
use edgeseal_testkit::SharedBuffer;
use edgeseal_verifier_core::lines::{Level, Verdict, metric_line};
use edgeseal_verifier_core::{Check, Engine, ListedVersion, Settings};
use origin_verifier::{Metrics, MetricsSink, Verdict as AuthorizerVerdict, logging};
use serde_json::Value;
use zeroize::Zeroizing;

const T0: u64 = 1_700_000_000;

fn engine(extra: &[(&str, &str)]) -> Engine {
    let settings = Settings::from_lookup(|name| {
        if name == "SECRET_ID" {
            return Some("s".to_owned());
        }
        extra
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    Engine::new(settings).unwrap()
}

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32]).unwrap()
}

fn listed(id: &str, stage: &str) -> ListedVersion {
    ListedVersion {
        version_id: id.to_owned(),
        stages: vec![stage.to_owned()],
        created: Some(UnixTime::from_secs(T0)),
    }
}

fn value(byte: u8) -> Option<Zeroizing<String>> {
    Some(edgeseal_secret_json(&key(byte)))
}

fn signed(keyid: &str, byte: u8, at: u64) -> RequestView {
    let request = RequestView::raw("GET", "app.example.com", "/orders", "a=1");
    let signer = Signer::new("edgeseal", KeyId::new(keyid).unwrap(), key(byte)).unwrap();
    let fields = signer.sign_at(UnixTime::from_secs(at), &request).unwrap();
    request
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature())
}

fn ms(secs: u64) -> u64 {
    secs * 1000
}

/// The outcome of a check that must be decided.
fn done(check: Check) -> edgeseal_verifier_core::Outcome {
    match check {
        Check::Done(outcome) => outcome,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

#[test]
fn an_unknown_key_refreshes_once_then_is_rate_limited() {
    let mut e = engine(&[]);
    assert!(e.refresh_due(ms(T0)));
    e.apply_refresh(
        ms(T0),
        vec![listed("v1", "AWSCURRENT")],
        None,
        vec![("v1".into(), value(1))],
    );
    assert!(!e.refresh_due(ms(T0 + 1)));

    let Check::Done(ok) = e.check(ms(T0 + 1), &signed("v1", 1, T0), "r1") else {
        panic!("a held key needs no refresh");
    };
    assert!(ok.allowed);
    assert_eq!(ok.reason, "signature_current");

    // The rotator staged v2 and the edge already signs with it.
    let Check::RefreshFirst { keyid, .. } = e.check(ms(T0 + 2), &signed("v2", 2, T0 + 2), "r2")
    else {
        panic!("an unknown key asks for a refresh");
    };
    assert_eq!(keyid.as_str(), "v2");
    let listing = vec![listed("v1", "AWSCURRENT"), listed("v2", "AWSPENDING")];
    assert_eq!(e.values_needed(&listing), ["v2"]);
    e.apply_refresh(ms(T0 + 2), listing, None, vec![("v2".into(), value(2))]);
    let pending = done(e.recheck(ms(T0 + 2), &signed("v2", 2, T0 + 2), "r2"));
    assert_eq!(pending.reason, "signature_pending");

    // Forged key ids cannot drive Secrets Manager traffic: one refresh per interval.
    let Check::RefreshFirst { .. } = e.check(ms(T0 + 12), &signed("v9", 9, T0 + 12), "r3") else {
        panic!("10 s later, one more refresh");
    };
    let denied = done(e.recheck(ms(T0 + 12), &signed("v9", 9, T0 + 12), "r3"));
    assert_eq!(denied.reason, "unknown_key");
    let Check::Done(limited) = e.check(ms(T0 + 13), &signed("v8", 9, T0 + 13), "r4") else {
        panic!("rate-limited: decided without a refresh");
    };
    assert!(!limited.allowed);
    assert_eq!(limited.reason, "unknown_key");
}

#[test]
fn nothing_loaded_denies_no_keys_and_attacks_are_denied_with_their_codes() {
    let mut e = engine(&[]);
    let request = signed("v1", 1, T0);
    let Check::RefreshFirst { .. } = e.check(ms(T0), &request, "r") else {
        panic!("cold: refresh first");
    };
    e.refresh_failed(ms(T0), "ListSecretVersionIds", "timeout");
    assert_eq!(done(e.recheck(ms(T0), &request, "r")).reason, "no_keys");

    e.apply_refresh(
        ms(T0),
        vec![listed("v1", "AWSCURRENT")],
        None,
        vec![("v1".into(), value(1))],
    );
    let decide = |e: &mut Engine, view: &RequestView, at: u64| match e.check(ms(at), view, "r") {
        Check::Done(o) => o.reason,
        Check::RefreshFirst { .. } => "refresh",
        Check::ReadBody => "read body",
    };
    let unsigned = RequestView::raw("GET", "app.example.com", "/orders", "a=1");
    assert_eq!(decide(&mut e, &unsigned, T0), "missing");
    assert_eq!(decide(&mut e, &signed("v1", 7, T0), T0), "bad_signature");
    let tampered = {
        let good = signed("v1", 1, T0);
        let mut view = RequestView::raw("GET", "app.example.com", "/orders", "a=2");
        for name in ["signature-input", "signature"] {
            view.push_header(name, &good.header(name).unwrap());
        }
        view
    };
    assert_eq!(decide(&mut e, &tampered, T0), "bad_signature");
    assert_eq!(decide(&mut e, &signed("v1", 1, T0), T0 + 301), "too_old");
    // An apigateway signature at this (raw) origin: the edge and the origin disagree.
    let apigateway = {
        let request = RequestView::new("GET", "app.example.com", "/orders", "a=1");
        let signer = Signer::new("edgeseal", KeyId::new("v1").unwrap(), key(1)).unwrap();
        let fields = signer.sign_at(UnixTime::from_secs(T0), &request).unwrap();
        RequestView::raw("GET", "app.example.com", "/orders", "a=1")
            .with_header("signature-input", fields.signature_input())
            .with_header("signature", fields.signature())
    };
    assert_eq!(decide(&mut e, &apigateway, T0), "wrong_profile");
}

#[test]
fn the_metric_line_is_the_authorizers_byte_for_byte() {
    for (verdict, theirs, reason) in [
        (
            Verdict::Allow,
            AuthorizerVerdict::Allow,
            "signature_current",
        ),
        (Verdict::Deny, AuthorizerVerdict::Deny, "bad_signature"),
    ] {
        for (namespace, request_id) in [("edgeseal", "abc-123"), ("ns\"x", "id\"\n\\")] {
            let authorizer = Metrics::new(namespace, MetricsSink::Discard);
            assert_eq!(
                metric_line(namespace, T0, verdict, reason, request_id),
                authorizer.line(UnixTime::from_secs(T0), theirs, reason, request_id)
            );
        }
    }
}

/// The authorizer's deny line, written by its own subscriber from the call its handler
/// makes (origin-verifier/src/handler.rs), as text.
fn authorizer_deny_line() -> String {
    let buffer = SharedBuffer::default();
    let writer = buffer.clone();
    let filter = logging::filter(|_| None);
    tracing::subscriber::with_default(logging::subscriber(filter, move || writer.clone()), || {
        tracing::warn!(
            request_id = "r1",
            reason = "bad_signature",
            keyid = Some("v1"),
            "deny"
        );
    });
    buffer.take().trim().to_owned()
}

/// `text` with the timestamp's value replaced.
fn without_timestamp(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    let stamp = v["timestamp"].as_str().unwrap();
    text.replace(stamp, "T")
}

#[test]
fn the_deny_log_line_is_the_authorizers_but_for_the_time() {
    let mut e = engine(&[]);
    e.apply_refresh(
        ms(T0),
        vec![listed("v1", "AWSCURRENT")],
        None,
        vec![("v1".into(), value(1))],
    );
    let Check::Done(outcome) = e.check(ms(T0) + 250, &signed("v1", 7, T0), "r1") else {
        panic!("decided");
    };
    let ours = &outcome.logs.last().unwrap().text;
    let theirs = authorizer_deny_line();
    assert_eq!(without_timestamp(ours), without_timestamp(&theirs));
    let their_stamp: Value = serde_json::from_str(&theirs).unwrap();
    let their_stamp = their_stamp["timestamp"].as_str().unwrap().to_owned();
    let v: Value = serde_json::from_str(ours).unwrap();
    let stamp = v["timestamp"].as_str().unwrap();
    assert_eq!(stamp, "2023-11-14T22:13:20.250000Z");
    assert_eq!(stamp.len(), their_stamp.len(), "{their_stamp}");
    assert_eq!(outcome.logs.last().unwrap().level, Level::Warn);
}

#[test]
fn past_the_stale_limit_the_keys_are_dropped_and_that_is_logged_once() {
    let mut e = engine(&[("CACHE_TTL_SECS", "1"), ("MAX_STALE_SECS", "4")]);
    e.apply_refresh(
        ms(T0),
        vec![listed("v1", "AWSCURRENT")],
        None,
        vec![("v1".into(), value(1))],
    );
    e.refresh_failed(ms(T0 + 1), "ListSecretVersionIds", "dispatch failure");
    let Check::Done(stale) = e.check(ms(T0 + 4), &signed("v1", 1, T0 + 4), "r") else {
        panic!("decided");
    };
    assert!(
        stale.allowed,
        "within TTL + MAX_STALE_SECS the cached key serves"
    );
    let first = e.check(ms(T0 + 5), &signed("v1", 1, T0 + 5), "r");
    let Check::RefreshFirst { logs, .. } = first else {
        panic!("dropped keys: an unknown key, refresh first");
    };
    assert!(logs[0].text.contains("keys_expired"), "{}", logs[0].text);
    e.refresh_failed(ms(T0 + 5), "ListSecretVersionIds", "dispatch failure");
    let denied = done(e.recheck(ms(T0 + 5), &signed("v1", 1, T0 + 5), "r"));
    assert_eq!(denied.reason, "no_keys");
    assert!(!denied.logs.iter().any(|l| l.text.contains("keys_expired")));
}

/// A request signed with its body bound (`Content-Digest` covered), as the edge signs a
/// raw-profile request whose behavior includes the body.
fn signed_with_body(keyid: &str, byte: u8, at: u64, body: &[u8]) -> RequestView {
    let request = RequestView::raw("POST", "app.example.com", "/orders", "a=1");
    let signer = Signer::new("edgeseal", KeyId::new(keyid).unwrap(), key(byte)).unwrap();
    let fields = signer
        .sign_body_at(UnixTime::from_secs(at), &request, body)
        .unwrap();
    let digest = fields.content_digest().unwrap().to_owned();
    request
        .with_header("signature-input", fields.signature_input())
        .with_header("signature", fields.signature())
        .with_header("content-digest", &digest)
}

fn loaded(extra: &[(&str, &str)]) -> Engine {
    let mut e = engine(extra);
    e.apply_refresh(
        ms(T0),
        vec![listed("v1", "AWSCURRENT")],
        None,
        vec![("v1".into(), value(1))],
    );
    e
}

#[test]
fn a_signature_that_binds_the_body_is_decided_by_the_body() {
    let mut e = loaded(&[("MAX_BODY_BYTES", "16")]);
    assert_eq!(e.max_body_bytes(), 16);
    let body = br#"{"order":42}"#;
    let view = signed_with_body("v1", 1, T0, body);
    // Valid signature, body not seen yet: nothing decided, nothing logged or counted.
    assert_eq!(e.check(ms(T0), &view, "r"), Check::ReadBody);
    let ok = e.check_body(ms(T0), &view, "r", Some(body));
    assert_eq!((ok.allowed, ok.reason), (true, "signature_current"));
    assert!(ok.metric.contains(r#""Reason":"signature_current""#));
    // Replayed with another body, over the limit, or unreadable: body_digest_mismatch,
    // logged and counted as every deny.
    for other in [Some(&br#"{"order":43}"#[..]), Some(&[b' '; 17][..]), None] {
        let denied = e.check_body(ms(T0), &view, "r", other);
        assert_eq!(
            (denied.allowed, denied.reason),
            (false, "body_digest_mismatch")
        );
        assert!(denied.metric.contains(r#""Reason":"body_digest_mismatch""#));
        assert!(
            denied
                .logs
                .last()
                .unwrap()
                .text
                .contains("body_digest_mismatch")
        );
    }
    // The signature still decides first: a bad one never asks for the body.
    let forged = signed_with_body("v1", 7, T0, body);
    assert_eq!(done(e.check(ms(T0), &forged, "r")).reason, "bad_signature");
    assert_eq!(
        e.check_body(ms(T0), &forged, "r", Some(body)).reason,
        "bad_signature"
    );
    // A signature without the digest needs no body, whatever is passed.
    let plain = signed("v1", 1, T0);
    assert!(done(e.check(ms(T0), &plain, "r")).allowed);
    assert!(e.check_body(ms(T0), &plain, "r", None).allowed);
}

#[test]
fn require_content_digest_denies_signatures_without_it() {
    let mut e = loaded(&[("REQUIRE_CONTENT_DIGEST", "true")]);
    let plain = done(e.check(ms(T0), &signed("v1", 1, T0), "r"));
    assert_eq!((plain.allowed, plain.reason), (false, "body_not_signed"));
    let body = b"x";
    let bound = signed_with_body("v1", 1, T0, body);
    assert_eq!(e.check(ms(T0), &bound, "r"), Check::ReadBody);
    assert!(e.check_body(ms(T0), &bound, "r", Some(body)).allowed);
}

#[test]
fn a_refresh_first_then_the_body() {
    let mut e = engine(&[]);
    let body = b"payload";
    let view = signed_with_body("v1", 1, T0, body);
    let Check::RefreshFirst { .. } = e.check(ms(T0), &view, "r") else {
        panic!("cold: refresh first");
    };
    e.apply_refresh(
        ms(T0),
        vec![listed("v1", "AWSCURRENT")],
        None,
        vec![("v1".into(), value(1))],
    );
    assert_eq!(e.recheck(ms(T0), &view, "r"), Check::ReadBody);
    assert!(e.check_body(ms(T0), &view, "r", Some(body)).allowed);
}

//! The fast paths for the signer's own serialization against the general parser and
//! the reference: on real signer output over many requests, key ids, times, tags and
//! labels, and on every one-byte edit of real fields. [`compare`] checks, for each
//! field the fields' fast path (`fields/fast.rs`) reads, that the general parser reads
//! the same member, and that the whole parse agrees with the reference (`sfv`);
//! [`verdicts_agree`] that the signer-shaped verify path (`verify/signer_shaped.rs`)
//! answers only as the general path does, under key sets and clocks that reach every
//! rejection of the key phase.

use proptest::prelude::*;

use super::{Agreement, compare};
use crate::error::Rejection;
use crate::fields::{self, FieldLimits};
use crate::key::{KeyId, SigningKey};
use crate::keyset::KeySet;
use crate::request::RequestView;
use crate::sign::Signer;
use crate::time::UnixTime;
use crate::verify::Verifier;

/// The verifiers each case runs under: `label` and `tag` as signed, any tag, and limits
/// tight enough that the fast path must hand over to the grammar.
fn verifiers(label: &str, tag: Option<&str>) -> Vec<Verifier> {
    let base = Verifier::new(label).unwrap_or_else(|_| unreachable!());
    let tight = FieldLimits {
        max_field_bytes: 120,
        max_members: 1,
        max_components: 4,
        max_params: 4,
    };
    vec![
        base.clone()
            .with_tag(tag)
            .unwrap_or_else(|_| unreachable!()),
        base.clone()
            .with_tag(None)
            .unwrap_or_else(|_| unreachable!()),
        base.with_tag(tag)
            .unwrap_or_else(|_| unreachable!())
            .with_limits(tight),
    ]
}

/// Every verifier agrees with the reference on `input` and `signature`; the outcome
/// under the first (the signer's own settings).
fn agree(
    request: &RequestView,
    verifiers: &[Verifier],
    input: &str,
    signature: &str,
) -> Result<Agreement, String> {
    let request = request
        .clone()
        .with_header("signature-input", input)
        .with_header("signature", signature);
    let mut first = None;
    for verifier in verifiers {
        let agreement = compare(verifier, &request).map_err(|d| d.to_string())?;
        first.get_or_insert(agreement);
    }
    first.ok_or_else(|| "no verifier".to_owned())
}

/// Whether the fast path reads both fields under `label` with default limits.
fn fast_reads(input: &str, signature: &str, label: &str) -> bool {
    let limits = FieldLimits::default();
    fields::signer_shaped_signature_input(input, label, &limits).is_some()
        && fields::signer_shaped_signature(signature, label, &limits).is_some()
}

/// The key every signature here is made with, under the ids `real_fields` use.
fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32]).unwrap_or_else(|_| unreachable!())
}

fn sign(
    request: &RequestView,
    label: &str,
    keyid: &str,
    tag: Option<&str>,
    expires_after: Option<u64>,
    created: u64,
) -> (String, String) {
    let keyid = KeyId::new(keyid).unwrap_or_else(|_| unreachable!());
    let mut signer = Signer::new(label, keyid, key())
        .unwrap_or_else(|_| unreachable!())
        .with_tag(tag)
        .unwrap_or_else(|_| unreachable!());
    if let Some(secs) = expires_after {
        signer = signer.with_expires_after(secs);
    }
    let fields = signer
        .sign_at(UnixTime::from_secs(created), request)
        .unwrap_or_else(|_| unreachable!());
    (
        fields.signature_input().to_owned(),
        fields.signature().to_owned(),
    )
}

/// Text matching `pattern`.
fn like(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern)
        .unwrap_or_else(|_| unreachable!())
        .boxed()
}

/// A request as the edge may see one: paths with escapes, including the ones that make
/// the signer record the path (`%3F`, `%25`), and queries of every shape.
fn request() -> impl Strategy<Value = RequestView> {
    (
        prop_oneof![Just("GET"), Just("POST"), Just("DELETE"), Just("PATCH")],
        like("[a-z0-9]{1,12}(\\.[a-z0-9-]{1,10}){0,3}(:[0-9]{2,5})?"),
        like("(/([a-zA-Z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}|%3F|%25|%22|%5C| ){0,8}){0,4}"),
        like("([a-z0-9%+=&]{0,6}){0,4}"),
    )
        .prop_map(|(method, host, path, query)| RequestView::new(method, &host, &path, &query))
}

/// Valid key ids: mostly UUIDs (Secrets Manager version ids), sometimes any printable
/// ASCII a key id may hold, including the structured-field delimiters.
fn keyid() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => like("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
        2 => like("[!#-\\[\\]-~]{1,40}"),
        1 => like("[!#-\\[\\]-~]{120,128}"),
    ]
}

/// `created`: now-ish, small, and the largest a structured-field integer holds.
fn created() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 1_700_000_000u64..1_900_000_000,
        1 => 0u64..1_000,
        1 => 999_999_999_990_000u64..=999_999_999_999_999,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Real signer output: the fast path reads both fields (with default limits), reads
    /// what the general parser reads, and the verdict is the reference's.
    #[test]
    fn signer_output_takes_the_fast_path_and_reads_alike(
        request in request(),
        label in prop_oneof![Just("edgeseal".to_owned()), like("[a-z*][a-z0-9_.*-]{0,12}")],
        keyid in keyid(),
        tag in proptest::option::weighted(0.8, like("[!#-\\[\\]-~]{1,16}")),
        expires_after in proptest::option::weighted(0.3, 0u64..100_000),
        created in created(),
    ) {
        let expires_after = expires_after.filter(|secs| created.checked_add(*secs)
            .is_some_and(|expires| expires <= 999_999_999_999_999));
        let (input, signature) =
            sign(&request, &label, &keyid, tag.as_deref(), expires_after, created);
        prop_assert!(fast_reads(&input, &signature, &label), "{input} / {signature}");
        let verifiers = verifiers(&label, tag.as_deref());
        let outcome = agree(&request, &verifiers, &input, &signature)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(outcome, Agreement::Accepted);
        // The signer-shaped verify path accepts under the signer's settings whenever a
        // tag is required and the fields have neither `expires` nor a recorded path;
        // under the others it leaves the verdict to the general path.
        let mut keys = KeySet::new();
        keys.insert_current(KeyId::new(&keyid).unwrap_or_else(|_| unreachable!()), key());
        let signed = request
            .clone()
            .with_header("signature-input", &input)
            .with_header("signature", &signature);
        let now = UnixTime::from_secs(created);
        let plain = tag.is_some()
            && expires_after.is_none()
            && !input.contains(crate::params::SIGNED_PATH_PARAM);
        for (i, verifier) in verifiers.iter().enumerate() {
            let shaped = verifier.signer_shaped_at(now, &signed, &keys);
            prop_assert!(shaped.is_none() || plain, "{} / {}", input, signature);
            prop_assert!(i > 0 || shaped.is_some() == plain, "{} / {}", input, signature);
            prop_assert!(!matches!(shaped, Some(Err(_))));
            let verdict = verifier.verify_at(now, &signed, &keys);
            prop_assert_eq!(&verdict, &verifier.verify_general_at(now, &signed, &keys));
            prop_assert!(i > 0 || verdict.is_ok(), "{:?}", verdict);
        }
    }
}

/// Key sets that reach every outcome of the key phase for the real fields' ids: all
/// three current; `k-1` previous (retired within the clocks below) and pending;
/// `k-1` under another key (the MAC does not match); an id that is a prefix of theirs;
/// none.
fn key_sets() -> Vec<KeySet> {
    let id = |id: &str| KeyId::new(id).unwrap_or_else(|_| unreachable!());
    let other = SigningKey::from_bytes(&[8; 32]).unwrap_or_else(|_| unreachable!());
    let mut all_current = KeySet::new();
    for name in ["k-1", "k-2", "k-3"] {
        all_current.insert_current(id(name), key());
    }
    let mut staged = KeySet::new();
    staged.insert_previous(id("k-1"), key(), UnixTime::from_secs(1_767_225_650));
    staged.insert_pending(id("k-2"), key());
    staged.insert_current(id("k-3"), key());
    let mut pending = KeySet::new();
    pending.insert_pending(id("k-1"), key());
    let mut wrong_key = KeySet::new();
    wrong_key.insert_current(id("k-1"), other);
    wrong_key.insert_current(id("k-"), key());
    vec![all_current, staged, pending, wrong_key, KeySet::new()]
}

/// `verify_at` (signer-shaped path, else the general one), the general path alone,
/// `parse` + `verify_candidate_at` and `verify_naming_at` reach the same verdict,
/// reason and result for a request with these fields, under every key set and clock;
/// the signer-shaped path answers only what the general path answers. Returns how many
/// verdicts the signer-shaped path gave.
fn verdicts_agree(
    request: &RequestView,
    verifier: &Verifier,
    input: &str,
    signature: &str,
) -> Result<usize, String> {
    let request = request
        .clone()
        .with_header("signature-input", input)
        .with_header("signature", signature);
    let named = verifier.parse(&request).ok().map(|c| c.keyid().clone());
    // Around the real fields' `created` (the window's edges and the retirement above),
    // and past `created` 7; one clock is enough when there is no key phase to reach.
    let clocks: &[u64] = if named.is_some() {
        &[
            1_767_225_600,
            1_767_225_649,
            1_767_225_650,
            1_767_225_900,
            1_767_225_901,
            1_767_225_590,
            1_767_225_589,
            8,
        ]
    } else {
        &[1_767_225_600]
    };
    let mut shaped_verdicts = 0;
    for keys in &key_sets() {
        for &now in clocks {
            let now = UnixTime::from_secs(now);
            let whole = verifier.verify_at(now, &request, keys);
            let general = verifier.verify_general_at(now, &request, keys);
            let halves = verifier.parse(&request).and_then(|candidate| {
                verifier.verify_candidate_at(now, &request, &candidate, keys)
            });
            let naming = verifier.verify_naming_at(now, &request, keys);
            let expected_naming = general.clone().map_err(|r| (r, named.clone()));
            let shaped = verifier.signer_shaped_at(now, &request, keys);
            let shaped_agrees = match &shaped {
                None => true,
                Some(Ok(verified)) => general.as_ref() == Ok(verified),
                Some(Err(keyid)) => {
                    general == Err(Rejection::BadSignature) && named.as_ref() == Some(keyid)
                }
            };
            if whole != general || halves != general || naming != expected_naming || !shaped_agrees
            {
                return Err(format!(
                    "{input} / {signature} at {now:?} with {keys:?}: verify_at {whole:?}, \
                     general {general:?}, parse + verify_candidate_at {halves:?}, \
                     verify_naming_at {naming:?}, signer-shaped {shaped:?}"
                ));
            }
            shaped_verdicts += usize::from(shaped.is_some());
        }
    }
    Ok(shaped_verdicts)
}

/// Real fields: with and without `expires`, tag and the path record, in both profiles.
fn real_fields() -> Vec<(RequestView, String, String)> {
    let plain = RequestView::new("GET", "api.example.com", "/prod/orders", "b=2&a=1");
    let raw = RequestView::raw("PUT", "origin.example.com", "/a%2Fb", "x=%41");
    let recorded = RequestView::new("POST", "api.example.com:8443", "/prod/what%3Fx%2525", "");
    vec![
        {
            let (i, s) = sign(
                &plain,
                "edgeseal",
                "k-1",
                Some("edgeseal"),
                None,
                1_767_225_600,
            );
            (plain.clone(), i, s)
        },
        {
            let (i, s) = sign(
                &raw,
                "edgeseal",
                "k-1",
                Some("edgeseal"),
                None,
                1_767_225_600,
            );
            (raw, i, s)
        },
        {
            let (i, s) = sign(&plain, "edgeseal", "k-2", None, Some(60), 1_767_225_600);
            (plain, i, s)
        },
        {
            let (i, s) = sign(&recorded, "edgeseal", "k-3", Some("t"), Some(5), 7);
            (recorded, i, s)
        },
    ]
}

/// Every field one byte away from `field`: each byte deleted, each byte of `alphabet`
/// inserted at every position and substituted for every byte.
fn one_byte_edits(field: &str, alphabet: &[char]) -> Vec<String> {
    let chars: Vec<char> = field.chars().collect();
    let mut edits = Vec::new();
    for i in 0..=chars.len() {
        if i < chars.len() {
            let mut deleted = chars.clone();
            deleted.remove(i);
            edits.push(deleted.into_iter().collect());
        }
        for &c in alphabet {
            let mut inserted = chars.clone();
            inserted.insert(i, c);
            edits.push(inserted.into_iter().collect());
            if chars.get(i).is_some_and(|&old| old != c) {
                let mut substituted = chars.clone();
                if let Some(slot) = substituted.get_mut(i) {
                    *slot = c;
                }
                edits.push(substituted.into_iter().collect());
            }
        }
    }
    edits
}

/// Every one-byte deletion, insertion and substitution of real `Signature-Input` and
/// `Signature` fields (every printable ASCII character that is not a letter or digit,
/// some that are, tab, DEL, NUL and a non-ASCII letter): the fast path reads what the
/// general parser reads, the parse is the reference's, and every way to verify reaches
/// the general path's verdict ([`verdicts_agree`]).
#[test]
fn every_one_byte_edit_of_real_fields_parses_alike() {
    let mut alphabet: Vec<char> = (0x20u8..=0x7e)
        .map(char::from)
        .filter(|c| !c.is_ascii_alphanumeric())
        .collect();
    alphabet.extend([
        'a', 'k', 'z', 'A', 'Z', '0', '1', '9', '\t', '\u{7f}', '\0', 'é',
    ]);
    let (mut cases, mut fast, mut accepted, mut shaped) = (0, 0, 0, 0);
    for (request, input, signature) in real_fields() {
        let verifiers = verifiers("edgeseal", Some("edgeseal"));
        let edited_inputs = one_byte_edits(&input, &alphabet)
            .into_iter()
            .map(|edited| (edited, signature.clone()));
        let edited_signatures = one_byte_edits(&signature, &alphabet)
            .into_iter()
            .map(|edited| (input.clone(), edited));
        for (input, signature) in edited_inputs.chain(edited_signatures) {
            cases += 1;
            fast += usize::from(fast_reads(&input, &signature, "edgeseal"));
            match agree(&request, &verifiers, &input, &signature) {
                Ok(Agreement::Accepted) => accepted += 1,
                Ok(Agreement::Rejected(_)) => {}
                Err(disagreement) => panic!("{disagreement}"),
            }
            if let Some(verifier) = verifiers.first() {
                shaped += verdicts_agree(&request, verifier, &input, &signature)
                    .unwrap_or_else(|differ| panic!("{differ}"));
            }
        }
    }
    // Both sides of the fast path were exercised: edits it reads (a digit of `created`,
    // a letter of the key id, another base64 character) and edits it hands over.
    eprintln!(
        "{cases} edits, {fast} read by the fast path, {accepted} accepted, \
         {shaped} verdicts by the signer-shaped path"
    );
    assert!(cases > 40_000, "{cases} cases");
    assert!(
        fast > 1_000 && fast < cases / 2,
        "{fast} of {cases} read fast"
    );
    assert!(accepted > 0, "no edit parsed");
    assert!(
        shaped > 1_000,
        "{shaped} verdicts by the signer-shaped path"
    );
}

/// The signer's own fields, made for a `raw` view, on views they do not fit: the same
/// request in the `apigateway` profile (the tag states `raw`: `WrongProfile`, whose
/// base here is byte for byte the one signed), and views no signature base can hold (a
/// control character in the method, or in a `raw` path or query, which keep what was
/// sent: `ComponentUnavailable`). The signer-shaped path leaves each to the general
/// path rather than answer with a MAC comparison.
#[test]
fn fields_on_a_view_they_do_not_fit_are_the_general_paths_to_refuse() {
    let good = RequestView::raw("PUT", "origin.example.com", "/a", "x=1");
    let (input, signature) = sign(
        &good,
        "edgeseal",
        "k-1",
        Some("edgeseal"),
        None,
        1_767_225_600,
    );
    let verifier = Verifier::default();
    for (view, refusal) in [
        (
            RequestView::new("PUT", "origin.example.com", "/a", "x=1"),
            Rejection::WrongProfile,
        ),
        (
            RequestView::raw("PUT", "origin.example.com", "/a\u{1}", "x=1"),
            Rejection::ComponentUnavailable,
        ),
        (
            RequestView::raw("PUT", "origin.example.com", "/a", "x=\u{7f}"),
            Rejection::ComponentUnavailable,
        ),
        (
            RequestView::raw("PU\nT", "origin.example.com", "/a", "x=1"),
            Rejection::ComponentUnavailable,
        ),
    ] {
        verdicts_agree(&view, &verifier, &input, &signature).unwrap_or_else(|d| panic!("{d}"));
        let arriving = view
            .with_header("signature-input", &input)
            .with_header("signature", &signature);
        let keys = key_sets().swap_remove(0);
        let now = UnixTime::from_secs(1_767_225_600);
        assert_eq!(verifier.verify_at(now, &arriving, &keys), Err(refusal));
    }
}

/// The fast path's literal for the signer's components is what the signer writes.
#[test]
fn the_required_inner_list_is_the_signers() {
    let (input, _) = sign(
        &RequestView::new("GET", "h", "/", ""),
        "edgeseal",
        "k",
        None,
        None,
        1,
    );
    let expected = format!("edgeseal={};created=1;", crate::params::REQUIRED_INNER_LIST);
    assert!(input.starts_with(&expected), "{input}");
}

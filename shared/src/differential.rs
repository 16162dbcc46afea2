//! The verifier's own field parser against the reference (`sfv`, see
//! `fields/reference.rs`): for one request, both must accept or reject alike, with the
//! same rejection, and read the same values. For the differential tests and the
//! `signature_differential` fuzz target (feature `sfv-reference`, which no release
//! build enables).

use core::fmt;

use base64::Engine as _;

use crate::fields::{self, reference};
use crate::request::RequestView;
use crate::verify::Verifier;

/// How the two parsers differ on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement(String);

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Disagreement {}

/// What both parsers concluded, when they agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Both accepted the signature fields (same candidate).
    Accepted,
    /// Both rejected them, for this reason (its code).
    Rejected(&'static str),
}

/// Compare [`Verifier::parse`] with the reference on `request` (the candidate's every
/// value, the covered components, or the rejection), and each field on its own:
/// `Signature-Input` (our member's `@signature-params` line) and `Signature` (our
/// member's bytes). Where the fast path for the signer's own serialization reads a
/// field, it must read exactly what the general parser reads from it.
pub fn compare(verifier: &Verifier, request: &RequestView) -> Result<Agreement, Disagreement> {
    let input = request.header("signature-input");
    let signature = request.header("signature");
    let (label, limits) = (verifier.label(), verifier.limits());

    if let Some(field) = input.as_deref()
        && let Some(fast) = fields::signer_shaped_signature_input(field, label, limits)
    {
        let general = fields::parse_signature_input_general(field, label, limits);
        if general.as_ref().ok().and_then(Option::as_ref) != Some(&fast) {
            return Err(Disagreement(format!(
                "signature-input {field:?}: the fast path read {fast:?}, the general parser {general:?}"
            )));
        }
    }
    if let Some(field) = signature.as_deref()
        && let Some(fast) = fields::signer_shaped_signature(field, label, limits)
    {
        // The same text, and the same bytes as the grammar's text decodes to.
        let general = fields::parse_signature_general(field, label, limits)
            .map(|text| text.map(|t| (t, fields::PresentedSignature::from_base64(t))));
        if general != Ok(Some((fast.text, fast.presented))) {
            return Err(Disagreement(format!(
                "signature {field:?}: the fast path read {fast:?}, the general parser {general:?}"
            )));
        }
    }

    if let Some(field) = input.as_deref() {
        let ours = fields::parse_signature_input(field, label, limits)
            .map(|member| member.map(|m| m.signature_params.into_owned()));
        let theirs = reference::parse_signature_input(field, label, limits)
            .map(|member| member.map(|m| reference::serialize_member(&m)));
        if ours != theirs {
            return Err(Disagreement(format!(
                "signature-input {field:?}: ours {ours:?}, reference {theirs:?}"
            )));
        }
    }
    if let Some(field) = signature.as_deref() {
        let ours = fields::parse_signature(field, label, limits).map(|member| {
            member.map(|m| {
                base64::engine::general_purpose::STANDARD
                    .decode(m.text)
                    .unwrap_or_default()
            })
        });
        let theirs = reference::parse_signature(field, label, limits);
        if ours != theirs {
            return Err(Disagreement(format!(
                "signature {field:?}: ours {ours:?}, reference {theirs:?}"
            )));
        }
    }

    let ours = verifier.parse(request).map(|c| {
        let names: Vec<String> = c.covered_components().map(str::to_owned).collect();
        (c.into_owned(), names)
    });
    let theirs = reference::parse(
        label,
        verifier.required_tag(),
        limits,
        input.as_deref(),
        signature.as_deref(),
    )
    .map(|(c, components)| {
        let names: Vec<String> = components.iter().map(|c| c.name().to_owned()).collect();
        (c, names)
    });
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) if a == b => Ok(Agreement::Accepted),
        (Err(a), Err(b)) if a == b => Ok(Agreement::Rejected(a.code())),
        _ => Err(Disagreement(format!(
            "parse: ours {ours:?}, reference {theirs:?}"
        ))),
    }
}

#[cfg(test)]
mod signer_shaped;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::fields::FieldLimits;
    use crate::key::{KeyId, SigningKey};
    use crate::sign::Signer;
    use crate::time::UnixTime;

    const NOW: u64 = 1_767_225_600;

    fn request() -> RequestView {
        RequestView::new("GET", "api.example.com", "/prod/x", "a=1")
            .with_header("content-type", "application/json")
    }

    fn signed() -> (String, String) {
        let signer = Signer::new(
            "edgeseal",
            KeyId::new("k1").unwrap_or_else(|_| unreachable!()),
            SigningKey::from_bytes(&[1; 32]).unwrap_or_else(|_| unreachable!()),
        )
        .unwrap_or_else(|_| unreachable!());
        let fields = signer
            .with_expires_after(60)
            .sign_at(UnixTime::from_secs(NOW), &request())
            .unwrap_or_else(|_| unreachable!());
        (
            fields.signature_input().to_owned(),
            fields.signature().to_owned(),
        )
    }

    /// The default verifier, one that takes any tag, and one with tight limits.
    fn verifiers() -> [Verifier; 3] {
        let tight = FieldLimits {
            max_field_bytes: 160,
            max_members: 2,
            max_components: 4,
            max_params: 4,
        };
        [
            Verifier::default(),
            Verifier::default()
                .with_tag(None)
                .unwrap_or_else(|_| unreachable!()),
            Verifier::default().with_limits(tight),
        ]
    }

    fn agree(input: &str, signature: &str) -> Result<(), TestCaseError> {
        let request = request()
            .with_header("signature-input", input)
            .with_header("signature", signature);
        for verifier in verifiers() {
            if let Err(disagreement) = compare(&verifier, &request) {
                return Err(TestCaseError::fail(disagreement.to_string()));
            }
        }
        Ok(())
    }

    /// Text matching `pattern` (compiled once, not per case).
    fn like(pattern: &str) -> BoxedStrategy<String> {
        proptest::string::string_regex(pattern)
            .unwrap_or_else(|_| unreachable!())
            .boxed()
    }

    /// Bare items of every type, mostly valid, sometimes nearly so.
    fn bare_item() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => like("-?[0-9]{1,15}"),
            1 => like("-?[0-9]{16}"),
            3 => like("-?0?[0-9]{1,12}\\.[0-9]{1,3}"),
            1 => like("-?[0-9]{1,13}\\.[0-9]{0,4}"),
            4 => like(r#""([ !#-\[\]-~]|\\["\\]){0,10}""#),
            1 => like(r#""([ !#-\[\]-~]|\\[a-z"]){0,10}"?"#),
            3 => like("[a-zA-Z*][a-zA-Z0-9:/!#$%&'*+.^_`|~-]{0,8}"),
            2 => like(":([A-Za-z0-9+/]{4}){0,3}:"),
            3 => like(":[A-Za-z0-9+/]{0,46}={0,2}:"),
            3 => like("\\?[01]"),
            1 => like("\\?[2x]?"),
            2 => like("@-?[0-9]{1,4}(\\.[0-9])?"),
            2 => like(r#"%"([ !#$&-~]|%[0-9a-f]{2}|%[c-e][0-9a-f]%[89ab][0-9a-f]){0,6}""#),
            1 => like(r#"%"([ -~]|%[0-9a-fA-F]{0,2}){0,6}"?"#),
            2 => Just("1767225600".to_owned()),
            2 => Just("\"hmac-sha256\"".to_owned()),
            2 => Just("\"edgeseal\"".to_owned()),
            2 => Just("\"k1\"".to_owned()),
            1 => Just("\"/prod/x\"".to_owned()),
        ]
    }

    /// A parameter: mostly one edgeseal reads with a value of its type, sometimes any
    /// key with any value.
    fn parameter() -> impl Strategy<Value = String> {
        let typed = prop_oneof![
            like("created=(17672256[0-9]{2}|-1|0)"),
            like("expires=17672256[0-9]{2}"),
            like("keyid=\"(k1|k2|k\\\\1)\""),
            like("alg=\"hmac-sha(256|1)\""),
            like("tag=\"(edgeseal|other)\""),
            like("nonce=\"[a-z0-9]{1,8}\""),
            like("edgeseal-path=\"/([a-z%?]|\\\\\\\\|\\\\\"){0,6}\""),
        ];
        let key = prop_oneof![
            Just("created"),
            Just("expires"),
            Just("keyid"),
            Just("alg"),
            Just("tag"),
            Just("nonce"),
            Just("edgeseal-path"),
            Just("x"),
            Just("*y.z_0-"),
            Just("Bad"),
        ];
        let any_value = (key, proptest::option::weighted(0.85, bare_item())).prop_map(
            |(key, value)| match value {
                Some(v) => format!("{key}={v}"),
                None => key.to_owned(),
            },
        );
        let sep = prop_oneof![8 => Just(";"), 2 => Just("; "), 1 => Just(";;")];
        (sep, prop_oneof![4 => typed, 1 => any_value]).prop_map(|(sep, p)| format!("{sep}{p}"))
    }

    fn parameters() -> impl Strategy<Value = String> {
        proptest::collection::vec(parameter(), 0..7).prop_map(|p| p.concat())
    }

    /// Parameters close to what a signer writes: `created`, `keyid`, `tag` in some
    /// order, among others.
    fn signer_like_parameters() -> impl Strategy<Value = String> {
        (
            Just(vec![
                ";created=1767225600".to_owned(),
                ";keyid=\"k1\"".to_owned(),
                ";alg=\"hmac-sha256\"".to_owned(),
                ";tag=\"edgeseal\"".to_owned(),
            ])
            .prop_shuffle(),
            proptest::collection::vec(parameter(), 0..3),
            0usize..5,
        )
            .prop_map(|(mut known, extra, drop)| {
                if drop < known.len() && extra.is_empty() {
                    known.remove(drop);
                }
                known.extend(extra);
                known.concat()
            })
    }

    fn component() -> impl Strategy<Value = String> {
        prop_oneof![
            20 => prop_oneof![
                4 => Just("\"@method\""),
                4 => Just("\"@authority\""),
                4 => Just("\"@path\""),
                4 => Just("\"@query\""),
                2 => Just("\"content-type\""),
                1 => Just("\"x-absent\""),
                1 => Just("\"@status\""),
                1 => Just("\"X-Up\""),
                1 => Just("\"a\\\"b\""),
                1 => Just("\"@me\\\\x\""),
                1 => Just("\"@method\";sf"),
            ].prop_map(str::to_owned),
            1 => bare_item(),
        ]
    }

    fn inner_list() -> impl Strategy<Value = String> {
        let items = prop_oneof![
            proptest::collection::vec(component(), 0..7),
            // The four required ones in any order, perhaps with more.
            (
                Just(
                    ["@method", "@authority", "@path", "@query"]
                        .map(|c| format!("\"{c}\""))
                        .to_vec()
                )
                .prop_shuffle(),
                proptest::collection::vec(component(), 0..2),
            )
                .prop_map(|(mut required, extra)| {
                    required.extend(extra);
                    required
                }),
        ];
        let space = prop_oneof![8 => Just(""), 3 => Just(" "), 1 => Just("\t")];
        let params = prop_oneof![parameters(), signer_like_parameters()];
        (
            space.clone(),
            items,
            proptest::collection::vec(space, 8),
            params,
        )
            .prop_map(|(lead, items, spaces, params)| {
                let mut list = format!("({lead}");
                let count = items.len();
                for (i, item) in items.into_iter().enumerate() {
                    list.push_str(&item);
                    list.push_str(if i + 1 < count { " " } else { "" });
                    list.push_str(spaces.get(i).copied().unwrap_or(""));
                }
                list.push(')');
                list + &params
            })
    }

    fn member() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            3 => Just("edgeseal"),
            1 => Just("other"),
            1 => Just("sig2"),
            1 => Just("edgesealx"),
        ];
        let value = prop_oneof![
            6 => inner_list().prop_map(|l| format!("={l}")),
            2 => (bare_item(), parameters()).prop_map(|(b, p)| format!("={b}{p}")),
            1 => parameters(),
        ];
        (key, value).prop_map(|(k, v)| format!("{k}{v}"))
    }

    fn dictionary() -> impl Strategy<Value = String> {
        let sep = prop_oneof![
            8 => Just(", "),
            2 => Just(","),
            2 => Just(" ,\t"),
            1 => Just(",,"),
            1 => Just(" "),
        ];
        (
            prop_oneof![8 => Just(""), 2 => Just("  "), 1 => Just("\t")],
            proptest::collection::vec((member(), sep), 1..4),
            prop_oneof![8 => Just(""), 2 => Just(" \t "), 1 => Just(",")],
        )
            .prop_map(|(lead, members, tail)| {
                let count = members.len();
                let mut field = lead.to_owned();
                for (i, (member, sep)) in members.into_iter().enumerate() {
                    field.push_str(&member);
                    if i + 1 < count {
                        field.push_str(sep);
                    }
                }
                field + tail
            })
    }

    /// A valid pair of fields, edited at a few places with bytes the grammar cares about.
    fn edited() -> impl Strategy<Value = (String, String)> {
        let edit = (
            any::<bool>(),
            any::<prop::sample::Index>(),
            0u8..4,
            prop::sample::select(
                " \t,;=()\":?@%*-.0123456789aAzZ+/\\\u{e9}"
                    .chars()
                    .collect::<Vec<_>>(),
            ),
        );
        proptest::collection::vec(edit, 1..4).prop_map(|edits| {
            let (mut input, mut signature) = signed();
            for (in_input, at, op, c) in edits {
                let field = if in_input { &mut input } else { &mut signature };
                let chars: Vec<char> = field.chars().collect();
                let i = at.index(chars.len() + 1);
                let mut edited: Vec<char> = chars.clone();
                match op {
                    0 => edited.insert(i, c),
                    1 if i < chars.len() => {
                        edited.remove(i);
                    }
                    _ if i < chars.len() => {
                        if let Some(slot) = edited.get_mut(i) {
                            *slot = c;
                        }
                    }
                    _ => edited.push(c),
                }
                *field = edited.into_iter().collect();
            }
            (input, signature)
        })
    }

    fn signature_field() -> impl Strategy<Value = String> {
        let (_, valid) = signed();
        prop_oneof![
            Just(valid.clone()),
            dictionary(),
            like(":[A-Za-z0-9+/]{40,44}={0,2}:").prop_map(|b| format!("edgeseal={b}")),
            dictionary().prop_map(move |d| format!("{d}, {valid}")),
        ]
    }

    // Case counts: the fuzz target (`signature_differential`) runs millions; these keep
    // the test command short in an unoptimized build (the generators dominate).
    proptest! {
        #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

        /// Generated dictionaries in both fields.
        #[test]
        fn generated_fields_parse_alike(input in dictionary(), signature in signature_field()) {
            agree(&input, &signature)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// A real signature with our member's parameters and components rewritten.
        #[test]
        fn generated_members_beside_a_real_signature_parse_alike(list in inner_list()) {
            let (_, signature) = signed();
            agree(&format!("edgeseal={list}"), &signature)?;
        }

        /// Real fields with a few bytes inserted, removed or replaced.
        #[test]
        fn edited_real_fields_parse_alike((input, signature) in edited()) {
            agree(&input, &signature)?;
        }

        /// Anything at all.
        #[test]
        fn arbitrary_text_parses_alike(input in like(".{0,80}"), signature in like(".{0,60}")) {
            agree(&input, &signature)?;
        }
    }

    /// Found by the differential test: a display string (RFC 9651 `%"..."`, where a
    /// backslash is an ordinary character) ending in `\` in another member made the
    /// reference's canonical-base64 check read past our member, and refuse a valid
    /// signature as malformed. Both now accept it.
    #[test]
    fn a_display_string_ending_in_a_backslash_hides_no_member() {
        let (input, signature) = signed();
        let field = format!(r#"x=%"\", {signature}"#);
        let request = request()
            .with_header("signature-input", &input)
            .with_header("signature", &field);
        assert_eq!(
            compare(&Verifier::default(), &request),
            Ok(Agreement::Accepted)
        );
    }

    #[test]
    fn a_real_signature_is_accepted_by_both() {
        let (input, signature) = signed();
        let request = request()
            .with_header("signature-input", &input)
            .with_header("signature", &signature);
        assert_eq!(
            compare(&Verifier::default(), &request),
            Ok(Agreement::Accepted)
        );
    }
}

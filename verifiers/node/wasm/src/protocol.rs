//! The JSON each export reads and writes, as plain functions over an [`Engine`] (the
//! exports only move bytes; these are tested natively).

use edgeseal::UnixTime;
use edgeseal_verifier_core::lines::LogLine;
use edgeseal_verifier_core::{Check, Engine, ListedVersion, Outcome, Settings};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::wire;

/// Why an input was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadInput;

/// An engine from a JSON object of settings (`{"SECRET_ID": "...", ...}`; numbers may be
/// JSON numbers or strings; `"logAllows": true` for DEBUG allow lines), or the error
/// naming the variable.
pub fn configure(input: &[u8]) -> Result<Engine, String> {
    let object: Map<String, Value> =
        serde_json::from_slice(input).map_err(|_| "settings are not a JSON object".to_owned())?;
    let lookup = |name: &str| match object.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let settings = Settings::from_lookup(lookup).map_err(|e| e.to_string())?;
    let mut engine = Engine::new(settings).map_err(|e| e.to_string())?;
    engine.set_log_allows(object.get("logAllows") == Some(&Value::Bool(true)));
    Ok(engine)
}

/// One listed version as JavaScript sends it.
#[derive(Deserialize)]
struct JsVersion {
    id: String,
    #[serde(default)]
    stages: Vec<String>,
    /// `CreatedDate`, seconds since the epoch.
    #[serde(default)]
    created: Option<f64>,
}

fn unix(secs: Option<f64>) -> Option<UnixTime> {
    // Dates before the epoch or beyond 2^53 are not dates a secret has.
    secs.filter(|s| s.is_finite() && (0.0..9_007_199_254_740_992.0).contains(s))
        .map(|s| UnixTime::from_secs(s.floor() as u64))
}

fn listing(versions: Vec<JsVersion>) -> Vec<ListedVersion> {
    versions
        .into_iter()
        .map(|v| ListedVersion {
            version_id: v.id,
            stages: v.stages,
            created: unix(v.created),
        })
        .collect()
}

/// `esv_values_needed`: the ids to read for a listing.
pub fn values_needed(engine: &Engine, input: &[u8]) -> Result<String, BadInput> {
    let versions: Vec<JsVersion> = serde_json::from_slice(input).map_err(|_| BadInput)?;
    Ok(Value::from(engine.values_needed(&listing(versions))).to_string())
}

#[derive(Deserialize)]
struct JsRefresh {
    versions: Vec<JsVersion>,
    #[serde(default, rename = "lastRotated")]
    last_rotated: Option<f64>,
    #[serde(default)]
    values: Map<String, Value>,
}

/// `esv_apply`: a successful refresh; answers its log lines.
pub fn apply(engine: &mut Engine, now_ms: u64, input: &[u8]) -> Result<String, BadInput> {
    let mut refresh: JsRefresh = serde_json::from_slice(input).map_err(|_| BadInput)?;
    let values = std::mem::take(&mut refresh.values)
        .into_iter()
        .map(|(id, value)| {
            let secret = match value {
                Value::String(s) => Some(Zeroizing::new(s)),
                _ => None,
            };
            (id, secret)
        })
        .collect();
    let logs = engine.apply_refresh(
        now_ms,
        listing(refresh.versions),
        unix(refresh.last_rotated),
        values,
    );
    Ok(logs_json(&logs).to_string())
}

#[derive(Deserialize)]
struct JsFailure {
    operation: String,
    detail: String,
}

/// `esv_failed`: a failed refresh; answers its log lines.
pub fn failed(engine: &mut Engine, now_ms: u64, input: &[u8]) -> Result<String, BadInput> {
    let failure: JsFailure = serde_json::from_slice(input).map_err(|_| BadInput)?;
    let logs = engine.refresh_failed(now_ms, &failure.operation, &failure.detail);
    Ok(logs_json(&logs).to_string())
}

/// What `esv_configure` answers on success: what the host needs to know of the
/// settings (how much body to read at most).
pub fn configured(engine: &Engine) -> String {
    json!({ "maxBodyBytes": engine.max_body_bytes() }).to_string()
}

/// `esv_check`: the verdict on a request in the [`wire`] layout, a refresh first
/// (`{"refresh": true, "keyid", "logs"}`), or the body first (`{"readBody": true}`).
pub fn check(
    engine: &mut Engine,
    now_ms: u64,
    input: &[u8],
    recheck: bool,
) -> Result<String, BadInput> {
    let profile = engine.settings().origin.profile;
    let (view, request_id) = wire::decode(input, profile).map_err(|_| BadInput)?;
    let check = if recheck {
        engine.recheck(now_ms, &view, request_id)
    } else {
        engine.check(now_ms, &view, request_id)
    };
    Ok(match check {
        Check::Done(outcome) => outcome_json(&outcome),
        Check::RefreshFirst { keyid, logs } => json!({
            "refresh": true,
            "keyid": keyid.as_str(),
            "logs": logs_json(&logs),
        }),
        Check::ReadBody => json!({ "readBody": true }),
    }
    .to_string())
}

/// `esv_check_body`: the verdict after `{"readBody": true}`, on the same request and its
/// body (`None`: longer than `MAX_BODY_BYTES`, or unreadable). The comparison is the
/// core's ([`Engine::check_body`]).
pub fn check_body(
    engine: &mut Engine,
    now_ms: u64,
    request: &[u8],
    body: Option<&[u8]>,
) -> Result<String, BadInput> {
    let profile = engine.settings().origin.profile;
    let (view, request_id) = wire::decode(request, profile).map_err(|_| BadInput)?;
    let outcome = engine.check_body(now_ms, &view, request_id, body);
    Ok(outcome_json(&outcome).to_string())
}

fn outcome_json(outcome: &Outcome) -> Value {
    json!({
        "allowed": outcome.allowed,
        "reason": outcome.reason,
        "keyid": outcome.keyid.as_ref().map(|k| k.as_str()),
        "stage": outcome.stage.map(|s| s.as_str()),
        "age": outcome.age_secs,
        "logs": logs_json(&outcome.logs),
        "metric": outcome.metric,
    })
}

fn logs_json(logs: &[LogLine]) -> Value {
    Value::Array(
        logs.iter()
            .map(|l| json!({"level": l.level.as_str(), "text": l.text}))
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use edgeseal::{KeyId, RequestView, Signer, SigningKey, edgeseal_secret_json};

    use super::*;

    #[test]
    fn a_refresh_then_a_signed_request_through_the_json_protocol() {
        let mut engine = configure(br#"{"SECRET_ID":"s","CACHE_TTL_SECS":60}"#).unwrap();
        let key = SigningKey::from_bytes(&[3; 32]).unwrap();
        let listing = br#"[{"id":"v1","stages":["AWSCURRENT"],"created":1700000000}]"#;
        assert_eq!(values_needed(&engine, listing).unwrap(), r#"["v1"]"#);
        let refresh = json!({
            "versions": [{"id": "v1", "stages": ["AWSCURRENT"], "created": 1_700_000_000}],
            "values": {"v1": edgeseal_secret_json(&key).as_str()},
        });
        let logs: Value = serde_json::from_str(
            &apply(
                &mut engine,
                1_700_000_000_000,
                refresh.to_string().as_bytes(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(
            logs[0]["text"]
                .as_str()
                .unwrap()
                .contains("current=v1:hmac")
        );

        let view = RequestView::raw("GET", "h.example", "/p", "");
        let signer = Signer::new("edgeseal", KeyId::new("v1").unwrap(), key).unwrap();
        let fields = signer
            .sign_at(UnixTime::from_secs(1_700_000_000), &view)
            .unwrap();
        let bytes = wire::encode(&[
            Some("GET"),
            Some("h.example"),
            Some("/p"),
            Some(""),
            Some("id-1"),
            Some("signature-input"),
            Some(fields.signature_input()),
            Some("signature"),
            Some(fields.signature()),
        ]);
        let verdict: Value =
            serde_json::from_str(&check(&mut engine, 1_700_000_001_000, &bytes, false).unwrap())
                .unwrap();
        assert_eq!(verdict["allowed"], true);
        assert_eq!(verdict["reason"], "signature_current");
        assert!(
            verdict["metric"]
                .as_str()
                .unwrap()
                .contains(r#""RequestId":"id-1""#)
        );
    }

    #[test]
    fn a_bound_body_is_read_then_compared_by_the_core() {
        let mut engine = configure(br#"{"SECRET_ID":"s","MAX_BODY_BYTES":"8"}"#).unwrap();
        assert_eq!(configured(&engine), r#"{"maxBodyBytes":8}"#);
        let key = SigningKey::from_bytes(&[3; 32]).unwrap();
        let refresh = json!({
            "versions": [{"id": "v1", "stages": ["AWSCURRENT"], "created": 1_700_000_000}],
            "values": {"v1": edgeseal_secret_json(&key).as_str()},
        });
        apply(
            &mut engine,
            1_700_000_000_000,
            refresh.to_string().as_bytes(),
        )
        .unwrap();
        let view = RequestView::raw("POST", "h.example", "/p", "");
        let signer = Signer::new("edgeseal", KeyId::new("v1").unwrap(), key).unwrap();
        let fields = signer
            .sign_body_at(UnixTime::from_secs(1_700_000_000), &view, b"hello")
            .unwrap();
        let request = wire::encode(&[
            Some("POST"),
            Some("h.example"),
            Some("/p"),
            Some(""),
            Some("id-2"),
            Some("signature-input"),
            Some(fields.signature_input()),
            Some("signature"),
            Some(fields.signature()),
            Some("content-digest"),
            fields.content_digest(),
        ]);
        let now = 1_700_000_001_000;
        assert_eq!(
            check(&mut engine, now, &request, false).unwrap(),
            r#"{"readBody":true}"#
        );
        let verdict = |body: Option<&[u8]>, engine: &mut Engine| -> Value {
            serde_json::from_str(&check_body(engine, now, &request, body).unwrap()).unwrap()
        };
        assert_eq!(verdict(Some(b"hello"), &mut engine)["allowed"], true);
        for body in [Some(&b"hellO"[..]), Some(&b"hello9012"[..]), None] {
            assert_eq!(verdict(body, &mut engine)["reason"], "body_digest_mismatch");
        }
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let err = configure(br#"{"SECRET_ID":"s","MAX_STALE_SECS":"soon"}"#).unwrap_err();
        assert!(err.starts_with("MAX_STALE_SECS is invalid"), "{err}");
        assert!(configure(b"[]").is_err());
    }
}

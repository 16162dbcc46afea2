//! A verified token's claims as authorizer context for the backend.
//!
//! HTTP API's built-in JWT authorizer hands the integration
//! `$context.authorizer.jwt.claims.<name>` and `$context.authorizer.jwt.scopes`. A Lambda
//! authorizer's context is one flat map (`$context.authorizer.<key>`), so each claim goes
//! under `jwt_<name>` (characters other than letters, digits and `_` become `_`:
//! `cognito:groups` → `jwt_cognito_groups`) and the scopes under `jwt_scopes`:
//!
//! | format | values |
//! |---|---|
//! | HTTP API payload 2.0, simple response | JSON as in the token (numbers, strings, lists, objects); `jwt_scopes` a list |
//! | policy responses (REST, HTTP API payload 1.0, `RESPONSE_MODE=iam`) | strings, numbers and booleans as in the token; lists and objects as JSON text; `jwt_scopes` space-separated |
//!
//! (REST API authorizer context values may only be strings, numbers or booleans: API
//! Gateway Developer Guide, "Output from an API Gateway Lambda authorizer".)

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::jwt::config::ForwardClaims;

/// Which shape the context values take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextFormat {
    /// JSON values (HTTP API simple responses).
    Json,
    /// Strings, numbers and booleans only (policy responses).
    Flat,
}

/// The context key of a claim.
pub fn context_key(claim: &str) -> String {
    let mut key = String::with_capacity(claim.len() + 4);
    key.push_str("jwt_");
    key.extend(claim.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    key
}

/// The context entries of a verified token.
pub fn context(
    claims: &Map<String, Value>,
    scopes: &[String],
    forward: &ForwardClaims,
    format: ContextFormat,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let wanted = |name: &str| match forward {
        ForwardClaims::All => true,
        ForwardClaims::Only(names) => names.iter().any(|n| n == name),
    };
    for (name, value) in claims.iter().filter(|(name, _)| wanted(name)) {
        let value = match (format, value) {
            (_, Value::Null) => continue,
            (ContextFormat::Json, v) => v.clone(),
            (ContextFormat::Flat, v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                v.clone()
            }
            (ContextFormat::Flat, v) => Value::String(v.to_string()),
        };
        out.insert(context_key(name), value);
    }
    if !scopes.is_empty() {
        let value = match format {
            ContextFormat::Json => Value::from(scopes.to_vec()),
            ContextFormat::Flat => Value::String(scopes.join(" ")),
        };
        out.insert("jwt_scopes".to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_format_carries_what_it_may() {
        let Value::Object(claims) = json!({
            "sub": "u1", "exp": 1_700_000_000, "cognito:groups": ["a", "b"],
            "email_verified": true, "address": {"city": "Seattle"}, "nothing": null
        }) else {
            unreachable!()
        };
        let scopes = ["orders/read".to_owned()];
        let json_ctx = context(&claims, &scopes, &ForwardClaims::All, ContextFormat::Json);
        assert_eq!(json_ctx["jwt_cognito_groups"], json!(["a", "b"]));
        assert_eq!(json_ctx["jwt_address"], json!({"city": "Seattle"}));
        assert_eq!(json_ctx["jwt_scopes"], json!(["orders/read"]));
        assert!(!json_ctx.contains_key("jwt_nothing"));
        let flat = context(&claims, &scopes, &ForwardClaims::All, ContextFormat::Flat);
        assert_eq!(flat["jwt_cognito_groups"], json!("[\"a\",\"b\"]"));
        assert_eq!(flat["jwt_exp"], json!(1_700_000_000));
        assert_eq!(flat["jwt_email_verified"], json!(true));
        assert_eq!(flat["jwt_scopes"], json!("orders/read"));
        assert!(flat.values().all(|v| !v.is_array() && !v.is_object()));
        let only = context(
            &claims,
            &[],
            &ForwardClaims::Only(vec!["sub".into()]),
            ContextFormat::Flat,
        );
        assert_eq!(only.keys().collect::<Vec<_>>(), ["jwt_sub"]);
    }
}

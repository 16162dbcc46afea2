//! `EDGE_*` and `SIGNATURE_*`: the settings of the signed target. A leaf: it parses
//! through `crate::env` only.

use std::path::PathBuf;

use edgeseal::{DEFAULT_LABEL, FunctionArn, Verifier};

use crate::env::{ConfigError, invalid, number};

/// Settings of the signed target: the edge function and how to package it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeSettings {
    /// `EDGE_FUNCTION_NAME`: name or ARN of the Lambda@Edge function (in us-east-1).
    pub function: String,
    /// `EDGE_ASSETS_DIR`, default `$LAMBDA_TASK_ROOT/edge-assets`.
    pub assets_dir: PathBuf,
    /// `SIGNATURE_LABEL`, default `edgeseal`.
    pub label: String,
    /// `SIGNATURE_MAX_AGE_SECS`, default 300 (what the edge writes into its config).
    pub max_age_secs: u64,
    /// `EDGE_KEEP_VERSIONS`, default 3: edgeseal-published versions kept by finishSecret.
    pub keep_versions: usize,
    /// `EDGE_ORIGIN_PROFILES`: each origin's signing profile, packaged into the edge's
    /// config (`raw`, or `alb.example.com=raw,*=apigateway`); default all `apigateway`.
    pub profiles: edgeseal_edge_signer::OriginProfiles,
}

impl EdgeSettings {
    /// Read the settings through `get` (trimmed; empty counts as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let function =
            get("EDGE_FUNCTION_NAME").ok_or(ConfigError::Missing("EDGE_FUNCTION_NAME"))?;
        // The rotator updates $LATEST and publishes versions: a version-qualified
        // ARN (`...:function:name:7`) or an alias cannot be updated.
        if function.starts_with("arn:")
            && FunctionArn::parse(&function).map_or(true, |arn| arn.qualifier().is_some())
        {
            return Err(invalid(
                "EDGE_FUNCTION_NAME",
                "give the function name or its unqualified ARN (no version or alias)",
            ));
        }
        let assets_dir = match get("EDGE_ASSETS_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(get("LAMBDA_TASK_ROOT").ok_or(invalid(
                "EDGE_ASSETS_DIR",
                "not set, and LAMBDA_TASK_ROOT (its default's base) is not set either",
            ))?)
            .join("edge-assets"),
        };
        let label = get("SIGNATURE_LABEL").unwrap_or_else(|| DEFAULT_LABEL.to_owned());
        if Verifier::new(&label).is_err() {
            return Err(invalid(
                "SIGNATURE_LABEL",
                "not a valid signature label (lowercase RFC 8941 key)",
            ));
        }
        Ok(EdgeSettings {
            function,
            assets_dir,
            label,
            max_age_secs: number(
                get,
                "SIGNATURE_MAX_AGE_SECS",
                Verifier::DEFAULT_MAX_AGE_SECS,
                1,
                edgeseal_edge_signer::MAX_MAX_AGE_SECS,
            )?,
            keep_versions: usize::try_from(number(get, "EDGE_KEEP_VERSIONS", 3, 2, 1_000)?)
                .map_err(|_| invalid("EDGE_KEEP_VERSIONS", "too large"))?,
            profiles: edgeseal_edge_signer::OriginProfiles::parse(
                &get("EDGE_ORIGIN_PROFILES").unwrap_or_default(),
            )
            .map_err(|_| {
                invalid(
                    "EDGE_ORIGIN_PROFILES",
                    "comma-separated host=profile entries (*=profile for the rest), each profile apigateway or raw",
                )
            })?,
        })
    }
}

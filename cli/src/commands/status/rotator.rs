//! The rotation function's settings, as `status` reads them: its environment as its
//! code sees it ([`runtime_environment`]), parsed by the rotator's own parsers
//! (`edgeseal_rotator::Config::from_lookup` and `EdgeVersionRecord::from_lookup`, what
//! its cold start runs), as `doctor` reads it (`edgeseal_cli::doctor::targets`). An
//! environment the rotator would refuse is the rotator's error, which names the
//! variable: at its cold start it fails the same way.

use std::collections::HashMap;

use edgeseal_cli::doctor::sdk::runtime_environment;
use edgeseal_rotator::EdgeVersionRecord;
use edgeseal_rotator::{Config, ConfigError, TargetKind};

use super::distributions::function_name_of;
use crate::error::CliError;

/// What `status` takes from the rotation function: its configuration as its cold
/// start parses it.
pub struct RotatorSettings {
    /// Its configuration, as the rotator's cold start parses it.
    pub config: Config,
    /// `EDGE_VERSION_PARAMETER`, which the rotator parses apart from [`Config`].
    pub edge_version_parameter: Option<String>,
}

impl RotatorSettings {
    /// Parse `env` (the function's environment as its code sees it,
    /// [`runtime_environment`]) with the rotator's own parsers, as its cold start does.
    fn parse(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let lookup = |name: &str| env.get(name).cloned();
        Ok(Self {
            config: Config::from_lookup(lookup)?,
            edge_version_parameter: EdgeVersionRecord::from_lookup(lookup)?
                .map(|record| record.parameter().to_owned()),
        })
    }

    /// Whether the rotator signs (`ROTATION_TARGET=signed`, or its default).
    pub fn signs(&self) -> bool {
        self.config.kind() == TargetKind::Signed
    }

    /// The name of the edge function the rotator publishes (the signed target only).
    pub fn edge_function(&self) -> Option<String> {
        self.config
            .edge()
            .map(|edge| function_name_of(&edge.function).to_owned())
    }
}

/// The rotation function's settings, or the warning that says why there are none.
pub async fn read(
    config: &aws_config::SdkConfig,
    function_arn: &str,
) -> Result<RotatorSettings, String> {
    let lambda = aws_sdk_lambda::Client::new(config);
    let got = lambda
        .get_function_configuration()
        .function_name(function_arn)
        .send()
        .await
        .map_err(|err| {
            format!(
                "cannot read the rotation function's configuration (give --distribution-id): {}",
                CliError::aws("GetFunctionConfiguration", err)
            )
        })?;
    let configured = got
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    RotatorSettings::parse(&runtime_environment(function_arn, configured)).map_err(|err| {
        format!(
            "the rotation function {function_arn} refuses its configuration at cold start, so no rotation can run: {err} (fix that variable, docs/configuration.md; give --distribution-id)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edgeseal-rotator";

    /// The rotator's settings from `vars`, as [`read`] parses them.
    fn settings(vars: &[(&str, &str)]) -> Result<RotatorSettings, ConfigError> {
        let configured = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RotatorSettings::parse(&runtime_environment(ARN, configured))
    }

    const SIGNED: [(&str, &str); 4] = [
        (
            "CLOUDFRONT_DISTRIBUTION_ID",
            " E1AAAAAAAAAAAA , E2BBBBBBBBBBBB,",
        ),
        (
            "EDGE_FUNCTION_NAME",
            "arn:aws:lambda:us-east-1:123456789012:function:edge-signer",
        ),
        ("ROTATION_MODE", "signed"),
        ("ORIGIN_URL", "https://api.example.com/health"),
    ];

    #[test]
    fn a_signed_rotators_distributions_and_edge_function_as_the_rotator_reads_them() {
        // No EDGE_ASSETS_DIR: its default's base, LAMBDA_TASK_ROOT, is Lambda's.
        let mut vars = SIGNED.to_vec();
        vars.push(("EDGE_VERSION_PARAMETER", "/edgeseal/edge-version"));
        let settings = settings(&vars).unwrap();
        assert!(settings.signs());
        assert_eq!(
            settings.config.distributions,
            ["E1AAAAAAAAAAAA", "E2BBBBBBBBBBBB"]
        );
        assert_eq!(settings.edge_function().as_deref(), Some("edge-signer"));
        assert_eq!(
            settings.edge_version_parameter.as_deref(),
            Some("/edgeseal/edge-version")
        );
        assert_eq!(settings.config.kind().as_str(), "signed");
    }

    #[test]
    fn the_target_defaults_as_the_rotator_defaults_it() {
        // EDGE_FUNCTION_NAME and no target: signed.
        let vars: Vec<_> = SIGNED
            .into_iter()
            .filter(|(k, _)| *k != "ROTATION_MODE")
            .collect();
        assert!(settings(&vars).unwrap().signs());
        // Neither: the static-header drop-in, which publishes no edge function.
        let header = settings(&[
            ("CLOUDFRONT_DISTRIBUTION_ID", "E1AAAAAAAAAAAA"),
            ("ORIGIN_URL", "https://api.example.com/health"),
        ])
        .unwrap();
        assert!(!header.signs());
        assert_eq!(header.edge_function(), None);
        assert_eq!(header.config.kind().as_str(), "static-header");
    }

    #[test]
    fn an_environment_the_rotator_refuses_is_its_error_naming_the_variable() {
        for (drop, replace, named) in [
            ("ORIGIN_URL", None, "ORIGIN_URL"),
            (
                "ROTATION_MODE",
                Some(("ROTATION_MODE", "edge")),
                "ROTATION_MODE",
            ),
            (
                "CLOUDFRONT_DISTRIBUTION_ID",
                Some(("CLOUDFRONT_DISTRIBUTION_ID", "E1-not-an-id")),
                "CLOUDFRONT_DISTRIBUTION_ID",
            ),
            (
                "EDGE_FUNCTION_NAME",
                Some((
                    "EDGE_FUNCTION_NAME",
                    "arn:aws:lambda:us-east-1:1:function:edge:7",
                )),
                "EDGE_FUNCTION_NAME",
            ),
        ] {
            let mut vars: Vec<_> = SIGNED.into_iter().filter(|(k, _)| *k != drop).collect();
            vars.extend(replace);
            let err = settings(&vars).err().expect(named);
            assert!(err.to_string().contains(named), "{named}: {err}");
        }
        let mut vars = SIGNED.to_vec();
        vars.push(("EDGE_VERSION_PARAMETER", "not a name"));
        let err = settings(&vars).err().expect("EDGE_VERSION_PARAMETER");
        assert!(err.to_string().contains("EDGE_VERSION_PARAMETER"), "{err}");
    }
}

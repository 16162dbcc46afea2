//! The event Secrets Manager sends a rotation function.
//!
//! `aws_lambda_events` has a type for it, but without `RotationToken`, which
//! `PutSecretValue` needs when the function runs under an assumed role; so edgeseal
//! keeps its own.

use serde::{Deserialize, Serialize};

/// One rotation step, as Secrets Manager names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Generate the new key as AWSPENDING.
    #[serde(rename = "createSecret")]
    Create,
    /// Make CloudFront send requests signed with (or carrying) the new key.
    #[serde(rename = "setSecret")]
    Set,
    /// Check the origin accepts the new and the current key; wait for deployment.
    #[serde(rename = "testSecret")]
    Test,
    /// Make the new key AWSCURRENT.
    #[serde(rename = "finishSecret")]
    Finish,
}

impl Step {
    /// The four steps in the order Secrets Manager runs them.
    pub const ALL: [Step; 4] = [Step::Create, Step::Set, Step::Test, Step::Finish];

    /// The step's name on the wire (`createSecret`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{Step, SecretId, ClientRequestToken, RotationToken}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    /// Which step to run.
    pub step: Step,
    /// The secret's ARN (or name).
    pub secret_id: String,
    /// The new version's `VersionId`; also the new key's `keyid`.
    pub client_request_token: String,
    /// Passed on to `PutSecretValue` (absent in older events and in manual invocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/secretsmanager"
    );

    #[test]
    fn fixtures_round_trip() {
        for (file, step, rotation_token) in [
            ("rotation-create.json", Step::Create, true),
            ("rotation-set.json", Step::Set, true),
            ("rotation-test.json", Step::Test, true),
            (
                "rotation-finish-no-rotation-token.json",
                Step::Finish,
                false,
            ),
        ] {
            let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
            let event: RotationEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(event.step, step, "{file}");
            assert!(event.secret_id.starts_with("arn:aws:secretsmanager:"));
            assert_eq!(event.rotation_token.is_some(), rotation_token, "{file}");
            let original: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_value(&event).unwrap(), original, "{file}");
        }
    }

    #[test]
    fn unknown_steps_and_missing_fields_are_rejected() {
        for bad in [
            r#"{"Step":"rotateSecret","SecretId":"s","ClientRequestToken":"t"}"#,
            r#"{"Step":"createSecret","ClientRequestToken":"t"}"#,
            r#"{"Step":"createSecret","SecretId":"s"}"#,
            r#"{"step":"createSecret","SecretId":"s","ClientRequestToken":"t"}"#,
        ] {
            assert!(serde_json::from_str::<RotationEvent>(bad).is_err(), "{bad}");
        }
    }
}

//! The `errorType` of the rotator's Lambda error replies.
//!
//! A failed step ends the invocation with a Lambda error. Its `errorType` names the kind
//! of failure (`NotPointed`, `OriginRejected`, `VersionNotActive`, `Throttled`, ...) so
//! that an operator's alarm or log query can tell them apart without parsing messages;
//! the `errorMessage` is the error's Display text, which never carries key material.

use lambda_runtime::Diagnostic;

use crate::error::RotationError;

impl From<RotationError> for Diagnostic {
    fn from(err: RotationError) -> Self {
        Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{ApiError, Op};
    use crate::origin::ProbeError;

    #[test]
    fn each_failure_kind_has_its_own_error_type_and_a_plain_message() {
        let cases = [
            (
                RotationError::NotPointed("E1".into()),
                "NotPointed",
                "distribution E1 does not send the pending key",
            ),
            (
                RotationError::Origin {
                    stage: edgeseal::Stage::Pending.label(),
                    source: ProbeError::UnexpectedStatus(403),
                },
                "OriginRejected",
                "origin test with the AWSPENDING key failed: origin answered 403, which is not the expected status (401/403: the verifier refused the key, or a rule that judges the source refused the rotator: WAF IP-set or IP-reputation rules, an API resource policy, a disabled execute-api endpoint; the probe must reach the origin and be judged by the rule that judges CloudFront's requests, or set PROBE=off and SETTLE_SECS: docs/deployment.md, \"The rotator's probe\")",
            ),
            (
                RotationError::Api(ApiError::Throttled {
                    op: Op::UpdateDistribution,
                    message: "Rate exceeded".into(),
                }),
                "Throttled",
                "UpdateDistribution: throttled (Rate exceeded)",
            ),
        ];
        for (err, kind, message) in cases {
            let d = Diagnostic::from(err);
            assert_eq!(d.error_type, kind);
            assert_eq!(d.error_message, message);
        }
        let nested = RotationError::ConfigurationTest(Box::new(RotationError::NoHeader {
            distribution: "E1".into(),
            header: "x-origin-verify".into(),
        }));
        assert_eq!(nested.error_type(), "ConfigurationTestFailed");
        assert!(
            nested
                .to_string()
                .contains("E1 has no origin with custom header")
        );
    }
}

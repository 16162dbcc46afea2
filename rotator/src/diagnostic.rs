//! The `errorType` of the rotator's Lambda error replies.
//!
//! A failed step ends the invocation with a Lambda error. Its `errorType` names the kind
//! of failure (`NotPointed`, `OriginRejected`, `VersionNotActive`, `Throttled`, ...) so
//! that an operator's alarm or log query can tell them apart without parsing messages;
//! the `errorMessage` is the error's Display text, which never carries key material.

use lambda_runtime::Diagnostic;

use crate::aws::ApiError;
use crate::error::RotationError;
use crate::targets::appsync::AppSyncStepError;
use crate::targets::waf::WafError;

/// The stable `errorType` of `err`.
pub fn error_type(err: &RotationError) -> &'static str {
    match err {
        RotationError::RotationDisabled => "RotationDisabled",
        RotationError::UnknownVersion(_) => "UnknownVersion",
        RotationError::NotPending(_) => "NotPending",
        RotationError::NoCurrent => "NoCurrent",
        RotationError::NoPendingValue(_) => "NoPendingValue",
        RotationError::BadSecret { .. } => "BadSecret",
        RotationError::BadKeyId(_) => "BadKeyId",
        RotationError::Random => "RandomFailed",
        RotationError::Api(ApiError::Throttled { .. }) => "Throttled",
        RotationError::Api(ApiError::NotFound { .. }) => "NotFound",
        RotationError::Api(_) => "AwsApiError",
        RotationError::Package(_) => "PackageFailed",
        RotationError::EdgeUpdateFailed(_) => "EdgeUpdateFailed",
        RotationError::EdgeUpdateTimeout => "EdgeUpdateTimeout",
        RotationError::CodeMismatch(_) => "CodeMismatch",
        RotationError::EdgeVersionMismatch { .. } => "EdgeVersionMismatch",
        RotationError::NoAssociation { .. } => "NoAssociation",
        RotationError::NoHeader { .. } => "NoHeader",
        RotationError::StaleEtag { .. } => "StaleEtag",
        RotationError::Origin { .. } => "OriginRejected",
        RotationError::NotPointed(_) => "NotPointed",
        RotationError::SettleTooLong(_) => "SettleTooLong",
        RotationError::NotSignedMode => "NotSignedMode",
        RotationError::NotDeployed(..) => "NotDeployed",
        RotationError::VersionNotActive { .. } => "VersionNotActive",
        RotationError::VersionFailed { .. } => "VersionFailed",
        RotationError::PreviousRotationPropagating(_) => "PreviousRotationPropagating",
        RotationError::QueryStringsHidden { .. } => "QueryStringsHidden",
        RotationError::StagingNotRotated { .. } => "StagingNotRotated",
        RotationError::ConfigurationTest(_) => "ConfigurationTestFailed",
        RotationError::ApiKey(e) => e.error_type(),
        RotationError::Waf(e) => waf_error_type(e),
        RotationError::AppSync(e) => match e {
            AppSyncStepError::ValidityTooShort { .. } => "KeyValidityTooShort",
            AppSyncStepError::PendingKeyGone { .. } => "AppSyncPendingKeyGone",
            AppSyncStepError::PendingKeyExpired { .. } => "AppSyncPendingKeyExpired",
            AppSyncStepError::CurrentKeyUnusable { .. } => "AppSyncCurrentKeyUnusable",
            AppSyncStepError::BadEndpoint(_) => "AppSyncBadEndpoint",
            AppSyncStepError::Rejected { .. } => "OriginRejected",
            // Converted into `RotationError::Api` by `From`; never held here.
            AppSyncStepError::Api(_) => "AwsApiError",
        },
    }
}

/// The `waf` target's failures, named like the rest.
fn waf_error_type(err: &WafError) -> &'static str {
    match err {
        WafError::Api(ApiError::Throttled { .. }) => "Throttled",
        WafError::Api(ApiError::NotFound { .. }) => "NotFound",
        WafError::Api(_) => "AwsApiError",
        WafError::RuleNotFound { .. } => "WafRuleNotFound",
        WafError::Shape { .. } => "WafRuleShape",
        WafError::CurrentNotAccepted { .. } => "WafCurrentNotAccepted",
        WafError::LockContention { .. } => "WafLockContention",
        WafError::NotLetThrough { .. } => "WafNotLetThrough",
        WafError::NotSettled { .. } => "WafNotSettled",
    }
}

impl From<RotationError> for Diagnostic {
    fn from(err: RotationError) -> Self {
        Diagnostic {
            error_type: error_type(&err).to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Op;
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
        assert_eq!(error_type(&nested), "ConfigurationTestFailed");
        assert!(
            nested
                .to_string()
                .contains("E1 has no origin with custom header")
        );
    }
}

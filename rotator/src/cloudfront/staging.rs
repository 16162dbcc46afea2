//! Staging distributions of CloudFront continuous deployment.
//!
//! A staging distribution has its own cache behaviors and Lambda@Edge associations, and
//! promoting it (`UpdateDistributionWithStagingConfig`) copies its configuration onto the
//! primary (CloudFront API reference; developer guide, "Use CloudFront continuous
//! deployment"). A rotation that re-points only the primary leaves staging traffic on an
//! old key, and a later promote puts that key back on production after the verifier
//! stopped accepting it.
//!
//! Decision: the rotator re-points every distribution in `CLOUDFRONT_DISTRIBUTION_ID`,
//! and refuses to point a primary whose continuous deployment policy
//! (`GetContinuousDeploymentPolicy`, `StagingDistributionDnsNames`) names a staging
//! distribution that is not among them (matched by `GetDistribution`'s `DomainName`).
//! The policy names staging distributions by domain name only; finding their ids would
//! need `ListDistributions` over the whole account, so the operator lists them instead,
//! once, and the refusal says which domain is missing.

use tokio::time::Instant;

use super::throttle::retry_throttled;
use crate::aws::DistributionApi;
use crate::error::RotationError;
use aws_sdk_cloudfront::types::DistributionConfig;

/// Fail if `config` (of `distribution`) has a continuous deployment policy whose
/// staging distribution is not one of `configured`.
pub(super) async fn check_staging_rotated(
    cdn: &impl DistributionApi,
    distribution: &str,
    config: &DistributionConfig,
    configured: &[String],
    deadline: Instant,
) -> Result<(), RotationError> {
    let Some(policy) = config
        .continuous_deployment_policy_id
        .as_deref()
        .filter(|p| !p.is_empty())
    else {
        return Ok(());
    };
    let staging = retry_throttled(deadline, || cdn.staging_domain_names(policy)).await?;
    if staging.is_empty() {
        return Ok(());
    }
    let mut rotated = Vec::new();
    for id in configured.iter().filter(|id| *id != distribution) {
        rotated.push(retry_throttled(deadline, || cdn.domain_name(id)).await?);
    }
    match staging
        .into_iter()
        .find(|domain| !rotated.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    {
        None => Ok(()),
        Some(staging_domain) => Err(RotationError::StagingNotRotated {
            distribution: distribution.to_owned(),
            staging_domain,
        }),
    }
}

//! testSecret as a configuration test.
//!
//! With `RotateImmediately=false` (CloudFormation's `RotateImmediatelyOnUpdate: false`,
//! the way a stack turns rotation on for an existing secret), Secrets Manager does not
//! rotate: it "tests the rotation configuration by running the testSecret step of the
//! Lambda rotation function. The test creates an AWSPENDING version of the secret and
//! then removes it" (RotateSecret API reference, `RotateImmediately`). No createSecret or
//! setSecret runs, so the AWSPENDING version holds no key of ours: AWS does not document
//! its value, so every plausible one is treated alike: no value, a value that is not a
//! key of the configured mode, or a copy of the AWSCURRENT value. (moto runs all four
//! steps whatever the flag says, getmoto/moto#7342, so tests drive this themselves:
//! `testing::run_configuration_test`.)
//!
//! Such a testSecret changes nothing. It checks what a rotation will need: the current
//! value parses; the edge function (signed mode) and every distribution are readable;
//! every distribution carries edgeseal's origin-request association (or, static-header
//! mode, the origin custom header); behaviors running the signer forward all query
//! strings; staging distributions are rotated too; and the origin accepts the current
//! key (or current header value, also in migration). The first problem fails the step,
//! named in the error.

use tokio::time::Instant;
use tracing::info;

use super::{CURRENT, Material, PENDING, RotationError, Rotator, unqualified};
use crate::aws::{DistributionApi, EdgeFunctionApi, SecretsApi};
use crate::config::Mode;

impl<S: SecretsApi, L: EdgeFunctionApi, C: DistributionApi> Rotator<S, L, C> {
    /// The pending key of a rotation in progress, or `None` when the AWSPENDING version
    /// holds no key of ours (see the module docs): a configuration test.
    pub(super) async fn rotation_pending(
        &self,
        secret: &str,
        token: &str,
        current: &Material,
    ) -> Result<Option<Material>, RotationError> {
        let Some(value) = self
            .secrets
            .get_secret_string(secret, Some(token), Some(PENDING))
            .await?
        else {
            return Ok(None);
        };
        let Ok(pending) = self.material(&value, PENDING, token) else {
            return Ok(None);
        };
        let copy_of_current = match (&pending, current) {
            (Material::Key(_, a), Material::Key(_, b)) => a == b,
            (Material::Header(a), Material::Header(b)) => a.matches(b.expose()),
            _ => false,
        };
        Ok((!copy_of_current).then_some(pending))
    }

    /// The checks of the module docs; read-only.
    pub(super) async fn configuration_test(
        &self,
        current: &Material,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        info!("testSecret without a pending key: running the configuration test");
        let function = match self.config.mode {
            Mode::Signed => {
                let function = &self.signed()?.settings.function;
                let versions = self.lambda.list_versions(function).await?;
                Some((function.clone(), versions))
            }
            Mode::StaticHeader => None,
        };
        for distribution in &self.config.distributions {
            let edge_function = function
                .as_ref()
                .and_then(|(_, versions)| versions.first().map(|v| unqualified(&v.arn).to_owned()));
            let config = self
                .check_distribution(distribution, edge_function.as_deref(), deadline)
                .await?;
            match &function {
                Some((name, versions)) => {
                    let named: Vec<&str> = super::associations(&config)
                        .filter(|a| {
                            a.event_type == aws_sdk_cloudfront::types::EventType::OriginRequest
                        })
                        .map(|a| a.lambda_function_arn.as_str())
                        .filter(|arn| versions.iter().any(|v| v.arn == *arn))
                        .collect();
                    if named.is_empty() {
                        return Err(RotationError::NoAssociation {
                            distribution: distribution.clone(),
                            function: name.clone(),
                        });
                    }
                }
                None => {
                    if super::custom_headers(&config, &self.config.header_name)
                        .next()
                        .is_none()
                    {
                        return Err(RotationError::NoHeader {
                            distribution: distribution.clone(),
                            header: self.config.header_name.clone(),
                        });
                    }
                }
            }
        }
        self.probe_with(current, CURRENT, deadline).await?;
        info!("configuration test passed");
        Ok(())
    }
}

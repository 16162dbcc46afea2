//! Edge publishing: the collaborator that owns the edge function's Lambda client, its
//! settings and the edge assets.
//!
//! A signing key reaches the edges as a Lambda@Edge version whose package carries it:
//! [`EdgePublisher::ensure_version`] packages the assets with the key, reuses a version
//! already published with exactly that package (recognised by its code hash; packaging
//! is deterministic), or uploads it to `$LATEST`, waits for the code update and publishes
//! a version; [`EdgePublisher::wait_until_active`] waits for Lambda to make it `Active`;
//! [`EdgePublisher::prune`] deletes old edgeseal-published versions.

mod activation;

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Duration;

use base64::Engine as _;
use edgeseal::{KeyId, SigningKey};
use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, package_zip};
use sha2::Digest as _;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::aws::{ApiError, EdgeFunctionApi, FunctionVersion, UpdateStatus};
use crate::deadline::{doubling, poll_until};
use crate::error::{RotationError, SetupError};
use crate::targets::signed::settings::EdgeSettings;

/// Prefix of the description of every edge version edgeseal publishes; pruning only
/// ever deletes versions carrying it.
pub const VERSION_DESCRIPTION_PREFIX: &str = "edgeseal keyid=";

/// Publishes and prunes versions of the edge function.
pub(crate) struct EdgePublisher<L> {
    lambda: L,
    settings: EdgeSettings,
    assets: EdgeAssets,
}

impl<L: EdgeFunctionApi> EdgePublisher<L> {
    /// A publisher. The assets are packaged once here, with a throwaway key, so that a
    /// bad bundle fails the cold start.
    pub(crate) fn new(
        lambda: L,
        settings: EdgeSettings,
        assets: EdgeAssets,
    ) -> Result<Self, SetupError> {
        let key = SigningKey::from_bytes(&[0; SigningKey::GENERATED_LEN])
            .map_err(|_| SetupError::MissingAssets)?;
        let keyid = KeyId::new("startup-check").map_err(|_| SetupError::MissingAssets)?;
        package_zip(&assets, &edge_config(&settings, keyid, key)).map_err(SetupError::Assets)?;
        Ok(Self {
            lambda,
            settings,
            assets,
        })
    }

    /// The edge settings (function, label, ...).
    pub(crate) fn settings(&self) -> &EdgeSettings {
        &self.settings
    }

    /// The edge function's published versions (`ListVersionsByFunction`).
    pub(crate) async fn versions(&self) -> Result<Vec<FunctionVersion>, ApiError> {
        self.lambda.list_versions(&self.settings.function).await
    }

    /// The package for `key` (keyid `keyid`) and its Lambda code hash.
    pub(crate) fn package(
        &self,
        keyid: &KeyId,
        key: &SigningKey,
    ) -> Result<(Vec<u8>, String), RotationError> {
        let zip = package_zip(
            &self.assets,
            &edge_config(&self.settings, keyid.clone(), key.clone()),
        )
        .map_err(RotationError::Package)?;
        let sha = code_sha256(&zip);
        Ok((zip, sha))
    }

    /// The ARNs of every published version listed with the code hash `sha`.
    pub(crate) async fn version_arns_carrying(
        &self,
        sha: &str,
    ) -> Result<HashSet<String>, RotationError> {
        Ok(self
            .versions()
            .await?
            .into_iter()
            .filter(|v| v.code_sha256 == sha)
            .map(|v| v.arn)
            .collect())
    }

    /// The published edge version carrying exactly the package for this key: reused if
    /// one exists (recognised by its code hash; packaging is deterministic), else
    /// `UpdateFunctionCode` + `PublishVersion`.
    pub(crate) async fn ensure_version(
        &self,
        keyid: &KeyId,
        key: &SigningKey,
        deadline: Instant,
    ) -> Result<FunctionVersion, RotationError> {
        let function = &self.settings.function;
        let (zip, sha) = self.package(keyid, key)?;
        let versions = self.versions().await?;
        if let Some(existing) = versions
            .iter()
            .filter(|v| v.code_sha256 == sha)
            .max_by_key(|v| version_number(&v.version))
        {
            self.confirm_package(&existing.arn, keyid, &sha, "").await?;
            info!(version = %existing.version, "reusing the edge version already published for this key");
            return Ok(existing.clone());
        }
        let uploaded = self.lambda.update_code(function, zip).await?;
        if uploaded != sha {
            return Err(RotationError::CodeMismatch(function.clone()));
        }
        self.wait_for_code_update(deadline).await?;
        let description = format!("{VERSION_DESCRIPTION_PREFIX}{keyid}");
        // CodeSha256 makes PublishVersion fail rather than publish someone else's code
        // if $LATEST changed since our upload.
        let version = self
            .lambda
            .publish_version(function, &description, &sha)
            .await?;
        if version.code_sha256 != sha {
            return Err(RotationError::CodeMismatch(function.clone()));
        }
        // The answer says what was published; the version number is what CloudFront will
        // run. Read the number back, so that a number naming other code (a concurrent
        // publish, an emulator reusing numbers) fails here instead of being associated.
        self.confirm_package(&version.arn, keyid, &sha, "").await?;
        info!(version = %version.version, "published edge version");
        Ok(version)
    }

    /// The `CodeSha256` Lambda reports for the version a qualified ARN names, i.e. the
    /// code an association naming it runs (`GetFunctionConfiguration` with its qualifier).
    pub(crate) async fn code_sha256_of(&self, version_arn: &str) -> Result<String, RotationError> {
        let qualifier = edgeseal::arn_qualifier(version_arn).unwrap_or(version_arn);
        Ok(self
            .lambda
            .version_code_sha256(&self.settings.function, qualifier)
            .await?)
    }

    /// Fail with [`RotationError::EdgeVersionMismatch`] unless the version `version_arn`
    /// names holds `expected`, the package built for `keyid` (`at` says who named the
    /// version, for the message).
    pub(crate) async fn confirm_package(
        &self,
        version_arn: &str,
        keyid: &KeyId,
        expected: &str,
        at: &str,
    ) -> Result<(), RotationError> {
        let found = self.code_sha256_of(version_arn).await?;
        if found == expected {
            return Ok(());
        }
        Err(RotationError::EdgeVersionMismatch {
            version: version_arn.to_owned(),
            at: at.to_owned(),
            keyid: keyid.to_string(),
            expected: expected.to_owned(),
            found,
        })
    }

    async fn wait_for_code_update(&self, deadline: Instant) -> Result<(), RotationError> {
        let pauses = doubling(Duration::from_millis(200), Duration::from_secs(2));
        let updated = poll_until(deadline, pauses, || async move {
            match self.lambda.update_status(&self.settings.function).await? {
                UpdateStatus::Successful => Ok(ControlFlow::Break(())),
                UpdateStatus::Failed(reason) => Err(RotationError::EdgeUpdateFailed(reason)),
                UpdateStatus::InProgress => Ok(ControlFlow::Continue(())),
            }
        })
        .await?;
        updated.map_err(|()| RotationError::EdgeUpdateTimeout)
    }

    /// Wait until `version` is `Active` (bounded by `deadline`; see `activation.rs`).
    pub(crate) async fn wait_until_active(
        &self,
        version: &FunctionVersion,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        activation::wait_until_active(&self.lambda, &self.settings.function, version, deadline)
            .await
    }

    /// Delete edgeseal-published versions among `versions` beyond the keep count, never
    /// one whose ARN is in `named` (what the configured distributions name). Failures
    /// are logged: a version left behind costs nothing, and Lambda@Edge refuses deletes
    /// for hours after a disassociation anyway.
    pub(crate) async fn prune(
        &self,
        versions: &[FunctionVersion],
        named: &HashSet<String>,
        deadline: Instant,
    ) {
        let mut ours: Vec<&FunctionVersion> = versions
            .iter()
            .filter(|v| v.description.starts_with(VERSION_DESCRIPTION_PREFIX))
            .collect();
        ours.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version)));
        for version in ours.into_iter().skip(self.settings.keep_versions) {
            if named.contains(&version.arn) {
                continue;
            }
            if Instant::now() >= deadline {
                return warn!(
                    "deadline near; leaving the remaining edge versions for the next rotation"
                );
            }
            match self
                .lambda
                .delete_version(&self.settings.function, &version.version)
                .await
            {
                Ok(()) => info!(version = %version.version, "pruned edge version"),
                Err(e) => {
                    warn!(version = %version.version, error = %e, "could not prune edge version")
                }
            }
        }
    }
}

fn edge_config(edge: &EdgeSettings, keyid: KeyId, key: SigningKey) -> EdgeConfig {
    EdgeConfig {
        label: edge.label.clone(),
        keyid,
        key,
        max_age_secs: edge.max_age_secs,
        profiles: edge.profiles.clone(),
    }
}

/// Lambda's `CodeSha256`: base64 of the SHA-256 of the zip.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip))
}

fn version_number(version: &str) -> u64 {
    version.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_sha256_is_lambdas_base64_form() {
        // sha256("") in base64.
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}

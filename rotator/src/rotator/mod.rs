//! The four rotation steps.
//!
//! Secrets Manager calls the function once per step and, when a step fails, retries the
//! whole rotation later with the same token. So every step starts from what AWS holds
//! (never from memory), does nothing that is already done, and leaves a state from which
//! a rerun converges. The safety rule behind the ordering: CloudFront only ever sends a
//! key that the origin has just accepted and that Secrets Manager holds as AWSCURRENT or
//! AWSPENDING; AWSCURRENT moves only once every distribution sends the new key and (by
//! default) is `Deployed`.

mod activation;
mod config_test;
mod propagation;
mod staging;
mod throttle;

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_cloudfront::types::{DistributionConfig, EventType};
use base64::Engine as _;
use edgeseal::{KeyId, SecretValue, SigningKey, StaticHeaderValue};
use edgeseal_edge_signer::{EdgeAssets, EdgeConfig, PackageError, package_zip};
use sha2::Digest as _;
use tokio::time::Instant;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::aws::{
    ApiError, DeployStatus, DistributionApi, EdgeFunctionApi, FunctionVersion, SecretMetadata,
    SecretsApi, UpdateStatus,
};
use crate::config::{Config, EdgeSettings, Mode};
use crate::event::{RotationEvent, Step};
use crate::origin::{Credential, OriginProbe, ProbeError};
use crate::query_strings::hidden_query_string_behaviors;

/// Prefix of the description of every edge version edgeseal publishes; pruning only
/// ever deletes versions carrying it.
pub const VERSION_DESCRIPTION_PREFIX: &str = "edgeseal keyid=";

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// How a step ended when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The step did its work (or found it already done).
    Done,
    /// The token is already AWSCURRENT: this rotation finished earlier; nothing to do.
    AlreadyCurrent,
    /// A testSecret without a pending key of ours (`RotateImmediately=false`): the
    /// configuration test passed and nothing was changed.
    ConfigurationTested,
}

/// Why a step failed. Secrets Manager will retry the rotation; the variants say what an
/// operator would need to fix when retries keep failing. Never carries key material.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Rotation is turned off for the secret.
    #[error("rotation is not enabled for the secret")]
    RotationDisabled,
    /// The token names no version of the secret.
    #[error("secret version {0} does not exist")]
    UnknownVersion(String),
    /// The token's version is not staged AWSPENDING.
    #[error("secret version {0} is not staged AWSPENDING")]
    NotPending(String),
    /// The secret has no AWSCURRENT value.
    #[error("the secret has no AWSCURRENT value")]
    NoCurrent,
    /// The AWSPENDING version has no value (createSecret has not run).
    #[error("secret version {0} has no value yet")]
    NoPendingValue(String),
    /// A secret value is not in a format this mode can use.
    #[error("the {stage} secret value is unusable: {reason}")]
    BadSecret {
        /// `AWSCURRENT` or `AWSPENDING`.
        stage: &'static str,
        /// What is wrong (never the value).
        reason: String,
    },
    /// The token cannot be a signature `keyid`.
    #[error("secret version id {0:?} cannot be used as a signature keyid")]
    BadKeyId(String),
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed")]
    Random,
    /// An AWS call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The edge zip could not be built.
    #[error("cannot package the edge function")]
    Package(#[source] PackageError),
    /// Lambda could not apply the code update.
    #[error("edge function code update failed: {0}")]
    EdgeUpdateFailed(String),
    /// Lambda did not finish the code update before the deadline.
    #[error("edge function code update did not finish in time")]
    EdgeUpdateTimeout,
    /// Lambda holds other code than the package built for the key.
    #[error("edge function {0}: code hash differs from the package built for the key")]
    CodeMismatch(String),
    /// A distribution has no origin-request association naming the edge function.
    #[error("distribution {distribution} has no origin-request association for {function}")]
    NoAssociation {
        /// The distribution.
        distribution: String,
        /// The function (unqualified ARN).
        function: String,
    },
    /// A distribution has no origin with the custom header.
    #[error("distribution {distribution} has no origin with custom header {header}")]
    NoHeader {
        /// The distribution.
        distribution: String,
        /// The header name.
        header: String,
    },
    /// The distribution config kept changing under us.
    #[error("distribution {distribution}: ETag stale {attempts} times in a row")]
    StaleEtag {
        /// The distribution.
        distribution: String,
        /// How many tries.
        attempts: u32,
    },
    /// The origin did not accept a test request.
    #[error("origin test with the {stage} key failed: {source}")]
    Origin {
        /// `AWSPENDING` or `AWSCURRENT`.
        stage: &'static str,
        /// Why.
        #[source]
        source: ProbeError,
    },
    /// A distribution does not send the pending key (setSecret has not completed).
    #[error("distribution {0} does not send the pending key")]
    NotPointed(String),
    /// A signing key met in static-header mode (or the reverse) where no conversion exists.
    #[error("this needs signed mode (EDGE_FUNCTION_NAME and the edge assets)")]
    NotSignedMode,
    /// A distribution was still `InProgress` when time ran out.
    #[error("distribution {0} is not Deployed yet (status {1}); retry later")]
    NotDeployed(String, String),
    /// The published edge version did not become `Active` before the step's deadline.
    #[error(
        "edge version {version} is still {state}; CloudFront associates only Active versions, so the rotation will retry"
    )]
    VersionNotActive {
        /// The version number.
        version: String,
        /// Its state.
        state: String,
    },
    /// Lambda could not make the published edge version `Active`.
    #[error("edge version {version} failed to become Active: {reason}")]
    VersionFailed {
        /// The version number.
        version: String,
        /// Lambda's `StateReason`.
        reason: String,
    },
    /// A distribution is still deploying an earlier change while an older key is
    /// AWSPREVIOUS: pointing it at a new key now could retire a key edges still sign with.
    #[error(
        "distribution {0} is still InProgress with an earlier change (maybe the previous rotation); a new key now could retire a key edges still run: retry once it is Deployed"
    )]
    PreviousRotationPropagating(String),
    /// Behaviors that run the signer do not forward all query strings to the origin.
    #[error(
        "distribution {distribution}: cache behavior(s) {} run the edge signer but do not forward all query strings (cache or origin request policy with QueryStringBehavior all), so every signed request with a query string would be denied",
        path_patterns.join(", ")
    )]
    QueryStringsHidden {
        /// The distribution.
        distribution: String,
        /// The behaviors' path patterns (`*` = the default behavior).
        path_patterns: Vec<String>,
    },
    /// A distribution's continuous deployment policy names a staging distribution the
    /// rotator is not configured to re-point.
    #[error(
        "distribution {distribution} has a continuous deployment policy whose staging distribution {staging_domain} is not in CLOUDFRONT_DISTRIBUTION_ID: add its id, or staging traffic keeps an old key and a promote copies it back onto the primary"
    )]
    StagingNotRotated {
        /// The primary distribution.
        distribution: String,
        /// The staging distribution's domain name.
        staging_domain: String,
    },
    /// The configuration test (testSecret without a pending key of ours) failed.
    #[error("configuration test failed: {0}")]
    ConfigurationTest(Box<RotationError>),
}

/// Misconfiguration found when building a [`Rotator`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Signed mode without edge assets.
    #[error("signed mode needs the edge assets (EDGE_ASSETS_DIR)")]
    MissingAssets,
    /// The assets cannot be packaged (checked once at start-up).
    #[error("edge assets are unusable")]
    Assets(#[source] PackageError),
}

/// The rotation function: configuration, the three AWS APIs and the origin probe.
pub struct Rotator<S, L, C> {
    config: Config,
    secrets: S,
    lambda: L,
    cdn: C,
    probe: OriginProbe,
    signed: Option<Signed>,
}

/// What signed mode needs besides the common configuration.
struct Signed {
    settings: EdgeSettings,
    assets: EdgeAssets,
}

/// Either kind of secret value, parsed for the configured mode.
enum Material {
    Key(KeyId, SigningKey),
    Header(StaticHeaderValue),
}

impl<S: SecretsApi, L: EdgeFunctionApi, C: DistributionApi> Rotator<S, L, C> {
    /// A rotator. In signed mode `assets` must be the edge handler and WASM module; they
    /// are packaged once here so that a bad bundle fails the cold start.
    pub fn new(
        config: Config,
        secrets: S,
        lambda: L,
        cdn: C,
        assets: Option<EdgeAssets>,
    ) -> Result<Self, SetupError> {
        let signed = match (&config.edge, assets) {
            (Some(settings), Some(assets)) => {
                // Package once with a throwaway key so a bad bundle fails the cold start.
                let key = SigningKey::from_bytes(&[0; SigningKey::GENERATED_LEN])
                    .map_err(|_| SetupError::MissingAssets)?;
                let keyid = KeyId::new("startup-check").map_err(|_| SetupError::MissingAssets)?;
                package_zip(&assets, &edge_config(settings, keyid, key))
                    .map_err(SetupError::Assets)?;
                Some(Signed {
                    settings: settings.clone(),
                    assets,
                })
            }
            (Some(_), None) => return Err(SetupError::MissingAssets),
            (None, _) => None,
        };
        let probe = OriginProbe::new(config.origin_test.clone());
        Ok(Self {
            config,
            secrets,
            lambda,
            cdn,
            probe,
            signed,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Run one step. `deadline` bounds every wait (the Lambda's deadline minus a margin).
    #[tracing::instrument(
        name = "rotation_step",
        skip_all,
        fields(step = %event.step, secret = %event.secret_id, version = %event.client_request_token)
    )]
    pub async fn run(
        &self,
        event: &RotationEvent,
        deadline: Instant,
    ) -> Result<Outcome, RotationError> {
        let deadline = deadline.min(Instant::now() + self.config.max_step);
        let secret = event.secret_id.as_str();
        let token = event.client_request_token.as_str();
        let meta = self.secrets.describe_secret(secret).await?;
        if !meta.rotation_enabled {
            return Err(RotationError::RotationDisabled);
        }
        let stages = meta
            .stages_of(token)
            .ok_or_else(|| RotationError::UnknownVersion(token.to_owned()))?;
        if stages.iter().any(|s| s == CURRENT) {
            info!("version is already AWSCURRENT; nothing to do");
            return Ok(Outcome::AlreadyCurrent);
        }
        if !stages.iter().any(|s| s == PENDING) {
            return Err(RotationError::NotPending(token.to_owned()));
        }
        match event.step {
            Step::Create => {
                self.create(secret, token, event.rotation_token.as_deref())
                    .await?
            }
            Step::Set => self.set(secret, token, &meta, deadline).await?,
            Step::Test => {
                if let Some(outcome) = self.test(secret, token, &meta, deadline).await? {
                    return Ok(outcome);
                }
            }
            Step::Finish => self.finish(secret, token, &meta, deadline).await?,
        }
        info!("step done");
        Ok(Outcome::Done)
    }

    // ---- createSecret -------------------------------------------------------------

    async fn create(
        &self,
        secret: &str,
        token: &str,
        rotation_token: Option<&str>,
    ) -> Result<(), RotationError> {
        if self
            .secrets
            .get_secret_string(secret, None, Some(CURRENT))
            .await?
            .is_none()
        {
            return Err(RotationError::NoCurrent);
        }
        if let Some(existing) = self
            .secrets
            .get_secret_string(secret, Some(token), Some(PENDING))
            .await?
        {
            // Versions are immutable: a rerun must not write a second value under the
            // same token (moto would even accept it and silently swap the key).
            self.material(&existing, PENDING, token)?;
            info!("AWSPENDING value already exists");
            return Ok(());
        }
        let value = match self.config.mode {
            Mode::Signed => {
                let key = SigningKey::generate().map_err(|_| RotationError::Random)?;
                edgeseal::edgeseal_secret_json(&key)
            }
            Mode::StaticHeader => {
                let length = self
                    .config
                    .static_header
                    .as_ref()
                    .map_or(32, |s| s.value_length);
                let value = random_header_value(length)?;
                edgeseal::static_header_secret_json(&self.config.secret_key_name, &value)
            }
        };
        self.secrets
            .put_pending(secret, token, &value, rotation_token)
            .await?;
        info!("new AWSPENDING value stored");
        Ok(())
    }

    // ---- setSecret ----------------------------------------------------------------

    async fn set(
        &self,
        secret: &str,
        token: &str,
        meta: &SecretMetadata,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        let pending = self.pending(secret, token).await?;
        // Pre-flight: never make CloudFront send a key the origin does not accept.
        self.probe_with(&pending, PENDING, deadline).await?;
        let guard = propagation::Guard::for_new_key(meta);
        self.point_distributions(&pending, guard, deadline).await
    }

    /// Make every configured distribution send `material`.
    async fn point_distributions(
        &self,
        material: &Material,
        guard: propagation::Guard,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        match material {
            Material::Key(keyid, key) => {
                let version = self.ensure_edge_version(keyid, key, deadline).await?;
                let function = unqualified(&version.arn).to_owned();
                activation::wait_until_active(
                    &self.lambda,
                    &self.signed()?.settings.function,
                    &version,
                    deadline,
                )
                .await?;
                for distribution in &self.config.distributions {
                    self.check_distribution(distribution, Some(&function), deadline)
                        .await?;
                    self.update_distribution(distribution, guard, deadline, |config| {
                        let (matched, changed) =
                            point_associations(config, &function, &version.arn);
                        if matched == 0 {
                            return Err(RotationError::NoAssociation {
                                distribution: distribution.clone(),
                                function: function.clone(),
                            });
                        }
                        Ok(changed)
                    })
                    .await?;
                    info!(%distribution, version = %version.version, "distribution names the edge version");
                }
            }
            Material::Header(value) => {
                for distribution in &self.config.distributions {
                    self.check_distribution(distribution, None, deadline)
                        .await?;
                    self.update_distribution(distribution, guard, deadline, |config| {
                        let (matched, changed) =
                            set_custom_header(config, &self.config.header_name, value);
                        if matched == 0 {
                            return Err(RotationError::NoHeader {
                                distribution: distribution.clone(),
                                header: self.config.header_name.clone(),
                            });
                        }
                        Ok(changed)
                    })
                    .await?;
                    info!(%distribution, header = %self.config.header_name, "distribution sends the header value");
                }
            }
        }
        Ok(())
    }

    /// What must hold before a distribution is pointed at a key (signed mode: the edge
    /// `function` given): the behaviors running the signer forward all query strings,
    /// and a staging distribution of its continuous deployment policy is rotated too.
    async fn check_distribution(
        &self,
        distribution: &str,
        function: Option<&str>,
        deadline: Instant,
    ) -> Result<DistributionConfig, RotationError> {
        let (config, _) =
            throttle::retry_throttled(deadline, || self.cdn.get_config(distribution)).await?;
        if let Some(function) = function {
            let hidden = hidden_query_string_behaviors(&self.cdn, &config, function).await?;
            if !hidden.is_empty() {
                return Err(RotationError::QueryStringsHidden {
                    distribution: distribution.to_owned(),
                    path_patterns: hidden,
                });
            }
        }
        staging::check_staging_rotated(
            &self.cdn,
            distribution,
            &config,
            &self.config.distributions,
            deadline,
        )
        .await?;
        Ok(config)
    }

    /// Read-modify-write of one distribution config with its ETag as `IfMatch`,
    /// retried (bounded) when someone else changed it in between, and after throttling
    /// (backoff with jitter, within the deadline). `edit` returns how many places it
    /// changed; zero means there is nothing to write. An `InProgress` distribution is
    /// updated unless `guard` says an earlier rotation may still be deploying (the prior
    /// art refused whenever it was `InProgress`, and so stalled behind any change).
    async fn update_distribution(
        &self,
        distribution: &str,
        guard: propagation::Guard,
        deadline: Instant,
        mut edit: impl FnMut(&mut DistributionConfig) -> Result<usize, RotationError>,
    ) -> Result<(), RotationError> {
        let attempts = self.config.update_attempts;
        for attempt in 1..=attempts {
            let (mut config, etag) =
                throttle::retry_throttled(deadline, || self.cdn.get_config(distribution)).await?;
            if edit(&mut config)? == 0 {
                return Ok(());
            }
            guard.check(&self.cdn, distribution, deadline).await?;
            let update = throttle::retry_throttled(deadline, || {
                self.cdn.update_config(distribution, config.clone(), &etag)
            })
            .await;
            match update {
                Ok(_) => return Ok(()),
                Err(ApiError::PreconditionFailed(_)) if attempt < attempts => {
                    warn!(%distribution, attempt, "distribution config changed meanwhile (stale ETag); retrying");
                    let pause = Duration::from_millis(100 * u64::from(attempt));
                    if Instant::now() + pause >= deadline {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                }
                Err(ApiError::PreconditionFailed(_)) => break,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RotationError::StaleEtag {
            distribution: distribution.to_owned(),
            attempts,
        })
    }

    /// The published edge version carrying exactly the package for this key: reused if
    /// one exists (recognised by its code hash; packaging is deterministic), else
    /// `UpdateFunctionCode` + `PublishVersion`.
    async fn ensure_edge_version(
        &self,
        keyid: &KeyId,
        key: &SigningKey,
        deadline: Instant,
    ) -> Result<FunctionVersion, RotationError> {
        let edge = &self.signed()?.settings;
        let (zip, sha) = self.package(keyid, key)?;
        let versions = self.lambda.list_versions(&edge.function).await?;
        if let Some(existing) = versions
            .iter()
            .filter(|v| v.code_sha256 == sha)
            .max_by_key(|v| version_number(&v.version))
        {
            info!(version = %existing.version, "reusing the edge version already published for this key");
            return Ok(existing.clone());
        }
        let uploaded = self.lambda.update_code(&edge.function, zip).await?;
        if uploaded != sha {
            return Err(RotationError::CodeMismatch(edge.function.clone()));
        }
        self.wait_for_code_update(&edge.function, deadline).await?;
        let description = format!("{VERSION_DESCRIPTION_PREFIX}{keyid}");
        // CodeSha256 makes PublishVersion fail rather than publish someone else's code
        // if $LATEST changed since our upload.
        let version = self
            .lambda
            .publish_version(&edge.function, &description, &sha)
            .await?;
        if version.code_sha256 != sha {
            return Err(RotationError::CodeMismatch(edge.function.clone()));
        }
        info!(version = %version.version, "published edge version");
        Ok(version)
    }

    async fn wait_for_code_update(
        &self,
        function: &str,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        let mut pause = Duration::from_millis(200);
        loop {
            match self.lambda.update_status(function).await? {
                UpdateStatus::Successful => return Ok(()),
                UpdateStatus::Failed(reason) => {
                    return Err(RotationError::EdgeUpdateFailed(reason));
                }
                UpdateStatus::InProgress => {
                    if Instant::now() + pause >= deadline {
                        return Err(RotationError::EdgeUpdateTimeout);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    fn package(&self, keyid: &KeyId, key: &SigningKey) -> Result<(Vec<u8>, String), RotationError> {
        let signed = self.signed()?;
        let zip = package_zip(
            &signed.assets,
            &edge_config(&signed.settings, keyid.clone(), key.clone()),
        )
        .map_err(RotationError::Package)?;
        let sha = code_sha256(&zip);
        Ok((zip, sha))
    }

    // ---- testSecret ---------------------------------------------------------------

    /// `Some(outcome)` when this was a configuration test rather than a rotation's step.
    async fn test(
        &self,
        secret: &str,
        token: &str,
        meta: &SecretMetadata,
        deadline: Instant,
    ) -> Result<Option<Outcome>, RotationError> {
        let current = self.current(secret, meta).await?;
        let pending = match self.rotation_pending(secret, token, &current).await? {
            Some(pending) => pending,
            None => {
                self.configuration_test(&current, deadline)
                    .await
                    .map_err(|e| RotationError::ConfigurationTest(Box::new(e)))?;
                return Ok(Some(Outcome::ConfigurationTested));
            }
        };
        self.check_pointed(&pending).await?;
        if let Err(e) = self.probe_with(&pending, PENDING, deadline).await {
            // Leave CloudFront sending the key the origin accepted, not the one it just
            // rejected (the prior art left the untested key in place).
            self.roll_back(&current, deadline).await;
            return Err(e);
        }
        self.probe_with(&current, CURRENT, deadline).await?;
        if self.config.wait_for_deployed {
            self.wait_deployed(deadline).await?;
        }
        Ok(None)
    }

    async fn roll_back(&self, current: &Material, deadline: Instant) {
        if let Material::Header(_) = current
            && self.config.mode == Mode::Signed
        {
            warn!(
                "pending key rejected; the current value is a static header, so there is no edge version to return to"
            );
            return;
        }
        match self
            .point_distributions(current, propagation::Guard::Off, deadline)
            .await
        {
            Ok(()) => warn!(
                "pending key rejected by the origin; distributions returned to the current key"
            ),
            Err(e) => {
                warn!(error = %e, "pending key rejected by the origin; returning to the current key failed")
            }
        }
    }

    /// Fail unless every distribution sends `pending`: finishing otherwise would make
    /// AWSCURRENT a key the edges do not send.
    async fn check_pointed(&self, pending: &Material) -> Result<(), RotationError> {
        let wanted_arn = match pending {
            Material::Key(keyid, key) => {
                let (_, sha) = self.package(keyid, key)?;
                let versions = self
                    .lambda
                    .list_versions(&self.signed()?.settings.function)
                    .await?;
                let arns: HashSet<String> = versions
                    .into_iter()
                    .filter(|v| v.code_sha256 == sha)
                    .map(|v| v.arn)
                    .collect();
                Some(arns)
            }
            Material::Header(_) => None,
        };
        for distribution in &self.config.distributions {
            let (config, _) = self.cdn.get_config(distribution).await?;
            let pointed = match (pending, &wanted_arn) {
                (Material::Key(..), Some(arns)) => {
                    let function = arns.iter().next().map(|a| unqualified(a).to_owned());
                    let named: Vec<&str> = associations(&config)
                        .filter(|a| a.event_type == EventType::OriginRequest)
                        .filter(|a| {
                            Some(unqualified(&a.lambda_function_arn)) == function.as_deref()
                        })
                        .map(|a| a.lambda_function_arn.as_str())
                        .collect();
                    !named.is_empty() && named.iter().all(|arn| arns.contains(*arn))
                }
                (Material::Header(value), _) => {
                    let values: Vec<&str> =
                        custom_headers(&config, &self.config.header_name).collect();
                    !values.is_empty() && values.iter().all(|v| value.matches(v))
                }
                _ => false,
            };
            if !pointed {
                return Err(RotationError::NotPointed(distribution.clone()));
            }
        }
        Ok(())
    }

    async fn wait_deployed(&self, deadline: Instant) -> Result<(), RotationError> {
        for distribution in &self.config.distributions {
            loop {
                let status =
                    throttle::retry_throttled(deadline, || self.cdn.status(distribution)).await?;
                if status == DeployStatus::Deployed {
                    break;
                }
                let pause = self.config.deploy_poll_interval;
                if Instant::now() + pause >= deadline {
                    let shown = match status {
                        DeployStatus::InProgress => "InProgress".to_owned(),
                        DeployStatus::Other(s) => s,
                        DeployStatus::Deployed => "Deployed".to_owned(),
                    };
                    return Err(RotationError::NotDeployed(distribution.clone(), shown));
                }
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }

    // ---- finishSecret -------------------------------------------------------------

    async fn finish(
        &self,
        secret: &str,
        token: &str,
        meta: &SecretMetadata,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        let pending = self.pending(secret, token).await?;
        self.check_pointed(&pending).await?;
        let previous = meta.version_with(CURRENT);
        self.secrets
            .move_stage(secret, CURRENT, token, previous)
            .await?;
        info!(
            previous = previous.unwrap_or("-"),
            "AWSCURRENT moved to the new version"
        );
        if self.config.mode == Mode::Signed {
            self.prune(deadline).await;
        }
        Ok(())
    }

    /// Delete edgeseal-published edge versions beyond the keep count, never one a
    /// configured distribution names. Failures are logged: a version left behind costs
    /// nothing, and Lambda@Edge refuses deletes for hours after a disassociation anyway.
    async fn prune(&self, deadline: Instant) {
        let Ok(Signed { settings: edge, .. }) = self.signed() else {
            return;
        };
        let versions = match self.lambda.list_versions(&edge.function).await {
            Ok(v) => v,
            Err(e) => return warn!(error = %e, "not pruning edge versions"),
        };
        let mut named = HashSet::new();
        for distribution in &self.config.distributions {
            match self.cdn.get_config(distribution).await {
                Ok((config, _)) => {
                    named.extend(associations(&config).map(|a| a.lambda_function_arn.clone()))
                }
                Err(e) => return warn!(error = %e, %distribution, "not pruning edge versions"),
            }
        }
        let mut ours: Vec<&FunctionVersion> = versions
            .iter()
            .filter(|v| v.description.starts_with(VERSION_DESCRIPTION_PREFIX))
            .collect();
        ours.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version)));
        for version in ours.into_iter().skip(edge.keep_versions) {
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
                .delete_version(&edge.function, &version.version)
                .await
            {
                Ok(()) => info!(version = %version.version, "pruned edge version"),
                Err(e) => {
                    warn!(version = %version.version, error = %e, "could not prune edge version")
                }
            }
        }
    }

    // ---- shared -------------------------------------------------------------------

    fn signed(&self) -> Result<&Signed, RotationError> {
        self.signed.as_ref().ok_or(RotationError::NotSignedMode)
    }

    async fn pending(&self, secret: &str, token: &str) -> Result<Material, RotationError> {
        let value = self
            .secrets
            .get_secret_string(secret, Some(token), Some(PENDING))
            .await?
            .ok_or_else(|| RotationError::NoPendingValue(token.to_owned()))?;
        self.material(&value, PENDING, token)
    }

    async fn current(
        &self,
        secret: &str,
        meta: &SecretMetadata,
    ) -> Result<Material, RotationError> {
        let id = meta.version_with(CURRENT).ok_or(RotationError::NoCurrent)?;
        let value = self
            .secrets
            .get_secret_string(secret, Some(id), Some(CURRENT))
            .await?
            .ok_or(RotationError::NoCurrent)?;
        // A legacy static value is fine as the current one: that is the migration path.
        match SecretValue::parse(&value, Some(&self.config.secret_key_name)) {
            Ok(SecretValue::Hmac(key)) => Ok(Material::Key(
                KeyId::new(id).map_err(|_| RotationError::BadKeyId(id.to_owned()))?,
                key,
            )),
            Ok(SecretValue::StaticHeader(value)) => Ok(Material::Header(value)),
            Err(e) => Err(RotationError::BadSecret {
                stage: CURRENT,
                reason: e.to_string(),
            }),
        }
    }

    fn material(
        &self,
        value: &str,
        stage: &'static str,
        id: &str,
    ) -> Result<Material, RotationError> {
        let parsed =
            SecretValue::parse(value, Some(&self.config.secret_key_name)).map_err(|e| {
                RotationError::BadSecret {
                    stage,
                    reason: e.to_string(),
                }
            })?;
        match (self.config.mode, parsed) {
            (Mode::Signed, SecretValue::Hmac(key)) => Ok(Material::Key(
                KeyId::new(id).map_err(|_| RotationError::BadKeyId(id.to_owned()))?,
                key,
            )),
            (Mode::StaticHeader, SecretValue::StaticHeader(value)) => Ok(Material::Header(value)),
            (Mode::Signed, SecretValue::StaticHeader(_)) => Err(RotationError::BadSecret {
                stage,
                reason: "a static header value where signed mode needs a signing key".into(),
            }),
            (Mode::StaticHeader, SecretValue::Hmac(_)) => Err(RotationError::BadSecret {
                stage,
                reason: "a signing key where static-header mode needs a header value".into(),
            }),
        }
    }

    async fn probe_with(
        &self,
        material: &Material,
        stage: &'static str,
        deadline: Instant,
    ) -> Result<(), RotationError> {
        let credential = match material {
            Material::Key(keyid, key) => Credential::Signed {
                label: &self.signed()?.settings.label,
                keyid,
                key,
            },
            Material::Header(value) => Credential::Header {
                name: &self.config.header_name,
                value,
            },
        };
        // The probe has its own timeout; the Lambda's deadline may be nearer still.
        let result = tokio::time::timeout_at(deadline, self.probe.probe(credential))
            .await
            .unwrap_or(Err(ProbeError::Timeout(self.config.origin_test.timeout)));
        match result {
            Ok(status) => {
                info!(stage, status, "origin accepted the test request");
                Ok(())
            }
            Err(source) => Err(RotationError::Origin { stage, source }),
        }
    }
}

fn edge_config(edge: &EdgeSettings, keyid: KeyId, key: SigningKey) -> EdgeConfig {
    EdgeConfig {
        label: edge.label.clone(),
        keyid,
        key,
        max_age_secs: edge.max_age_secs,
    }
}

/// Lambda's `CodeSha256`: base64 of the SHA-256 of the zip.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip))
}

fn version_number(version: &str) -> u64 {
    version.parse().unwrap_or(0)
}

/// `arn:aws:lambda:us-east-1:123:function:name:7` → `arn:aws:lambda:us-east-1:123:function:name`.
pub fn unqualified(arn: &str) -> &str {
    if arn.split(':').count() > 7 {
        arn.rsplit_once(':').map_or(arn, |(base, _)| base)
    } else {
        arn
    }
}

/// Every Lambda@Edge association of the default and the other cache behaviors.
pub fn associations(
    config: &DistributionConfig,
) -> impl Iterator<Item = &aws_sdk_cloudfront::types::LambdaFunctionAssociation> {
    let default = config
        .default_cache_behavior
        .iter()
        .filter_map(|b| b.lambda_function_associations.as_ref());
    let others = config
        .cache_behaviors
        .iter()
        .flat_map(|c| c.items.iter().flatten())
        .filter_map(|b| b.lambda_function_associations.as_ref());
    default.chain(others).flat_map(|a| a.items.iter().flatten())
}

/// Point every origin-request association of `function` at `version_arn`.
/// Returns (associations of the function, associations changed).
fn point_associations(
    config: &mut DistributionConfig,
    function: &str,
    version_arn: &str,
) -> (usize, usize) {
    let mut lists = Vec::new();
    if let Some(b) = config.default_cache_behavior.as_mut() {
        lists.extend(b.lambda_function_associations.as_mut());
    }
    if let Some(items) = config
        .cache_behaviors
        .as_mut()
        .and_then(|c| c.items.as_mut())
    {
        lists.extend(
            items
                .iter_mut()
                .filter_map(|b| b.lambda_function_associations.as_mut()),
        );
    }
    let (mut matched, mut changed) = (0, 0);
    for association in lists.into_iter().flat_map(|l| l.items.iter_mut().flatten()) {
        if association.event_type == EventType::OriginRequest
            && unqualified(&association.lambda_function_arn) == function
        {
            matched += 1;
            if association.lambda_function_arn != version_arn {
                version_arn.clone_into(&mut association.lambda_function_arn);
                changed += 1;
            }
        }
    }
    (matched, changed)
}

/// Values of the custom header `name` on every origin that has it.
pub fn custom_headers<'a>(
    config: &'a DistributionConfig,
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    config
        .origins
        .iter()
        .flat_map(|o| o.items.iter())
        .filter_map(|o| o.custom_headers.as_ref())
        .flat_map(|h| h.items.iter().flatten())
        .filter(move |h| h.header_name.eq_ignore_ascii_case(name))
        .map(|h| h.header_value.as_str())
}

/// Set the custom header `name` to `value` on every origin that has it.
/// Returns (origins with the header, origins changed).
fn set_custom_header(
    config: &mut DistributionConfig,
    name: &str,
    value: &StaticHeaderValue,
) -> (usize, usize) {
    let (mut matched, mut changed) = (0, 0);
    let headers = config
        .origins
        .iter_mut()
        .flat_map(|o| o.items.iter_mut())
        .filter_map(|o| o.custom_headers.as_mut())
        .flat_map(|h| h.items.iter_mut().flatten())
        .filter(|h| h.header_name.eq_ignore_ascii_case(name));
    for header in headers {
        matched += 1;
        if !value.matches(&header.header_value) {
            header.header_value = value.expose().to_owned();
            changed += 1;
        }
    }
    (matched, changed)
}

/// `length` characters from `[A-Za-z0-9]`, uniformly, from the OS CSPRNG (rejection
/// sampling: bytes at or above 248 = 4 * 62 are discarded so no character is favoured).
fn random_header_value(length: usize) -> Result<StaticHeaderValue, RotationError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = Zeroizing::new(String::with_capacity(length));
    let mut buffer = Zeroizing::new([0u8; 64]);
    while value.len() < length {
        getrandom::fill(buffer.as_mut_slice()).map_err(|_| RotationError::Random)?;
        for &byte in buffer.iter() {
            if byte < 248
                && value.len() < length
                && let Some(&c) = ALPHABET.get(usize::from(byte % 62))
            {
                value.push(char::from(c));
            }
        }
    }
    StaticHeaderValue::new(std::mem::take(&mut *value)).map_err(|_| RotationError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unqualified_strips_only_a_version() {
        let base = "arn:aws:lambda:us-east-1:123456789012:function:edge";
        assert_eq!(unqualified(&format!("{base}:7")), base);
        assert_eq!(unqualified(base), base);
    }

    #[test]
    fn random_header_values_have_the_length_and_alphabet() {
        let a = random_header_value(32).unwrap();
        let b = random_header_value(32).unwrap();
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(random_header_value(100).unwrap().expose().len(), 100);
    }

    #[test]
    fn code_sha256_is_lambdas_base64_form() {
        // sha256("") in base64.
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}

#[cfg(test)]
mod edit_tests {
    use aws_sdk_cloudfront::types::{
        CacheBehavior, CacheBehaviors, CustomHeaders, DefaultCacheBehavior,
        LambdaFunctionAssociation, LambdaFunctionAssociations, Origin, OriginCustomHeader, Origins,
        ViewerProtocolPolicy,
    };

    use super::*;

    const EDGE: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";
    const OTHER: &str = "arn:aws:lambda:us-east-1:123456789012:function:other";

    fn associations_list(items: &[(&str, EventType)]) -> LambdaFunctionAssociations {
        let mut b = LambdaFunctionAssociations::builder().quantity(items.len() as i32);
        for (arn, event) in items {
            b = b.items(
                LambdaFunctionAssociation::builder()
                    .lambda_function_arn(*arn)
                    .event_type(event.clone())
                    .build()
                    .unwrap(),
            );
        }
        b.build().unwrap()
    }

    fn config() -> DistributionConfig {
        let header = |name: &str, value: &str| {
            OriginCustomHeader::builder()
                .header_name(name)
                .header_value(value)
                .build()
                .unwrap()
        };
        let origin = |id: &str, headers: Vec<OriginCustomHeader>| {
            let mut custom = CustomHeaders::builder().quantity(headers.len() as i32);
            for h in headers {
                custom = custom.items(h);
            }
            Origin::builder()
                .id(id)
                .domain_name("api.example.com")
                .custom_headers(custom.build().unwrap())
                .build()
                .unwrap()
        };
        DistributionConfig::builder()
            .caller_reference("r")
            .comment("c")
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(2)
                    .items(origin(
                        "a",
                        vec![header("X-Origin-Verify", "old"), header("x-keep", "k")],
                    ))
                    .items(origin("b", vec![header("x-keep", "k")]))
                    .build()
                    .unwrap(),
            )
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("a")
                    .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                    .lambda_function_associations(associations_list(&[
                        (&format!("{EDGE}:3"), EventType::OriginRequest),
                        (&format!("{EDGE}:2"), EventType::OriginResponse),
                        (&format!("{OTHER}:9"), EventType::ViewerRequest),
                    ]))
                    .build()
                    .unwrap(),
            )
            .cache_behaviors(
                CacheBehaviors::builder()
                    .quantity(1)
                    .items(
                        CacheBehavior::builder()
                            .path_pattern("/v2/*")
                            .target_origin_id("b")
                            .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                            .lambda_function_associations(associations_list(&[(
                                &format!("{EDGE}:1"),
                                EventType::OriginRequest,
                            )]))
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn only_origin_request_associations_of_the_function_move() {
        let mut c = config();
        let target = format!("{EDGE}:7");
        assert_eq!(point_associations(&mut c, EDGE, &target), (2, 2));
        let arns: Vec<(String, EventType)> = associations(&c)
            .map(|a| (a.lambda_function_arn.clone(), a.event_type.clone()))
            .collect();
        assert_eq!(
            arns,
            [
                (target.clone(), EventType::OriginRequest),
                (format!("{EDGE}:2"), EventType::OriginResponse),
                (format!("{OTHER}:9"), EventType::ViewerRequest),
                (target.clone(), EventType::OriginRequest),
            ]
        );
        assert_eq!(
            point_associations(&mut c, EDGE, &target),
            (2, 0),
            "nothing left to change"
        );
        assert_eq!(
            point_associations(&mut c, "arn:aws:lambda:us-east-1:1:function:nope", &target).0,
            0
        );
    }

    #[test]
    fn only_the_named_header_changes_case_insensitively() {
        let mut c = config();
        let value = StaticHeaderValue::new("new-value".into()).unwrap();
        assert_eq!(set_custom_header(&mut c, "x-origin-verify", &value), (1, 1));
        assert_eq!(
            custom_headers(&c, "x-origin-verify").collect::<Vec<_>>(),
            ["new-value"]
        );
        assert_eq!(custom_headers(&c, "x-keep").collect::<Vec<_>>(), ["k", "k"]);
        assert_eq!(set_custom_header(&mut c, "X-ORIGIN-VERIFY", &value), (1, 0));
        assert_eq!(set_custom_header(&mut c, "x-absent", &value), (0, 0));
    }
}

//! Rotation targets: what one kind of credential needs at each rotation step.
//!
//! A target says how a value is made, parsed, put in place (accepted where the origin
//! checks it, then sent by CloudFront or the client), tested, and retired. The steps
//! (`steps/`, [`crate::Rotator`]) drive it through the [`Target`] trait and keep, written once, what
//! is common to every target: the stage checks, the Secrets Manager reads and writes,
//! moving the labels and the step's deadline.
//!
//! The targets, one folder or file each, chosen by `ROTATION_TARGET`:
//! - [`signed::SignedTarget`] (`signed`): an edgeseal signing key, published in a
//!   Lambda@Edge version that the distributions' origin-request associations are pointed
//!   at;
//! - [`static_header::StaticHeaderTarget`] (`static-header`): a CloudFront origin custom
//!   header (the `x-origin-verify` setups edgeseal replaces). Its pointing,
//!   [`static_header::OriginHeader`], serves every target whose value CloudFront sends as
//!   an origin header;
//! - [`api_key::ApiKeyTarget`] (`api-gateway-api-key`): a REST API's usage-plan API key,
//!   made and linked before CloudFront sends it as `x-api-key`, retired after the grace;
//! - [`waf::WafTarget`] (`waf`): the static header, with the regional web ACL rule that
//!   matches it widened before CloudFront sends a new value and narrowed after;
//! - [`appsync::AppSyncTarget`] (`appsync-api-key`): an AppSync API key that clients (or
//!   distributions in front of AppSync) read from the secret.
//!
//! Each target is generic over the clients it owns and built by its own `from_config`,
//! which refuses a configuration that selects another target. The rotator is generic
//! over its target ([`crate::Rotator`]`<S, T>`), so nothing dispatches per step.
//!
//! Adding a target touches its own folder here and four other places:
//! 1. this file: `pub mod` for the folder;
//! 2. `settings.rs`: a [`TargetKind`] variant (its `ROTATION_TARGET` name) and a
//!    [`crate::settings::TargetSettings`] variant (its settings, parsed by the folder's
//!    `from_lookup`);
//! 3. `main.rs`: one arm building the target with its SDK clients;
//! 4. `lib.rs`: the target's re-export.

pub(crate) mod api_key;
pub(crate) mod appsync;
pub(crate) mod signed;
pub(crate) mod static_header;
pub(crate) mod waf;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::aws::{ApiError, SecretMetadata, SecretsApi};
use crate::deadline::pause_within;
use crate::error::{RotationError, SetupError};
use crate::origin::{Credential, OriginProbe, ProbeError};
use crate::settings::{Config, TargetKind};

/// A secret version's staging label. Targets parse `Pending` values strictly; `Current`
/// (and `Previous`) values may be in an older form they still accept (migration).
pub(crate) use edgeseal::Stage;

/// One credential kind the rotation rotates. The steps call, for a token staged
/// AWSPENDING (and not yet AWSCURRENT):
/// - createSecret: [`Target::parse`] of an existing pending value (a rerun), else
///   [`Target::create`], whose value the step stores as AWSPENDING;
/// - setSecret: [`Target::set`];
/// - testSecret: [`Target::test`], or [`Target::test_configuration`] when the
///   AWSPENDING version holds no value of this target's (or a copy of the current one):
///   Secrets Manager's configuration test;
/// - finishSecret: [`Target::check_sent`], then the step moves AWSCURRENT, then
///   [`Target::finish`].
///
/// Every method must be idempotent: Secrets Manager reruns a failed rotation with the
/// same token, and the steps start each time from what AWS holds.
pub trait Target: Send + Sync {
    /// A parsed secret value. Its `Debug`, if any, never shows the value.
    type Material: Send + Sync;

    /// Parse a stored value of `stage`, stored under `version_id` (a keyid, for
    /// signing keys). Errors name the stage, never the value.
    fn parse(
        &self,
        value: &str,
        stage: Stage,
        version_id: &str,
    ) -> Result<Self::Material, RotationError>;

    /// Whether `a` and `b` are the same value (a configuration test's AWSPENDING may be
    /// a copy of AWSCURRENT).
    fn same_value(&self, a: &Self::Material, b: &Self::Material) -> bool;

    /// createSecret: a new value, as the secret string to store as AWSPENDING.
    fn create(
        &self,
        step: &StepContext<'_>,
    ) -> impl Future<Output = Result<Zeroizing<String>, RotationError>> + Send;

    /// setSecret: make the origin accept `pending` (keeping the current value accepted;
    /// [`StepContext::secret_value`] reads it if needed), then make CloudFront (or the
    /// client) send it.
    fn set(
        &self,
        step: &StepContext<'_>,
        pending: &Self::Material,
    ) -> impl Future<Output = Result<(), RotationError>> + Send;

    /// testSecret: check `pending` is sent and the origin accepts `pending` and
    /// `current`; when `pending` is rejected, send `current` again and fail.
    fn test(
        &self,
        step: &StepContext<'_>,
        current: &Self::Material,
        pending: &Self::Material,
    ) -> impl Future<Output = Result<(), RotationError>> + Send;

    /// testSecret without a pending value of ours: check, changing nothing, what a
    /// rotation will need (resources readable and in the expected shape, the origin
    /// accepts `current`). The first problem fails, named in the error.
    fn test_configuration(
        &self,
        step: &StepContext<'_>,
        current: &Self::Material,
    ) -> impl Future<Output = Result<(), RotationError>> + Send;

    /// finishSecret, before the labels move: fail unless `pending` is what is sent
    /// everywhere ([`RotationError::NotPointed`]).
    fn check_sent(
        &self,
        step: &StepContext<'_>,
        pending: &Self::Material,
    ) -> impl Future<Output = Result<(), RotationError>> + Send;

    /// finishSecret, after the labels moved: retire what the grace allows (old edge
    /// versions, ...). Failures are logged; they never fail a rotation that completed.
    fn finish(&self, step: &StepContext<'_>) -> impl Future<Output = ()> + Send;
}

/// What a step hands its target: the secret and token, the deadline, the secret's
/// metadata (labels per version) and the shared origin probe.
pub struct StepContext<'a> {
    pub(crate) secret_id: &'a str,
    pub(crate) token: &'a str,
    pub(crate) deadline: Instant,
    pub(crate) metadata: &'a SecretMetadata,
    pub(crate) probe: Option<&'a OriginProbe>,
    /// `PROBE=off`: no probe; testSecret waits this long instead.
    pub(crate) settle_without_probe: Option<Duration>,
    pub(crate) secrets: &'a dyn ReadSecret,
}

impl StepContext<'_> {
    /// The secret's id or ARN.
    pub fn secret_id(&self) -> &str {
        self.secret_id
    }

    /// The rotation's token: the AWSPENDING version id.
    pub fn token(&self) -> &str {
        self.token
    }

    /// When the step must have ended; bounds every wait.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `DescribeSecret`, read at the start of the step.
    pub fn metadata(&self) -> &SecretMetadata {
        self.metadata
    }

    /// The stored value of `version_id` staged `stage` (`GetSecretValue`); `None` when
    /// the version has no value.
    pub async fn secret_value(
        &self,
        version_id: &str,
        stage: &str,
    ) -> Result<Option<Zeroizing<String>>, ApiError> {
        self.secrets.read(self.secret_id, version_id, stage).await
    }

    /// The origin probe, for targets that probe repeatedly; config gives every target
    /// that probes an origin an `ORIGIN_URL`, so its absence fails the step (`stage`
    /// names the value that would have been sent).
    pub(crate) fn origin_probe(&self, stage: Stage) -> Result<&OriginProbe, RotationError> {
        self.probe.ok_or_else(|| RotationError::Origin {
            stage: stage.label(),
            source: ProbeError::Request("no ORIGIN_URL is configured".into()),
        })
    }

    /// Send the origin test with `credential`; the value's `stage` names it in logs and
    /// errors. Bounded by the probe's timeout and the step's deadline.
    pub async fn probe(
        &self,
        credential: Credential<'_>,
        stage: Stage,
    ) -> Result<(), RotationError> {
        if self.probe.is_none() && self.settle_without_probe.is_some() {
            info!(
                stage = stage.label(),
                "PROBE=off: the origin's acceptance of this key is not tested"
            );
            return Ok(());
        }
        let probe = self.origin_probe(stage)?;
        let stage = stage.label();
        let result = tokio::time::timeout_at(self.deadline, probe.probe(credential))
            .await
            .unwrap_or(Err(ProbeError::Timeout(probe.test().timeout)));
        match result {
            Ok(status) => {
                info!(stage, status, "origin accepted the test request");
                Ok(())
            }
            Err(source) => Err(RotationError::Origin { stage, source }),
        }
    }
}

impl StepContext<'_> {
    /// `PROBE=off`: wait `SETTLE_SECS` (the user's bound on how long the verifiers take
    /// to accept a newly staged value and CloudFront to send it), then go on as if the
    /// probes had passed. With probes, nothing to wait for. Fails, without waiting, when
    /// the step's deadline comes first.
    pub(crate) async fn settle_without_probe(&self) -> Result<(), RotationError> {
        let Some(settle) = self.settle_without_probe else {
            return Ok(());
        };
        let Some(wait) = pause_within(self.deadline, settle) else {
            return Err(RotationError::SettleTooLong(settle));
        };
        info!(
            settle_secs = settle.as_secs(),
            "PROBE=off: waiting SETTLE_SECS instead of testing the origin"
        );
        wait.await;
        Ok(())
    }
}

/// Log the result of sending the current value again after the origin rejected the
/// pending one.
pub(crate) fn log_roll_back(result: Result<(), RotationError>) {
    match result {
        Ok(()) => {
            warn!("pending key rejected by the origin; distributions returned to the current key")
        }
        Err(e) => {
            warn!(error = %e, "pending key rejected by the origin; returning to the current key failed")
        }
    }
}

/// A stored value being read (`GetSecretValue`), boxed so [`ReadSecret`] is object-safe.
type ValueRead<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Zeroizing<String>>, ApiError>> + Send + 'a>>;

/// Reading stored secret values, for [`StepContext`] (object-safe, so the context need
/// not name the Secrets Manager client's type).
pub(crate) trait ReadSecret: Send + Sync {
    fn read<'a>(&'a self, secret_id: &'a str, version_id: &'a str, stage: &'a str)
    -> ValueRead<'a>;
}

impl<S: SecretsApi> ReadSecret for S {
    fn read<'a>(
        &'a self,
        secret_id: &'a str,
        version_id: &'a str,
        stage: &'a str,
    ) -> ValueRead<'a> {
        Box::pin(self.get_secret_string(secret_id, Some(version_id), Some(stage)))
    }
}

/// What a target's `from_config` returns when `config` selects another target than
/// `built`.
pub(crate) fn other_target(config: &Config, built: TargetKind) -> SetupError {
    SetupError::OtherTarget {
        configured: config.kind().as_str(),
        built: built.as_str(),
    }
}

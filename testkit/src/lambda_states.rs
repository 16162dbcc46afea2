//! Wrapping the edge function's Lambda API: [`Hooked`] passes every call through and
//! lets [`EdgeFunctionHooks`] watch uploads and publications or answer version states;
//! [`Activation`] uses it for the Lambda function states moto does not model.
//!
//! `PublishVersion` answers `State: Pending`; the version becomes `Active` a while later
//! and, until then, CloudFront refuses to associate it
//! (aws-samples/cloudfront-authorization-at-edge#245: "The function must be in an Active
//! state. The current state for function ...:1 is Pending"; its fix polls the state;
//! Lambda developer guide, "Lambda function states"). [`PendingVersions`] wraps an
//! [`EdgeFunctionApi`] so that every version it publishes stays `Pending` for a set
//! time; [`FakeCloudFront::refuse_inactive_versions`](crate::FakeCloudFront::refuse_inactive_versions)
//! reads the same [`VersionStates`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeseal_rotator::{ApiError, EdgeFunctionApi, FunctionVersion, UpdateStatus, VersionState};

use crate::lock;

/// What a [`Hooked`] Lambda API adds to the one it wraps. Every method does nothing by
/// default.
pub trait EdgeFunctionHooks: Send + Sync {
    /// `UpdateFunctionCode` uploaded `zip`, whose code hash is `code_sha256`.
    fn uploaded(&self, _code_sha256: &str, _zip: &[u8]) {}

    /// `PublishVersion` published `version` (of the code hash `code_sha256`).
    fn published(&self, _version: &FunctionVersion, _code_sha256: &str) {}

    /// The state to report for `version` instead of asking the wrapped API.
    fn version_state(&self, _function: &str, _version: &str) -> Option<VersionState> {
        None
    }
}

/// An [`EdgeFunctionApi`] that passes every call to `inner` and tells `hooks`.
pub struct Hooked<L, H> {
    inner: L,
    hooks: H,
}

impl<L, H> Hooked<L, H> {
    /// Wrap `inner`.
    pub fn with_hooks(inner: L, hooks: H) -> Self {
        Self { inner, hooks }
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }
}

impl<L: EdgeFunctionApi, H: EdgeFunctionHooks> EdgeFunctionApi for Hooked<L, H> {
    async fn update_code(&self, function: &str, zip: Vec<u8>) -> Result<String, ApiError> {
        let sha = self.inner.update_code(function, zip.clone()).await?;
        self.hooks.uploaded(&sha, &zip);
        Ok(sha)
    }

    async fn update_status(&self, function: &str) -> Result<UpdateStatus, ApiError> {
        self.inner.update_status(function).await
    }

    async fn publish_version(
        &self,
        function: &str,
        description: &str,
        code_sha256: &str,
    ) -> Result<FunctionVersion, ApiError> {
        let version = self
            .inner
            .publish_version(function, description, code_sha256)
            .await?;
        self.hooks.published(&version, code_sha256);
        Ok(version)
    }

    async fn version_state(&self, function: &str, version: &str) -> Result<VersionState, ApiError> {
        match self.hooks.version_state(function, version) {
            Some(state) => Ok(state),
            None => self.inner.version_state(function, version).await,
        }
    }

    async fn version_code_sha256(&self, function: &str, version: &str) -> Result<String, ApiError> {
        self.inner.version_code_sha256(function, version).await
    }

    async fn list_versions(&self, function: &str) -> Result<Vec<FunctionVersion>, ApiError> {
        self.inner.list_versions(function).await
    }

    async fn delete_version(&self, function: &str, version: &str) -> Result<(), ApiError> {
        self.inner.delete_version(function, version).await
    }
}

/// When each published version (by qualified ARN) becomes `Active`.
#[derive(Debug, Default)]
pub struct VersionStates {
    active_at: Mutex<HashMap<String, Instant>>,
}

impl VersionStates {
    /// The state of the version `arn`; `None` for versions published before (or
    /// outside) the wrapper, which are long `Active`.
    pub fn state_of_arn(&self, arn: &str) -> Option<VersionState> {
        lock(&self.active_at).get(arn).map(|at| {
            if Instant::now() >= *at {
                VersionState::Active
            } else {
                VersionState::Pending
            }
        })
    }

    fn state_of(&self, function: &str, version: &str) -> Option<VersionState> {
        let arn = lock(&self.active_at)
            .keys()
            .find(|arn| {
                edgeseal::FunctionArn::parse(arn).is_ok_and(|arn| {
                    arn.qualifier() == Some(version)
                        && (arn.unqualified() == function || arn.name() == function)
                })
            })
            .cloned()?;
        self.state_of_arn(&arn)
    }
}

/// Hooks that keep every published version `Pending` for `activation`.
pub struct Activation {
    activation: Duration,
    states: Arc<VersionStates>,
}

impl EdgeFunctionHooks for Activation {
    fn published(&self, version: &FunctionVersion, _code_sha256: &str) {
        lock(&self.states.active_at).insert(version.arn.clone(), Instant::now() + self.activation);
    }

    fn version_state(&self, function: &str, version: &str) -> Option<VersionState> {
        self.states.state_of(function, version)
    }
}

/// An [`EdgeFunctionApi`] whose published versions stay `Pending` for `activation`.
pub type PendingVersions<L> = Hooked<L, Activation>;

impl<L> Hooked<L, Activation> {
    /// Wrap `inner`; record states into `states`.
    pub fn new(inner: L, activation: Duration, states: Arc<VersionStates>) -> Self {
        Self::with_hooks(inner, Activation { activation, states })
    }
}

//! [`MisnumberedVersions`]: a Lambda API whose version numbers name other code than
//! its answers say.
//!
//! moto 5.2.6 numbered a new version `len(versions) + 1`, so once a version had been
//! deleted, `PublishVersion` answered a number an older version still had, with the new
//! code's `CodeSha256`; `ListVersionsByFunction` then showed that number twice, and
//! `GetFunctionConfiguration` of it answered the older version (edgeseal issue 23). AWS
//! never reuses a number (DataBiosphere/azul#6259), and `scripts/moto` now starts moto
//! with a patch that numbers as AWS does (`testkit/moto/server.py`).
//!
//! The same state reaches a rotator on AWS whenever the number it was told is not the
//! code it built: a concurrent publish, an operator's manual association. This wrapper
//! reproduces moto 5.2.6's answers on demand, so that a test can show the rotator
//! checks what a version runs (`GetFunctionConfiguration`, passed through unchanged
//! here: it tells the truth, as on AWS), not what it was told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use edgeseal_rotator::{ApiError, EdgeFunctionApi, FunctionVersion, UpdateStatus, VersionState};

use crate::lock;

/// An [`EdgeFunctionApi`] that reports chosen versions under another number, as its
/// [`Misnumbering`] handle says.
pub struct MisnumberedVersions<L> {
    inner: L,
    numbers: Misnumbering,
}

/// The handle that chooses what a [`MisnumberedVersions`] misnumbers; clones share it.
#[derive(Clone, Default)]
pub struct Misnumbering(Arc<Numbers>);

#[derive(Default)]
struct Numbers {
    /// The number the next `PublishVersion` answer should carry.
    next_as: Mutex<Option<String>>,
    /// Real version number → the number its answers and listings show.
    shown_as: Mutex<HashMap<String, String>>,
}

impl<L> MisnumberedVersions<L> {
    /// Wrap `inner`; nothing is misnumbered until the handle says so.
    pub fn new(inner: L) -> (Self, Misnumbering) {
        let numbers = Misnumbering::default();
        (
            Self {
                inner,
                numbers: numbers.clone(),
            },
            numbers,
        )
    }
}

impl Misnumbering {
    /// The next published version is answered, and listed from then on, as `version`.
    pub fn publish_next_as(&self, version: &str) {
        *lock(&self.0.next_as) = Some(version.to_owned());
    }

    /// List the real version `real` as `shown` (with its real code hash).
    pub fn list_as(&self, real: &str, shown: &str) {
        lock(&self.0.shown_as).insert(real.to_owned(), shown.to_owned());
    }

    /// Show every number as it is again.
    pub fn clear(&self) {
        lock(&self.0.next_as).take();
        lock(&self.0.shown_as).clear();
    }

    fn renumber(&self, mut version: FunctionVersion) -> FunctionVersion {
        if let Some(shown) = lock(&self.0.shown_as).get(&version.version) {
            let base = edgeseal::unqualified_arn(&version.arn).to_owned();
            version.arn = format!("{base}:{shown}");
            version.version = shown.clone();
        }
        version
    }
}

impl<L: EdgeFunctionApi> EdgeFunctionApi for MisnumberedVersions<L> {
    async fn update_code(&self, function: &str, zip: Vec<u8>) -> Result<String, ApiError> {
        self.inner.update_code(function, zip).await
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
        let published = self
            .inner
            .publish_version(function, description, code_sha256)
            .await?;
        if let Some(shown) = lock(&self.numbers.0.next_as).take() {
            self.numbers.list_as(&published.version, &shown);
        }
        Ok(self.numbers.renumber(published))
    }

    async fn version_state(&self, function: &str, version: &str) -> Result<VersionState, ApiError> {
        self.inner.version_state(function, version).await
    }

    async fn version_code_sha256(&self, function: &str, version: &str) -> Result<String, ApiError> {
        self.inner.version_code_sha256(function, version).await
    }

    async fn list_versions(&self, function: &str) -> Result<Vec<FunctionVersion>, ApiError> {
        let listed = self.inner.list_versions(function).await?;
        Ok(listed
            .into_iter()
            .map(|v| self.numbers.renumber(v))
            .collect())
    }

    async fn delete_version(&self, function: &str, version: &str) -> Result<(), ApiError> {
        self.inner.delete_version(function, version).await
    }
}

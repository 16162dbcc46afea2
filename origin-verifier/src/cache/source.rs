//! What the cache needs of Secrets Manager: [`SecretsSource`], its reads, and what they
//! return. [`SdkSource`](super::SdkSource) is the real one (`sdk_source.rs`); tests and
//! benchmarks put their own in its place.

use std::future::Future;

use edgeseal::UnixTime;
use zeroize::Zeroizing;

/// One version of the secret as `ListSecretVersionIds` describes it (edgeseal's
/// [`ListedVersion`](edgeseal::accepted::ListedVersion), under the name this crate's
/// users know).
pub use edgeseal::accepted::ListedVersion as VersionInfo;

/// Why Secrets Manager could not answer. Never carries a secret value.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The secret itself does not exist (or this role may not see it).
    #[error("secret not found: {0}")]
    SecretNotFound(String),
    /// Any other failure: throttling, timeouts, no route, access denied, 5xx.
    #[error("secrets manager {operation} failed: {detail}")]
    Failed {
        /// The API operation.
        operation: &'static str,
        /// The error code or transport failure.
        detail: String,
    },
}

/// The two Secrets Manager reads the cache needs. [`SdkSource`](super::SdkSource) is the
/// real one; tests wrap it to count calls or inject failures.
pub trait SecretsSource: Send + Sync {
    /// Every version of the secret that carries at least one staging label.
    fn list_versions(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionInfo>, SourceError>> + Send;

    /// The `SecretString` of one version; `Ok(None)` if that version no longer exists.
    /// A binary-only version yields an empty string (and is then reported malformed).
    fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<Option<Zeroizing<String>>, SourceError>> + Send;

    /// The `VersionId` and `SecretString` of the version labelled AWSCURRENT, read by its
    /// label (the cold start's read ahead of the listing); `Ok(None)` if there is none.
    /// A source that cannot read by label keeps this default, and the cache reads every
    /// version by id after listing.
    fn get_current(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<CurrentValue>, SourceError>> + Send {
        let _ = secret_id;
        std::future::ready(Ok(None))
    }

    /// The secret's `LastRotatedDate` (`DescribeSecret`): when its last rotation
    /// completed; `Ok(None)` when Secrets Manager gives none. A source that cannot
    /// describe keeps this default, and a cold start then dates a demotion from the
    /// current version's `CreatedDate` (earlier: a shorter grace, never a longer one).
    fn last_rotated(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<UnixTime>, SourceError>> + Send {
        let _ = secret_id;
        std::future::ready(Ok(None))
    }
}

/// A value read by its AWSCURRENT label: the version it belongs to and its
/// `SecretString`.
pub type CurrentValue = (String, Zeroizing<String>);

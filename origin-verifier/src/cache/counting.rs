//! [`CountingSource`]: a [`SecretsSource`] that counts the calls reaching the source it
//! wraps, for the tests' and benchmarks' "how many Secrets Manager calls" figures. Not
//! part of the product: compiled for this crate's own tests and with the `test-support`
//! feature, which only dev-dependencies enable.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use edgeseal::UnixTime;
use zeroize::Zeroizing;

use super::source::{CurrentValue, SecretsSource, SourceError, VersionInfo};

/// Counts the calls that reach the wrapped source (benchmarks and tests). A cheap handle:
/// clones share the source and the counters, so a test hands one clone to the cache and
/// reads the counts through another.
#[derive(Debug, Default)]
pub struct CountingSource<S> {
    shared: Arc<Counted<S>>,
}

/// The wrapped source and its counters, behind the handle's one `Arc`.
#[derive(Debug, Default)]
struct Counted<S> {
    inner: S,
    lists: AtomicU64,
    gets: AtomicU64,
    describes: AtomicU64,
}

impl<S> Clone for CountingSource<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> CountingSource<S> {
    /// Wrap `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            shared: Arc::new(Counted {
                inner,
                lists: AtomicU64::new(0),
                gets: AtomicU64::new(0),
                describes: AtomicU64::new(0),
            }),
        }
    }

    /// `ListSecretVersionIds` calls so far.
    pub fn list_calls(&self) -> u64 {
        self.shared.lists.load(Ordering::Relaxed)
    }

    /// `GetSecretValue` calls so far.
    pub fn get_calls(&self) -> u64 {
        self.shared.gets.load(Ordering::Relaxed)
    }

    /// `DescribeSecret` calls so far.
    pub fn describe_calls(&self) -> u64 {
        self.shared.describes.load(Ordering::Relaxed)
    }

    /// Every call so far.
    pub fn calls(&self) -> u64 {
        self.list_calls() + self.get_calls() + self.describe_calls()
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.shared.inner
    }
}

impl<S: SecretsSource> SecretsSource for CountingSource<S> {
    fn list_versions(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionInfo>, SourceError>> + Send {
        self.shared.lists.fetch_add(1, Ordering::Relaxed);
        self.shared.inner.list_versions(secret_id)
    }

    fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<Option<Zeroizing<String>>, SourceError>> + Send {
        self.shared.gets.fetch_add(1, Ordering::Relaxed);
        self.shared.inner.get_version(secret_id, version_id)
    }

    /// Counted as a `GetSecretValue` call.
    fn get_current(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<CurrentValue>, SourceError>> + Send {
        self.shared.gets.fetch_add(1, Ordering::Relaxed);
        self.shared.inner.get_current(secret_id)
    }

    fn last_rotated(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<UnixTime>, SourceError>> + Send {
        self.shared.describes.fetch_add(1, Ordering::Relaxed);
        self.shared.inner.last_rotated(secret_id)
    }
}

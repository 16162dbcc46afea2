//! The tests' Secrets Manager: a secret's versions in memory, with their labels, dates
//! and values, and the failures and delays each test sets.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use edgeseal::{SigningKey, UnixTime, edgeseal_secret_json};
use tokio::sync::Notify;
use zeroize::Zeroizing;

use super::at;
use crate::cache::{CurrentValue, SecretsSource, SourceError, VersionInfo};

/// One version of the in-memory secret.
pub(super) struct Version {
    id: &'static str,
    stages: Vec<&'static str>,
    created: Option<UnixTime>,
    value: String,
}

/// An HMAC key version, `created` at `at(created)`.
pub(super) fn hmac(id: &'static str, stages: &[&'static str], created: u64) -> Version {
    let key = SigningKey::from_bytes(&[id.bytes().fold(1, u8::wrapping_add); 32]).unwrap();
    Version {
        id,
        stages: stages.to_vec(),
        created: Some(at(created)),
        value: edgeseal_secret_json(&key).to_string(),
    }
}

/// A static header value version (`HEADERVALUE`).
pub(super) fn static_value(id: &'static str, stages: &[&'static str], value: &str) -> Version {
    Version {
        id,
        stages: stages.to_vec(),
        created: Some(at(0)),
        value: format!(r#"{{"HEADERVALUE":"{value}"}}"#),
    }
}

#[derive(Default)]
pub(super) struct World {
    pub(super) versions: Vec<Version>,
    /// Every call fails (an outage).
    pub(super) failing: bool,
    /// `GetSecretValue` fails, the listing answers.
    pub(super) reads_failing: bool,
    pub(super) last_rotated: Option<UnixTime>,
}

/// The in-memory Secrets Manager. While listings are paused, a listing waits until they
/// are resumed.
#[derive(Default)]
pub(super) struct Memory {
    world: Mutex<World>,
    hold: AtomicBool,
    release: Notify,
}

impl Memory {
    /// Change the secret, or how Secrets Manager behaves.
    pub(super) fn set(&self, change: impl FnOnce(&mut World)) {
        change(&mut self.world.lock().unwrap());
    }

    /// From now on a listing waits for [`resume_listings`](Self::resume_listings): a
    /// slow Secrets Manager.
    pub(super) fn pause_listings(&self) {
        self.hold.store(true, Ordering::SeqCst);
    }

    /// Let the listing waiting (if any) and every later one go on.
    pub(super) fn resume_listings(&self) {
        self.hold.store(false, Ordering::SeqCst);
        self.release.notify_one();
    }

    fn fail(operation: &'static str) -> SourceError {
        SourceError::Failed {
            operation,
            detail: "outage".to_owned(),
        }
    }
}

impl SecretsSource for Memory {
    async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
        if self.hold.load(Ordering::SeqCst) {
            self.release.notified().await;
        }
        let world = self.world.lock().unwrap();
        if world.failing {
            return Err(Self::fail("ListSecretVersionIds"));
        }
        Ok(world
            .versions
            .iter()
            .map(|v| VersionInfo {
                version_id: v.id.to_owned(),
                stages: v.stages.iter().map(|s| (*s).to_owned()).collect(),
                created: v.created,
            })
            .collect())
    }

    async fn get_version(
        &self,
        _: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        let world = self.world.lock().unwrap();
        if world.failing || world.reads_failing {
            return Err(Self::fail("GetSecretValue"));
        }
        Ok(world
            .versions
            .iter()
            .find(|v| v.id == version_id)
            .map(|v| Zeroizing::new(v.value.clone())))
    }

    async fn get_current(&self, _: &str) -> Result<Option<CurrentValue>, SourceError> {
        let world = self.world.lock().unwrap();
        if world.failing || world.reads_failing {
            return Err(Self::fail("GetSecretValue"));
        }
        Ok(world
            .versions
            .iter()
            .find(|v| v.stages.contains(&"AWSCURRENT"))
            .map(|v| (v.id.to_owned(), Zeroizing::new(v.value.clone()))))
    }

    async fn last_rotated(&self, _: &str) -> Result<Option<UnixTime>, SourceError> {
        let world = self.world.lock().unwrap();
        if world.failing {
            return Err(Self::fail("DescribeSecret"));
        }
        Ok(world.last_rotated)
    }
}

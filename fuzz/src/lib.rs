//! What the fuzz targets share: one key, one clock, and authorizers over an in-memory
//! Secrets Manager, so that every target is a few lines of "bytes into a library
//! function" and every execution is deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use edgeseal::{
    KeyId, KeySet, SigningKey, StaticHeaderValue, UnixTime, edgeseal_secret_json,
    static_header_secret_json,
};
use origin_verifier::{Authorizer, Config, MetricsSink, SecretsSource, SourceError, VersionInfo};
use zeroize::Zeroizing;

/// The clock every target runs at.
pub const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);
/// The id of the signing key (AWSCURRENT): the key and id of
/// `shared/tests/vectors/signatures.json`, so that its signatures seed the corpus.
pub const KEYID: &str = "3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21";
/// The id of the legacy static header value (AWSPENDING, for migration mode).
pub const STATIC_KEYID: &str = "b2c3d4e5-6789-4bcd-8ef0-123456789abc";
/// The static header value the migration-mode authorizer accepts.
pub const STATIC_VALUE: &str = "static-origin-secret-0123456789";
/// The signing key's bytes: 0, 1, ..., 31 (`key_base64` of `signatures.json`).
pub const KEY_BYTES: [u8; 32] = {
    let mut bytes = [0; 32];
    let mut i = 0;
    while i < 32 {
        bytes[i] = i as u8;
        i += 1;
    }
    bytes
};

/// The signing key.
pub fn key() -> SigningKey {
    SigningKey::from_bytes(&KEY_BYTES).unwrap()
}

/// `{KEYID: key()}` as AWSCURRENT.
pub fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = KeySet::new();
        keys.insert_current(KeyId::new(KEYID).unwrap(), key());
        keys
    })
}

/// Secrets Manager in memory: the key as AWSCURRENT, a static header as AWSPENDING.
/// Every call completes at once, so a handler never waits.
pub struct InMemory;

impl SecretsSource for InMemory {
    async fn list_versions(&self, _: &str) -> Result<Vec<VersionInfo>, SourceError> {
        Ok(vec![
            VersionInfo {
                version_id: KEYID.to_owned(),
                stages: vec!["AWSCURRENT".to_owned()],
                created: Some(UnixTime::from_secs(1_700_000_000)),
            },
            VersionInfo {
                version_id: STATIC_KEYID.to_owned(),
                stages: vec!["AWSPENDING".to_owned()],
                created: Some(UnixTime::from_secs(1_700_000_100)),
            },
        ])
    }

    async fn get_version(
        &self,
        _: &str,
        version_id: &str,
    ) -> Result<Option<Zeroizing<String>>, SourceError> {
        Ok(match version_id {
            KEYID => Some(edgeseal_secret_json(&key())),
            STATIC_KEYID => {
                let value = StaticHeaderValue::new(STATIC_VALUE.to_owned()).unwrap();
                Some(static_header_secret_json("HEADERVALUE", &value))
            }
            _ => None,
        })
    }
}

/// Two authorizers with warm caches: signature mode with simple responses, and
/// migration mode (static header or signature) with IAM policies.
pub fn authorizers() -> &'static [Authorizer<InMemory>; 2] {
    static AUTHORIZERS: OnceLock<[Authorizer<InMemory>; 2]> = OnceLock::new();
    AUTHORIZERS.get_or_init(|| {
        let make = |settings: &[(&str, &str)]| {
            let config = Config::from_lookup(|name| {
                settings
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap();
            let authorizer = Authorizer::new(&config, InMemory, MetricsSink::Discard).unwrap();
            run(authorizer.cache().refresh_at(NOW)).unwrap();
            authorizer
        };
        [
            make(&[("SECRET_ID", "fuzz/secret")]),
            make(&[
                ("SECRET_ID", "fuzz/secret"),
                ("AUTH_MODE", "migration"),
                ("RESPONSE_MODE", "iam"),
            ]),
        ]
    })
}

/// Drive a future that never waits (everything here is in memory) to completion.
pub fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future),
    }
}

/// Split fuzz input into `n` UTF-8 pieces at `\n` (the last piece takes the rest);
/// `None` when the input is not UTF-8.
pub fn pieces<const N: usize>(data: &[u8]) -> Option<[&str; N]> {
    let text = std::str::from_utf8(data).ok()?;
    let mut split = text.splitn(N, '\n');
    Some(std::array::from_fn(|_| split.next().unwrap_or("")))
}

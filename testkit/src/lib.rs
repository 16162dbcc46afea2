//! Test support shared by edgeseal's crates: where the moto server is, an AWS SDK
//! configuration that talks to it, and the stand-ins for what moto lacks, each citing
//! the AWS behaviour it reproduces:
//! - [`FakeCloudFront`]: a faithful in-process CloudFront (moto drops Lambda@Edge
//!   associations and ignores `IfMatch`);
//! - [`Faulty`] / [`FaultPlan`]: fault injection around any of the rotator's AWS traits;
//! - [`PendingVersions`] / [`VersionStates`]: Lambda version states, which moto does not
//!   model;
//! - [`MisnumberedVersions`]: version numbers that name other code than the answers say
//!   (moto 5.2.6 reused numbers; `moto/server.py` now numbers as AWS does);
//! - [`start_rotation`], [`start_configuration_test`], [`rotate_like_secrets_manager`]:
//!   Secrets Manager's rotation driver
//!   (moto cannot invoke a rotation function);
//! - [`BoxedRotator`]: a rotator of any target behind one type, for drivers that run one
//!   scenario over several targets;
//! - [`api_gateway`]: the usage-plan key checks moto skips, and a REST stage whose methods
//!   require an API key, learning of a new key with API Gateway's lag;
//! - [`waf`]: a regional WAF in front of a loopback origin, applying moto's web ACL as
//!   WAF does, area by area;
//! - [`appsync`]: AppSync's API-key rules moto skips, a GraphQL endpoint accepting exactly
//!   the keys AppSync would, and clients that read their key from the secret;
//! - [`oidc`]: an OpenID Connect issuer on loopback (discovery document, JWK Set, keys
//!   rotated mid-run) and the tokens it signs or that forge it;
//! - [`world`]: the builders of the moto-backed worlds (secret, Lambda functions and
//!   versions, CloudFront distribution, WAF web ACL, usage plan, AppSync API), one call
//!   each, shared by the rotator's and the CLI's tests and the demo.
//!
//! None of this is in a product crate: the rotator's release build has no test double.
//!
//! `scripts/test` starts moto (through `moto/server.py`, which patches what moto does
//! unlike AWS; see `moto/README.md`) on a free loopback port and exports
//! `EDGESEAL_MOTO_URL`. Tests that need AWS APIs call [`moto_url`], which fails with a
//! clear message (never skips) when the variable is absent.

pub mod appsync;
mod cloudfront;
mod faults;
mod lambda_states;
mod misnumbered;
mod rotation;
mod run_step;

pub use cloudfront::{ALL_VIEWER_EXCEPT_HOST_HEADER, CACHING_DISABLED, FakeCloudFront};
pub use faults::{FaultPlan, FaultTiming, Faulty, INJECTED_CODE, injected};
pub use lambda_states::{Activation, EdgeFunctionHooks, Hooked, PendingVersions, VersionStates};
pub use misnumbered::{MisnumberedVersions, Misnumbering};
pub use rotation::{
    PendingValue, end_configuration_test, new_version_id, rotate_like_secrets_manager,
    start_configuration_test, start_rotation,
};
pub use run_step::{BoxedRotator, RunStep, StepFuture};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertions that follow.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub mod api_gateway;
pub mod oidc;
pub mod waf;
pub mod world;

/// The environment variable naming the moto server, e.g. `http://127.0.0.1:5000`.
pub const MOTO_URL_VAR: &str = "EDGESEAL_MOTO_URL";

/// The moto server's URL.
///
/// # Panics
/// When `EDGESEAL_MOTO_URL` is unset: run the tests through `scripts/test`, or start
/// moto with `eval "$(bash scripts/moto start)"` (moto server with the patches of
/// `testkit/moto/server.py`), which exports it.
#[allow(clippy::panic)]
pub fn moto_url() -> String {
    match std::env::var(MOTO_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{MOTO_URL_VAR} is not set: run the tests with `bash scripts/test`, or \
             `eval \"$(bash scripts/moto start)\"`, which starts moto and exports it"
        ),
    }
}

/// An SDK configuration for moto: its endpoint, us-east-1, fixed test credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_for(&moto_url()).await
}

/// An SDK configuration for any endpoint (moto, or a fake that speaks the same API).
pub async fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::from_keys(
            "testing", "testing", None,
        ))
        .load()
        .await
}

/// A name no other test in this run uses (tests share one moto server).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// Bytes written from anywhere (a log subscriber's writer, clones of it), read back by
/// the test: `move || buffer.clone()` is a `tracing_subscriber` `MakeWriter`.
#[derive(Clone, Debug, Default)]
pub struct SharedBuffer(std::sync::Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written since the last call, as text (lossy), leaving it empty.
    pub fn take(&self) -> String {
        let bytes = match self.0.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut guard) => guard.extend_from_slice(bytes),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(bytes),
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

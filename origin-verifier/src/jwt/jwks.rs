//! The issuers' key sets, per execution environment: found through OIDC discovery
//! (`<issuer>/.well-known/openid-configuration`, whose `issuer` must equal the issuer:
//! OpenID Connect Discovery 1.0 §4.1, §4.3) or a configured URL, fetched at cold start,
//! refreshed once per TTL, early (rate-limited) when a token names an unknown `kid`, and
//! served stale for a bounded time while the issuer fails. A request never waits for
//! the network in steady state.
//!
//! Keys are read as RFC 7517 §5 says: a key whose `kty` is unknown or unsupported is
//! ignored, not an error. So are keys without `kid` (a token is matched to its key by
//! `kid` only, as the built-in JWT authorizer does), keys whose `use` is not `sig`, and
//! symmetric (`oct`) keys, which would let anyone holding the public document forge an
//! HMAC token.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use edgeseal::UnixTime;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::Value;

use crate::jwt::config::{IssuerConfig, JwtConfig};
use crate::jwt::fetch::{FetchError, Fetcher};

/// One public key of an issuer.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// The key, for `jsonwebtoken`.
    pub key: DecodingKey,
    /// The JWK's `alg`, when it names one.
    pub alg: Option<Algorithm>,
    /// The JWK's `crv` (EC keys).
    pub curve: Option<String>,
}

impl PublicKey {
    /// Whether a token header's `alg` may be verified with this key: the key's own
    /// `alg` if it has one, else the family of its `kty` (and curve for EC).
    pub fn accepts(&self, alg: Algorithm) -> bool {
        if self.alg.is_some_and(|own| own != alg) || self.key.family() != alg.family() {
            return false;
        }
        match (alg, self.curve.as_deref()) {
            (Algorithm::ES256, Some(crv)) => crv == "P-256",
            (Algorithm::ES384, Some(crv)) => crv == "P-384",
            _ => alg.family() != AlgorithmFamily::Hmac,
        }
    }
}

/// An issuer's usable keys by `kid`.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, PublicKey>,
}

impl KeySet {
    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(kid)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, sorted (diagnostics).
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    /// Parse a JWKS document (RFC 7517 §5), keeping the usable signing keys.
    pub fn parse(document: &[u8]) -> Result<Self, FetchError> {
        let value: Value = serde_json::from_slice(document)
            .map_err(|_| FetchError::Document("not JSON".into()))?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| FetchError::Document("no \"keys\" array".into()))?;
        let mut set = HashMap::new();
        for raw in keys {
            let text = |name: &str| raw.get(name).and_then(Value::as_str);
            let Some(kid) = text("kid") else { continue };
            if text("use").is_some_and(|u| u != "sig") || text("kty") == Some("oct") {
                continue;
            }
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            if key.family() == AlgorithmFamily::Hmac {
                continue;
            }
            let alg = match text("alg") {
                None => None,
                Some(name) => match name.parse::<Algorithm>() {
                    Ok(alg) => Some(alg),
                    // A key for an algorithm we do not implement: unusable, ignored.
                    Err(_) => continue,
                },
            };
            set.insert(
                kid.to_owned(),
                PublicKey {
                    key,
                    alg,
                    curve: text("crv").map(str::to_owned),
                },
            );
        }
        if set.is_empty() {
            return Err(FetchError::Document("no usable signing key".into()));
        }
        Ok(Self { keys: set })
    }
}

#[derive(Debug, Default)]
struct IssuerState {
    /// The JWKS URL: configured, or from discovery.
    jwks_url: Option<String>,
    keys: Option<Arc<KeySet>>,
    /// Last successful fetch.
    fetched_at: Option<UnixTime>,
    /// No fetch before this after a failure.
    retry_at: Option<UnixTime>,
    /// Last refresh caused by an unknown `kid`.
    on_demand_at: Option<UnixTime>,
    /// Key ids a refresh made for them found absent (oldest first, at most
    /// [`ABSENT_KIDS_MAX`]): a token naming one is refused at once while the refresh
    /// interval runs, instead of waiting for it ([`JwksCache::refresh_for_unknown_kid`]).
    absent: VecDeque<String>,
}

/// How many key ids confirmed absent are remembered per issuer: enough for the few
/// forged key ids a client repeats; random ones push the oldest out, and wait as before.
const ABSENT_KIDS_MAX: usize = 64;

/// Timing of the key-set cache.
#[derive(Clone, Copy, Debug)]
struct Timing {
    ttl: u64,
    max_stale: u64,
    retry: u64,
    unknown_kid_interval: u64,
}

/// Every configured issuer's key set.
#[derive(Debug)]
pub struct JwksCache {
    fetcher: Fetcher,
    issuers: Vec<(IssuerConfig, tokio::sync::Mutex<IssuerState>)>,
    timing: Timing,
    max_wait: Duration,
    fetches: AtomicU64,
}

impl JwksCache {
    /// A cache for `config`'s issuers; nothing fetched yet.
    pub fn new(config: &JwtConfig) -> Self {
        Self {
            fetcher: Fetcher::new(Duration::from_millis(config.jwks_timeout_ms)),
            issuers: config
                .issuers
                .iter()
                .map(|issuer| {
                    let state = IssuerState {
                        jwks_url: issuer.jwks_url.clone(),
                        ..IssuerState::default()
                    };
                    (issuer.clone(), tokio::sync::Mutex::new(state))
                })
                .collect(),
            timing: Timing {
                ttl: config.jwks_ttl_secs,
                max_stale: config.jwks_max_stale_secs,
                retry: config.jwks_retry_secs,
                unknown_kid_interval: config.unknown_kid_min_interval_secs,
            },
            max_wait: Duration::from_millis(config.unknown_kid_max_wait_ms),
            fetches: AtomicU64::new(0),
        }
    }

    /// The index of `iss` among the configured issuers.
    pub fn issuer_index(&self, iss: &str) -> Option<usize> {
        self.issuers.iter().position(|(c, _)| c.issuer == iss)
    }

    /// HTTP requests made so far (discovery and key sets): tests and benchmarks count
    /// the network calls per request with it.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Load every issuer's keys (cold start); failures are logged and retried later.
    pub async fn load_all_at(&self, now: UnixTime) {
        for index in 0..self.issuers.len() {
            let _ = self.keys_at(index, now).await;
        }
    }

    /// The issuer's keys as of `now`: refreshed first if the TTL has passed (and no
    /// failed attempt is too recent); stale keys while within the bound; else `None`.
    pub async fn keys_at(&self, index: usize, now: UnixTime) -> Option<Arc<KeySet>> {
        let (config, state) = self.issuers.get(index)?;
        let mut state = state.lock().await;
        let due = state
            .fetched_at
            .is_none_or(|at| now.as_secs() >= at.as_secs().saturating_add(self.timing.ttl));
        let may_retry = state
            .retry_at
            .is_none_or(|at| now.as_secs() >= at.as_secs());
        if due && may_retry {
            let _ = self.refresh(config, &mut state, now).await;
        }
        self.usable(&state, now)
    }

    /// After a token named `kid` that the held set lacks: one refresh, at most one per
    /// `JWKS_UNKNOWN_KID_MIN_INTERVAL_SECS` per issuer, whatever the request rate (forged
    /// key ids cannot drive traffic to the issuer). Within the interval the request
    /// waits for it to end, up to `JWKS_UNKNOWN_KID_MAX_WAIT_MS` (so a key the issuer
    /// has just added is learnt even if a forged `kid` used the last refresh), without
    /// holding up requests for known keys. It does not wait when a refresh made for
    /// that very `kid` (so after a token naming it arrived) found it absent: an issuer
    /// publishes a key before it signs with it, so the set held is as new as that `kid`
    /// needs, and a forged `kid` repeated on every request holds no execution
    /// environment. `None` when still rate-limited, or failed.
    pub async fn refresh_for_unknown_kid(
        &self,
        index: usize,
        kid: &str,
        now: UnixTime,
    ) -> Option<Arc<KeySet>> {
        let (_, state) = self.issuers.get(index)?;
        let (opens_at, confirmed_absent) = {
            let state = state.lock().await;
            let opens_at = state.on_demand_at.map(|at| {
                at.as_secs()
                    .saturating_add(self.timing.unknown_kid_interval)
            });
            (opens_at, state.absent.iter().any(|k| k == kid))
        };
        let wait_secs = opens_at.map_or(0, |at| at.saturating_sub(now.as_secs()));
        if wait_secs == 0 || self.max_wait.is_zero() {
            return self.refresh_for_unknown_kid_now(index, kid, now).await;
        }
        if confirmed_absent {
            return None;
        }
        // Whole seconds on the injected clock; the sleep is bounded by the setting.
        let wait = Duration::from_secs(wait_secs).min(self.max_wait);
        tokio::time::sleep(wait).await;
        let later = UnixTime::from_secs(
            now.as_secs()
                .saturating_add(wait.as_secs_f64().ceil() as u64),
        );
        self.refresh_for_unknown_kid_now(index, kid, later).await
    }

    async fn refresh_for_unknown_kid_now(
        &self,
        index: usize,
        kid: &str,
        now: UnixTime,
    ) -> Option<Arc<KeySet>> {
        let (config, state) = self.issuers.get(index)?;
        let mut state = state.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(keys) = self.usable(&state, now).filter(|k| k.get(kid).is_some()) {
            return Some(keys);
        }
        let allowed = state.on_demand_at.is_none_or(|at| {
            now.as_secs()
                >= at
                    .as_secs()
                    .saturating_add(self.timing.unknown_kid_interval)
        });
        if !allowed {
            return None;
        }
        state.on_demand_at = Some(now);
        let refreshed = self.refresh(config, &mut state, now).await;
        let keys = self.usable(&state, now);
        if refreshed
            && keys.as_ref().is_some_and(|k| k.get(kid).is_none())
            && !state.absent.iter().any(|k| k == kid)
        {
            if state.absent.len() >= ABSENT_KIDS_MAX {
                state.absent.pop_front();
            }
            state.absent.push_back(kid.to_owned());
        }
        keys
    }

    fn usable(&self, state: &IssuerState, now: UnixTime) -> Option<Arc<KeySet>> {
        let fetched = state.fetched_at?;
        let limit = fetched
            .as_secs()
            .saturating_add(self.timing.ttl)
            .saturating_add(self.timing.max_stale);
        (now.as_secs() < limit)
            .then(|| state.keys.clone())
            .flatten()
    }

    /// Fetch the issuer's key set; whether that succeeded.
    async fn refresh(&self, config: &IssuerConfig, state: &mut IssuerState, now: UnixTime) -> bool {
        match self.fetch(config, state).await {
            Ok(keys) => {
                tracing::info!(
                    issuer = %config.issuer,
                    keys = keys.len(),
                    kids = ?keys.kids(),
                    "jwks_refreshed"
                );
                // A key id once absent that the issuer now publishes is no longer so.
                state.absent.retain(|kid| keys.get(kid).is_none());
                state.keys = Some(Arc::new(keys));
                state.fetched_at = Some(now);
                state.retry_at = None;
                true
            }
            Err(err) => {
                tracing::warn!(issuer = %config.issuer, error = %err, "jwks_refresh_failed");
                state.retry_at = Some(UnixTime::from_secs(
                    now.as_secs().saturating_add(self.timing.retry),
                ));
                if config.jwks_url.is_none() {
                    // Discover again next time: the issuer may have moved its key set.
                    state.jwks_url = None;
                }
                false
            }
        }
    }

    async fn fetch(
        &self,
        config: &IssuerConfig,
        state: &mut IssuerState,
    ) -> Result<KeySet, FetchError> {
        let url = match &state.jwks_url {
            Some(url) => url.clone(),
            None => {
                let url = self.discover(&config.issuer).await?;
                state.jwks_url = Some(url.clone());
                url
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        KeySet::parse(&self.fetcher.get(&url).await?)
    }

    /// `jwks_uri` from the issuer's discovery document.
    async fn discover(&self, issuer: &str) -> Result<String, FetchError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let url = discovery_url(issuer);
        let document: Value = serde_json::from_slice(&self.fetcher.get(&url).await?)
            .map_err(|_| FetchError::Document("discovery document is not JSON".into()))?;
        if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(FetchError::Document(
                "discovery document names another issuer".into(),
            ));
        }
        document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| FetchError::Document("discovery document has no jwks_uri".into()))
    }
}

/// `<issuer>/.well-known/openid-configuration`, a trailing `/` of the issuer removed
/// first (OpenID Connect Discovery 1.0 §4).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

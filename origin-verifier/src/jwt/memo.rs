//! Tokens already verified in this execution environment, remembered until they expire,
//! so a client's next request with the same token costs a hash and a map lookup instead
//! of a signature check. Keyed by the token's SHA-256, never the token itself; bounded
//! in entries; only a token that passed every check but the route's scopes is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use edgeseal::UnixTime;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What a verified token proved.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Index of its issuer in the configuration.
    pub issuer_index: usize,
    /// The key that signed it: a memo hit is honoured only while the issuer's key set
    /// still has it.
    pub kid: String,
    /// Its `exp`.
    pub exp: u64,
    /// Its payload.
    pub claims: Arc<Map<String, Value>>,
    /// Its `scope` / `scp`.
    pub scopes: Arc<[String]>,
}

/// The token's memo key.
pub type TokenDigest = [u8; 32];

/// The digest of a token.
pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Bounded map from token digest to what it proved.
#[derive(Debug)]
pub struct Memo {
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<TokenDigest, Verified>,
    /// Last time expired entries were swept (at most once a second when full).
    swept_at: u64,
}

impl Memo {
    /// A memo of at most `max_entries` tokens (0: remembers nothing).
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The remembered verdict for `digest`, if it has not expired by `now` (with
    /// `skew`, as when it was checked).
    pub fn get(&self, digest: &TokenDigest, now: UnixTime, skew: u64) -> Option<Verified> {
        let mut inner = self.lock();
        let hit = inner.entries.get(digest)?;
        if now.as_secs() >= hit.exp.saturating_add(skew) {
            inner.entries.remove(digest);
            return None;
        }
        Some(hit.clone())
    }

    /// Remember `verified` for `digest`. When full, expired entries are swept first (at
    /// most once a second); if it is still full, the token is not remembered.
    pub fn insert(&self, digest: TokenDigest, verified: Verified, now: UnixTime, skew: u64) {
        if self.max_entries == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.len() >= self.max_entries && inner.swept_at != now.as_secs() {
            inner.swept_at = now.as_secs();
            inner
                .entries
                .retain(|_, v| now.as_secs() < v.exp.saturating_add(skew));
        }
        if inner.entries.len() < self.max_entries {
            inner.entries.insert(digest, verified);
        }
    }

    /// Forget `digest` (its key left the issuer's set).
    pub fn remove(&self, digest: &TokenDigest) {
        self.lock().entries.remove(digest);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(exp: u64) -> Verified {
        Verified {
            issuer_index: 0,
            kid: "k".into(),
            exp,
            claims: Arc::new(Map::new()),
            scopes: Arc::from(Vec::new()),
        }
    }

    #[test]
    fn bounded_and_expiring() {
        let memo = Memo::new(2);
        let now = UnixTime::from_secs(100);
        memo.insert(digest("a"), verified(150), now, 0);
        memo.insert(digest("b"), verified(101), now, 0);
        memo.insert(digest("c"), verified(150), now, 0);
        assert_eq!(memo.len(), 2, "full: c is not remembered");
        assert!(memo.get(&digest("c"), now, 0).is_none());
        // b expires; the next insert when full sweeps it.
        let later = UnixTime::from_secs(120);
        assert!(memo.get(&digest("a"), later, 0).is_some());
        memo.insert(digest("c"), verified(150), later, 0);
        assert!(memo.get(&digest("c"), later, 0).is_some());
        assert!(
            memo.get(&digest("a"), UnixTime::from_secs(150), 0)
                .is_none()
        );
        let none = Memo::new(0);
        none.insert(digest("a"), verified(150), now, 0);
        assert_eq!(none.len(), 0);
    }
}

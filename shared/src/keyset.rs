//! The keys a verifier accepts, each with its Secrets Manager stage.

use core::fmt;

use crate::error::Rejection;
use crate::key::{KeyId, SigningKey};
use crate::time::UnixTime;

/// The Secrets Manager staging label a key version carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// `AWSPREVIOUS`: accepted only until its grace period ends.
    Previous,
    /// `AWSPENDING`: being rotated in; the edge may already sign with it.
    Pending,
    /// `AWSCURRENT`.
    Current,
}

impl Stage {
    /// The Secrets Manager staging label.
    pub const fn label(self) -> &'static str {
        match self {
            Stage::Current => "AWSCURRENT",
            Stage::Pending => "AWSPENDING",
            Stage::Previous => "AWSPREVIOUS",
        }
    }

    /// The stage for a Secrets Manager staging label, if it is one of the three.
    pub fn from_label(label: &str) -> Option<Self> {
        match label {
            "AWSCURRENT" => Some(Stage::Current),
            "AWSPENDING" => Some(Stage::Pending),
            "AWSPREVIOUS" => Some(Stage::Previous),
            _ => None,
        }
    }

    /// Lowercase name for logs and the authorizer context.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Current => "current",
            Stage::Pending => "pending",
            Stage::Previous => "previous",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key [`KeySet::find_entry_at`] accepts.
pub(crate) struct Found<'k> {
    pub(crate) keyid: &'k KeyId,
    pub(crate) key: &'k SigningKey,
    pub(crate) stage: Stage,
}

#[derive(Clone)]
struct Entry {
    keyid: KeyId,
    key: SigningKey,
    stage: Stage,
    /// For [`Stage::Previous`]: the first instant at which the key is no longer accepted.
    retired_at: Option<UnixTime>,
}

impl Entry {
    /// This key as [`KeySet::find_entry_at`] hands it out, unless it is retired at `now`.
    fn found_at(&self, now: UnixTime) -> Result<Found<'_>, Rejection> {
        match self.retired_at {
            Some(retired_at) if now >= retired_at => Err(Rejection::PreviousKeyRetired),
            _ => Ok(Found {
                keyid: &self.keyid,
                key: &self.key,
                stage: self.stage,
            }),
        }
    }
}

/// The keys a verifier accepts: the current one, the pending one during a rotation, and
/// the previous one for a bounded grace after the rotation that demoted it.
///
/// A key id appears at most once; when a version carries two stages (mid-rotation a
/// version can be both AWSCURRENT and AWSPENDING) the stronger one is kept.
#[derive(Clone, Default)]
pub struct KeySet {
    entries: Vec<Entry>,
}

impl KeySet {
    /// An empty set (which verifies nothing: fail closed).
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the AWSCURRENT key.
    pub fn insert_current(&mut self, keyid: KeyId, key: SigningKey) {
        self.upsert(Entry {
            keyid,
            key,
            stage: Stage::Current,
            retired_at: None,
        });
    }

    /// Add the AWSPENDING key.
    pub fn insert_pending(&mut self, keyid: KeyId, key: SigningKey) {
        self.upsert(Entry {
            keyid,
            key,
            stage: Stage::Pending,
            retired_at: None,
        });
    }

    /// Add the AWSPREVIOUS key, accepted strictly before `retired_at`.
    pub fn insert_previous(&mut self, keyid: KeyId, key: SigningKey, retired_at: UnixTime) {
        self.upsert(Entry {
            keyid,
            key,
            stage: Stage::Previous,
            retired_at: Some(retired_at),
        });
    }

    fn upsert(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.keyid == entry.keyid) {
            Some(existing) if existing.stage >= entry.stage => {}
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// The key for `keyid` and its stage, if it is accepted at `now`.
    pub fn find_at(&self, keyid: &str, now: UnixTime) -> Result<(&SigningKey, Stage), Rejection> {
        self.find_entry_at(keyid, now)
            .map(|found| (found.key, found.stage))
    }

    /// [`find_at`](Self::find_at), with the set's own [`KeyId`] (a verdict hands out
    /// a clone of it instead of making one from the field's text).
    pub(crate) fn find_entry_at(&self, keyid: &str, now: UnixTime) -> Result<Found<'_>, Rejection> {
        if self.entries.is_empty() {
            return Err(Rejection::NoKeys);
        }
        self.entries
            .iter()
            .find(|e| e.keyid.as_str() == keyid)
            .ok_or(Rejection::UnknownKey)?
            .found_at(now)
    }

    /// [`find_entry_at`](Self::find_entry_at) for a key id written at the start of
    /// `text` and closed by a `"` (as in a `keyid` parameter), with the text after it;
    /// `None` for every case `find_entry_at` refuses. The id is compared with each held
    /// one in place, so it is neither scanned for its end nor checked: a held id is valid.
    pub(crate) fn find_written_at<'t>(
        &self,
        text: &'t str,
        now: UnixTime,
    ) -> Option<(Found<'_>, &'t str)> {
        let (entry, rest) = self.entries.iter().find_map(|e| {
            let rest = text.strip_prefix(e.keyid.as_str())?;
            rest.starts_with('"').then_some((e, rest))
        })?;
        Some((entry.found_at(now).ok()?, rest))
    }

    /// Whether a key with this id is in the set (whatever its grace).
    pub fn contains(&self, keyid: &str) -> bool {
        self.entries.iter().any(|e| e.keyid.as_str() == keyid)
    }

    /// The key of the given stage, if any (the signer uses the current one).
    pub fn get(&self, stage: Stage) -> Option<(&KeyId, &SigningKey)> {
        self.entries
            .iter()
            .find(|e| e.stage == stage)
            .map(|e| (&e.keyid, &e.key))
    }

    /// Key ids and stages, for logs and status output (no key material).
    pub fn stages(&self) -> impl Iterator<Item = (&KeyId, Stage)> {
        self.entries.iter().map(|e| (&e.keyid, e.stage))
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for e in &self.entries {
            list.entry(&(e.keyid.as_str(), e.stage, e.retired_at));
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> KeyId {
        KeyId::new(s).unwrap()
    }
    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn empty_set_fails_closed() {
        assert_eq!(
            KeySet::new()
                .find_at("x", UnixTime::from_secs(0))
                .unwrap_err(),
            Rejection::NoKeys
        );
    }

    #[test]
    fn previous_is_accepted_strictly_before_retirement() {
        let mut set = KeySet::new();
        set.insert_previous(id("old"), key(1), UnixTime::from_secs(100));
        assert_eq!(
            set.find_at("old", UnixTime::from_secs(99)).unwrap().1,
            Stage::Previous
        );
        assert_eq!(
            set.find_at("old", UnixTime::from_secs(100)).unwrap_err(),
            Rejection::PreviousKeyRetired
        );
        assert_eq!(
            set.find_at("other", UnixTime::from_secs(0)).unwrap_err(),
            Rejection::UnknownKey
        );
    }

    #[test]
    fn stronger_stage_wins_for_one_version() {
        let mut set = KeySet::new();
        set.insert_pending(id("v2"), key(2));
        set.insert_current(id("v2"), key(2));
        set.insert_pending(id("v2"), key(2));
        assert_eq!(set.len(), 1);
        assert_eq!(
            set.find_at("v2", UnixTime::from_secs(0)).unwrap().1,
            Stage::Current
        );
    }

    #[test]
    fn debug_shows_ids_not_keys() {
        let mut set = KeySet::new();
        set.insert_current(id("v1"), key(0x41));
        let shown = format!("{set:?}");
        assert!(shown.contains("v1"));
        assert!(!shown.contains("AAAA") && !shown.contains("65"), "{shown}");
    }
}

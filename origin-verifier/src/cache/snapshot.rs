//! [`Snapshot`]: the keys and static header values accepted as of one refresh, which
//! requests verify against.

use edgeseal::{KeyId, KeySet, Stage, StaticHeaderValue, UnixTime};

/// A static header value with its stage.
#[derive(Clone, Debug)]
pub(super) struct StaticEntry {
    pub(super) keyid: KeyId,
    pub(super) stage: Stage,
    pub(super) value: StaticHeaderValue,
    /// Accepted strictly before this instant (AWSPREVIOUS); `None`: no end.
    pub(super) retired_at: Option<UnixTime>,
}

/// The keys accepted as of one refresh. Immutable; requests hold it through an `Arc`.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub(super) keys: KeySet,
    pub(super) statics: Vec<StaticEntry>,
    pub(super) refreshed_at: Option<UnixTime>,
}

impl Snapshot {
    /// The signing keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Whether no value of either kind is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.statics.is_empty()
    }

    /// Whether any static header value is held.
    pub fn has_static_values(&self) -> bool {
        !self.statics.is_empty()
    }

    /// When the refresh that produced it ran.
    pub fn refreshed_at(&self) -> Option<UnixTime> {
        self.refreshed_at
    }

    /// The version and stage whose static value equals `presented` and is accepted at
    /// `now`. Every held value is compared (in constant time), so the time taken does
    /// not reveal which one matched.
    pub fn match_static(&self, presented: &str, now: UnixTime) -> Option<(&KeyId, Stage)> {
        let mut found = None;
        for entry in &self.statics {
            let live = entry.retired_at.is_none_or(|r| now < r);
            if entry.value.matches(presented) && live && found.is_none() {
                found = Some((&entry.keyid, entry.stage));
            }
        }
        found
    }
}

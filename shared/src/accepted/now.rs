//! Which versions are accepted at one instant, and until when: the rules of the parent
//! module's docs as one pure function, [`accepted_now`]. No I/O and no clock: the host
//! lists the versions, reads `LastRotatedDate` when [`LabelHistory::needs_last_rotated`]
//! says it matters, and passes `now`. [`KeyState`](super::KeyState) (so the middlewares
//! through verifiers/core, and the authorizer's cache) and the CLI all answer through it.

use std::collections::HashMap;

use crate::keyset::Stage;
use crate::time::UnixTime;

use super::ListedVersion;

/// What a host remembers of the labels from one refresh to the next, to date demotions:
/// the edgeseal stages each version carried, and the demotion time given to each
/// AWSPREVIOUS version. A cold start (or the CLI) has none: [`LabelHistory::default`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelHistory {
    stages_seen: HashMap<String, Vec<Stage>>,
    demoted_at: HashMap<String, UnixTime>,
}

impl LabelHistory {
    /// Whether `listing` has an AWSPREVIOUS version whose demotion this history cannot
    /// date (it never saw the version as AWSCURRENT, nor dated it before): only then does
    /// the secret's `LastRotatedDate` change the answer, so only then is it worth a
    /// `DescribeSecret`.
    pub fn needs_last_rotated(&self, listing: &[ListedVersion]) -> bool {
        listing.iter().any(|v| {
            strongest_stage(&v.stages) == Some(Stage::Previous)
                && !self.demoted_at.contains_key(&v.version_id)
                && !self.was_current(&v.version_id)
        })
    }

    /// The demotion time given to `version_id`, if it was AWSPREVIOUS at the last answer.
    pub fn demoted_at(&self, version_id: &str) -> Option<UnixTime> {
        self.demoted_at.get(version_id).copied()
    }

    fn was_current(&self, version_id: &str) -> bool {
        self.stages_seen
            .get(version_id)
            .is_some_and(|s| s.contains(&Stage::Current))
    }
}

/// One version carrying an edgeseal label, as the rules take it at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedVersion {
    /// The `VersionId` (the signatures' `keyid`).
    pub version_id: String,
    /// Its strongest edgeseal stage (AWSCURRENT over AWSPENDING over AWSPREVIOUS).
    pub stage: Stage,
    /// For AWSPREVIOUS: the first instant it is no longer accepted (demotion + grace).
    pub until: Option<UnixTime>,
}

impl AcceptedVersion {
    /// Whether it is accepted at `now`: AWSPREVIOUS strictly before `until`.
    pub fn is_accepted_at(&self, now: UnixTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// What [`accepted_now`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedNow {
    /// Every version with an edgeseal label, in listing order (an AWSPREVIOUS past its
    /// grace included, with its `until`); versions without one are dropped.
    pub versions: Vec<AcceptedVersion>,
    /// The history to pass with the next listing.
    pub history: LabelHistory,
}

/// The versions of `listing` the rules accept at `now`, and until when: AWSCURRENT and
/// AWSPENDING without end; AWSPREVIOUS until its demotion time + `grace_secs`, the
/// demotion dated from `history` when it knows it, else as a cold start dates it
/// ([`cold_start_demotion`], else `now`). `last_rotated` is the secret's
/// `LastRotatedDate`, if the host read it.
pub fn accepted_now(
    listing: &[ListedVersion],
    last_rotated: Option<UnixTime>,
    history: &LabelHistory,
    grace_secs: u64,
    now: UnixTime,
) -> AcceptedNow {
    let labelled: Vec<(&ListedVersion, Vec<Stage>)> = listing
        .iter()
        .filter_map(|v| {
            let stages = edgeseal_stages(&v.stages);
            (!stages.is_empty()).then_some((v, stages))
        })
        .collect();
    let current_created = labelled
        .iter()
        .find(|(_, stages)| stages.contains(&Stage::Current))
        .and_then(|(v, _)| v.created);
    let cold_start_estimate =
        cold_start_demotion(current_created, last_rotated, now).unwrap_or(now);

    let mut next = LabelHistory::default();
    let mut versions = Vec::with_capacity(labelled.len());
    for (v, stages) in labelled {
        let Some(stage) = stages.last().copied() else {
            continue;
        };
        let until = (stage == Stage::Previous).then(|| {
            let demoted = match history.demoted_at(&v.version_id) {
                Some(known) => known,
                None if history.was_current(&v.version_id) => now,
                None => cold_start_estimate,
            };
            next.demoted_at.insert(v.version_id.clone(), demoted);
            demoted.plus_secs(grace_secs)
        });
        next.stages_seen.insert(v.version_id.clone(), stages);
        versions.push(AcceptedVersion {
            version_id: v.version_id.clone(),
            stage,
            until,
        });
    }
    AcceptedNow {
        versions,
        history: next,
    }
}

/// When a host that never saw the AWSPREVIOUS version as AWSCURRENT takes it to have
/// been demoted (the parent module's docs): the secret's `LastRotatedDate` if it lies
/// between the current version's `CreatedDate` and `now` (only then can it be the
/// completion of the rotation that made that version current), else that `CreatedDate`
/// (not after `now`). `None`: neither is known, and [`accepted_now`] counts from `now`.
pub fn cold_start_demotion(
    current_created: Option<UnixTime>,
    last_rotated: Option<UnixTime>,
    now: UnixTime,
) -> Option<UnixTime> {
    let created = current_created.filter(|created| *created <= now);
    let completed =
        last_rotated.filter(|t| *t <= now && created.is_some_and(|created| created <= *t));
    completed.or(created)
}

/// The edgeseal stages among `labels`, weakest first, without repeats.
pub(super) fn edgeseal_stages(labels: &[String]) -> Vec<Stage> {
    let mut stages: Vec<Stage> = labels.iter().filter_map(|s| Stage::from_label(s)).collect();
    stages.sort_unstable();
    stages.dedup();
    stages
}

/// The strongest edgeseal stage among `labels`, if any.
fn strongest_stage(labels: &[String]) -> Option<Stage> {
    labels.iter().filter_map(|s| Stage::from_label(s)).max()
}

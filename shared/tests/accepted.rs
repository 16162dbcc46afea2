//! The key rules (`edgeseal::accepted`), driven as a host drives them: listings and
//! values handed in with `now`, every boundary placed exactly; and their pure core,
//! `accepted_now`, as tables (listing, dates, history, `now` -> accepted set).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use edgeseal::accepted::{
    AcceptedVersion, KeyRules, KeyState, LabelHistory, ListedVersion, ValueKind, accepted_now,
    cold_start_demotion,
};
use edgeseal::{Rejection, SigningKey, Stage, UnixTime, edgeseal_secret_json};
use zeroize::Zeroizing;

fn t(secs: u64) -> UnixTime {
    UnixTime::from_secs(1_700_000_000 + secs)
}

fn version(id: &str, stages: &[&str], created: Option<u64>) -> ListedVersion {
    ListedVersion {
        version_id: id.to_owned(),
        stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        created: created.map(t),
    }
}

fn secret(byte: u8) -> Zeroizing<String> {
    edgeseal_secret_json(&SigningKey::from_bytes(&[byte; 32]).unwrap())
}

fn rules() -> KeyRules {
    KeyRules {
        ttl_secs: 60,
        max_stale_secs: 100_000,
        retry_secs: 5,
        unknown_key_min_interval_secs: 10,
        previous_grace_secs: 600,
        secret_key_name: None,
    }
}

/// One refresh as a host does it: read what the state asks for, then apply.
fn refresh(state: &mut KeyState, now: UnixTime, listing: Vec<ListedVersion>) -> Vec<String> {
    let needed: Vec<String> = state
        .values_needed(&listing)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let values = needed.iter().map(|id| {
        let byte = id.as_bytes()[1];
        (id.clone(), Some(secret(byte)))
    });
    state.apply(now, listing, None, values);
    needed
}

fn stage_of(state: &mut KeyState, now: UnixTime, keyid: &str) -> Result<Stage, Rejection> {
    let snapshot = state.snapshot_at(now).ok_or(Rejection::NoKeys)?;
    snapshot.keys().find_at(keyid, now).map(|(_, stage)| stage)
}

#[test]
fn current_and_pending_are_accepted_and_unlabelled_versions_are_not() {
    let mut state = KeyState::new(rules());
    let read = refresh(
        &mut state,
        t(0),
        vec![
            version("v1", &["AWSCURRENT"], Some(0)),
            version("v2", &["AWSPENDING"], Some(0)),
            version("v3", &["CUSTOM"], Some(0)),
        ],
    );
    assert_eq!(read, ["v1", "v2"], "only labelled versions are read");
    assert_eq!(stage_of(&mut state, t(1), "v1"), Ok(Stage::Current));
    assert_eq!(stage_of(&mut state, t(1), "v2"), Ok(Stage::Pending));
    assert_eq!(stage_of(&mut state, t(1), "v3"), Err(Rejection::UnknownKey));
}

#[test]
fn nothing_loaded_fails_closed() {
    let mut state = KeyState::new(rules());
    assert!(state.refresh_due(t(0)));
    assert!(state.snapshot_at(t(0)).is_none());
    state.refresh_failed(t(0));
    assert!(state.snapshot_at(t(1)).is_none());
}

#[test]
fn values_are_read_once_per_version() {
    let mut state = KeyState::new(rules());
    refresh(
        &mut state,
        t(0),
        vec![version("v1", &["AWSCURRENT"], Some(0))],
    );
    let listing = vec![
        version("v1", &["AWSCURRENT"], Some(0)),
        version("v2", &["AWSPENDING"], Some(30)),
    ];
    assert_eq!(state.values_needed(&listing), ["v2"]);
    refresh(&mut state, t(60), listing);
    let listing = vec![
        version("v1", &["AWSPREVIOUS"], Some(0)),
        version("v2", &["AWSCURRENT"], Some(30)),
    ];
    assert!(state.values_needed(&listing).is_empty());
}

#[test]
fn a_demotion_seen_warm_counts_the_grace_from_the_refresh_that_saw_it() {
    let mut state = KeyState::new(rules());
    refresh(
        &mut state,
        t(0),
        vec![version("v1", &["AWSCURRENT"], Some(0))],
    );
    // The rotation: v2 created at 30, promoted before the refresh at 60 noticed.
    refresh(
        &mut state,
        t(60),
        vec![
            version("v1", &["AWSPREVIOUS"], Some(0)),
            version("v2", &["AWSCURRENT"], Some(30)),
        ],
    );
    // Grace 600 from 60: accepted at 659, retired at 660.
    assert_eq!(stage_of(&mut state, t(659), "v1"), Ok(Stage::Previous));
    refresh(
        &mut state,
        t(600),
        vec![
            version("v1", &["AWSPREVIOUS"], Some(0)),
            version("v2", &["AWSCURRENT"], Some(30)),
        ],
    );
    assert_eq!(
        stage_of(&mut state, t(659), "v1"),
        Ok(Stage::Previous),
        "a later refresh keeps the first demotion time"
    );
    assert_eq!(
        stage_of(&mut state, t(660), "v1"),
        Err(Rejection::PreviousKeyRetired)
    );
    let snapshot = state.snapshot_at(t(600)).unwrap();
    let previous = snapshot
        .versions()
        .iter()
        .find(|v| v.keyid.as_str() == "v1")
        .unwrap();
    assert_eq!(previous.until, Some(t(660)));
    assert_eq!(previous.kind, ValueKind::Hmac);
    assert!(
        snapshot
            .summary()
            .contains(&format!("previous=v1:hmac:until={}", t(660))),
        "{}",
        snapshot.summary()
    );
}

#[test]
fn a_cold_start_counts_the_grace_from_the_current_versions_creation() {
    let mut state = KeyState::new(rules());
    refresh(
        &mut state,
        t(500),
        vec![
            version("v1", &["AWSPREVIOUS"], Some(0)),
            version("v2", &["AWSCURRENT"], Some(100)),
        ],
    );
    // Grace 600 from v2's creation at 100, not from the cold start at 500.
    assert_eq!(stage_of(&mut state, t(699), "v1"), Ok(Stage::Previous));
    assert_eq!(
        stage_of(&mut state, t(700), "v1"),
        Err(Rejection::PreviousKeyRetired)
    );
}

#[test]
fn a_cold_start_counts_from_last_rotated_only_between_creation_and_now() {
    let listing = || {
        vec![
            version("v1", &["AWSPREVIOUS"], Some(0)),
            version("v2", &["AWSCURRENT"], Some(100)),
        ]
    };
    let until = |last_rotated: Option<u64>| {
        let mut state = KeyState::new(rules());
        state.apply(
            t(500),
            listing(),
            last_rotated.map(t),
            [
                ("v1".to_owned(), Some(secret(1))),
                ("v2".to_owned(), Some(secret(2))),
            ],
        );
        let snapshot = state.snapshot_at(t(500)).unwrap();
        snapshot.versions()[0].until
    };
    // The rotation completed at 160: the demotion time exactly.
    assert_eq!(until(Some(160)), Some(t(760)));
    // Before v2 existed (a rotation older than this one), or in the future: ignored.
    assert_eq!(until(Some(50)), Some(t(700)));
    assert_eq!(until(Some(900)), Some(t(700)));
    assert_eq!(until(None), Some(t(700)));
}

#[test]
fn a_cold_start_without_dates_ends_the_grace_early_not_late() {
    let mut state = KeyState::new(rules());
    // A creation date in the future of `now` is not believed either.
    refresh(
        &mut state,
        t(500),
        vec![
            version("v1", &["AWSPREVIOUS"], None),
            version("v2", &["AWSCURRENT"], Some(9_000)),
        ],
    );
    assert_eq!(stage_of(&mut state, t(1099), "v1"), Ok(Stage::Previous));
    assert_eq!(
        stage_of(&mut state, t(1100), "v1"),
        Err(Rejection::PreviousKeyRetired)
    );
}

#[test]
fn refreshes_follow_the_ttl_and_the_retry_wait() {
    let mut state = KeyState::new(rules());
    refresh(
        &mut state,
        t(0),
        vec![version("v1", &["AWSCURRENT"], Some(0))],
    );
    assert!(!state.refresh_due(t(59)));
    assert!(state.refresh_due(t(60)));
    state.refresh_failed(t(60));
    assert!(!state.refresh_due(t(64)));
    assert!(state.refresh_due(t(65)));
}

#[test]
fn stale_keys_serve_until_ttl_plus_max_stale_then_fail_closed() {
    let mut state = KeyState::new(KeyRules {
        max_stale_secs: 120,
        ..rules()
    });
    refresh(
        &mut state,
        t(0),
        vec![version("v1", &["AWSCURRENT"], Some(0))],
    );
    for at in [60, 65, 100, 179] {
        state.refresh_failed(t(at));
    }
    // TTL 60 + max stale 120 = 180 after the last success.
    assert_eq!(state.stale_deadline(), Some(t(180)));
    assert_eq!(stage_of(&mut state, t(179), "v1"), Ok(Stage::Current));
    assert!(state.is_usable_at(t(179)));
    assert_eq!(stage_of(&mut state, t(180), "v1"), Err(Rejection::NoKeys));
    assert!(!state.is_usable_at(t(180)));
    // Dropped for good: even an earlier `now` gets nothing, and the next success reads
    // every value again.
    assert!(state.snapshot_at(t(179)).is_none());
    let read = refresh(
        &mut state,
        t(200),
        vec![version("v1", &["AWSCURRENT"], Some(0))],
    );
    assert_eq!(read, ["v1"]);
    assert_eq!(stage_of(&mut state, t(201), "v1"), Ok(Stage::Current));
}

#[test]
fn on_demand_refreshes_are_rate_limited_whatever_their_outcome() {
    let mut state = KeyState::new(rules());
    assert!(state.allow_on_demand_refresh(t(0)));
    assert!(!state.allow_on_demand_refresh(t(0)));
    assert!(!state.allow_on_demand_refresh(t(9)));
    assert!(state.allow_on_demand_refresh(t(10)));
}

#[test]
fn a_malformed_value_is_reported_once_and_ignored() {
    let mut state = KeyState::new(rules());
    let refreshed = state.apply(
        t(0),
        vec![
            version("v1", &["AWSCURRENT"], Some(0)),
            version("v2", &["AWSPENDING"], Some(0)),
        ],
        None,
        [
            ("v1".to_owned(), Some(secret(1))),
            ("v2".to_owned(), Some(Zeroizing::new("not json".to_owned()))),
        ],
    );
    assert_eq!(refreshed.malformed.len(), 1);
    assert_eq!(refreshed.malformed[0].0, "v2");
    assert_eq!(stage_of(&mut state, t(1), "v2"), Err(Rejection::UnknownKey));
    assert!(
        refreshed
            .snapshot
            .summary()
            .contains("pending=v2:malformed(")
    );
    let listing = [version("v2", &["AWSPENDING"], Some(0))];
    assert!(
        state.values_needed(&listing).is_empty(),
        "a version is immutable: not read again"
    );
}

#[test]
fn a_version_deleted_before_its_read_is_skipped_and_read_next_time() {
    let mut state = KeyState::new(rules());
    let listing = vec![
        version("v1", &["AWSCURRENT"], Some(0)),
        version("v2", &["AWSPENDING"], Some(0)),
    ];
    state.apply(
        t(0),
        listing.clone(),
        None,
        [("v1".to_owned(), Some(secret(1))), ("v2".to_owned(), None)],
    );
    assert_eq!(stage_of(&mut state, t(1), "v2"), Err(Rejection::UnknownKey));
    assert_eq!(state.values_needed(&listing), ["v2"]);
}

#[test]
fn values_for_unlisted_versions_are_not_kept() {
    let mut state = KeyState::new(rules());
    state.apply(
        t(0),
        vec![version("v1", &["AWSCURRENT"], Some(0))],
        None,
        [
            ("v1".to_owned(), Some(secret(1))),
            ("v9".to_owned(), Some(secret(9))),
        ],
    );
    assert_eq!(stage_of(&mut state, t(1), "v9"), Err(Rejection::UnknownKey));
}

#[test]
fn static_header_values_follow_the_same_stages_and_grace() {
    let mut state = KeyState::new(rules());
    let value = |v: &str| Some(Zeroizing::new(format!(r#"{{"HEADERVALUE":"{v}"}}"#)));
    state.apply(
        t(0),
        vec![version("s1", &["AWSCURRENT"], Some(0))],
        None,
        [("s1".to_owned(), value("one"))],
    );
    state.apply(
        t(60),
        vec![
            version("s1", &["AWSPREVIOUS"], Some(0)),
            version("s2", &["AWSCURRENT"], Some(30)),
        ],
        None,
        [("s2".to_owned(), value("two"))],
    );
    let snapshot = state.snapshot_at(t(60)).unwrap();
    assert!(snapshot.has_static_values());
    assert_eq!(
        snapshot
            .match_static("one", t(659))
            .map(|(k, s)| (k.as_str(), s)),
        Some(("s1", Stage::Previous))
    );
    assert_eq!(snapshot.match_static("one", t(660)), None);
    assert_eq!(
        snapshot.match_static("two", t(660)).map(|(_, s)| s),
        Some(Stage::Current)
    );
}

/// The grace `accepted_now` tables use.
const GRACE: u64 = 600;

/// `accepted_now` over `listing`, as (id, stage, until) rows.
fn accepted_rows(
    listing: &[ListedVersion],
    last_rotated: Option<u64>,
    history: &LabelHistory,
    now: u64,
) -> (Vec<(String, Stage, Option<UnixTime>)>, LabelHistory) {
    let answer = accepted_now(listing, last_rotated.map(t), history, GRACE, t(now));
    let rows = answer
        .versions
        .into_iter()
        .map(|v| (v.version_id, v.stage, v.until))
        .collect();
    (rows, answer.history)
}

fn row(id: &str, stage: Stage, until: Option<u64>) -> (String, Stage, Option<UnixTime>) {
    (id.to_owned(), stage, until.map(t))
}

#[test]
fn accepted_now_keeps_edgeseal_labels_and_the_strongest_stage() {
    let cases: [(&str, Vec<ListedVersion>, Vec<_>); 3] = [
        (
            "foreign labels and unlabelled versions are dropped",
            vec![
                version("a", &["AWSCURRENT"], Some(100)),
                version("b", &["AWSPENDING"], Some(150)),
                version("c", &["SOMETHING-ELSE"], Some(10)),
                version("d", &[], Some(20)),
            ],
            vec![
                row("a", Stage::Current, None),
                row("b", Stage::Pending, None),
            ],
        ),
        (
            "two labels: the strongest",
            vec![version("a", &["AWSPENDING", "AWSCURRENT"], Some(100))],
            vec![row("a", Stage::Current, None)],
        ),
        ("nothing listed", vec![], vec![]),
    ];
    for (name, listing, expected) in cases {
        let (rows, _) = accepted_rows(&listing, None, &LabelHistory::default(), 200);
        assert_eq!(rows, expected, "{name}");
    }
}

#[test]
fn accepted_now_dates_a_cold_start_demotion_as_the_rules_say() {
    // (case, AWSCURRENT's CreatedDate, LastRotatedDate, now, expected demotion)
    let cases = [
        (
            "LastRotatedDate between creation and now",
            Some(100),
            Some(150),
            1000,
            150,
        ),
        (
            "LastRotatedDate at the creation",
            Some(100),
            Some(100),
            1000,
            100,
        ),
        ("LastRotatedDate at now", Some(100), Some(1000), 1000, 1000),
        (
            "LastRotatedDate before the creation",
            Some(100),
            Some(50),
            1000,
            100,
        ),
        (
            "LastRotatedDate after now",
            Some(100),
            Some(1001),
            1000,
            100,
        ),
        ("no LastRotatedDate", Some(100), None, 1000, 100),
        ("no CreatedDate", None, Some(150), 1000, 1000),
        ("a CreatedDate after now", Some(2000), Some(150), 1000, 1000),
    ];
    for (name, created, last_rotated, now, demoted) in cases {
        let listing = [
            version("old", &["AWSPREVIOUS"], Some(0)),
            version("new", &["AWSCURRENT"], created),
        ];
        let (rows, history) = accepted_rows(&listing, last_rotated, &LabelHistory::default(), now);
        assert_eq!(
            rows,
            vec![
                row("old", Stage::Previous, Some(demoted + GRACE)),
                row("new", Stage::Current, None)
            ],
            "{name}"
        );
        assert_eq!(history.demoted_at("old"), Some(t(demoted)), "{name}");
    }
    let (alone, _) = accepted_rows(
        &[version("old", &["AWSPREVIOUS"], Some(0))],
        Some(150),
        &LabelHistory::default(),
        1000,
    );
    assert_eq!(
        alone,
        vec![row("old", Stage::Previous, Some(1000 + GRACE))],
        "no AWSCURRENT"
    );
}

#[test]
fn accepted_now_takes_the_previous_key_strictly_before_its_limit() {
    let previous = AcceptedVersion {
        version_id: "old".to_owned(),
        stage: Stage::Previous,
        until: Some(t(700)),
    };
    for (now, accepted) in [(0, true), (699, true), (700, false), (701, false)] {
        assert_eq!(previous.is_accepted_at(t(now)), accepted, "+{now}");
    }
    let current = AcceptedVersion {
        until: None,
        stage: Stage::Current,
        ..previous
    };
    assert!(current.is_accepted_at(t(u64::from(u32::MAX))));
}

#[test]
fn accepted_now_dates_a_demotion_it_saw_at_the_answer_that_saw_it() {
    let (_, before) = accepted_rows(
        &[
            version("a", &["AWSCURRENT"], Some(0)),
            version("b", &["AWSPENDING"], Some(100)),
        ],
        None,
        &LabelHistory::default(),
        200,
    );
    let rotated = [
        version("a", &["AWSPREVIOUS"], Some(0)),
        version("b", &["AWSCURRENT"], Some(100)),
    ];
    assert!(
        !before.needs_last_rotated(&rotated),
        "a demotion it saw needs no date"
    );
    // LastRotatedDate 150 is ignored: this answer saw the label move at 500.
    let (rows, demoted) = accepted_rows(&rotated, Some(150), &before, 500);
    assert_eq!(rows[0], row("a", Stage::Previous, Some(500 + GRACE)));
    let (later, kept) = accepted_rows(&rotated, Some(150), &demoted, 900);
    assert_eq!(
        later[0],
        row("a", Stage::Previous, Some(500 + GRACE)),
        "kept"
    );
    assert_eq!(kept.demoted_at("a"), Some(t(500)));
    assert_eq!(kept.demoted_at("b"), None);
}

#[test]
fn last_rotated_is_needed_only_for_a_previous_version_the_host_cannot_date() {
    let cold = LabelHistory::default();
    let rotated = [
        version("old", &["AWSPREVIOUS"], Some(0)),
        version("new", &["AWSCURRENT"], Some(100)),
    ];
    assert!(cold.needs_last_rotated(&rotated));
    assert!(!cold.needs_last_rotated(&rotated[1..]));
    assert!(
        !cold.needs_last_rotated(&[version("x", &["AWSPREVIOUS", "AWSCURRENT"], Some(1))]),
        "a version that is also current is not previous"
    );
    let (_, dated) = accepted_rows(&rotated, None, &cold, 1000);
    assert!(!dated.needs_last_rotated(&rotated), "dated once, kept");
}

#[test]
fn cold_start_demotion_takes_the_last_rotation_only_between_creation_and_now() {
    let now = t(1000);
    let created = Some(t(100));
    assert_eq!(
        cold_start_demotion(created, Some(t(150)), now),
        Some(t(150))
    );
    // Before the current version existed: an earlier rotation's completion.
    assert_eq!(cold_start_demotion(created, Some(t(50)), now), created);
    // In the future: not a date to trust.
    assert_eq!(cold_start_demotion(created, Some(t(1001)), now), created);
    assert_eq!(cold_start_demotion(created, None, now), created);
    // Without a creation date the rotation date cannot be placed; a creation in the
    // future is no date either.
    assert_eq!(cold_start_demotion(None, Some(t(150)), now), None);
    assert_eq!(cold_start_demotion(Some(t(1001)), Some(t(150)), now), None);
}

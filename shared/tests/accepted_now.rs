//! `accepted_now`, the key rules' pure function, as a table: a listing (versions, labels,
//! dates), `LastRotatedDate`, what the host remembers, and `now` → which versions are
//! accepted, as what, and until when.
#![allow(clippy::unwrap_used)]

use edgeseal::accepted::{
    AcceptedVersion, LabelHistory, ListedVersion, accepted_now, cold_start_demotion,
};
use edgeseal::{Stage, UnixTime};

const GRACE: u64 = 600;

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

/// What a case expects of one version: its id, stage, and `until` (seconds after `t(0)`).
type Expected = (&'static str, Stage, Option<u64>);

struct Case {
    name: &'static str,
    listing: Vec<ListedVersion>,
    last_rotated: Option<u64>,
    now: u64,
    expected: Vec<Expected>,
}

fn check(case: &Case, history: &LabelHistory) -> edgeseal::accepted::AcceptedNow {
    let answer = accepted_now(
        &case.listing,
        case.last_rotated.map(t),
        history,
        GRACE,
        t(case.now),
    );
    let got: Vec<(String, Stage, Option<UnixTime>)> = answer
        .versions
        .iter()
        .map(|v| (v.version_id.clone(), v.stage, v.until))
        .collect();
    let want: Vec<(String, Stage, Option<UnixTime>)> = case
        .expected
        .iter()
        .map(|(id, stage, until)| ((*id).to_owned(), *stage, until.map(t)))
        .collect();
    assert_eq!(got, want, "{}", case.name);
    answer
}

#[test]
fn a_cold_start_accepts_current_pending_and_previous_until_its_grace_ends() {
    use Stage::{Current, Pending, Previous};
    let cases = [
        Case {
            name: "unlabelled and foreign labels are dropped",
            listing: vec![
                version("a", &["AWSCURRENT"], Some(100)),
                version("b", &["AWSPENDING"], Some(150)),
                version("c", &["SOMETHING-ELSE"], Some(10)),
                version("d", &[], Some(20)),
            ],
            last_rotated: None,
            now: 200,
            expected: vec![("a", Current, None), ("b", Pending, None)],
        },
        Case {
            name: "a version with two labels takes the strongest",
            listing: vec![version("a", &["AWSPENDING", "AWSCURRENT"], Some(100))],
            last_rotated: None,
            now: 200,
            expected: vec![("a", Current, None)],
        },
        Case {
            name: "LastRotatedDate between CreatedDate and now dates the demotion",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], Some(100)),
            ],
            last_rotated: Some(150),
            now: 1000,
            expected: vec![("old", Previous, Some(150 + GRACE)), ("new", Current, None)],
        },
        Case {
            name: "LastRotatedDate equal to CreatedDate still counts",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], Some(100)),
            ],
            last_rotated: Some(100),
            now: 1000,
            expected: vec![("old", Previous, Some(100 + GRACE)), ("new", Current, None)],
        },
        Case {
            name: "LastRotatedDate before CreatedDate: CreatedDate of AWSCURRENT",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], Some(100)),
            ],
            last_rotated: Some(50),
            now: 1000,
            expected: vec![("old", Previous, Some(100 + GRACE)), ("new", Current, None)],
        },
        Case {
            name: "LastRotatedDate after now: CreatedDate of AWSCURRENT",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], Some(100)),
            ],
            last_rotated: Some(1001),
            now: 1000,
            expected: vec![("old", Previous, Some(100 + GRACE)), ("new", Current, None)],
        },
        Case {
            name: "no LastRotatedDate: CreatedDate of AWSCURRENT",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], Some(100)),
            ],
            last_rotated: None,
            now: 1000,
            expected: vec![("old", Previous, Some(100 + GRACE)), ("new", Current, None)],
        },
        Case {
            name: "no CreatedDate of AWSCURRENT: now, whatever LastRotatedDate says",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], None),
            ],
            last_rotated: Some(150),
            now: 1000,
            expected: vec![
                ("old", Previous, Some(1000 + GRACE)),
                ("new", Current, None),
            ],
        },
        Case {
            name: "a CreatedDate in the future counts as unknown: now",
            listing: vec![
                version("old", &["AWSPREVIOUS"], Some(0)),
                version("new", &["AWSCURRENT"], Some(2000)),
            ],
            last_rotated: Some(150),
            now: 1000,
            expected: vec![
                ("old", Previous, Some(1000 + GRACE)),
                ("new", Current, None),
            ],
        },
        Case {
            name: "no AWSCURRENT at all: now",
            listing: vec![version("old", &["AWSPREVIOUS"], Some(0))],
            last_rotated: Some(150),
            now: 1000,
            expected: vec![("old", Previous, Some(1000 + GRACE))],
        },
    ];
    for case in &cases {
        check(case, &LabelHistory::default());
    }
}

#[test]
fn the_previous_key_is_accepted_strictly_before_its_limit() {
    let previous = AcceptedVersion {
        version_id: "old".to_owned(),
        stage: Stage::Previous,
        until: Some(t(700)),
    };
    assert!(previous.is_accepted_at(t(0)));
    assert!(previous.is_accepted_at(t(699)));
    assert!(
        !previous.is_accepted_at(t(700)),
        "at the limit: not accepted"
    );
    assert!(!previous.is_accepted_at(t(701)));
    let current = AcceptedVersion {
        version_id: "new".to_owned(),
        stage: Stage::Current,
        until: None,
    };
    assert!(current.is_accepted_at(t(u64::from(u32::MAX))));
}

#[test]
fn a_warm_host_dates_a_demotion_it_saw_at_the_refresh_that_saw_it() {
    use Stage::{Current, Pending, Previous};
    // Before the rotation: "a" current, "b" pending.
    let before = check(
        &Case {
            name: "mid-rotation",
            listing: vec![
                version("a", &["AWSCURRENT"], Some(0)),
                version("b", &["AWSPENDING"], Some(100)),
            ],
            last_rotated: None,
            now: 200,
            expected: vec![("a", Current, None), ("b", Pending, None)],
        },
        &LabelHistory::default(),
    );
    let after = Case {
        name: "the refresh that first sees the demotion dates it, not LastRotatedDate",
        listing: vec![
            version("a", &["AWSPREVIOUS"], Some(0)),
            version("b", &["AWSCURRENT"], Some(100)),
        ],
        last_rotated: Some(150),
        now: 500,
        expected: vec![("a", Previous, Some(500 + GRACE)), ("b", Current, None)],
    };
    assert!(
        !before.history.needs_last_rotated(&after.listing),
        "a demotion it saw needs no DescribeSecret"
    );
    let demoted = check(&after, &before.history);
    let later = Case {
        name: "a known demotion keeps its date",
        now: 900,
        ..after
    };
    let again = check(&later, &demoted.history);
    assert_eq!(again.history.demoted_at("a"), Some(t(500)));
    assert_eq!(again.history.demoted_at("b"), None);
}

#[test]
fn last_rotated_is_needed_only_for_a_previous_version_the_host_cannot_date() {
    let cold = LabelHistory::default();
    let rotated = [
        version("old", &["AWSPREVIOUS"], Some(0)),
        version("new", &["AWSCURRENT"], Some(100)),
    ];
    assert!(cold.needs_last_rotated(&rotated));
    assert!(!cold.needs_last_rotated(&[version("new", &["AWSCURRENT"], Some(100))]));
    assert!(
        !cold.needs_last_rotated(&[version("x", &["AWSPREVIOUS", "AWSCURRENT"], Some(1))]),
        "a version that is also current is not previous"
    );
    let dated = accepted_now(&rotated, None, &cold, GRACE, t(1000)).history;
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

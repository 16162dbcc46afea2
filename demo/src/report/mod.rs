//! What a run produced: the [`Report`], the summary printed at the end of a run, and the
//! timeline chart ([`svg`], a self-contained SVG).

mod timeline;

pub use timeline::svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::run::rotation::StepTiming;
use crate::run::schedule::{Fate, RotationRecord};
use crate::run::traffic::{Kind, Outcome};
use crate::scenarios::chaos::ChaosReport;
use crate::stack::runtime_api::ProcessRss;

/// What happened.
pub struct Report {
    /// Every request and its outcome.
    pub outcomes: Vec<Outcome>,
    /// Rotation steps with their times.
    pub timeline: Vec<TimelineEvent>,
    /// Authorizer verdicts by `allow` / reason code, from its EMF log lines.
    pub reasons: BTreeMap<String, u64>,
    /// Seconds of traffic.
    pub seconds: f64,
    /// The text summary.
    pub summary: String,
    /// Where the chart was written.
    pub chart: PathBuf,
    /// Edge versions published (including the first).
    pub edge_versions: usize,
    /// Peak RSS of each authorizer process, KiB.
    pub authorizer_peak_rss_kib: Vec<u64>,
    /// Peak RSS of each authorizer process when the traffic started and at the end.
    pub authorizer_rss: RssAtStartAndEnd,
    /// Rotations that did not complete, with why.
    pub failed_rotations: Vec<String>,
    /// Each scheduled rotation: when it was due, and when it completed (or why not).
    pub rotations: Vec<RotationRecord>,
    /// What the chaos did, in a `--chaos` run.
    pub chaos: Option<ChaosReport>,
    /// Every rotation step's wall time.
    pub step_timings: Vec<StepTiming>,
}

impl Report {
    /// (legitimate requests rejected, attacks let through).
    pub fn mistakes(&self) -> (u64, u64) {
        mistakes(&self.outcomes)
    }

    /// Legitimate requests rejected for a reason other than the configured stale window
    /// running out during a Secrets Manager outage (in a run without chaos: all of them).
    pub fn unexpected_rejections(&self) -> u64 {
        let (legit_rejected, _) = self.mistakes();
        legit_rejected.saturating_sub(self.chaos.as_ref().map_or(0, |c| c.stale_window_denials))
    }

    /// How many requests of `kind` were sent.
    pub fn count(&self, kind: Kind) -> usize {
        self.outcomes.iter().filter(|o| o.kind == kind).count()
    }
}

/// A moment in a rotation, for the timeline.
#[derive(Clone, Debug)]
pub struct TimelineEvent {
    /// Seconds since the run started.
    pub at: f64,
    /// Which rotation (1-based).
    pub rotation: usize,
    /// What happened (`createSecret done`, `distribution Deployed`, …).
    pub what: String,
}

/// Counts by kind: (allowed, denied).
pub fn by_kind(outcomes: &[Outcome]) -> BTreeMap<Kind, (u64, u64)> {
    let mut counts = BTreeMap::new();
    for o in outcomes {
        let entry = counts.entry(o.kind).or_insert((0, 0));
        if o.allowed() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    counts
}

/// Legitimate requests rejected, and attacks let through.
pub fn mistakes(outcomes: &[Outcome]) -> (u64, u64) {
    let legit_rejected = outcomes
        .iter()
        .filter(|o| o.kind.should_pass() && !o.correct())
        .count();
    let attacks_passed = outcomes
        .iter()
        .filter(|o| !o.kind.should_pass() && !o.correct())
        .count();
    (legit_rejected as u64, attacks_passed as u64)
}

/// Allowed legitimate requests per key id per `bucket` seconds.
pub fn per_keyid(outcomes: &[Outcome], bucket: f64) -> BTreeMap<String, BTreeMap<u64, u64>> {
    let mut series: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    for o in outcomes
        .iter()
        .filter(|o| o.kind == Kind::Legitimate && o.allowed())
    {
        let keyid = o.keyid.clone().unwrap_or_else(|| "?".into());
        let slot = (o.at / bucket).floor() as u64;
        *series.entry(keyid).or_default().entry(slot).or_default() += 1;
    }
    series
}

/// The text summary.
pub fn summary(
    outcomes: &[Outcome],
    reasons: &BTreeMap<String, u64>,
    timeline: &[TimelineEvent],
    seconds: f64,
) -> String {
    let mut out = String::new();
    let total = outcomes.len();
    let _ = writeln!(
        out,
        "\n=== edgeseal demo summary ({seconds:.1} s, {total} requests, {:.0} req/s) ===",
        total as f64 / seconds.max(0.001)
    );
    let _ = writeln!(out, "\nRequests by kind:             allowed    denied");
    for (kind, (allowed, denied)) in by_kind(outcomes) {
        let _ = writeln!(out, "  {:<30} {allowed:>7} {denied:>9}", kind.name());
    }
    let unsigned = outcomes.iter().filter(|o| o.status == 401).count();
    // Nothing to show when no authorizer decided (an API key stage invokes none).
    if !reasons.is_empty() || unsigned > 0 {
        let _ = writeln!(
            out,
            "\nAuthorizer verdicts by reason (from its CloudWatch EMF log lines):"
        );
        for (reason, count) in reasons {
            let _ = writeln!(out, "  {reason:<36} {count:>7}");
        }
        let _ = writeln!(
            out,
            "  {:<36} {unsigned:>7}",
            "401 at API Gateway (no identity source)"
        );
    }
    let _ = writeln!(out, "\nLegitimate requests per key id:");
    for (keyid, slots) in per_keyid(outcomes, 1.0) {
        let n: u64 = slots.values().sum();
        let first = slots.keys().next().copied().unwrap_or(0);
        let last = slots.keys().last().copied().unwrap_or(0);
        let _ = writeln!(out, "  {keyid:<40} {n:>7}  (seconds {first}..{last})");
    }
    let _ = writeln!(out, "\nRotation timeline:");
    for e in timeline {
        let _ = writeln!(
            out,
            "  {:>7.2} s  rotation {}  {}",
            e.at, e.rotation, e.what
        );
    }
    let (legit_rejected, attacks_passed) = mistakes(outcomes);
    let _ = writeln!(
        out,
        "\nLegitimate requests rejected: {legit_rejected}   Attacks let through: {attacks_passed}"
    );
    out
}

/// The summary line naming the longest single rotation step.
pub fn longest_step_line(timings: &[StepTiming]) -> String {
    match crate::run::rotation::longest_step(timings) {
        Some(t) => format!(
            "Longest single rotation step: {:.2} s ({} of {}; {} steps run)\n",
            t.took.as_secs_f64(),
            t.step.as_str(),
            if t.rotation == 0 {
                "the configuration test".to_owned()
            } else {
                format!("rotation {}", t.rotation)
            },
            timings.len()
        ),
        None => "Longest single rotation step: none ran\n".to_owned(),
    }
}

/// The authorizer processes' peak RSS when the traffic started and when it ended.
#[derive(Clone, Debug, Default)]
pub struct RssAtStartAndEnd {
    /// Read when the traffic started (after the warm-up request).
    pub start: Vec<ProcessRss>,
    /// Read when the traffic ended.
    pub end: Vec<ProcessRss>,
}

impl RssAtStartAndEnd {
    /// One line per execution environment: pid and peak RSS at start and at end.
    pub fn lines(&self) -> String {
        let kib = |r: Option<&ProcessRss>| {
            r.and_then(|r| r.peak_rss_kib)
                .map_or_else(|| "?".to_owned(), |k| k.to_string())
        };
        let mut out = String::new();
        for end in &self.end {
            let start = self.start.iter().find(|s| s.slot == end.slot);
            let same = start.is_some_and(|s| s.pid == end.pid);
            let _ = writeln!(
                out,
                "  authorizer process {} (pid {}): peak RSS {} KiB at start, {} KiB at end{}",
                end.slot,
                end.pid,
                kib(start),
                kib(Some(end)),
                if same {
                    ""
                } else {
                    " (a different process at start)"
                }
            );
        }
        out
    }
}

/// The rotations section: each rotation's schedule, completion and lateness, the refused
/// ones, and how far the run went past `--seconds` for the last one.
pub fn rotations(records: &[RotationRecord], duration: f64, seconds: f64, bound: f64) -> String {
    let mut out = String::from("\nRotations (RotateSecret due -> finishSecret done):\n");
    for r in records {
        let line = match &r.fate {
            Fate::Completed { at, attempts } => format!(
                "completed {at:7.2} s  late {:6.2} s  ({attempts} attempt{})",
                at - r.scheduled,
                if *attempts == 1 { "" } else { "s, same token" }
            ),
            Fate::Refused { incomplete } => {
                format!("RotateSecret refused (rotation {incomplete} incomplete): not started")
            }
            Fate::Failed { attempts, error } => {
                format!("NOT COMPLETED after {attempts} attempts: {error}")
            }
        };
        let _ = writeln!(
            out,
            "  rotation {:>2}  due {:7.2} s  {line}",
            r.rotation, r.scheduled
        );
    }
    if seconds > duration + 0.5 {
        let _ = writeln!(
            out,
            "The run went on {:.1} s past --seconds ({duration:.0} s) to let the last rotation finish (bound {bound:.0} s).",
            seconds - duration
        );
    }
    out
}

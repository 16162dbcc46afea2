//! The summary printed at the end of a run and the timeline chart (a self-contained SVG).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::runtime_api::ProcessRss;
use crate::schedule::{Fate, RotationRecord};
use crate::traffic::{Kind, Outcome};

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
pub fn longest_step_line(timings: &[crate::rotation::StepTiming]) -> String {
    match crate::rotation::longest_step(timings) {
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

const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained SVG: legitimate requests per second by key id, denied attacks per
/// second, rotation steps as vertical lines, any rejected legitimate request in red.
pub fn svg(outcomes: &[Outcome], timeline: &[TimelineEvent], seconds: f64) -> String {
    let (w, h, left, right, top, bottom) = (1100.0_f64, 480.0_f64, 60.0, 240.0, 30.0, 50.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let series = per_keyid(outcomes, 1.0);
    let mut attacks: BTreeMap<u64, u64> = BTreeMap::new();
    for o in outcomes
        .iter()
        .filter(|o| !o.kind.should_pass() && !o.allowed())
    {
        *attacks.entry(o.at.floor() as u64).or_default() += 1;
    }
    let max_y = series
        .values()
        .flat_map(|s| s.values())
        .chain(attacks.values())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |t: f64| left + plot_w * (t / seconds.max(1.0));
    let y = |v: f64| top + plot_h * (1.0 - v / (max_y * 1.1));

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="18" font-size="14" font-weight="bold">edgeseal: requests per second by signing key, with rotations</text>"#
    );
    // Axes and grid.
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#333"/>"##,
        top + plot_h
    );
    for i in 0..=5 {
        let v = max_y * 1.1 * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#eee"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4:.0}</text>"##,
            y(v),
            left + plot_w,
            left - 6.0,
            y(v) + 4.0,
            v
        );
    }
    let step = (seconds / 10.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= seconds {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}s</text>"#,
            x(t),
            top + plot_h + 16.0
        );
        t += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since start</text>"#,
        left + plot_w / 2.0,
        h - 10.0
    );
    // Rotation steps.
    for e in timeline {
        let color = if e.what.contains("finishSecret") {
            "#d62728"
        } else {
            "#999"
        };
        let _ = writeln!(
            s,
            r#"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="{color}" stroke-dasharray="4 3"><title>{2:.2} s rotation {3}: {4}</title></line>"#,
            x(e.at),
            top + plot_h,
            e.at,
            e.rotation,
            escape(&e.what)
        );
    }
    // Series.
    let polyline = |points: &BTreeMap<u64, u64>| {
        points
            .iter()
            .map(|(slot, n)| format!("{:.1},{:.1}", x(*slot as f64 + 0.5), y(*n as f64)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut legend_y = top + 10.0;
    // A key signs nothing in some seconds of its span (the other version served them
    // all): show those as zero instead of bridging the gap.
    let series: BTreeMap<String, BTreeMap<u64, u64>> = series
        .into_iter()
        .map(|(keyid, points)| {
            let first = points.keys().next().copied().unwrap_or(0);
            let last = points.keys().last().copied().unwrap_or(0);
            let filled = (first..=last)
                .map(|slot| (slot, points.get(&slot).copied().unwrap_or(0)))
                .collect();
            (keyid, filled)
        })
        .collect();
    for (i, (keyid, points)) in series.iter().enumerate() {
        let color = PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#000");
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            polyline(points)
        );
        let short: String = keyid.chars().take(18).collect();
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}">key {}</text>"#,
            left + plot_w + 14.0,
            legend_y - 10.0,
            left + plot_w + 30.0,
            legend_y,
            escape(&short)
        );
        legend_y += 18.0;
    }
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#7f7f7f" stroke-width="1.5" stroke-dasharray="2 2" points="{}"/>"##,
        polyline(&attacks)
    );
    let _ = writeln!(
        s,
        r##"<line x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#7f7f7f" stroke-dasharray="2 2"/><text x="{3:.1}" y="{4:.1}">attacks denied</text>"##,
        left + plot_w + 14.0,
        legend_y - 4.0,
        left + plot_w + 26.0,
        left + plot_w + 30.0,
        legend_y
    );
    legend_y += 18.0;
    let _ = writeln!(
        s,
        r##"<line x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#d62728" stroke-dasharray="4 3"/><text x="{3:.1}" y="{4:.1}">finishSecret</text>"##,
        left + plot_w + 14.0,
        legend_y - 4.0,
        left + plot_w + 26.0,
        left + plot_w + 30.0,
        legend_y
    );
    legend_y += 18.0;
    let (legit_rejected, _) = mistakes(outcomes);
    for o in outcomes
        .iter()
        .filter(|o| o.kind.should_pass() && !o.correct())
    {
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#d62728"><title>rejected legitimate request, status {}</title></circle>"##,
            x(o.at),
            top + plot_h - 4.0,
            o.status
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" fill="{}">legitimate rejected: {legit_rejected}</text>"##,
        left + plot_w + 14.0,
        legend_y,
        if legit_rejected == 0 {
            "#2ca02c"
        } else {
            "#d62728"
        }
    );
    s.push_str("</svg>\n");
    s
}

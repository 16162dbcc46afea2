//! The timeline chart: a self-contained SVG of a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{TimelineEvent, mistakes, per_keyid};
use crate::run::traffic::Outcome;

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

//! Log and metric lines in the authorizer's shape: a JSON log object per event
//! (`tracing_subscriber`'s flattened JSON: `timestamp`, `level`, `message`, the fields),
//! and one CloudWatch embedded-metric-format line per verdict (a `Requests` count by
//! `Verdict` and by `Verdict` + `Reason`). Hosts print them as they are.

use std::fmt::Write as _;

use serde_json::Value;

/// A log line's level, as `tracing` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `DEBUG` (allows).
    Debug,
    /// `INFO` (refreshes).
    Info,
    /// `WARN` (denies, failed refreshes).
    Warn,
    /// `ERROR` (malformed secrets, keys dropped past the stale limit).
    Error,
}

impl Level {
    /// `DEBUG`, `INFO`, `WARN`, `ERROR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// One log event: its level and JSON text (no newline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Its level (hosts filter on it).
    pub level: Level,
    /// The JSON object.
    pub text: String,
}

/// A JSON log line at `now_ms` (milliseconds since the epoch): `message`, then `fields`
/// in order. `None` values are left out, as `tracing` leaves out `None`.
pub fn log_line(
    now_ms: u64,
    level: Level,
    message: &str,
    fields: &[(&str, Option<Value>)],
) -> LogLine {
    // Written in order (a `serde_json::Map` would sort the names).
    let mut text = String::with_capacity(160);
    text.push_str(r#"{"timestamp":"#);
    text.push_str(&Value::String(timestamp(now_ms)).to_string());
    text.push_str(r#","level":""#);
    text.push_str(level.as_str());
    text.push_str(r#"","message":"#);
    text.push_str(&Value::String(message.to_owned()).to_string());
    for (name, value) in fields {
        if let Some(value) = value {
            text.push(',');
            text.push_str(&Value::String((*name).to_owned()).to_string());
            text.push(':');
            text.push_str(&value.to_string());
        }
    }
    text.push('}');
    LogLine { level, text }
}

/// RFC 3339 in UTC with six fractional digits, as `tracing_subscriber` writes it.
/// Formatted by hand (days to civil date: H. Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms", `civil_from_days`): the `time` crate's formatter cost ~10 µs a line in
/// the WASM build, most of a deny's cost there.
fn timestamp(now_ms: u64) -> String {
    let secs = now_ms / 1000;
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    // Shifted to start on 0000-03-01, so that the leap day is the era's last.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        now_ms % 1000 * 1000
    )
}

/// The verdict dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let through.
    Allow,
    /// Refused.
    Deny,
}

impl Verdict {
    /// `allow` / `deny`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// The EMF line for one verdict (without the newline): the authorizer's
/// (`origin-verifier/src/metrics.rs`), byte for byte.
pub fn metric_line(
    namespace: &str,
    now_secs: u64,
    verdict: Verdict,
    reason: &str,
    request_id: &str,
) -> String {
    let mut line = String::with_capacity(320);
    line.push_str(r#"{"_aws":{"Timestamp":"#);
    let _ = write!(line, "{}", now_secs.saturating_mul(1000));
    line.push_str(r#","CloudWatchMetrics":[{"Namespace":"#);
    line.push_str(&Value::String(namespace.to_owned()).to_string());
    line.push_str(
        r#","Dimensions":[["Verdict"],["Verdict","Reason"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Verdict":""#,
    );
    line.push_str(verdict.as_str());
    line.push_str(r#"","Reason":"#);
    line.push_str(&Value::String(reason.to_owned()).to_string());
    line.push_str(r#","Requests":1,"RequestId":"#);
    line.push_str(&Value::String(request_id.to_owned()).to_string());
    line.push('}');
    line
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps_match_the_calendar() {
        // Leap days, century rules and year ends, against dates computed independently
        // (`date -u -d @SECS`).
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000000Z"),
            (1_700_000_000_250, "2023-11-14T22:13:20.250000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999000Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000000Z"),
            (1_798_761_599_000, "2026-12-31T23:59:59.000000Z"),
        ] {
            assert_eq!(timestamp(ms), text, "{ms}");
        }
    }
}

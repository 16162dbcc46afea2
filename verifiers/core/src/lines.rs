//! Log and metric lines in the authorizer's shape: a JSON log object per event
//! (`tracing_subscriber`'s flattened JSON: `timestamp`, `level`, `message`, the fields),
//! and one CloudWatch embedded-metric-format line per verdict (a `Requests` count by
//! `Verdict` and by `Verdict` + `Reason`). Hosts print them as they are.

use std::fmt::Write as _;

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

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
fn timestamp(now_ms: u64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    let nanos = i128::from(now_ms).saturating_mul(1_000_000);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
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

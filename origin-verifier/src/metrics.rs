//! CloudWatch embedded metric format (EMF): one line per verdict on stdout, which
//! CloudWatch turns into a `Requests` count by `Verdict` and by `Verdict` + `Reason`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use edgeseal::UnixTime;

/// Where metric lines go.
#[derive(Clone, Debug)]
pub enum MetricsSink {
    /// Standard output (Lambda sends it to CloudWatch Logs, which extracts the metrics).
    Stdout,
    /// Nowhere (the line is still built: benchmarks measure its cost).
    Discard,
    /// A buffer (tests).
    Buffer(Arc<Mutex<Vec<u8>>>),
}

/// Writes EMF lines.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// The `_aws` head up to the timestamp, with the namespace JSON-escaped once.
    namespace_json: String,
    sink: MetricsSink,
}

/// The verdict dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let through.
    Allow,
    /// Refused (Deny, `isAuthorized: false`, or `Unauthorized`).
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

impl Metrics {
    /// Metrics under `namespace`.
    pub fn new(namespace: &str, sink: MetricsSink) -> Self {
        Self {
            namespace_json: serde_json::Value::String(namespace.to_owned()).to_string(),
            sink,
        }
    }

    /// The EMF line for one verdict (without the newline).
    pub fn line(&self, now: UnixTime, verdict: Verdict, reason: &str, request_id: &str) -> String {
        let mut line = String::with_capacity(320);
        line.push_str(r#"{"_aws":{"Timestamp":"#);
        // Formatted in place (no intermediate string); writing to a String cannot fail.
        let _ = write!(line, "{}", now.as_secs().saturating_mul(1000));
        line.push_str(r#","CloudWatchMetrics":[{"Namespace":"#);
        line.push_str(&self.namespace_json);
        line.push_str(
            r#","Dimensions":[["Verdict"],["Verdict","Reason"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Verdict":""#,
        );
        line.push_str(verdict.as_str());
        line.push_str(r#"","Reason":"#);
        push_json_string(&mut line, reason);
        line.push_str(r#","Requests":1,"RequestId":"#);
        push_json_string(&mut line, request_id);
        line.push('}');
        line
    }

    /// Emit the line for one verdict.
    pub fn record(&self, now: UnixTime, verdict: Verdict, reason: &str, request_id: &str) {
        let mut line = self.line(now, verdict, reason, request_id);
        line.push('\n');
        match &self.sink {
            MetricsSink::Stdout => {
                // A lost metric line must not fail a verdict.
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            MetricsSink::Discard => {
                std::hint::black_box(&line);
            }
            MetricsSink::Buffer(buffer) => {
                if let Ok(mut buffer) = buffer.lock() {
                    buffer.extend_from_slice(line.as_bytes());
                }
            }
        }
    }
}

/// Append `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn emf_line_has_the_documented_shape() {
        let m = Metrics::new("edgeseal", MetricsSink::Discard);
        let line = m.line(
            UnixTime::from_secs(1_700_000_000),
            Verdict::Deny,
            "too_old",
            "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "edgeseal",
                        "Dimensions": [["Verdict"], ["Verdict", "Reason"]],
                        "Metrics": [{"Name": "Requests", "Unit": "Count"}]
                    }]
                },
                "Verdict": "deny",
                "Reason": "too_old",
                "Requests": 1,
                "RequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
            })
        );
        // Every dimension named must be a top-level member, and the metric too.
        for dims in v["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
            .as_array()
            .unwrap()
        {
            for d in dims.as_array().unwrap() {
                assert!(v.get(d.as_str().unwrap()).is_some());
            }
        }
        assert!(v.get("Requests").unwrap().is_number());
    }

    #[test]
    fn hostile_strings_stay_valid_json() {
        let m = Metrics::new("ns\"x", MetricsSink::Discard);
        let line = m.line(UnixTime::from_secs(1), Verdict::Allow, "r", "id\"\n\\");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["RequestId"], "id\"\n\\");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ns\"x");
    }

    #[test]
    fn buffer_sink_collects_lines() {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let m = Metrics::new("edgeseal", MetricsSink::Buffer(Arc::clone(&buffer)));
        m.record(
            UnixTime::from_secs(1),
            Verdict::Allow,
            "signature_current",
            "a",
        );
        m.record(UnixTime::from_secs(1), Verdict::Deny, "missing", "b");
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}

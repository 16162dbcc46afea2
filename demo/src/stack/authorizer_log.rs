//! The authorizer's verdicts read back from its log: one CloudWatch embedded-metric line
//! per verdict, with the API Gateway request id, as CloudWatch Logs would hold them.

use std::collections::BTreeMap;
use std::path::Path;

/// One verdict line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictLine {
    /// `allow` or `deny`.
    pub verdict: String,
    /// The reason code (`signature_current`, `no_keys`, …).
    pub reason: String,
    /// API Gateway's `requestContext.requestId` of the request.
    pub request_id: String,
}

/// Every verdict line in the logs of `function`'s `slots` execution environments
/// (`{function}-{n}.log` in `dir`, as the Runtime API emulator writes them).
pub fn verdicts(dir: &Path, function: &str, slots: usize) -> Vec<VerdictLine> {
    let mut lines = Vec::new();
    for n in 0..slots {
        let Ok(log) = std::fs::read_to_string(dir.join(format!("{function}-{n}.log"))) else {
            continue;
        };
        for line in log.lines().filter(|l| l.contains("\"_aws\"")) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let field = |name: &str| {
                v.get(name)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            };
            lines.push(VerdictLine {
                verdict: field("Verdict"),
                reason: field("Reason"),
                request_id: field("RequestId"),
            });
        }
    }
    lines
}

/// Verdicts counted by `"{verdict} {reason}"`.
pub fn by_reason(lines: &[VerdictLine]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts
            .entry(format!("{} {}", line.verdict, line.reason))
            .or_default() += 1;
    }
    counts
}

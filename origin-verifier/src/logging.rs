//! The log format and level: JSON lines on stdout, which Lambda sends to CloudWatch Logs.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Crates whose `TRACE` (and `DEBUG`) output would carry request contents: the runtime
/// logs every raw event at `TRACE`, `Signature` header included. Capped at `info`
/// whatever level is asked for.
const CAPPED: [&str; 2] = ["lambda_runtime=info", "lambda_runtime_api_client=info"];

/// The level: `RUST_LOG` wins; else Lambda's own log-level setting
/// (`AWS_LAMBDA_LOG_LEVEL`); else `info`. [`CAPPED`] crates never go below `info`.
pub fn filter(lookup: impl Fn(&str) -> Option<String>) -> EnvFilter {
    let mut filter = lookup("RUST_LOG")
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .or_else(|| {
            lookup("AWS_LAMBDA_LOG_LEVEL").map(|level| EnvFilter::new(level.to_ascii_lowercase()))
        })
        .unwrap_or_else(|| EnvFilter::new("info"));
    for directive in CAPPED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// The subscriber: one flat JSON object per event, written to `writer` (stdout in
/// Lambda, a buffer in tests).
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use edgeseal_testkit::SharedBuffer;

    use super::*;

    #[test]
    fn the_runtime_never_logs_below_info() {
        for (var, value) in [
            ("RUST_LOG", "trace"),
            (
                "RUST_LOG",
                "lambda_runtime=trace,lambda_runtime_api_client=trace,trace",
            ),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ] {
            let buffer = SharedBuffer::default();
            let writer = buffer.clone();
            let filter = filter(|name| (name == var).then(|| value.to_owned()));
            tracing::subscriber::with_default(subscriber(filter, move || writer.clone()), || {
                tracing::trace!(target: "lambda_runtime", body = "edgeseal=:c2lnbmF0dXJl:", "raw JSON event");
                tracing::debug!(target: "lambda_runtime_api_client", "request body");
                tracing::trace!(target: "origin_verifier", "ours");
            });
            let logged = buffer.take();
            assert!(!logged.contains("c2lnbmF0dXJl"), "{var}={value}: {logged}");
            assert!(!logged.contains("request body"), "{var}={value}: {logged}");
            assert!(
                logged.contains("ours"),
                "{var}={value}: the level itself was applied"
            );
        }
    }
}

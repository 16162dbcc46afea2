//! The log format and level: JSON lines on stdout, which Lambda sends to CloudWatch Logs.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// Crates whose `TRACE` (and `DEBUG`) output would carry request contents: the runtime
/// logs every raw event at `TRACE`, `Signature` header included. Capped at `info`
/// whatever level is asked for.
const CAPPED: [&str; 2] = ["lambda_runtime", "lambda_runtime_api_client"];

/// The level: `RUST_LOG` wins; else Lambda's own log-level setting
/// (`AWS_LAMBDA_LOG_LEVEL`); else `info`. Both take `level` or `target=level,...`
/// (`tracing_subscriber`'s `Targets` syntax: no span or field filters, and no regex
/// engine in the binary). A value that does not parse is ignored for the next one.
/// `CAPPED` crates never go below `info`.
pub fn filter(lookup: impl Fn(&str) -> Option<String>) -> Targets {
    let parse = |var: &str| {
        lookup(var).and_then(|spec| spec.trim().to_ascii_lowercase().parse::<Targets>().ok())
    };
    let mut filter = parse("RUST_LOG")
        .or_else(|| parse("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    for target in CAPPED {
        let asked = filter
            .iter()
            .find(|(t, _)| *t == target)
            .map_or(filter.default_level(), |(_, level)| Some(level));
        let capped = asked.unwrap_or(LevelFilter::OFF).min(LevelFilter::INFO);
        filter = filter.with_target(target, capped);
    }
    filter
}

/// The subscriber: one flat JSON object per event, written to `writer` (stdout in
/// Lambda, a buffer in tests).
pub fn subscriber<W>(filter: Targets, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer);
    tracing_subscriber::registry().with(format).with(filter)
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

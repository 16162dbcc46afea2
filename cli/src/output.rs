//! Text or JSON on stdout; errors on stderr. A closed stdout (`| head`) is not an error.

use std::io::Write as _;

use serde_json::Value;

use crate::error::CliError;

/// Where results go, and in which form.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// Print text as it is, in either mode (for output that is already JSON).
    pub fn text(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    }

    /// Print a result: the JSON value with `--json`, else the text.
    pub fn result(&self, json: &Value, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let written = if self.json {
            writeln!(stdout, "{json}")
        } else if text.ends_with('\n') {
            write!(stdout, "{text}")
        } else {
            writeln!(stdout, "{text}")
        };
        // A reader that went away (broken pipe) has what it wanted.
        let _ = written.and_then(|()| stdout.flush());
    }

    /// Print an error on stderr.
    pub fn error(&self, err: &CliError) {
        let mut stderr = std::io::stderr().lock();
        let _ = if self.json {
            writeln!(
                stderr,
                "{}",
                serde_json::json!({"error": err.kind(), "message": err.to_string(), "exit_code": err.exit_code()})
            )
        } else {
            writeln!(stderr, "edgeseal: {err}")
        };
    }
}

/// A date as results show it (RFC 3339, UTC).
pub fn date(d: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

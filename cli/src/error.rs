//! The CLI's errors and their exit codes. None carries key material.

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

/// Exit code of a completed run: nothing failed.
pub const OK: u8 = 0;
/// Exit code of a completed run whose verification or check failed, or whose request
/// the origin answered non-2xx ([`CliError::FAILED_EXIT`]).
pub const FAILED: u8 = CliError::FAILED_EXIT;

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that parse but do not make sense together, or a bad value.
    #[error("{0}")]
    Usage(String),
    /// A key or secret that is unreadable or not an edgeseal key.
    #[error("{0}")]
    Config(String),
    /// An AWS API call failed.
    #[error("{operation} failed: {detail}")]
    Aws {
        /// The API operation, e.g. `GetSecretValue`.
        operation: &'static str,
        /// The service's error code and message.
        detail: String,
    },
    /// The signed request could not be sent.
    #[error("request to the origin failed: {0}")]
    Network(String),
    /// Something that should not happen (the runtime did not start).
    #[error("internal error: {0}")]
    Internal(String),
}

impl CliError {
    /// Exit code: verification or check failed.
    pub const FAILED_EXIT: u8 = 1;
    /// Exit code: usage or configuration error.
    pub const USAGE_EXIT: u8 = 2;
    /// Exit code: AWS or network error.
    pub const AWS_EXIT: u8 = 3;
    /// Exit code for internal errors (documented as "other").
    pub const INTERNAL_EXIT: u8 = 70;

    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => Self::USAGE_EXIT,
            CliError::Aws { .. } | CliError::Network(_) => Self::AWS_EXIT,
            CliError::Internal(_) => Self::INTERNAL_EXIT,
        }
    }

    /// A short machine-readable kind for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            CliError::Usage(_) => "usage",
            CliError::Config(_) => "config",
            CliError::Aws { .. } => "aws",
            CliError::Network(_) => "network",
            CliError::Internal(_) => "internal",
        }
    }

    /// Wrap an SDK error, keeping the service's error code and message (error
    /// responses never carry a secret value).
    pub fn aws<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let detail = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            // Not a service answer: no connection, timeout, credentials.
            _ => error_chain(&err),
        };
        Self::Aws { operation, detail }
    }
}

/// An error and its sources on one line, without Debug dumps.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

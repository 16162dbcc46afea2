//! `edgeseal`: the operator CLI.
//!
//! Exit codes (scripts rely on them; see docs/configuration.md):
//! 0 ok · 1 verification or check failed · 2 usage or configuration error · 3 AWS or
//! network error.

mod args;
mod aws;
mod commands;
mod connect_to;
mod error;
mod keys;
mod output;
mod send;
mod target;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::Cli;
use crate::error::CliError;
use crate::output::Output;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2 (help and version exit 0).
    let cli = Cli::parse();
    let out = Output::new(cli.global.json);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            out.error(&CliError::Internal(format!(
                "cannot start the async runtime: {err}"
            )));
            return ExitCode::from(CliError::INTERNAL_EXIT);
        }
    };
    match runtime.block_on(commands::run(&cli, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            out.error(&err);
            ExitCode::from(err.exit_code())
        }
    }
}

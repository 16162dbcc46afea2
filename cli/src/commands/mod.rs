//! The commands, one file each. Each returns the exit code of a completed run
//! ([`crate::error::OK`], or [`crate::error::FAILED`] for a failed verification /
//! check / non-2xx answer) or a [`CliError`].
//!
//! This file only dispatches: what several commands share lives with the concept it
//! belongs to (exit codes in `error.rs`, `--method` and `--url` in `target.rs`, keys in
//! `keys.rs`, AWS access in `aws.rs`), so no command file imports another.

mod doctor;
mod explain;
mod keygen;
mod rotate;
mod sign;
mod status;
mod verify;

use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::output::Output;

pub async fn run(cli: &Cli, out: &Output) -> Result<u8, CliError> {
    match &cli.command {
        Command::Keygen(args) => keygen::run(args, out),
        Command::Sign(args) => sign::run(cli, args, out).await,
        Command::Verify(args) => verify::run(cli, args, out).await,
        Command::Explain(args) => explain::run(cli, args, out).await,
        Command::Status(args) => status::run(cli, args, out).await,
        Command::Rotate(args) => rotate::run(cli, args, out).await,
        Command::Doctor(args) => doctor::run(cli, args, out).await,
    }
}

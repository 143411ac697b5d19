//! The `hearth` binary: parses the command line and hands over to [`hearth::cli::run`].

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    hearth::cli::run(hearth::cli::Cli::parse())
}

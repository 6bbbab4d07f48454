//! `heimdall`: the gateway binary — CLI, logging, config loading, serving, graceful shutdown.
//!
//! Why thin: everything a request touches lives in the library crates; the binary only wires
//! them together so the same engine can be embedded or tested without a process.

mod cli;
mod control_start;
mod governance_start;
mod listener;
mod log_fields;
mod log_sink;
mod serve;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command.clone().unwrap_or(cli::Command::Serve) {
        cli::Command::Serve => serve::run(&cli.serve),
        cli::Command::CheckConfig { file } => cli::check_config(&file),
        cli::Command::ConfigSchema => cli::config_schema(),
        cli::Command::ExportConfig {
            version,
            output,
            redact,
        } => control_start::export(&cli.serve, version, output.as_ref(), redact),
    }
}

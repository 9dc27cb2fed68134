//! The command line: parse, dispatch to a subcommand, print errors once,
//! map them to documented exit codes. clap types stay in this module.

mod inspect;
mod keygen;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes (also in the README).
pub mod exit {
    /// Every step passed or was skipped.
    pub const OK: u8 = 0;
    /// A step failed, or a worker died during the run.
    pub const STEP_FAILED: u8 = 1;
    /// Bad input: config, workers.json, a module, or the command line.
    pub const INVALID: u8 = 2;
    /// The machine could not provide something (a worker, MongoDB, a file).
    pub const SETUP: u8 = 3;
    /// Interrupted by Ctrl-C or SIGTERM (the state is saved).
    pub const INTERRUPTED: u8 = 130;
}

/// promwasm: run end-to-end tests of multi-worker tasks with steps as WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "promwasm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(run::RunCmd),
    Check(run::CheckCmd),
    Inspect(inspect::InspectCmd),
    Keygen(keygen::KeygenCmd),
}

/// Entry point of the `promwasm` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INVALID
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::SETUP);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Run(cmd) => cmd.run().await,
            Command::Check(cmd) => cmd.run().await,
            Command::Inspect(cmd) => cmd.run().await,
            Command::Keygen(cmd) => cmd.run(),
        }
    });
    ExitCode::from(code)
}

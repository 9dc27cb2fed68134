//! The command line: parse, dispatch to a subcommand, print errors once,
//! map them to documented exit codes. clap types stay in this module.

mod inspect;
mod keygen;
mod new;
mod run;
mod state;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes (also in the README). [`exit::code`] is the one place a run's
/// end becomes one.
pub mod exit {
    use crate::results::{RunFailure, RunResult};
    use crate::runner::RunError;

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

    /// The exit code of a run that ended with `end`.
    pub fn code(end: &Result<RunResult, RunError>) -> u8 {
        match end {
            Err(RunError::Invalid(_) | RunError::State(_)) => INVALID,
            Err(RunError::Machine(_)) => SETUP,
            Ok(run) => match &run.failure {
                Some(RunFailure::Interrupted) => INTERRUPTED,
                Some(RunFailure::Machine(_)) => SETUP,
                Some(RunFailure::Invalid(_)) => INVALID,
                Some(RunFailure::WorkerDied(_) | RunFailure::DatabaseDied(_)) => STEP_FAILED,
                None if run.any_step_failed() => STEP_FAILED,
                None => OK,
            },
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::results::{Outcome, StepResult};

        fn failed_step() -> StepResult {
            StepResult {
                round: 0,
                step: "post-load".into(),
                worker: "w".into(),
                stage: "post-load".into(),
                outcome: Outcome::Failed("no".into()),
                attempts: 1,
                duration: Default::default(),
                log: vec![],
                http: Default::default(),
            }
        }

        #[test]
        fn each_end_has_its_code() {
            let ok = RunResult::default();
            assert_eq!(code(&Ok(ok.clone())), OK);
            let step = RunResult {
                steps: vec![failed_step()],
                ..ok.clone()
            };
            assert_eq!(
                code(&Ok(step)),
                STEP_FAILED,
                "a failing post-load hook is a step failure"
            );
            let died = RunResult {
                failure: Some(RunFailure::WorkerDied("x".into())),
                ..ok.clone()
            };
            assert_eq!(code(&Ok(died)), STEP_FAILED);
            let stopped = RunResult {
                failure: Some(RunFailure::Interrupted),
                ..ok.clone()
            };
            assert_eq!(code(&Ok(stopped)), INTERRUPTED);
            let machine = RunResult {
                failure: Some(RunFailure::Machine("disk full".into())),
                ..ok
            };
            assert_eq!(code(&Ok(machine)), SETUP);
            assert_eq!(code(&Err(RunError::Invalid(Default::default()))), INVALID);
            assert_eq!(
                code(&Err(RunError::Machine(anyhow::anyhow!("no server")))),
                SETUP
            );
        }
    }
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
    New(new::NewCmd),
    State(state::StateCmd),
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
            Command::New(cmd) => cmd.run(),
            Command::State(cmd) => cmd.run(),
        }
    });
    ExitCode::from(code)
}

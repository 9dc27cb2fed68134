//! A step component whose `stages()` never returns: the host calls it while
//! checking a config (`promwasm check`, `run`) and in `promwasm inspect`,
//! outside any step, and must give up at its deadline
//! (`tests/tests/hostile.rs`). `export_stages!` always answers, so this
//! implements the WIT exports by hand against the SDK's bindings.

use promwasm_guest::bindings::{Guest, Outcome, StageInfo};

struct SpinningStages;

impl Guest for SpinningStages {
    fn stages() -> Vec<StageInfo> {
        loop {
            std::hint::black_box(());
        }
    }

    fn prepare(stage: String, _args: String) -> Result<String, String> {
        Err(format!(
            "stage `{stage}`: this component only spins in stages()"
        ))
    }

    fn execute(stage: String, _args: String, _data: String) -> Result<Outcome, String> {
        Err(format!(
            "stage `{stage}`: this component only spins in stages()"
        ))
    }
}

promwasm_guest::bindings::__export_step!(SpinningStages with_types_in promwasm_guest::bindings);

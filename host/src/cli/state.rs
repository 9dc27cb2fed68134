//! `promwasm state show`: what a saved run holds — for deciding how to resume.

use std::path::PathBuf;

use super::exit;
use crate::state::State;

/// Inspect a task test's saved state.
#[derive(Debug, clap::Args)]
pub struct StateCmd {
    #[command(subcommand)]
    action: StateAction,
}

#[derive(Debug, clap::Subcommand)]
enum StateAction {
    /// Print the saved round, last completed step, run id and store.
    Show {
        /// The task test's config.yaml.
        config: PathBuf,
    },
}

impl StateCmd {
    /// Do it.
    pub fn run(self) -> u8 {
        let StateAction::Show { config } = self.action;
        let loaded = match super::run::load(&config) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let path = State::path_in(&loaded.plan.data_dir);
        match State::load(&path) {
            Ok(None) => {
                println!(
                    "{}: no saved state; the next run starts fresh",
                    path.display()
                );
                exit::OK
            }
            Ok(Some(state)) => {
                println!("{}", show(&state, &path.display().to_string()));
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::INVALID
            }
        }
    }
}

fn show(state: &State, path: &str) -> String {
    let store = serde_json::json!({ "global": state.global, "rounds": state.rounds });
    format!(
        "state:      {path}\nrun id:     {}\nround:      {} of {}\nlast step:  {}{}\nstore:\n{}",
        state.promwasm.run_id,
        state.current_round,
        state
            .promwasm
            .max_rounds
            .map_or("?".to_string(), |n| n.to_string()),
        state
            .last_completed_step
            .as_deref()
            .unwrap_or("(none; the round starts over)"),
        match state.promwasm.group_done.as_slice() {
            [] => String::new(),
            done => format!(
                "\ngroup done: {} (a resumed run runs the group's other steps)",
                done.join(", ")
            ),
        },
        serde_json::to_string_pretty(&store).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_resume_point_and_the_store() {
        let mut state = State::fresh("r1".into(), Default::default());
        state
            .set(
                "pr.url",
                serde_json::json!("https://x"),
                crate::state::Scope::Round,
            )
            .unwrap();
        state.last_completed_step = Some("task".into());
        state.promwasm.max_rounds = Some(3);
        let text = show(&state, "data/test_state.json");
        assert!(text.contains("run id:     r1"), "{text}");
        assert!(text.contains("round:      1 of 3"), "{text}");
        assert!(text.contains("last step:  task"), "{text}");
        assert!(text.contains("\"url\": \"https://x\""), "{text}");
        assert!(!text.contains("group done"), "{text}");
        state.promwasm.group_done = vec!["submit1".into(), "submit3".into()];
        let text = show(&state, "data/test_state.json");
        assert!(
            text.contains("last step:  task\ngroup done: submit1, submit3 (a resumed run"),
            "{text}"
        );
    }
}

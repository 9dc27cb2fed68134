//! The files a run leaves in its directory (`data_dir/runs/<run id>/`):
//! `steps/<step>.log` for each step as it finishes, and `report.json` and
//! `junit.xml` when the run is over. The runner creates the directory; this
//! reporter only writes into it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::files::{JsonFile, JunitFile};
use crate::events::{Event, Reporter};
use crate::results::StepResult;

/// Writes each step's log and the reports into the run's directory.
#[derive(Debug, Default)]
pub struct RunDirFiles {
    dir: Option<PathBuf>,
    reports: Option<(JsonFile, JunitFile)>,
    /// The first step log that could not be written (said once, at the end).
    failed: Option<anyhow::Error>,
}

impl Reporter for RunDirFiles {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { dir, .. } => {
                self.dir = Some(dir.clone());
                self.reports = Some((
                    JsonFile::new(dir.join("report.json")),
                    JunitFile::new(dir.join("junit.xml")),
                ));
            }
            Event::StepFinished(step) => {
                if let (Some(dir), None) = (&self.dir, &self.failed) {
                    self.failed = write_step_log(dir, step).err();
                }
            }
            _ => {}
        }
        if let Some((json, junit)) = &mut self.reports {
            json.event(event);
            junit.event(event);
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match &mut self.reports {
            Some((json, junit)) => json.finish().and(junit.finish()),
            None => Ok(()),
        }
    }
}

/// `steps/r<round>-<step>.log` (`steps/post-load.log` for the hook): how it
/// ended, then its log. A retried or resumed step's file is appended to.
fn write_step_log(dir: &Path, step: &StepResult) -> anyhow::Result<()> {
    let path = dir.join("steps").join(step_log_name(step));
    let mut text = format!(
        "== round {} · {} ({}@{}): {} after {} ms, {} attempt(s)",
        step.round,
        step.step,
        step.stage,
        step.worker,
        step.outcome.status(),
        step.duration.as_millis(),
        step.attempts
    );
    if let Some(message) = step.outcome.message() {
        text.push_str(&format!(": {message}"));
    }
    text.push('\n');
    for line in &step.log {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write the step log {}", path.display()))
}

/// A file name for a step's log: its round and name, with anything but
/// letters, digits, `-`, `_` and `.` replaced (step names come from users).
fn step_log_name(step: &StepResult) -> String {
    let name: String = step
        .step
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match step.round {
        0 => "post-load.log".to_string(),
        round => format!("r{round}-{name}.log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Outcome, RunResult};

    fn step(round: u32, name: &str, outcome: Outcome) -> StepResult {
        StepResult {
            round,
            step: name.into(),
            worker: "w".into(),
            stage: "echo".into(),
            outcome,
            attempts: 1,
            duration: Default::default(),
            log: vec!["info hello".into()],
            http: Default::default(),
        }
    }

    #[test]
    fn step_logs_and_reports_land_in_the_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("steps")).unwrap();
        let mut files = RunDirFiles::default();
        files.event(&Event::RunStarted {
            run_id: "r".into(),
            dir: dir.path().to_path_buf(),
        });
        let failed = step(2, "../audit me", Outcome::Failed("boom".into()));
        files.event(&Event::StepFinished(failed.clone()));
        files.event(&Event::StepFinished(step(
            0,
            "post-load",
            Outcome::Passed(1.into()),
        )));
        files.event(&Event::RunFinished(RunResult {
            steps: vec![failed],
            ..Default::default()
        }));
        files.finish().unwrap();
        let log = std::fs::read_to_string(dir.path().join("steps/r2-.._audit_me.log")).unwrap();
        assert_eq!(
            log,
            "== round 2 · ../audit me (echo@w): failed after 0 ms, 1 attempt(s): boom\ninfo hello\n"
        );
        assert!(dir.path().join("steps/post-load.log").is_file());
        assert!(dir.path().join("report.json").is_file());
        assert!(dir.path().join("junit.xml").is_file());
    }

    #[test]
    fn a_step_log_that_cannot_be_written_is_said_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = RunDirFiles::default();
        files.event(&Event::RunStarted {
            run_id: "r".into(),
            dir: dir.path().join("gone"),
        });
        files.event(&Event::StepFinished(step(
            1,
            "s",
            Outcome::Passed(1.into()),
        )));
        let err = format!("{:#}", files.finish().unwrap_err());
        assert!(
            err.contains("cannot write the step log") && err.contains("r1-s.log"),
            "{err}"
        );
    }
}

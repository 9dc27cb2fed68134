//! Reports written to files when the run is over: JUnit XML and JSON. Each
//! keeps the finished run from the event stream and writes it in `finish`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::events::{Event, Reporter};
use crate::results::{Outcome, RunFailure, RunResult};

/// Writes a JUnit XML report: one test suite per round, one test case per step.
#[derive(Debug)]
pub struct JunitFile {
    path: PathBuf,
    run: Option<RunResult>,
}

/// Writes the results as JSON.
#[derive(Debug)]
pub struct JsonFile {
    path: PathBuf,
    run: Option<RunResult>,
}

impl JunitFile {
    /// A report to be written at `path`.
    pub fn new(path: PathBuf) -> Self {
        JunitFile { path, run: None }
    }
}

impl JsonFile {
    /// A report to be written at `path`.
    pub fn new(path: PathBuf) -> Self {
        JsonFile { path, run: None }
    }
}

impl Reporter for JunitFile {
    fn event(&mut self, event: &Event) {
        if let Event::RunFinished(run) = event {
            self.run = Some(run.clone());
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let Some(run) = &self.run else { return Ok(()) };
        write(&self.path, "JUnit", junit(run)?)
    }
}

impl Reporter for JsonFile {
    fn event(&mut self, event: &Event) {
        if let Event::RunFinished(run) = event {
            self.run = Some(run.clone());
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let Some(run) = &self.run else { return Ok(()) };
        write(
            &self.path,
            "JSON",
            serde_json::to_string_pretty(&json(run))?,
        )
    }
}

fn write(path: &Path, what: &str, text: String) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("cannot write {what} report {}", path.display()))
}

fn junit(run: &RunResult) -> anyhow::Result<String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("promwasm");
    let mut rounds: Vec<u32> = run.steps.iter().map(|s| s.round).collect();
    rounds.dedup();
    for round in rounds {
        let name = match round {
            0 => "post-load".to_string(),
            n => format!("round {n}"),
        };
        let mut suite = TestSuite::new(name);
        for s in run.steps.iter().filter(|s| s.round == round) {
            let status = match &s.outcome {
                Outcome::Passed(_) => TestCaseStatus::success(),
                Outcome::Skipped(why) => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(why.as_str());
                    st
                }
                Outcome::Failed(why) => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_message(why.as_str());
                    st
                }
            };
            let mut case = TestCase::new(format!("{} ({}@{})", s.step, s.stage, s.worker), status);
            case.set_time(s.duration);
            case.set_system_out(s.log.join("\n"));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    // A run that stopped outside any step must not look green in CI.
    if let Some(failure) = &run.failure {
        let mut suite = TestSuite::new("run");
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
        st.set_message(failure.to_string());
        suite.add_test_case(quick_junit::TestCase::new("run", st));
        report.add_test_suite(suite);
    }
    report.to_string().context("cannot render the JUnit report")
}

fn json(run: &RunResult) -> serde_json::Value {
    let steps: Vec<_> = run
        .steps
        .iter()
        .map(|s| {
            let (outcome, detail) = match &s.outcome {
                Outcome::Passed(v) => ("passed", v.clone()),
                Outcome::Skipped(w) => ("skipped", json!(w)),
                Outcome::Failed(w) => ("failed", json!(w)),
            };
            json!({
                "round": s.round, "step": s.step, "stage": s.stage, "worker": s.worker,
                "outcome": outcome, "detail": detail,
                "duration_ms": s.duration.as_millis() as u64, "attempts": s.attempts,
                "log": s.log,
            })
        })
        .collect();
    let failure_kind = run.failure.as_ref().map(|f| match f {
        RunFailure::WorkerDied(_) => "worker-died",
        RunFailure::Interrupted => "interrupted",
        RunFailure::Machine(_) => "machine",
    });
    json!({
        "run_id": run.run_id,
        "passed": run.passed(),
        "max_rounds": run.max_rounds,
        "resumed": run.resumed.as_ref().map(|(r, s)| json!({"round": r, "after_step": s})),
        "error": run.failure.as_ref().map(ToString::to_string),
        "error_kind": failure_kind,
        "steps": steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::StepResult;
    use std::time::Duration;

    fn run() -> RunResult {
        RunResult {
            run_id: "abc".into(),
            max_rounds: 1,
            steps: vec![StepResult {
                round: 1,
                step: "s".into(),
                worker: "w".into(),
                stage: "echo".into(),
                outcome: Outcome::Passed(json!({"ok": true})),
                attempts: 1,
                duration: Duration::from_millis(5),
                log: vec!["info hi".into()],
            }],
            failure: Some(RunFailure::WorkerDied("worker `w` exited".into())),
            ..Default::default()
        }
    }

    #[test]
    fn a_run_level_failure_is_a_junit_error() {
        let xml = junit(&run()).unwrap();
        assert!(xml.contains("<testsuite name=\"round 1\""), "{xml}");
        assert!(
            xml.contains("<error message=\"worker `w` exited\""),
            "{xml}"
        );
    }

    #[test]
    fn json_has_steps_and_the_failure() {
        let doc = json(&run());
        assert_eq!(doc["passed"], json!(false));
        assert_eq!(doc["error"], json!("worker `w` exited"));
        assert_eq!(doc["error_kind"], json!("worker-died"));
        assert_eq!(doc["steps"][0]["detail"], json!({"ok": true}));
    }

    #[test]
    fn files_are_written_on_finish_and_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = JsonFile::new(dir.path().join("r.json"));
        r.event(&Event::RunFinished(run()));
        r.finish().unwrap();
        assert!(dir.path().join("r.json").is_file());
        let mut bad = JunitFile::new(dir.path().join("no/such/dir/r.xml"));
        bad.event(&Event::RunFinished(run()));
        let err = format!("{:#}", bad.finish().unwrap_err());
        assert!(
            err.contains("cannot write JUnit report") && err.contains("r.xml"),
            "{err}"
        );
    }
}

//! Reports written to files when the run is over: JUnit XML and JSON. Each
//! keeps the finished run from the event stream and writes it in `finish`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::metrics;
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
        if let Event::RunFinished(run) | Event::RunAborted(run) = event {
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
        if let Event::RunFinished(run) | Event::RunAborted(run) = event {
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
            let status = junit_status(&s.outcome);
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
        st.set_type(failure_kind(failure));
        suite.add_test_case(quick_junit::TestCase::new("run", st));
        report.add_test_suite(suite);
    }
    report.to_string().context("cannot render the JUnit report")
}

/// Passed is a success; skipped and not run are `<skipped>`; failed and
/// timed out are `<failure>`; interrupted is an `<error>`: the step itself
/// said nothing.
fn junit_status(outcome: &Outcome) -> quick_junit::TestCaseStatus {
    use quick_junit::{NonSuccessKind, TestCaseStatus};
    let mut status = match outcome {
        Outcome::Passed(_) => return TestCaseStatus::success(),
        Outcome::Skipped(_) | Outcome::NotRun(_) => TestCaseStatus::skipped(),
        Outcome::Failed(_) | Outcome::TimedOut(_) => {
            TestCaseStatus::non_success(NonSuccessKind::Failure)
        }
        Outcome::Interrupted => TestCaseStatus::non_success(NonSuccessKind::Error),
    };
    let message = match outcome.message() {
        Some(m) if matches!(outcome, Outcome::NotRun(_)) => format!("not run: {m}"),
        Some(m) => m.to_string(),
        None => outcome.status().to_string(),
    };
    status.set_message(message);
    if !matches!(outcome, Outcome::Skipped(_) | Outcome::NotRun(_)) {
        status.set_type(outcome.status());
    }
    status
}

fn failure_kind(failure: &RunFailure) -> &'static str {
    match failure {
        RunFailure::WorkerDied(_) => "worker-died",
        RunFailure::DatabaseDied(_) => "database-died",
        RunFailure::Interrupted => "interrupted",
        RunFailure::Machine(_) => "machine",
        RunFailure::Invalid(_) => "invalid",
    }
}

fn json(run: &RunResult) -> serde_json::Value {
    let steps: Vec<_> = run
        .steps
        .iter()
        .map(|s| {
            let detail = match &s.outcome {
                Outcome::Passed(v) => v.clone(),
                other => json!(other.message()),
            };
            let outcome = s.outcome.status().replace(' ', "-");
            json!({
                "round": s.round, "step": s.step, "stage": s.stage, "worker": s.worker,
                "outcome": outcome, "detail": detail,
                "duration_ms": s.duration.as_millis() as u64, "attempts": s.attempts,
                "log": s.log,
                "http": {
                    "calls": s.http.count,
                    "failed": s.http.failed,
                    "latencies_ms": s.http.latencies.iter().map(|d| metrics::ms(*d)).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    let failure_kind = run.failure.as_ref().map(failure_kind);
    json!({
        "run_id": run.run_id,
        "passed": run.passed(),
        "max_rounds": run.max_rounds,
        "resumed": run.resumed.as_ref().map(|(r, s)| json!({"round": r, "after_step": s})),
        "error": run.failure.as_ref().map(ToString::to_string),
        "error_kind": failure_kind,
        "steps": steps,
        "metrics": metrics_json(run),
    })
}

/// Per step over the rounds (durations and HTTP latencies as p50/p95), and
/// what each worker used.
fn metrics_json(run: &RunResult) -> serde_json::Value {
    let opt_ms = |d: Option<std::time::Duration>| d.map(metrics::ms);
    let steps: Vec<_> = metrics::per_step(run)
        .into_iter()
        .map(|m| {
            json!({
                "step": m.step, "worker": m.worker, "rounds": m.outcomes.len(),
                "p50_ms": opt_ms(m.p50), "p95_ms": opt_ms(m.p95),
                "http_calls": m.http_calls, "http_failed": m.http_failed,
                "http_p50_ms": opt_ms(m.http_p50), "http_p95_ms": opt_ms(m.http_p95),
            })
        })
        .collect();
    let workers: Vec<_> = run
        .workers
        .iter()
        .map(|w| json!({"worker": w.name, "cpu_ms": metrics::ms(w.cpu), "peak_rss_bytes": w.peak_rss_bytes}))
        .collect();
    json!({ "steps": steps, "workers": workers })
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
                http: Default::default(),
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

    fn every_status() -> RunResult {
        let mut run = run();
        let template = run.steps[0].clone();
        run.steps = [
            Outcome::Passed(json!(1)),
            Outcome::Skipped("skip_if: round 1".into()),
            Outcome::Failed("boom".into()),
            Outcome::TimedOut("timed out after 1s".into()),
            Outcome::NotRun("round 1, step `s` did not pass".into()),
            Outcome::Interrupted,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| StepResult {
            step: format!("s{i}"),
            outcome,
            ..template.clone()
        })
        .collect();
        run.failure = Some(RunFailure::Interrupted);
        run
    }

    #[test]
    fn junit_shows_each_status_as_ci_systems_read_them() {
        let xml = junit(&every_status()).unwrap();
        let case = |name: &str| {
            let start = xml.find(&format!("<testcase name=\"{name} ")).unwrap();
            let end = start + xml[start..].find("</testcase>").unwrap();
            xml[start..end].to_string()
        };
        assert!(!case("s0").contains("<skipped") && !case("s0").contains("<failure"));
        assert!(case("s1").contains("<skipped message=\"skip_if: round 1\""));
        assert!(case("s2").contains("<failure message=\"boom\" type=\"failed\""));
        assert!(case("s3").contains("<failure message=\"timed out after 1s\" type=\"timed out\""));
        assert!(case("s4").contains("<skipped message=\"not run: round 1, step `s` did not pass\""));
        assert!(case("s5").contains("<error message=\"interrupted\" type=\"interrupted\""));
        assert!(
            xml.contains("<error message=\"interrupted; the state is saved, run again to resume\" type=\"interrupted\""),
            "{xml}"
        );
    }

    #[test]
    fn json_names_each_status() {
        let doc = json(&every_status());
        let outcomes: Vec<&str> = doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(
            outcomes,
            [
                "passed",
                "skipped",
                "failed",
                "timed-out",
                "not-run",
                "interrupted"
            ]
        );
        assert_eq!(doc["steps"][3]["detail"], json!("timed out after 1s"));
        assert_eq!(doc["steps"][5]["detail"], json!(null));
        assert_eq!(doc["error_kind"], json!("interrupted"));
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

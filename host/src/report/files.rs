//! Rendering a [`RunResult`]: the console lines and summary, JUnit XML and
//! JSON. Reporters only read results.

use std::path::Path;

use serde_json::json;

use crate::runner::{Outcome, RunResult, StepResult};

/// One line for a finished step.
pub fn step_line(r: &StepResult) -> String {
    let ms = r.duration.as_millis();
    let took = match r.attempts {
        0 | 1 => format!("{ms} ms"),
        n => format!("{ms} ms, {n} attempts"),
    };
    match &r.outcome {
        Outcome::Passed(_) => format!("   ✓ passed  {}@{} ({took})", r.step, r.worker),
        Outcome::Skipped(why) => format!("   ↷ skipped {}@{} ({took}): {why}", r.step, r.worker),
        Outcome::Failed(why) => format!("   ✗ failed  {}@{} ({took}): {why}", r.step, r.worker),
    }
}

/// The closing summary.
pub fn summary(run: &RunResult) -> String {
    let (passed, failed, skipped) = run.counts();
    let mut out = String::new();
    if let Some((round, Some(step))) = &run.resumed {
        out.push_str(&format!("resumed in round {round} after step {step}\n"));
    }
    for s in &run.steps {
        if let Outcome::Failed(msg) = &s.outcome {
            out.push_str(&format!("FAILED {msg}\n"));
        }
    }
    if let Some(e) = &run.error {
        out.push_str(&format!("FAILED {e}\n"));
    }
    let verdict = if run.passed() { "PASSED" } else { "FAILED" };
    out.push_str(&format!(
        "{verdict}: {} rounds; this run: {passed} steps passed, {skipped} skipped, {failed} failed",
        run.max_rounds
    ));
    out
}

/// Write a JUnit XML report: one test suite per round, one test case per step.
pub fn write_junit(run: &RunResult, path: &Path) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("promwasm");
    let mut rounds: Vec<u32> = run.steps.iter().map(|s| s.round).collect();
    rounds.dedup();
    for round in rounds {
        let mut suite = TestSuite::new(format!("round {round}"));
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
    let xml = report
        .to_string()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::write(path, xml)
}

/// Write the results as JSON.
pub fn write_json(run: &RunResult, path: &Path) -> std::io::Result<()> {
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
                "outcome": outcome, "detail": detail, "duration_ms": s.duration.as_millis() as u64, "attempts": s.attempts,
                "log": s.log,
            })
        })
        .collect();
    let doc = json!({
        "run_id": run.run_id,
        "passed": run.passed(),
        "max_rounds": run.max_rounds,
        "resumed": run.resumed.as_ref().map(|(r, s)| json!({"round": r, "after_step": s})),
        "error": run.error,
        "steps": steps,
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc)?)
}

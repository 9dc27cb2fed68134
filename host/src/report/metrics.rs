//! Per-step figures over a run's rounds, for the summary table and the JSON
//! report: how each round ended, duration percentiles, HTTP calls and their
//! latency percentiles.

use std::time::Duration;

use crate::results::{percentile, Outcome, RunResult, StepResult};

/// One step (by name and worker) over every round of this run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMetrics {
    /// Step name (`post-load` for the hook).
    pub step: String,
    /// Worker it ran as.
    pub worker: String,
    /// How it ended in each round, in order.
    pub outcomes: Vec<Outcome>,
    /// Median duration of the rounds it ran in (not skipped, not "not run").
    pub p50: Option<Duration>,
    /// 95th-percentile duration of the same.
    pub p95: Option<Duration>,
    /// HTTP calls over all rounds.
    pub http_calls: u64,
    /// Of which got no answer.
    pub http_failed: u64,
    /// Median HTTP latency.
    pub http_p50: Option<Duration>,
    /// 95th-percentile HTTP latency.
    pub http_p95: Option<Duration>,
}

/// Every step of `run`, in the order each first appears.
pub fn per_step(run: &RunResult) -> Vec<StepMetrics> {
    let mut order: Vec<(&str, &str)> = Vec::new();
    for s in &run.steps {
        if !order.contains(&(s.step.as_str(), s.worker.as_str())) {
            order.push((s.step.as_str(), s.worker.as_str()));
        }
    }
    order
        .into_iter()
        .map(|(step, worker)| {
            let rounds: Vec<&StepResult> = run
                .steps
                .iter()
                .filter(|s| s.step == step && s.worker == worker)
                .collect();
            let durations: Vec<Duration> = rounds
                .iter()
                .filter(|s| s.attempts > 0)
                .map(|s| s.duration)
                .collect();
            let latencies: Vec<Duration> = rounds
                .iter()
                .flat_map(|s| s.http.latencies.iter().copied())
                .collect();
            StepMetrics {
                step: step.to_string(),
                worker: worker.to_string(),
                outcomes: rounds.iter().map(|s| s.outcome.clone()).collect(),
                p50: percentile(&durations, 50),
                p95: percentile(&durations, 95),
                http_calls: rounds.iter().map(|s| s.http.count).sum(),
                http_failed: rounds.iter().map(|s| s.http.failed).sum(),
                http_p50: percentile(&latencies, 50),
                http_p95: percentile(&latencies, 95),
            }
        })
        .collect()
}

/// `12 ms`, `1.25 s`; `-` for none.
pub fn short(d: Option<Duration>) -> String {
    match d {
        None => "-".to_string(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        Some(d) if d < Duration::from_secs(1) => format!("{} ms", d.as_millis()),
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
    }
}

/// Milliseconds with three decimals, for JSON.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::HttpCalls;

    fn step(round: u32, name: &str, outcome: Outcome, ms: u64, http: &[u64]) -> StepResult {
        let mut calls = HttpCalls::default();
        for &l in http {
            calls.record(Some(Duration::from_millis(l)), l < 100);
        }
        StepResult {
            round,
            step: name.into(),
            worker: "w".into(),
            stage: name.into(),
            attempts: u32::from(!matches!(outcome, Outcome::NotRun(_) | Outcome::Skipped(_))),
            outcome,
            duration: Duration::from_millis(ms),
            log: vec![],
            http: calls,
        }
    }

    #[test]
    fn rounds_are_gathered_per_step_with_percentiles() {
        let run = RunResult {
            steps: vec![
                step(1, "a", Outcome::Passed(1.into()), 10, &[1, 3]),
                step(1, "b", Outcome::Skipped("no".into()), 0, &[]),
                step(2, "a", Outcome::Passed(1.into()), 30, &[2, 200]),
                step(2, "b", Outcome::Failed("x".into()), 50, &[]),
                step(3, "a", Outcome::NotRun("b".into()), 0, &[]),
            ],
            ..Default::default()
        };
        let m = per_step(&run);
        assert_eq!(m.len(), 2);
        let a = &m[0];
        assert_eq!(a.step, "a");
        assert_eq!(a.outcomes.len(), 3);
        // Rounds it did not run in do not pull the percentiles down.
        assert_eq!(
            (a.p50, a.p95),
            (
                Some(Duration::from_millis(10)),
                Some(Duration::from_millis(30))
            )
        );
        assert_eq!((a.http_calls, a.http_failed), (4, 1));
        assert_eq!(a.http_p50, Some(Duration::from_millis(2)));
        assert_eq!(a.http_p95, Some(Duration::from_millis(200)));
        assert_eq!(m[1].p50, Some(Duration::from_millis(50)));
        assert_eq!(m[1].http_p50, None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(short(None), "-");
        assert_eq!(short(Some(Duration::from_micros(2500))), "2.5 ms");
        assert_eq!(short(Some(Duration::from_millis(120))), "120 ms");
        assert_eq!(short(Some(Duration::from_millis(1250))), "1.25 s");
        assert_eq!(ms(Duration::from_micros(1234)), 1.234);
    }
}

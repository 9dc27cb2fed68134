//! The console: a line per thing that happened, then the summary. On a
//! terminal a spinner under the lines says what runs now, and marks are in
//! colour (unless `NO_COLOR` is set); piped (CI), it is plain lines.

use std::io::IsTerminal;

use super::live::Live;
use super::metrics;
use crate::events::{Event, Reporter, Stream};
use crate::results::{Outcome, RunResult, StepResult};

/// How much the console says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Only what did not pass, and the summary.
    Quiet,
    /// Steps, their logs, workers' output, the summary.
    #[default]
    Normal,
    /// Also each passed step's result and each round's end.
    Verbose,
}

/// Prints the run to stdout as it happens.
#[derive(Debug, Default)]
pub struct Console {
    verbosity: Verbosity,
    paint: Paint,
    live: Option<Live>,
}

impl Console {
    /// A console on stdout: live and in colour on a terminal, plain lines
    /// when piped; no colour with `NO_COLOR` or `TERM=dumb`.
    pub fn on_stdout(verbosity: Verbosity) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Console {
            verbosity,
            paint: Paint(terminal && !no_color && !dumb),
            live: (terminal && !dumb).then(Live::on_stdout),
        }
    }

    /// Plain lines at `verbosity` (tests).
    pub fn plain(verbosity: Verbosity) -> Self {
        Console {
            verbosity,
            ..Default::default()
        }
    }

    /// What this console prints for `event`, if anything.
    fn text(&self, event: &Event) -> Option<String> {
        let shown = match self.verbosity {
            Verbosity::Verbose => true,
            Verbosity::Normal => !matches!(
                event,
                Event::RoundFinished { .. } | Event::WorkerReady { .. }
            ),
            Verbosity::Quiet => match event {
                Event::StepFinished(r) => {
                    !matches!(r.outcome, Outcome::Passed(_) | Outcome::Skipped(_))
                }
                Event::RunFinished(_) => true,
                _ => false,
            },
        };
        if !shown {
            return None;
        }
        match event {
            Event::StepFinished(r) => {
                let mut text = self.paint.step_line(r);
                if let (Verbosity::Verbose, Outcome::Passed(value)) = (self.verbosity, &r.outcome) {
                    text.push_str(&format!(" → {}", clip(&value.to_string(), 300)));
                }
                Some(text)
            }
            Event::RoundFinished { round } => Some(format!("── round {round} done")),
            Event::RunFinished(run) => Some(self.paint.summary(run)),
            other => line(other),
        }
    }
}

impl Reporter for Console {
    fn event(&mut self, event: &Event) {
        if let Some(live) = &mut self.live {
            live.event(event);
        }
        let Some(text) = self.text(event) else { return };
        match &self.live {
            Some(live) => live.println(&text),
            None => println!("{text}"),
        }
    }
}

/// Colours, when on.
#[derive(Debug, Default, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn mark(self, outcome: &Outcome) -> String {
        let style = console::Style::new().force_styling(self.0);
        let style = match outcome {
            Outcome::Passed(_) => style.green(),
            Outcome::Skipped(_) | Outcome::NotRun(_) => style.dim(),
            Outcome::Failed(_) => style.red().bold(),
            Outcome::TimedOut(_) | Outcome::Interrupted => style.yellow().bold(),
        };
        style.apply_to(mark(outcome)).to_string()
    }

    fn step_line(self, r: &StepResult) -> String {
        let line = step_line(r);
        if !self.0 {
            return line;
        }
        // The mark is the line's first non-blank character.
        line.replacen(mark(&r.outcome), &self.mark(&r.outcome), 1)
    }

    fn summary(self, run: &RunResult) -> String {
        let text = summary(run);
        if !self.0 {
            return text;
        }
        let style = console::Style::new().force_styling(true).bold();
        let (word, style) = if run.passed() {
            ("PASSED:", style.green())
        } else {
            ("FAILED:", style.red())
        };
        match text.rfind(word) {
            Some(at) => format!(
                "{}{}{}",
                &text[..at],
                style.apply_to(word),
                &text[at + word.len()..]
            ),
            None => text,
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// What the console shows for `event`, if anything.
fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted { run_id, dir } => {
            format!("run {run_id}: logs and reports in {}", dir.display())
        }
        Event::FreshRun => "Starting a fresh run".into(),
        Event::Resumed {
            round,
            after_step,
            group_done,
        } => {
            let mut text = format!(
                "Resuming round {round} after step {}",
                after_step.as_deref().unwrap_or("(none)")
            );
            if !group_done.is_empty() {
                text += &format!(
                    "; of the group after it, {} finished already",
                    group_done.join(", ")
                );
            }
            text
        }
        Event::MongoStarted { kind, uri } => format!("MongoDB: started {kind} at {uri} for this run"),
        Event::Seeded {
            collection,
            imported,
            with_task_id,
            task_id,
        } => format!("MongoDB: {collection}: imported {imported}, {with_task_id} with taskId {task_id}"),
        Event::RoundsCounted {
            rounds,
            collection,
            task_id,
        } => format!("{rounds} rounds (documents with taskId {task_id} in `{collection}`)"),
        Event::WorkerStarted { name, port, pid } => {
            format!("started worker {name} on port {port} (pid {pid})")
        }
        Event::WorkerOutput { name, stream, line } => match stream {
            Stream::Stdout => format!("[{name}] {line}"),
            Stream::Stderr => format!("[{name} ERR] {line}"),
        },
        Event::WorkerReady { name, after } => {
            format!("worker {name} ready after {} ms", after.as_millis())
        }
        Event::WorkerStopped { name } => format!("stopped worker {name}"),
        Event::GroupStarted {
            round,
            max_rounds,
            group,
            steps,
        } => format!(
            "── round {round}/{max_rounds} · group {group}: {} step{} at once ({})",
            steps.len(),
            if steps.len() == 1 { "" } else { "s" },
            steps.join(", ")
        ),
        Event::StepStarted {
            round,
            max_rounds,
            step,
            stage,
            worker,
            description,
        } => {
            let title = step_title(*round, *max_rounds, step, stage, worker);
            if description.is_empty() {
                format!("── {title}")
            } else {
                format!("── {title}: {description}")
            }
        }
        Event::StepLog {
            round,
            step,
            worker,
            line,
        } => format!("[r{round} {step}@{worker}] {line}"),
        Event::StepRetry {
            round,
            step,
            worker,
            attempt,
            attempts,
            why,
            next_in,
        } => format!(
            "[r{round} {step}@{worker}] runner attempt {attempt}/{attempts} did not succeed ({why}); next in {next_in:?}"
        ),
        Event::StepFinished(r) => step_line(r),
        // The caller prints why the run could not go on.
        Event::RoundFinished { .. } | Event::RunAborted(_) => return None,
        Event::RunFinished(run) => summary(run),
    })
}

/// What a running step is called, in its header and on the spinner:
/// `round 2/3 · audit (audit on worker2)`, `post-load hook (seed on worker1)`.
pub(super) fn step_title(
    round: u32,
    max_rounds: u32,
    step: &str,
    stage: &str,
    worker: &str,
) -> String {
    match round {
        0 => format!("post-load hook ({stage} on {worker})"),
        r => format!("round {r}/{max_rounds} · {step} ({stage} on {worker})"),
    }
}

/// One line for a finished step.
pub fn step_line(r: &StepResult) -> String {
    let ms = r.duration.as_millis();
    let took = match r.attempts {
        0 | 1 => format!("{ms} ms"),
        n => format!("{ms} ms, {n} attempts"),
    };
    let (mark, status) = (mark(&r.outcome), r.outcome.status());
    let what = format!("   {mark} {status:<11} {}@{} ({took})", r.step, r.worker);
    match r.outcome.message() {
        Some(why) => format!("{what}: {why}"),
        None => what,
    }
}

/// Rounds shown as marks in the table; more are summarised by counts.
const MARKS_SHOWN: usize = 24;

/// One row per step: a mark per round, duration and HTTP percentiles.
fn steps_table(run: &RunResult) -> String {
    let rows = metrics::per_step(run);
    if rows.is_empty() {
        return String::new();
    }
    let mut table = vec![[
        "step", "worker", "rounds", "p50", "p95", "http", "http p50", "http p95",
    ]
    .map(String::from)];
    for m in rows {
        let mut marks: String = m.outcomes.iter().take(MARKS_SHOWN).map(mark).collect();
        if m.outcomes.len() > MARKS_SHOWN {
            marks.push_str(&format!("…({})", m.outcomes.len()));
        }
        let http = match (m.http_calls, m.http_failed) {
            (0, _) => "-".to_string(),
            (n, 0) => n.to_string(),
            (n, f) => format!("{n} ({f} failed)"),
        };
        table.push([
            m.step,
            m.worker,
            marks,
            metrics::short(m.p50),
            metrics::short(m.p95),
            http,
            metrics::short(m.http_p50),
            metrics::short(m.http_p95),
        ]);
    }
    render(&table)
}

/// One row per local worker: CPU time and peak memory.
fn workers_table(run: &RunResult) -> String {
    if run.workers.is_empty() {
        return String::new();
    }
    let mut table = vec![["worker", "cpu", "peak rss"].map(String::from)];
    for w in &run.workers {
        let rss = w.peak_rss_bytes.map_or("-".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
        });
        table.push([w.name.clone(), metrics::short(Some(w.cpu)), rss]);
    }
    render(&table)
}

/// Left-aligned columns, two spaces apart, one line per row.
fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..N).map(width).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One character for how a step ended.
pub fn mark(outcome: &Outcome) -> char {
    match outcome {
        Outcome::Passed(_) => '✓',
        Outcome::Skipped(_) => '↷',
        Outcome::Failed(_) => '✗',
        Outcome::TimedOut(_) => '⏱',
        Outcome::NotRun(_) => '·',
        Outcome::Interrupted => '■',
    }
}

/// The closing summary: a table of the steps (how each round ended,
/// durations, HTTP calls), the workers' CPU and memory, every failure, the
/// verdict with counts.
pub fn summary(run: &RunResult) -> String {
    let mut out = String::new();
    out.push_str(&steps_table(run));
    out.push_str(&workers_table(run));
    if let Some((round, Some(step))) = &run.resumed {
        out.push_str(&format!("resumed in round {round} after step {step}\n"));
    }
    for s in &run.steps {
        match &s.outcome {
            Outcome::Failed(msg) => out.push_str(&format!("FAILED {msg}\n")),
            Outcome::TimedOut(msg) => out.push_str(&format!("TIMED OUT {msg}\n")),
            _ => {}
        }
    }
    if let Some(e) = &run.failure {
        out.push_str(&format!("FAILED {e}\n"));
    }
    let verdict = if run.passed() { "PASSED" } else { "FAILED" };
    out.push_str(&format!(
        "{verdict}: {} rounds; this run: {}",
        run.max_rounds,
        run.counts()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunFailure;
    use std::time::Duration;

    fn step(outcome: Outcome, attempts: u32) -> StepResult {
        StepResult {
            round: 2,
            step: "audit".into(),
            worker: "worker1".into(),
            stage: "audit".into(),
            outcome,
            attempts,
            duration: Duration::from_millis(12),
            log: vec![],
            http: Default::default(),
        }
    }

    #[test]
    fn step_lines_show_outcome_and_tries() {
        assert_eq!(
            step_line(&step(Outcome::Passed(serde_json::json!(1)), 1)),
            "   ✓ passed      audit@worker1 (12 ms)"
        );
        assert_eq!(
            step_line(&step(Outcome::Failed("boom".into()), 3)),
            "   ✗ failed      audit@worker1 (12 ms, 3 attempts): boom"
        );
        assert_eq!(
            step_line(&step(Outcome::Skipped("later".into()), 0)),
            "   ↷ skipped     audit@worker1 (12 ms): later"
        );
        assert_eq!(
            step_line(&step(Outcome::TimedOut("after 1s".into()), 1)),
            "   ⏱ timed out   audit@worker1 (12 ms): after 1s"
        );
        assert_eq!(
            step_line(&step(Outcome::Interrupted, 2)),
            "   ■ interrupted audit@worker1 (12 ms, 2 attempts)"
        );
    }

    #[test]
    fn summary_names_every_failure_and_counts() {
        let run = RunResult {
            max_rounds: 3,
            steps: vec![
                step(Outcome::Passed(serde_json::json!(null)), 1),
                step(Outcome::Failed("round 2, step `audit`: boom".into()), 1),
            ],
            failure: Some(RunFailure::Interrupted),
            ..Default::default()
        };
        let text = summary(&run);
        assert!(
            text.contains("FAILED round 2, step `audit`: boom\n"),
            "{text}"
        );
        assert!(
            text.contains("FAILED interrupted; the state is saved"),
            "{text}"
        );
        assert!(
            text.ends_with("FAILED: 3 rounds; this run: 1 passed, 1 failed"),
            "{text}"
        );
    }

    #[test]
    fn the_summary_table_has_a_row_per_step_with_marks_and_figures() {
        let mut passed = step(Outcome::Passed(serde_json::json!(1)), 1);
        passed.round = 1;
        passed.http.record(Some(Duration::from_millis(4)), true);
        let failed = step(Outcome::Failed("boom".into()), 1);
        let run = RunResult {
            max_rounds: 2,
            steps: vec![passed, failed],
            workers: vec![crate::results::WorkerUsage {
                name: "worker1".into(),
                cpu: Duration::from_millis(250),
                peak_rss_bytes: Some(12 << 20),
            }],
            ..Default::default()
        };
        let text = summary(&run);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "step   worker   rounds  p50    p95    http  http p50  http p95"
        );
        assert_eq!(
            lines[1],
            "audit  worker1  ✓✗      12 ms  12 ms  1     4.0 ms    4.0 ms"
        );
        assert_eq!(lines[2], "worker   cpu     peak rss");
        assert_eq!(lines[3], "worker1  250 ms  12.0 MiB");
    }

    #[test]
    fn quiet_shows_only_what_did_not_pass() {
        let quiet = Console::plain(Verbosity::Quiet);
        let ok = Event::StepFinished(step(Outcome::Passed(serde_json::json!(1)), 1));
        let bad = Event::StepFinished(step(Outcome::TimedOut("late".into()), 1));
        let out = Event::WorkerOutput {
            name: "w".into(),
            stream: Stream::Stdout,
            line: "hi".into(),
        };
        assert_eq!(quiet.text(&ok), None);
        assert_eq!(quiet.text(&out), None);
        assert!(quiet.text(&bad).unwrap().contains("timed out"));
        let verbose = Console::plain(Verbosity::Verbose);
        assert!(verbose.text(&ok).unwrap().ends_with(" → 1"));
        assert_eq!(
            verbose.text(&Event::RoundFinished { round: 2 }).as_deref(),
            Some("── round 2 done")
        );
    }

    #[test]
    fn worker_output_and_headers_are_prefixed() {
        let out = Event::WorkerOutput {
            name: "worker1".into(),
            stream: Stream::Stderr,
            line: "listening".into(),
        };
        assert_eq!(line(&out).unwrap(), "[worker1 ERR] listening");
        let start = Event::StepStarted {
            round: 0,
            max_rounds: 3,
            step: "post-load".into(),
            stage: "post-load".into(),
            worker: "worker1".into(),
            description: String::new(),
        };
        assert_eq!(
            line(&start).unwrap(),
            "── post-load hook (post-load on worker1)"
        );
    }
}

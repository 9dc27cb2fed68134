//! `promwasm:step/log`: a step's log lines, kept for its result and sent to
//! the event stream (the console prefixes them with round, step and worker).
//! Lines are cleaned of control characters (a guest must not move the
//! cursor or forge another line) and bounded in length and in volume.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::StepCtx;
use crate::bindings::log::{Host, Level};
use crate::events::{Event, Events};

/// Longest log line kept, in bytes; longer ones are cut.
pub const MAX_LINE_BYTES: usize = 4096;
/// Log kept per step (over all its tries), in bytes; each line counts at
/// least [`LINE_OVERHEAD`]. Past it, lines are dropped and the log says so once.
pub const MAX_STEP_LOG_BYTES: usize = 1 << 20;
/// What an empty line costs against [`MAX_STEP_LOG_BYTES`], so a flood of
/// empty lines is bounded too.
pub const LINE_OVERHEAD: usize = 64;
/// Log kept over all steps of a run (the reports hold it), counted like
/// [`MAX_STEP_LOG_BYTES`]; past it every step's log is cut the same way.
pub const MAX_RUN_LOG_BYTES: usize = 64 << 20;

/// Bytes of log kept by every step of a run so far; clones share the count.
#[derive(Clone, Default)]
pub struct RunLog(Arc<AtomicUsize>);

/// Where one step's log lines go: the event stream, and the step's result.
#[derive(Clone)]
pub struct LogCtx {
    events: Events,
    round: u32,
    step: String,
    worker: String,
    kept: Arc<Mutex<Kept>>,
    run: RunLog,
}

#[derive(Default)]
struct Kept {
    lines: Vec<String>,
    bytes: usize,
    full: bool,
}

impl LogCtx {
    /// The log of `step` running as `worker` in `round`, counted against `run`.
    pub fn new(events: Events, run: &RunLog, round: u32, step: &str, worker: &str) -> Self {
        LogCtx {
            events,
            round,
            step: step.to_string(),
            worker: worker.to_string(),
            kept: Arc::default(),
            run: run.clone(),
        }
    }

    /// A log nobody reads (calls outside any step).
    pub fn discard() -> Self {
        Self::new(Events::none(), &RunLog::default(), 0, "", "")
    }

    /// Emit and keep one line per line of `message`, each led by `level`,
    /// until the step's log is full.
    pub fn line(&self, level: &str, message: &str) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        for text in message.lines() {
            if kept.full {
                return;
            }
            let line = format!("{level:>5} {}", clean(text));
            let cost = line.len().max(LINE_OVERHEAD);
            kept.bytes += cost;
            let run_bytes = self.run.0.fetch_add(cost, Ordering::Relaxed) + cost;
            let line = if kept.bytes > MAX_STEP_LOG_BYTES {
                kept.full = true;
                format!("{level:>5} … log limit of {MAX_STEP_LOG_BYTES} bytes reached; further lines dropped")
            } else if run_bytes > MAX_RUN_LOG_BYTES {
                kept.full = true;
                format!("{level:>5} … the run's log limit of {MAX_RUN_LOG_BYTES} bytes is reached; further lines dropped")
            } else {
                line
            };
            self.events.emit(Event::StepLog {
                round: self.round,
                step: self.step.clone(),
                worker: self.worker.clone(),
                line: line.clone(),
            });
            kept.lines.push(line);
        }
    }

    /// The lines kept so far.
    pub fn lines(&self) -> Vec<String> {
        self.kept
            .lock()
            .map(|k| k.lines.clone())
            .unwrap_or_default()
    }
}

/// `text` without control characters (tabs become spaces), cut to
/// [`MAX_LINE_BYTES`]. For every text a guest chooses that promwasm prints.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_LINE_BYTES));
    for c in text.chars() {
        if out.len() + c.len_utf8() > MAX_LINE_BYTES {
            out.push('…');
            break;
        }
        match c {
            '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

impl Host for StepCtx {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.log.line(level, &message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Recorder;

    fn log() -> (LogCtx, Recorder) {
        let rec = Recorder::default();
        let log = LogCtx::new(
            Events::new(vec![Box::new(rec.clone())]),
            &RunLog::default(),
            1,
            "s",
            "w",
        );
        (log, rec)
    }

    #[test]
    fn control_characters_cannot_forge_lines_or_move_the_cursor() {
        let (log, _) = log();
        log.line("info", "ok\r   ✓ passed  forged\x1b[2K\x07\tend");
        assert_eq!(
            log.lines(),
            [" info ok\u{fffd}   ✓ passed  forged\u{fffd}[2K\u{fffd} end"]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let (log, _) = log();
        log.line("info", &"x".repeat(10 * MAX_LINE_BYTES));
        let line = &log.lines()[0];
        assert!(
            line.len() < MAX_LINE_BYTES + 16 && line.ends_with('…'),
            "{}",
            line.len()
        );
    }

    #[test]
    fn the_runs_log_is_bounded_across_steps() {
        let run = RunLog::default();
        let step = |name: &str| LogCtx::new(Events::none(), &run, 1, name, "w");
        let first = step("first");
        first.line("info", "kept");
        assert_eq!(run.0.load(Ordering::Relaxed), LINE_OVERHEAD);
        // As if earlier steps had logged nearly the whole run's budget.
        run.0
            .store(MAX_RUN_LOG_BYTES - LINE_OVERHEAD, Ordering::Relaxed);
        let late = step("late");
        late.line("info", "still kept\ncut here\nand dropped");
        assert_eq!(late.lines().len(), 2, "{:?}", late.lines());
        assert!(
            late.lines()[1].contains("the run's log limit"),
            "{:?}",
            late.lines()
        );
        // Every later step is cut at once too.
        let later = step("later");
        later.line("info", "x");
        assert!(later.lines()[0].contains("the run's log limit"));
    }

    #[test]
    fn volume_is_bounded_even_for_empty_lines() {
        let (log, rec) = log();
        let flood = "\n".repeat(4 * MAX_STEP_LOG_BYTES / LINE_OVERHEAD);
        log.line("info", &flood);
        log.line("info", "after the limit");
        let lines = log.lines();
        assert_eq!(lines.len(), MAX_STEP_LOG_BYTES / LINE_OVERHEAD + 1);
        assert!(lines
            .last()
            .unwrap()
            .contains("log limit of 1048576 bytes reached"));
        assert_eq!(
            rec.events().len(),
            lines.len(),
            "dropped lines are not emitted either"
        );
    }
}

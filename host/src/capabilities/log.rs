//! `promwasm:step/log`: log lines prefixed with round, step and worker.

use std::sync::{Arc, Mutex};

use super::StepCtx;
use crate::bindings::log::{Host, Level};

/// Where a step's log lines go: printed live and kept for the report.
#[derive(Clone)]
pub struct LogCtx {
    /// e.g. `[round 1 · task@worker1]`.
    pub prefix: String,
    /// Lines kept for the report.
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl LogCtx {
    /// A sink with the given prefix.
    pub fn new(prefix: String) -> Self {
        LogCtx {
            prefix,
            lines: Arc::default(),
        }
    }

    /// Print and keep one line.
    pub fn line(&self, level: &str, message: &str) {
        for text in message.lines() {
            let line = format!("{level:>5} {text}");
            println!("{} {line}", self.prefix);
            if let Ok(mut lines) = self.lines.lock() {
                lines.push(line);
            }
        }
    }
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

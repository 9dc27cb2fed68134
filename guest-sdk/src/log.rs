//! Log lines, shown with the step, round and worker as prefix.
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! log::info("starting");
//! let round = runner::current_round();
//! log_debug!("round {round}");
//! log_warn!("{} retries left", 3);
//! ```

use crate::bindings::promwasm::step::log::{log, Level};

/// Log at `trace` level.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message.as_ref());
}

/// Log at `debug` level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// Log at `info` level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// Log at `warn` level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// Log at `error` level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}

/// [`log::trace`](crate::log::trace) with `format!` arguments.
#[macro_export]
macro_rules! log_trace {
    ($($arg:tt)+) => { $crate::log::trace(::std::format!($($arg)+)) };
}

/// [`log::debug`](crate::log::debug) with `format!` arguments.
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)+) => { $crate::log::debug(::std::format!($($arg)+)) };
}

/// [`log::info`](crate::log::info) with `format!` arguments.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)+) => { $crate::log::info(::std::format!($($arg)+)) };
}

/// [`log::warn`](crate::log::warn) with `format!` arguments.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)+) => { $crate::log::warn(::std::format!($($arg)+)) };
}

/// [`log::error`](crate::log::error) with `format!` arguments.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)+) => { $crate::log::error(::std::format!($($arg)+)) };
}

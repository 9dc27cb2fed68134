//! Reporters: they read the run's [`Event`](crate::events::Event)s and
//! results, never the runner. The console shows the run as it happens and
//! its summary; the JSON and JUnit reporters write files when it is over.

mod console;
mod files;

pub use console::{step_line, summary, Console};
pub use files::{JsonFile, JunitFile};

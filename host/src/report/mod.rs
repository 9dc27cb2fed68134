//! Reporters: they read the run's [`Event`](crate::events::Event)s and
//! results, never the runner. The console shows the run as it happens and
//! its summary; the JSON and JUnit reporters write files when it is over;
//! the run directory gets each step's log and both reports.

mod console;
mod files;
mod live;
mod metrics;
mod run_dir;

pub use console::{step_line, summary, Console, Verbosity};
pub use files::{JsonFile, JunitFile};
pub use run_dir::RunDirFiles;

//! Write promwasm steps in Rust.
//!
//! A step component exports one or more *stages*. Each stage is a type that
//! implements [`Stage`]: `prepare` gathers what the stage needs (reading the
//! store, signing payloads, ...) and `execute` does the work (usually an HTTP
//! call to a worker). [`export_stages!`] turns a list of stages into the
//! component's exports. Build with `cargo build --target wasm32-wasip2`.
//!
//! Everything a step may do outside its sandbox goes through the capability
//! modules: [`runner`] (the shared store and config), [`worker`], [`signing`],
//! [`http`], [`log`] and [`db`]. The host grants each of them per step.
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! /// Asks the worker for its task result.
//! struct Task;
//!
//! impl Stage for Task {
//!     const NAME: &'static str = "task";
//!     const DESCRIPTION: &'static str = "Run the task on the current worker";
//!     type Args = NoArgs;
//!     type Data = String;
//!     type Output = Value;
//!
//!     fn prepare(_args: &NoArgs) -> Result<String> {
//!         let payload = json!({ "roundNumber": runner::current_round() });
//!         signing::sign_json("staking", &payload, JsonStyle::Js)
//!     }
//!
//!     fn execute(_args: &NoArgs, signature: String) -> Result<Outcome> {
//!         let me = worker::current();
//!         let result: Value = http::post(me.endpoint("task"))
//!             .json(&json!({ "signature": signature }))
//!             .send()?
//!             .error_for_status()?
//!             .json()?;
//!         runner::set("task_result", &result)?;
//!         Ok(Outcome::Success(result))
//!     }
//! }
//!
//! export_stages!(Task);
//! ```
#![deny(missing_docs)]

// `#[data]` names `::promwasm_guest::serde`, also inside this crate's own tests.
extern crate self as promwasm_guest;

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "step",
        pub_export_macro: true,
        export_macro_name: "__export_step",
        default_bindings_module: "promwasm_guest::bindings",
    });
}

mod error;
mod json;
mod stage;

pub mod db;
pub mod http;
pub mod log;
pub mod runner;
pub mod signing;
pub mod worker;

pub use error::{Context, Error, Result};
pub use promwasm_guest_macros::data;
pub use serde;
pub use serde_json;
pub use stage::{NoArgs, Outcome, Stage};

#[doc(hidden)]
pub mod __private {
    pub use crate::stage::dispatch::{execute, prepare, stages, Entry};
}

/// Everything a stage usually needs: `use promwasm_guest::prelude::*;`.
pub mod prelude {
    pub use crate::signing::JsonStyle;
    pub use crate::worker::Worker;
    pub use crate::{bail, ensure, export_stages};
    pub use crate::{data, Context, Error, NoArgs, Outcome, Result, Stage};
    pub use crate::{db, http, log, runner, signing, worker};
    pub use crate::{log_debug, log_error, log_info, log_trace, log_warn};
    pub use serde_json::{json, Value};
}

//! promwasm: a WebAssembly-sandboxed step runner for end-to-end tests of multi-worker tasks.
//!
//! Data flows one way: [`config`] reads and validates the user's files into a
//! [`plan::Plan`]; [`runner`] prepares it into a locked run and executes it
//! (starting [`workers`], seeding [`mongo`], running each step's component
//! through [`engine`] with the host [`capabilities`]), telling [`events`] what
//! happens and producing [`results`]; [`report`]ers read those, never the
//! runner; `cli` turns the end of a run into an exit code.
#![deny(missing_docs)]

pub mod bindings;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error_chain;
pub mod events;
pub mod fetch;
pub mod json_kind;
pub mod mask;
pub mod mongo;
pub mod plan;
pub mod report;
pub mod results;
pub mod runner;
pub mod signing;
pub mod state;
pub mod supervisor;
pub mod workers;

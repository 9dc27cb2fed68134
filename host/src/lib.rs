//! promwasm: a WebAssembly-sandboxed step runner for end-to-end tests of multi-worker tasks.
//!
//! Data flows one way: [`config`] reads and validates the user's files into a
//! [`plan::Plan`]; [`runner`] executes it (starting [`workers`], seeding [`mongo`],
//! running each step's component through [`engine`] with the host
//! [`capabilities`]); [`report`] renders what happened.
#![deny(missing_docs)]

pub mod bindings;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod engine;
pub mod fetch;
pub mod json_kind;
pub mod mongo;
pub mod plan;
pub mod report;
pub mod runner;
pub mod signing;
pub mod state;
pub mod supervisor;
pub mod workers;

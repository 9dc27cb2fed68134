//! MongoDB for test runs: a [`server::ManagedServer`] when the user has no
//! `MONGO_URI`, [`client::connect`] with fast failure, [`seed::seed`] to
//! reproduce prometheus-test's clear/load of collections, and [`ops`] behind
//! the WebAssembly `db` interface.

pub mod client;
mod json;
pub mod ops;
pub mod seed;
pub mod server;

pub use client::{connect, MongoError};
pub use ops::OpError;
pub use seed::{count_task_documents, seed, CollectionSeed, SeedError, SeededCollection};
pub use server::{ManagedServer, ServerError, ServerKind, Storage};

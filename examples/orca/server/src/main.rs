//! `orca-server`: the example Orca-style worker server that promwasm scenarios
//! start once per worker. This file only reads the environment, wires the
//! pieces together and serves until SIGTERM; see `routes` for the protocol.
//!
//! Environment:
//! - `PORT` (required): listen on `127.0.0.1:PORT`.
//! - `DATABASE_PATH` (required): JSON file holding the worker's local state.
//! - `WORKER_NAME`: used in results and logs (default `worker-PORT`).
//! - `TASK_ID`: if set, signed payloads must name this task.
//! - `MONGO_URI`, `MONGO_DB` (default `builder247`): take todos from MongoDB
//!   instead of the synthetic `todo N`.

mod routes;
mod store;
mod todos;
mod verify;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::routes::AppState;
use crate::store::Store;
use crate::todos::TodoSource;

/// A variable's value, with empty treated as unset (shells and test runners
/// often export `VAR=` to mean "not this time").
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String> {
    env(name).with_context(|| format!("{name} must be set"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orca-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let port: u16 = required("PORT")?
        .parse()
        .context("PORT must be a port number")?;
    let database_path = required("DATABASE_PATH")?;
    let worker_name = env("WORKER_NAME").unwrap_or_else(|| format!("worker-{port}"));
    let todos = TodoSource::new(env("MONGO_URI"), env("MONGO_DB"));
    let store = Store::open(&database_path)?;

    // Install the handler before listening so a SIGTERM sent as soon as the
    // port answers is never missed.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    println!(
        "listening on 127.0.0.1:{port}, state in {database_path}, {}",
        todos.describe()
    );

    let state = AppState {
        store: Arc::new(store),
        todos: Arc::new(todos),
        worker_name: worker_name.clone().into(),
        task_id: env("TASK_ID").map(Into::into),
    };
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await
        .context("server failed")?;
    println!("shut down");
    Ok(())
}

//! The host side of the WIT imports. Each file implements one interface and
//! only translates between WIT types and the host's own; policy (allow-lists,
//! database grants, limits) is settled in the plan and copied into the
//! per-step contexts here.

pub mod db;
pub mod http;
pub mod log;
pub mod runner;
pub mod signing;
pub mod worker;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{types, Step};
use crate::engine::limits::StepLimiter;
use crate::plan::DbAccess;
use crate::state::State;

/// Everything one step instance may reach.
pub struct StepCtx {
    /// The runner store, config values, round and run id.
    pub runner: runner::RunnerCtx,
    /// The executing worker and the others.
    pub worker: worker::WorkerCtx,
    /// Allow-listed outbound HTTP.
    pub http: http::HttpCtx,
    /// The database grant.
    pub db: db::DbCtx,
    /// Where log lines go.
    pub log: log::LogCtx,
}

impl types::Host for StepCtx {}

impl StepCtx {
    /// A context for calls outside any step (listing stages): an empty store,
    /// no workers (so no keys to sign with), no network, no database.
    pub fn probe() -> Self {
        StepCtx {
            runner: runner::RunnerCtx {
                state: Arc::new(Mutex::new(State::fresh(String::new(), Default::default()))),
                config: Arc::default(),
                run_id: String::new(),
                round: 0,
            },
            worker: worker::WorkerCtx {
                workers: Arc::from(Vec::new()),
                me: 0,
            },
            http: http::HttpCtx::new(
                http::HttpClient::deny_all(),
                0,
                Instant::now(),
                Default::default(),
            ),
            db: db::DbCtx {
                db: None,
                access: DbAccess::None,
                max_result_bytes: 0,
            },
            log: log::LogCtx::discard(),
        }
    }
}

/// The data of one step's wasmtime `Store`.
pub struct StepState {
    /// promwasm's capabilities.
    pub ctx: StepCtx,
    /// Memory cap and instance limits, over all of the step's memories and tables.
    pub limits: StepLimiter,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

/// How much guest stdout/stderr is kept per step.
const OUTPUT_CAPACITY: usize = 1 << 20;

impl StepState {
    /// A store's data with a deny-all WASI context: no files, no environment,
    /// no sockets, no arguments; stdout and stderr are captured for the step log.
    pub fn new(ctx: StepCtx, limits: StepLimiter) -> Self {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        StepState {
            ctx,
            limits,
            wasi,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }

    /// What the guest wrote to stdout and stderr, as text.
    pub fn captured_output(&self) -> (String, String) {
        (
            String::from_utf8_lossy(&self.stdout.contents()).into_owned(),
            String::from_utf8_lossy(&self.stderr.contents()).into_owned(),
        )
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Link WASI p2 and every promwasm interface.
pub fn add_to_linker(linker: &mut Linker<StepState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Step::add_to_linker::<_, HasSelf<StepCtx>>(linker, |state| &mut state.ctx)?;
    Ok(())
}

//! One step's cost — fresh instance, prepare, execute of a no-network stage
//! through promwasm's step runner (pooled instance slots, a pre-linked
//! component, limits, output capture, checks) — beside a naive wasmtime
//! instantiate + call of the same component (default engine, linking on
//! every instantiation). Prints both and the ratio; target ≤ 0.5×.
//!
//! Run with `cargo xtask bench` (it builds the guest first).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use promwasm::bindings::Step;
use promwasm::capabilities::{self, StepCtx, StepState};
use promwasm::engine::limits::StepLimiter;
use promwasm::engine::Engine;
use promwasm::plan::Limits;
use promwasm::results::Outcome;
use promwasm::runner::step;
use wasmtime::component::{Component, Linker};

const ITERATIONS: u32 = 2_000;
const TARGET: f64 = 0.5;

fn guest() -> PathBuf {
    let dir = std::env::var_os("PROMWASM_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/guest")
        });
    dir.join("test_guests.wasm")
}

fn main() -> ExitCode {
    let path = guest();
    if !path.exists() {
        eprintln!(
            "cannot compare: {} not found; run `cargo xtask bench`, which builds it",
            path.display()
        );
        return ExitCode::from(2);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (stage, args) = ("echo".to_string(), r#"{"n": 1}"#.to_string());

    // Naive: the default engine and allocator, link on every instantiation.
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let plain = wasmtime::Engine::new(&config).expect("engine");
    let mut linker = Linker::new(&plain);
    capabilities::add_to_linker(&mut linker).expect("linker");
    let component = Component::from_file(&plain, &path).expect("component");
    let naive = rt.block_on(measure(|| async {
        let state = StepState::new(StepCtx::probe(), StepLimiter::new(usize::MAX));
        let mut store = wasmtime::Store::new(&plain, state);
        let step = Step::instantiate_async(&mut store, &component, &linker)
            .await
            .expect("instance");
        let data = step
            .call_prepare(&mut store, &stage, &args)
            .await
            .expect("prepare")
            .expect("prepare ok");
        step.call_execute(&mut store, &stage, &args, &data)
            .await
            .expect("execute")
            .expect("execute ok");
    }));

    let engine = Engine::builder().build().expect("engine");
    let loaded = engine.load(&path).expect("load");
    let limits = Limits::default();
    let full = rt.block_on(measure(|| async {
        let run = step::run(
            engine.wasmtime(),
            &loaded,
            StepCtx::probe(),
            &limits,
            &stage,
            &args,
        )
        .await;
        assert!(
            matches!(run.outcome, Outcome::Passed(_)),
            "{:?}",
            run.outcome
        );
    }));

    let ratio = full.as_secs_f64() / naive.as_secs_f64();
    println!(
        "naive wasmtime instantiate + prepare + execute: {:>8.1} µs",
        micros(naive)
    );
    println!(
        "promwasm step (pool, pre-linked, limits, checks): {:>8.1} µs",
        micros(full)
    );
    println!("ratio promwasm/naive = {ratio:.2}× (target ≤ {TARGET}×)");
    if ratio <= TARGET {
        ExitCode::SUCCESS
    } else {
        println!("step overhead target NOT met");
        ExitCode::FAILURE
    }
}

async fn measure<F, Fut>(one: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..ITERATIONS / 10 {
        one().await;
    }
    let started = Instant::now();
    for _ in 0..ITERATIONS {
        one().await;
    }
    started.elapsed() / ITERATIONS
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

//! One step's overhead — fresh instance, prepare, execute of a no-network
//! stage through promwasm's step runner — beside a bare wasmtime
//! instantiate + call of the same component. Prints both and the ratio
//! (target: within 2× of bare wasmtime).
//!
//! Run with `cargo xtask bench` (it builds the guest first).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promwasm::capabilities::{StepCtx, StepState};
use promwasm::engine::Engine;
use promwasm::plan::Limits;
use promwasm::runner::step;

const ITERATIONS: u32 = 2_000;

fn guest() -> PathBuf {
    let dir = std::env::var_os("PROMWASM_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/guest")
        });
    dir.join("test_guests.wasm")
}

fn main() {
    let path = guest();
    if !path.exists() {
        eprintln!(
            "{} not found: run `cargo xtask bench`, which builds it",
            path.display()
        );
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::builder().build().unwrap();
    let component = engine.load(&path).unwrap();
    let limits = Limits::default();
    let (stage, args) = ("echo".to_string(), r#"{"n": 1}"#.to_string());

    let bare = rt.block_on(async {
        let one = || async {
            let state =
                StepState::new(StepCtx::probe(Arc::from(Vec::new()), 0), Default::default());
            let mut store = wasmtime::Store::new(engine.wasmtime(), state);
            store.set_epoch_deadline(u64::MAX / 2);
            let instance = component.pre.instantiate_async(&mut store).await.unwrap();
            let data = instance
                .call_prepare(&mut store, &stage, &args)
                .await
                .unwrap()
                .unwrap();
            instance
                .call_execute(&mut store, &stage, &args, &data)
                .await
                .unwrap()
                .unwrap();
        };
        measure(one).await
    });
    let full = rt.block_on(async {
        let one = || async {
            let ctx = StepCtx::probe(Arc::from(Vec::new()), 0);
            let run = step::run(engine.wasmtime(), &component, ctx, &limits, &stage, &args).await;
            assert!(matches!(run.outcome, promwasm::runner::Outcome::Passed(_)));
        };
        measure(one).await
    });
    println!(
        "bare wasmtime instantiate + prepare + execute: {:>8.1} µs",
        micros(bare)
    );
    println!(
        "promwasm step (limits, capture, checks):      {:>8.1} µs",
        micros(full)
    );
    println!(
        "ratio promwasm/bare = {:.2}× (target ≤ 2×)",
        full.as_secs_f64() / bare.as_secs_f64()
    );
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

//! Host bindings generated from `wit/` — the one place `bindgen!` runs.
//! Everything else uses the re-exports below.

#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "promwasm:step/step",
        imports: {
            // These wait on the network; everything else is a quick in-memory call.
            "promwasm:step/http": async,
            "promwasm:step/db": async,
            default: trappable,
        },
        exports: { default: async },
    });
}

pub use generated::promwasm::step::{db, http, log, runner, signing, types, worker};
pub use generated::{Step, StepPre};

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";
/// The WIT package name.
pub const WIT_PACKAGE: &str = "promwasm:step";

//! `promwasm inspect`: what a step module targets, exports and imports.

use std::path::PathBuf;

use super::exit;
use std::sync::Arc;

use crate::capabilities::StepCtx;
use crate::engine::{self, Engine};
use crate::runner;

/// Print a module's WIT version, stages and imports.
#[derive(Debug, clap::Args)]
pub struct InspectCmd {
    /// A step component (.wasm).
    module: PathBuf,
}

impl InspectCmd {
    /// Inspect it.
    pub async fn run(self) -> u8 {
        let engine = match Engine::builder().build() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {e:#}");
                return exit::SETUP;
            }
        };
        let info = match engine.inspect(&self.module) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        };
        println!("module:  {}", self.module.display());
        println!("sha256:  {}", info.sha256);
        println!("size:    {} bytes", info.size);
        println!(
            "targets: {}",
            engine::wit_version(&info).map_or("no promwasm:step import".into(), |v| format!(
                "promwasm:step@{v}"
            ))
        );
        println!("imports:");
        for i in &info.imports {
            println!("  {i}");
        }
        match engine.load(&self.module) {
            Ok(component) => match runner::step::stages(
                engine.wasmtime(),
                &component,
                StepCtx::probe(Arc::from(Vec::new()), 0),
            )
            .await
            {
                Ok(stages) => {
                    println!("stages:");
                    for s in stages {
                        println!("  {:<20} {}", s.name, s.description);
                    }
                    exit::OK
                }
                Err(e) => {
                    eprintln!("error: listing stages failed: {e:#}");
                    exit::INVALID
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                exit::INVALID
            }
        }
    }
}

//! `promwasm inspect`: what a step module targets, exports and imports.

use std::path::PathBuf;

use super::exit;
use crate::engine::{self, Engine};
use crate::runner;

/// Print a module's WIT version, stages and imports.
#[derive(Debug, clap::Args)]
pub struct InspectCmd {
    /// A step component (.wasm).
    module: PathBuf,
    /// Cache compiled components here
    /// [default: $PROMWASM_CACHE_DIR, else ~/.cache/promwasm].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

impl InspectCmd {
    /// Inspect it.
    pub async fn run(self) -> u8 {
        // The compiled cache too: a Python component takes many seconds to compile.
        let cache_dir = self.cache_dir.or_else(super::run::default_cache_dir);
        let engine = match Engine::builder().cache_dir(cache_dir).build() {
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
            Ok(component) => {
                match runner::step::stages(engine.wasmtime(), &component, runner::STAGES_TIMEOUT)
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
                        eprintln!("error: listing stages failed: {e}");
                        exit::INVALID
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::INVALID
            }
        }
    }
}

//! C guests: the example's `post-load` stage in `examples/orca/steps-c`,
//! written against bindings generated from `wit/` — no SDK, only the WIT.
//!
//! Everything but the C compiler happens in this process, from crates:
//! wit-bindgen-c generates `step.h`, `step.c` and `step_component_type.o`
//! (the world's type, in a custom section the linker keeps) from `wit/`;
//! wit-component wraps the linked core module, with the WASI preview1
//! adapter of the host's wasmtime release, into a component. The compiler is
//! `zig cc` (clang with wasi-libc bundled) from the `ziglang` wheel on PyPI,
//! pinned, in a venv under `.tools/c/` (installed once: a second build finds
//! the pinned version and goes on). A build takes about a second once zig
//! has cached its wasi-libc (the first build compiles it: ~40 s), and the
//! component is only rewritten when its bytes change, so the host's
//! compiled-code cache stays valid.

use std::path::{Path, PathBuf};
use std::process::Command;

use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::Files;
use wit_component::ComponentEncoder;

use super::tools_dir;
use crate::{io, root, run, Result};

/// The `ziglang` release from PyPI whose `zig cc` compiles the stages.
const ZIG: &str = "0.15.2";
/// The component's name, as the tests and config-c.yaml name it.
const NAME: &str = "orca_steps_c";
/// The stages' sources, relative to the repo root.
const SOURCES: &str = "examples/orca/steps-c";
/// The world the component implements.
const WORLD: &str = "step";

/// Build `orca_steps_c.wasm` into `out` (installing zig if needed).
pub fn build(out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let python = install()?;
    let work = out.join(format!("{NAME}.build"));
    std::fs::create_dir_all(&work).map_err(io(&work))?;

    bindings(&work)?;
    let mut sources = vec![
        work.join(format!("{WORLD}.c")),
        work.join(format!("{WORLD}_component_type.o")),
    ];
    let dir = root().join(SOURCES);
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let path = entry.map_err(io(&dir))?.path();
        if path.extension().is_some_and(|e| e == "c") {
            sources.push(path);
        }
    }
    sources.sort();

    let core = work.join(format!("{NAME}.core.wasm"));
    run(Command::new(&python)
        .args([
            "-m",
            "ziglang",
            "cc",
            "-target",
            "wasm32-wasi",
            "-mexec-model=reactor",
        ])
        .args(["-Os", "-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(&work)
        .args(&sources)
        .arg("-o")
        .arg(&core)
        // zig's cache (wasi-libc built once) stays with the toolchain.
        .env("ZIG_GLOBAL_CACHE_DIR", tools_dir("c").join("zig-cache"))
        .env("ZIG_LOCAL_CACHE_DIR", work.join("zig-cache")))?;

    let module = std::fs::read(&core).map_err(io(&core))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .and_then(|e| {
            e.adapter(
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("making a component of {}: {e:#}", core.display()))?;

    let wasm = out.join(format!("{NAME}.wasm"));
    write_if_changed(&wasm, &component)?;
    Ok(vec![(NAME.into(), wasm)])
}

/// Generate `step.h`, `step.c` and `step_component_type.o` from `wit/` into `work`.
fn bindings(work: &Path) -> Result {
    let wit = root().join("wit");
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_dir(&wit)
        .map_err(|e| format!("{}: {e:#}", wit.display()))?;
    let world = resolve
        .select_world(&[package], Some(WORLD))
        .map_err(|e| format!("{}: {e:#}", wit.display()))?;
    let mut files = Files::default();
    // Also `step_component_type.o`: the world's type in a custom section
    // that the linker keeps and wit-component reads.
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| format!("generating C bindings for {}: {e:#}", wit.display()))?;
    for (name, contents) in files.iter() {
        write_if_changed(&work.join(name), contents)?;
    }
    Ok(())
}

/// Write `bytes` to `path` unless it holds them already (through a temporary
/// file and a rename: a reader never sees half a file).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&partial, bytes).map_err(io(&partial))?;
    std::fs::rename(&partial, path).map_err(io(path))
}

/// The venv's python, which runs the pinned zig as `python -m ziglang`;
/// installs zig there when it is missing or another version.
fn install() -> Result<PathBuf> {
    let venv = tools_dir("c");
    let python = venv.join("bin/python");
    let installed = || {
        Command::new(&python)
            .args(["-m", "ziglang", "version"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == ZIG)
    };
    if installed() {
        return Ok(python);
    }
    if !venv.join("bin/pip").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("ziglang=={ZIG}")))?;
    if !installed() {
        return Err(format!(
            "{} has no zig {ZIG} after installing it",
            venv.display()
        ));
    }
    Ok(python)
}

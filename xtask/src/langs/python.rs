//! Python guests: the SDK in `guest-sdk/python`, the example's stages in
//! `examples/orca/steps-py`, made into a component by componentize-py.
//!
//! componentize-py comes from PyPI, pinned, in a venv under `.tools/python/`
//! (installed once: a second build finds the pinned version and goes on).
//! Building takes 10–20 s and its output differs from build to build, so a
//! rebuild would also cost the host a fresh compile (20–60 s): the build is
//! skipped when a stamp beside the component says the inputs are unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools_dir;
use crate::{root, run, Result};

/// The componentize-py release we build with (measured to build offline here).
const COMPONENTIZE_PY: &str = "0.25.1";
/// The component's name, as the tests and config-py.yaml name it.
const NAME: &str = "orca_steps_py";
/// The app module and where it and the SDK live, relative to the repo root.
const APP: &str = "orca_steps";
const APP_DIR: &str = "examples/orca/steps-py";
const SDK_DIR: &str = "guest-sdk/python";
const WIT_DIR: &str = "wit";

/// Build `orca_steps_py.wasm` into `out` (installing componentize-py if needed).
pub fn build(out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let tool = install()?;
    let wasm = out.join(format!("{NAME}.wasm"));
    let stamp = out.join(format!("{NAME}.wasm.inputs"));
    let inputs = inputs_digest()?;
    let unchanged = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == inputs);
    if unchanged && wasm.is_file() {
        eprintln!("{NAME}.wasm is up to date (inputs unchanged)");
        return Ok(vec![(NAME.into(), wasm)]);
    }
    // Written under a temporary name and renamed: a reader never sees half a component.
    let partial = out.join(format!("{NAME}.wasm.{}.partial", std::process::id()));
    let built = run(Command::new(tool)
        .args(["--quiet", "-d", WIT_DIR, "-w", "step", "componentize", APP])
        .args(["-p", APP_DIR, "-p", SDK_DIR, "-o"])
        .arg(&partial)
        // Only the two folders above go into the component, not an active venv.
        .env_remove("VIRTUAL_ENV"));
    if let Err(e) = built {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    std::fs::write(&stamp, format!("{inputs}\n"))
        .map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(vec![(NAME.into(), wasm)])
}

/// componentize-py at the pinned version in `.tools/python`; installs it when
/// it is missing or another version.
fn install() -> Result<PathBuf> {
    let venv = tools_dir("python");
    let tool = venv.join("bin/componentize-py");
    let wanted = format!("componentize-py {COMPONENTIZE_PY}");
    let installed = || {
        Command::new(&tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == wanted)
    };
    if installed() {
        return Ok(tool);
    }
    if !venv.join("bin/pip").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("componentize-py=={COMPONENTIZE_PY}")))?;
    if !installed() {
        return Err(format!(
            "{} is not {wanted} after installing it",
            tool.display()
        ));
    }
    Ok(tool)
}

/// A digest of everything the component is built from: the tool's version,
/// the WIT files and the Python sources (path and bytes of each).
fn inputs_digest() -> Result<String> {
    let mut files = Vec::new();
    for (dir, ext) in [(WIT_DIR, "wit"), (SDK_DIR, "py"), (APP_DIR, "py")] {
        sources(&root().join(dir), ext, &mut files)?;
    }
    files.sort();
    let mut hash = Fnv::default();
    hash.add(COMPONENTIZE_PY.as_bytes());
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let rel = file.strip_prefix(root()).unwrap_or(file);
        hash.add(rel.to_string_lossy().as_bytes());
        hash.add(&bytes);
    }
    Ok(format!(
        "componentize-py {COMPONENTIZE_PY} inputs {:016x}",
        hash.0
    ))
}

/// Every file ending in `.ext` under `dir` (`__pycache__` and hidden folders left out).
fn sources(dir: &Path, ext: &str, found: &mut Vec<PathBuf>) -> Result {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if !name.starts_with('.') && name != "__pycache__" {
                sources(&path, ext, found)?;
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            found.push(path);
        }
    }
    Ok(())
}

/// 64-bit FNV-1a: stable across Rust versions (unlike `DefaultHasher`), and
/// enough to notice that a source changed. Each chunk is length-prefixed so
/// moving bytes from one file to the next changes the digest.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, chunk: &[u8]) {
        for byte in (chunk.len() as u64).to_le_bytes().iter().chain(chunk) {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

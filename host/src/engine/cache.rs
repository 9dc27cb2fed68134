//! Compiled components cached on disk, keyed by the module's sha256 and the
//! engine's compatibility hash (wasmtime version and settings), so a second
//! run does not recompile.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// The sha256 of a module, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn cache_file(engine: &wasmtime::Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("{}-{:016x}.cwasm", sha256_hex(bytes), h.finish()))
}

/// Compile `bytes`, or load the cached compilation.
pub fn compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, bytes);
    };
    let file = cache_file(engine, bytes, dir);
    if file.is_file() {
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash, into promwasm's own cache folder;
        // wasmtime still checks its header and rejects a mismatch.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => return Ok(c),
            // A damaged entry is just recompiled and replaced.
            Err(_) => {
                let _ = std::fs::remove_file(&file);
            }
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    // The cache is an optimisation: failing to write it is not an error.
    if std::fs::create_dir_all(dir).is_ok() {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }
    // SAFETY: these bytes were produced by `precompile_component` just above.
    unsafe { Component::deserialize(engine, &compiled) }
}

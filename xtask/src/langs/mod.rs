//! Guest components written in languages other than Rust: the SDKs under
//! `guest-sdk/<lang>` and the example's stages under `examples/orca/steps-<lang>`.
//!
//! Each language module installs its pinned toolchain under `.tools/<lang>/`
//! (once: a second build does not reinstall), builds its components into the
//! folder the Rust guests went to (so tests find every guest in one folder,
//! `PROMWASM_GUEST_DIR`) and returns them by name.

use std::path::{Path, PathBuf};

use crate::Result;

mod c;
mod js;
mod python;

/// Build every non-Rust guest component into `out`; their paths by name.
pub fn build(out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut built = Vec::new();
    built.extend(c::build(out)?);
    built.extend(js::build(out)?);
    built.extend(python::build(out)?);
    Ok(built)
}

/// Where a language's pinned toolchain is installed.
pub fn tools_dir(lang: &str) -> PathBuf {
    crate::root().join(".tools").join(lang)
}

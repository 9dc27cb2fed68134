//! What a component imports and exports, and whether it targets a
//! compatible version of `promwasm:step`.

use wasmtime::component::Component;

use crate::bindings::{WIT_PACKAGE, WIT_VERSION};

/// A component's contract, as `promwasm inspect` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// sha256 of the module file.
    pub sha256: String,
    /// Size in bytes.
    pub size: usize,
    /// Imported interfaces, e.g. `promwasm:step/http@0.1.0`.
    pub imports: Vec<String>,
    /// Exported names.
    pub exports: Vec<String>,
}

/// List a component's imports and exports.
pub fn inspect(engine: &wasmtime::Engine, component: &Component, bytes: &[u8]) -> ComponentInfo {
    let ty = component.component_type();
    ComponentInfo {
        sha256: super::cache::sha256_hex(bytes),
        size: bytes.len(),
        imports: ty
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
        exports: ty
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
    }
}

/// The `promwasm:step` version a component targets, from its imports.
pub fn wit_version(info: &ComponentInfo) -> Option<String> {
    info.imports
        .iter()
        .filter_map(|i| {
            i.strip_prefix(WIT_PACKAGE)?
                .split_once('@')
                .map(|(_, v)| v.to_string())
        })
        .next()
}

/// The toolchains promwasm knows how to advise on, by a name their output carries.
const TOOLCHAINS: &[(&[u8], &str)] = &[
    (
        b"componentize_qjs",
        "it was built by jco (QuickJS): rebuild it against this promwasm's wit/ with \
         `jco componentize --wit wit --world-name step --backend quickjs --backend-qjs-disable-async` \
         (see guest-sdk/js)",
    ),
    (
        b"componentize-py",
        "it was built by componentize-py: rebuild it against this promwasm's wit/ with \
         `componentize-py -d wit -w step componentize APP` (see guest-sdk/python)",
    ),
    (
        b"wit-bindgen-c",
        "it was built with wit-bindgen-c: regenerate the bindings from this promwasm's wit/ \
         and link again (see examples/orca/steps-c)",
    ),
    (
        b"wit-bindgen-rust",
        "it was built with wit-bindgen (Rust): rebuild it with this promwasm's promwasm-guest \
         (`cargo build --release --target wasm32-wasip2`)",
    ),
];

/// How to rebuild a component for this promwasm, for its toolchain when the
/// component names it (a producer name in its bytes), else in general.
pub fn rebuild_hint(bytes: &[u8]) -> &'static str {
    TOOLCHAINS
        .iter()
        .find(|(marker, _)| memchr::memmem::find(bytes, marker).is_some())
        .map_or(
            "rebuild it against this promwasm's wit/ (package promwasm:step, world `step`)",
            |(_, hint)| hint,
        )
}

/// Why wasmtime could not compile a component, with what to do about it.
pub fn explain_compile_error(error: &str, bytes: &[u8]) -> String {
    let hint = rebuild_hint(bytes);
    if error.contains("async") {
        // jco's default QuickJS output uses the component-model async ABI.
        format!(
            "{error}; promwasm runs steps with the synchronous component ABI and does not \
             enable the component-model async feature: {hint}"
        )
    } else {
        format!("{error}; {hint}")
    }
}

/// Same major.minor (0.x: minor breaks) and the three exports present.
pub fn compatible(info: &ComponentInfo) -> Result<(), String> {
    let host = WIT_VERSION
        .rsplit_once('.')
        .map_or(WIT_VERSION, |(mm, _)| mm);
    for import in &info.imports {
        if let Some(rest) = import.strip_prefix(&format!("{WIT_PACKAGE}/")) {
            let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("none");
            if !version.starts_with(&format!("{host}.")) {
                return Err(format!(
                    "it imports `{import}`, this promwasm implements {WIT_PACKAGE}@{WIT_VERSION}; rebuild the step against this version"
                ));
            }
        }
    }
    let missing: Vec<&str> = ["stages", "prepare", "execute"]
        .into_iter()
        .filter(|e| !info.exports.iter().any(|x| x == e))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "it does not export {} (exports: {}); build it with the promwasm-guest SDK or against wit/",
            missing.join(", "),
            if info.exports.is_empty() { "nothing".to_string() } else { info.exports.join(", ") }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_toolchain_that_built_the_component() {
        let js = b"\0asm...componentize_qjs_runtime.wasm...";
        assert!(rebuild_hint(js).contains("--backend-qjs-disable-async"));
        assert!(rebuild_hint(b"..componentize-py 0.25..").contains("componentize-py -d wit"));
        assert!(rebuild_hint(b"processed-by wit-bindgen-c").contains("steps-c"));
        assert!(rebuild_hint(b"wit-bindgen-rust 0.63").contains("promwasm-guest"));
        assert!(rebuild_hint(b"\0asm").contains("world `step`"));
        let err = explain_compile_error(
            "`task.cancel` requires the component model async feature",
            js,
        );
        assert!(
            err.contains("does not enable the component-model async feature")
                && err.contains("--backend-qjs-disable-async"),
            "{err}"
        );
    }

    fn info(imports: &[&str], exports: &[&str]) -> ComponentInfo {
        ComponentInfo {
            sha256: String::new(),
            size: 0,
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
        }
    }

    const EXPORTS: &[&str] = &["stages", "prepare", "execute"];

    #[test]
    fn same_minor_version_is_compatible() {
        let ok = info(
            &[
                "promwasm:step/runner@0.1.0",
                "promwasm:step/http@0.1.7",
                "wasi:io/poll@0.2.6",
            ],
            EXPORTS,
        );
        assert_eq!(compatible(&ok), Ok(()));
        assert_eq!(wit_version(&ok).as_deref(), Some("0.1.0"));
    }

    #[test]
    fn another_minor_version_is_refused_with_advice() {
        let err = compatible(&info(&["promwasm:step/runner@0.2.0"], EXPORTS)).unwrap_err();
        assert!(
            err.contains("promwasm:step/runner@0.2.0") && err.contains("rebuild"),
            "{err}"
        );
        let err = compatible(&info(&["promwasm:step/runner"], EXPORTS)).unwrap_err();
        assert!(
            err.contains("rebuild"),
            "an unversioned import is refused: {err}"
        );
    }

    #[test]
    fn missing_exports_are_named() {
        let err = compatible(&info(&[], &["run"])).unwrap_err();
        assert!(
            err.contains("stages, prepare, execute") && err.contains("exports: run"),
            "{err}"
        );
    }
}

//! The files of a new step project, per language: real files under
//! `templates/`, built into the binary, with `{{placeholders}}` filled in.

use super::Lang;

/// What the templates' placeholders stand for.
#[derive(Debug, Clone)]
pub struct Vars {
    /// `{{name}}`: the step's name, as given (`my-step`): the stage, the step in
    /// config.yaml, the store key.
    pub name: String,
    /// `{{crate}}`: the name as a Rust library name (`my_step`), which the
    /// Rust component's file is named after.
    pub crate_name: String,
    /// `{{type}}`: the Rust type of the stage (`MyStep`).
    pub type_name: String,
    /// `{{port}}`: `base_port` in tests/config.yaml.
    pub port: u16,
    /// `{{sdk}}`: the Rust SDK's folder (Rust only; empty otherwise).
    pub sdk: String,
}

/// One file of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Where, relative to the project folder.
    pub path: &'static str,
    /// What it holds, placeholders filled in.
    pub text: String,
    /// Whether it is a script to run (mode 0755).
    pub executable: bool,
}

/// The files every language shares: the test config and worker.
const COMMON: &[(&str, &str)] = &[
    (
        "tests/config.yaml",
        include_str!("templates/common/tests/config.yaml"),
    ),
    (
        "tests/workers.json",
        include_str!("templates/common/tests/workers.json"),
    ),
    (
        "tests/worker.py",
        include_str!("templates/common/tests/worker.py"),
    ),
    ("tests/.env", include_str!("templates/common/tests/env")),
];

const RUST: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("templates/rust/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
    ("README.md", include_str!("templates/rust/README.md")),
    (".gitignore", include_str!("templates/rust/gitignore")),
];

/// Where the keypair `tests/.env` names is written, relative to the project.
pub const KEYPAIR: &str = "tests/keys/worker1-staking.json";

/// The command that builds the component, run in the project folder (as its
/// README.md says).
pub fn build_command(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "cargo build --release --target wasm32-wasip2",
    }
}

/// The component the build writes, relative to the project folder.
fn module(lang: Lang, vars: &Vars) -> String {
    match lang {
        Lang::Rust => format!("target/wasm32-wasip2/release/{}.wasm", vars.crate_name),
    }
}

/// Every file of a new `lang` project, placeholders filled in.
pub fn files(lang: Lang, vars: &Vars) -> Vec<File> {
    let own = match lang {
        Lang::Rust => RUST,
    };
    // config.yaml names the module relative to its own folder, tests/.
    let module = format!("../{}", module(lang, vars));
    let fill = |text: &str| {
        text.replace("{{name}}", &vars.name)
            .replace("{{crate}}", &vars.crate_name)
            .replace("{{type}}", &vars.type_name)
            .replace("{{port}}", &vars.port.to_string())
            .replace("{{sdk}}", &vars.sdk)
            .replace("{{module}}", &module)
    };
    own.iter()
        .chain(COMMON)
        .map(|&(path, text)| File {
            path,
            text: fill(text),
            executable: path.ends_with(".sh") || path.ends_with(".py"),
        })
        .collect()
}

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
    /// Whether it came from a template (else it is a copy of an SDK file,
    /// the contract or a lockfile, placeholders or not).
    pub template: bool,
}

/// What a file of the project is made from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A template under `templates/`, placeholders filled in.
    Template(&'static str),
    /// A file of promwasm's repository (an SDK file, the contract), as it is.
    Verbatim(&'static str),
    /// An npm lockfile of promwasm's repository, the root package renamed.
    Lockfile(&'static str),
}
use Source::{Lockfile, Template, Verbatim};

/// The files every language shares: the test config and worker.
const COMMON: &[(&str, Source)] = &[
    (
        "tests/config.yaml",
        Template(include_str!("templates/common/tests/config.yaml")),
    ),
    (
        "tests/workers.json",
        Template(include_str!("templates/common/tests/workers.json")),
    ),
    (
        "tests/worker.py",
        Template(include_str!("templates/common/tests/worker.py")),
    ),
    (
        "tests/.env",
        Template(include_str!("templates/common/tests/env")),
    ),
];

const RUST: &[(&str, Source)] = &[
    (
        "Cargo.toml",
        Template(include_str!("templates/rust/Cargo.toml.tmpl")),
    ),
    (
        "src/lib.rs",
        Template(include_str!("templates/rust/src/lib.rs")),
    ),
    (
        "README.md",
        Template(include_str!("templates/rust/README.md")),
    ),
    (
        ".gitignore",
        Template(include_str!("templates/rust/gitignore")),
    ),
];

/// The componentize-py release Python steps are built with: the one
/// `cargo xtask` builds promwasm's own Python steps with (a test checks).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The Python SDK (`guest-sdk/python/promwasm`), module by module.
const PYTHON_SDK: &[(&str, Source)] = &[
    (
        "sdk/promwasm/__init__.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/__init__.py"
        )),
    ),
    (
        "sdk/promwasm/_json.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/_json.py"
        )),
    ),
    (
        "sdk/promwasm/db.py",
        Verbatim(include_str!("../../../../guest-sdk/python/promwasm/db.py")),
    ),
    (
        "sdk/promwasm/errors.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/errors.py"
        )),
    ),
    (
        "sdk/promwasm/http.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/http.py"
        )),
    ),
    (
        "sdk/promwasm/log.py",
        Verbatim(include_str!("../../../../guest-sdk/python/promwasm/log.py")),
    ),
    (
        "sdk/promwasm/runner.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/runner.py"
        )),
    ),
    (
        "sdk/promwasm/signing.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/signing.py"
        )),
    ),
    (
        "sdk/promwasm/stage.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/stage.py"
        )),
    ),
    (
        "sdk/promwasm/worker.py",
        Verbatim(include_str!(
            "../../../../guest-sdk/python/promwasm/worker.py"
        )),
    ),
];

const PYTHON: &[(&str, Source)] = &[
    (
        "src/app.py",
        Template(include_str!("templates/python/src/app.py")),
    ),
    (
        "build.sh",
        Template(include_str!("templates/python/build.sh")),
    ),
    (
        "README.md",
        Template(include_str!("templates/python/README.md")),
    ),
    (
        ".gitignore",
        Template(include_str!("templates/python/gitignore")),
    ),
    (
        "wit/step.wit",
        Verbatim(include_str!("../../../../wit/step.wit")),
    ),
];

/// The JavaScript SDK's manifest, which pins jco.
const JS_SDK_MANIFEST: &str = include_str!("../../../../guest-sdk/js/package.json");

const JS: &[(&str, Source)] = &[
    (
        "src/step.js",
        Template(include_str!("templates/js/src/step.js")),
    ),
    ("build.sh", Template(include_str!("templates/js/build.sh"))),
    (
        "package.json",
        Template(include_str!("templates/js/package.json")),
    ),
    (
        "README.md",
        Template(include_str!("templates/js/README.md")),
    ),
    (
        ".gitignore",
        Template(include_str!("templates/js/gitignore")),
    ),
    (
        "package-lock.json",
        Lockfile(include_str!("../../../../guest-sdk/js/package-lock.json")),
    ),
    (
        "sdk/promwasm.js",
        Verbatim(include_str!("../../../../guest-sdk/js/promwasm.js")),
    ),
    (
        "sdk/utf8.js",
        Verbatim(include_str!("../../../../guest-sdk/js/utf8.js")),
    ),
    (
        "wit/step.wit",
        Verbatim(include_str!("../../../../wit/step.wit")),
    ),
];

/// Where the keypair `tests/.env` names is written, relative to the project.
pub const KEYPAIR: &str = "tests/keys/worker1-staking.json";

/// The command that builds the component, run in the project folder (as its
/// README.md says).
pub fn build_command(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "cargo build --release --target wasm32-wasip2",
        Lang::Js | Lang::Python => "./build.sh",
    }
}

/// The component the build writes, relative to the project folder.
fn module(lang: Lang, vars: &Vars) -> String {
    match lang {
        Lang::Rust => format!("target/wasm32-wasip2/release/{}.wasm", vars.crate_name),
        Lang::Js | Lang::Python => format!("build/{}.wasm", vars.name),
    }
}

/// Every file of a new `lang` project, placeholders filled in.
pub fn files(lang: Lang, vars: &Vars) -> Vec<File> {
    let own = match lang {
        Lang::Rust => RUST.to_vec(),
        Lang::Js => JS.to_vec(),
        Lang::Python => [PYTHON, PYTHON_SDK].concat(),
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
            .replace("{{jco}}", &jco_version())
            .replace("{{componentize_py}}", COMPONENTIZE_PY)
    };
    own.iter()
        .chain(COMMON)
        .map(|&(path, source)| File {
            path,
            text: match source {
                Template(text) => fill(text),
                Verbatim(text) => text.to_owned(),
                Lockfile(text) => text.replacen(
                    &format!("\"name\": {}", JS_ROOT_NAME),
                    &format!("\"name\": \"{}\"", vars.name),
                    2,
                ),
            },
            executable: path.ends_with(".sh") || path.ends_with(".py"),
            template: matches!(source, Template(_)),
        })
        .collect()
}

/// The root package's name in the JavaScript SDK's manifest and lockfile, quoted.
const JS_ROOT_NAME: &str = "\"promwasm-step\"";

/// The jco version the JavaScript SDK pins (what promwasm's own JavaScript
/// steps are built and tested with).
pub fn jco_version() -> String {
    let manifest: serde_json::Value =
        serde_json::from_str(JS_SDK_MANIFEST).expect("guest-sdk/js/package.json is JSON");
    manifest["devDependencies"]["@bytecodealliance/jco"]
        .as_str()
        .expect("guest-sdk/js/package.json pins @bytecodealliance/jco")
        .to_owned()
}

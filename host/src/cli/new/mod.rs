//! `promwasm new step NAME`: write a ready-to-build step project — the step's
//! source, its build command, and a test config with a worker and a keypair
//! that `promwasm run` passes once the step is built.

mod templates;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use super::exit;
use crate::signing;

/// Start a new project from a template.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Start a new project from a template.\n\n\
`promwasm new step NAME --lang rust|js|python` creates the folder NAME with a step \
that builds and runs as written: one stage that signs a payload with the worker's \
staking key and POSTs it to the worker, keeping the answer in the runner store; a \
README.md with the build command; and tests/ (config.yaml, workers.json, a small \
Python worker, a test keypair, .env) so that, after the build, \
`promwasm run NAME/tests/config.yaml` passes.",
    after_help = "Example:\n  promwasm new step my-step --lang rust\n  cd my-step\n  \
cargo build --release --target wasm32-wasip2\n  promwasm run tests/config.yaml"
)]
pub struct NewCmd {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// A step project: the step's source, its build command (README.md) and a
    /// test config (tests/) that `promwasm run` passes once the step is built.
    Step(StepArgs),
}

#[derive(Debug, clap::Args)]
struct StepArgs {
    /// The folder to create, which must not exist. Its last part names the
    /// step: lowercase letters, digits, `-` and `_`, starting with a letter.
    #[arg(value_name = "NAME")]
    path: PathBuf,
    /// The step's language.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The Rust SDK (the `guest-sdk` folder of promwasm's repository) the
    /// step depends on [default: the one this promwasm was built from].
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
    /// The test worker's port (`base_port` in tests/config.yaml).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
}

/// A language a step can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, on the `promwasm-guest` crate; built with cargo.
    Rust,
    /// JavaScript, on the JS SDK (copied in); built with jco's QuickJS backend.
    #[value(alias = "javascript")]
    Js,
    /// Python, on the Python SDK (copied in); built with componentize-py.
    #[value(alias = "py")]
    Python,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
        }
    }
}

/// The longest step name accepted.
const MAX_NAME: usize = 64;

/// Names a step cannot take in any language: Rust keywords, and the crates
/// a Rust step depends on or links against (each also with `_` for `-`).
const RESERVED: &str = "as async await break const continue crate dyn else enum extern false fn \
    for if impl in let loop match mod move mut pub ref return self static struct super trait \
    true type unsafe use where while abstract become box do final gen macro override priv try \
    typeof unsized virtual yield std core alloc test proc_macro promwasm promwasm_guest \
    promwasm_guest_macros";

/// Why `promwasm new` stopped.
#[derive(Debug)]
enum Failure {
    /// The command line asked for something impossible (exit 2).
    Invalid(String),
    /// The machine could not provide something, e.g. a file could not be written (exit 3).
    Machine(String),
}

impl NewCmd {
    /// Create it.
    pub fn run(self) -> u8 {
        let What::Step(args) = self.what;
        match args.create() {
            Ok(()) => exit::OK,
            Err(Failure::Invalid(message)) => {
                eprintln!("error: {message}");
                exit::INVALID
            }
            Err(Failure::Machine(message)) => {
                eprintln!("error: {message}");
                exit::SETUP
            }
        }
    }
}

impl StepArgs {
    fn create(&self) -> Result<(), Failure> {
        let name = step_name(&self.path).map_err(Failure::Invalid)?;
        let sdk = match (self.lang, &self.sdk) {
            (Lang::Rust, sdk) => rust_sdk(sdk.as_deref()).map_err(Failure::Invalid)?,
            (lang, Some(_)) => {
                return Err(Failure::Invalid(format!(
                    "--sdk is for --lang rust: a {} project gets a copy of its SDK, built into promwasm",
                    lang.name()
                )))
            }
            (_, None) => String::new(),
        };
        let vars = templates::Vars {
            crate_name: name.replace('-', "_"),
            type_name: type_name(&name),
            name,
            port: self.port,
            sdk,
        };
        let files = templates::files(self.lang, &vars);
        claim(&self.path)?;
        let written = write_project(&self.path, &files);
        let public_key = match written {
            Ok(key) => key,
            Err(e) => {
                // Only what this command created goes: the folder was claimed empty.
                let _ = std::fs::remove_dir_all(&self.path);
                return Err(Failure::Machine(e));
            }
        };
        let shown = self.path.display();
        println!(
            "Created the {} step `{}` in {shown}/ (worker1's staking key: {public_key})",
            self.lang.name(),
            vars.name,
        );
        println!("Build it and run its test (README.md says more):");
        println!("  cd {shown}");
        println!("  {}", templates::build_command(self.lang));
        println!("  promwasm run tests/config.yaml");
        Ok(())
    }
}

/// The step's name: the last part of `path`, checked.
fn step_name(path: &Path) -> Result<String, String> {
    let Some(last) = path.file_name() else {
        return Err(format!(
            "`{}` names no folder: give the new project's folder, e.g. `my-step`",
            path.display()
        ));
    };
    let name = last.to_str().unwrap_or_default();
    let hint = "a step name is lowercase letters, digits, `-` and `_`, starting with a letter \
                (e.g. `my-step`)";
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !starts_well || !rest_ok {
        return Err(format!(
            "`{}` cannot name a step: {hint}",
            last.to_string_lossy()
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "`{name}` is too long for a step name ({} characters; at most {MAX_NAME})",
            name.len()
        ));
    }
    if name.ends_with('-') || name.ends_with('_') {
        return Err(format!(
            "`{name}` cannot name a step: it ends with `{}`",
            &name[name.len() - 1..]
        ));
    }
    let underscored = name.replace('-', "_");
    if RESERVED.split_whitespace().any(|r| r == underscored) {
        return Err(format!(
            "`{name}` cannot name a step: it is a Rust keyword or a crate the step builds with; \
             pick another name, e.g. `{name}-step`"
        ));
    }
    Ok(name.to_owned())
}

/// The Rust type of the stage: `my-step` becomes `MyStepStage` (a name ending in
/// `Stage` keeps it as it is).
fn type_name(name: &str) -> String {
    let pascal: String = name
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect();
    // The prelude's and the template's own names would clash; a `Stage` suffix cannot.
    if pascal.ends_with("Stage") && pascal != "Stage" {
        pascal
    } else {
        format!("{pascal}Stage")
    }
}

/// The Rust SDK's folder, absolute, as `Cargo.toml` will name it: `sdk`, or
/// the one this promwasm was built from.
fn rust_sdk(sdk: Option<&Path>) -> Result<String, String> {
    let given = sdk.is_some();
    let sdk = sdk.map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk"),
        Path::to_path_buf,
    );
    let hint = if given {
        "--sdk names the `guest-sdk` folder of promwasm's repository"
    } else {
        "this promwasm was built from a checkout that is no longer there; \
         pass --sdk with the `guest-sdk` folder of promwasm's repository"
    };
    let manifest = sdk.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("the Rust SDK is not at {}: {e}; {hint}", sdk.display()))?;
    if !text
        .lines()
        .any(|l| l.trim() == r#"name = "promwasm-guest""#)
    {
        return Err(format!(
            "{} is not the Rust SDK's manifest (no `name = \"promwasm-guest\"`); {hint}",
            manifest.display()
        ));
    }
    let sdk = sdk
        .canonicalize()
        .map_err(|e| format!("the Rust SDK at {}: {e}", sdk.display()))?;
    let text = sdk
        .to_str()
        .filter(|s| !s.contains(['"', '\\']) && !s.contains(char::is_control));
    text.map(str::to_owned).ok_or_else(|| {
        format!(
            "the Rust SDK's path {} cannot go into Cargo.toml as written (not UTF-8, or a quote, \
             backslash or control character in it); move it, or pass --sdk with a plainer path",
            sdk.display()
        )
    })
}

/// Create the project folder, refusing one that exists (of any kind).
fn claim(path: &Path) -> Result<(), Failure> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::Machine(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::create_dir(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::Invalid(format!(
                "refusing to overwrite {}: it exists; pick another name, or move it away first",
                path.display()
            ))
        } else {
            Failure::Machine(format!("cannot create {}: {e}", path.display()))
        }
    })
}

/// Write `files` and the worker's keypair into the (new, empty) folder `dir`;
/// the keypair's base58 public key.
fn write_project(dir: &Path, files: &[templates::File]) -> Result<String, String> {
    for file in files {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &file.text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("cannot make {} executable: {e}", path.display()))?;
        }
    }
    let keypair = signing::write_new_keypair(&dir.join(templates::KEYPAIR), false)
        .map_err(|e| e.to_string())?;
    Ok(keypair.public_key_base58())
}

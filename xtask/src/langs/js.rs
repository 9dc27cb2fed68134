//! JavaScript guests: `examples/orca/steps-js` (on the SDK in `guest-sdk/js`)
//! built with jco's QuickJS backend.
//!
//! jco is pinned by `guest-sdk/js/package.json` and `package-lock.json` and
//! installed under `.tools/js/` with npm; a copy of the lockfile there says
//! what is installed, so a second build does not reinstall. The build is
//! skipped when the component is newer than every input: QuickJS components
//! are not byte-reproducible (the Wizer snapshot holds random seeds), so an
//! unneeded rebuild would change the module's digest and cost a recompile of
//! the cached native code on the next run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use super::tools_dir;
use crate::{io, on_path, root, run, Result};

/// The npm package that builds JavaScript components, pinned in package.json.
const JCO: &str = "@bytecodealliance/jco";
/// The example's stages, relative to the repository root.
const EXAMPLE: &str = "examples/orca/steps-js/steps.js";
const NAME: &str = "orca_steps_js";

/// Install jco if needed and build the example's JavaScript stages into `out`.
pub fn build(out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let jco = install()?;
    let wasm = out.join(format!("{NAME}.wasm"));
    let inputs = inputs()?;
    if up_to_date(&wasm, &inputs)? {
        eprintln!("{NAME}.wasm is up to date");
        return Ok(vec![(NAME.into(), wasm)]);
    }
    // Per process: two xtask runs building at once must not share it.
    let tmp = out.join(format!("{NAME}.wasm.tmp{}", std::process::id()));
    let root = root();
    run(Command::new("node")
        .arg(&jco)
        .arg("componentize")
        .arg(root.join(EXAMPLE))
        .arg("--wit")
        .arg(root.join("wit"))
        .args(["--world-name", "step", "--backend", "quickjs"])
        // promwasm's engine does not enable the component-model async ABI
        // (it runs each stage as one synchronous call), and jco's QuickJS
        // backend embeds its async runtime unless told otherwise: such a
        // component uses `task.*` builtins the engine refuses to load.
        .arg("--backend-qjs-disable-async")
        // The module root, which QuickJS resolves imports under at build
        // time: it must hold both the stages and the SDK in guest-sdk/js.
        .arg("--cwd")
        .arg(&root)
        .arg("-o")
        .arg(&tmp))?;
    std::fs::rename(&tmp, &wasm).map_err(io(&wasm))?;
    Ok(vec![(NAME.into(), wasm)])
}

/// jco's entry script under `.tools/js`, installed from the pinned lockfile
/// unless that exact lockfile was installed already.
fn install() -> Result<PathBuf> {
    let sdk = root().join("guest-sdk/js");
    let tools = tools_dir("js");
    let jco = tools.join("node_modules").join(JCO).join("dist/jco.js");
    let lock = read(&sdk.join("package-lock.json"))?;
    let installed = tools.join("installed.lock");
    let pinned = pinned_version(&sdk)?;
    if jco.is_file() && std::fs::read_to_string(&installed).ok() == Some(lock.clone()) {
        return Ok(jco);
    }
    if !on_path("node") || !on_path("npm") {
        return Err(
            "JavaScript guests need node (20 or newer) and npm on PATH; \
             install them (Debian/Ubuntu: sudo apt install nodejs npm)"
                .into(),
        );
    }
    std::fs::create_dir_all(&tools).map_err(io(&tools))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(sdk.join(file), tools.join(file)).map_err(io(&tools.join(file)))?;
    }
    // `npm install` with the lockfile in place installs exactly what it
    // pins; `npm ci` would refuse it, because npm leaves out of any lockfile
    // the platform builds its registry lacks. No install scripts: jco needs none.
    run(Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(&tools)
        .args(["--ignore-scripts", "--no-audit", "--no-fund"]))?;
    let version = installed_version(&tools)?;
    if version != pinned {
        return Err(format!(
            "npm installed {JCO} {version}, but guest-sdk/js/package.json pins {pinned}"
        ));
    }
    std::fs::write(&installed, lock).map_err(io(&installed))?;
    Ok(jco)
}

/// The exact version of jco that `package.json` pins.
fn pinned_version(sdk: &Path) -> Result<String> {
    let manifest = sdk.join("package.json");
    let json: serde_json::Value = serde_json::from_str(&read(&manifest)?)
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    json["devDependencies"][JCO]
        .as_str()
        .filter(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} must pin {JCO} to an exact version", manifest.display()))
}

fn installed_version(tools: &Path) -> Result<String> {
    let manifest = tools.join("node_modules").join(JCO).join("package.json");
    let json: serde_json::Value = serde_json::from_str(&read(&manifest)?)
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    Ok(json["version"].as_str().unwrap_or_default().to_owned())
}

/// What the component is built from: the stages, the SDK, the WIT, and the
/// record of the installed toolchain.
fn inputs() -> Result<Vec<PathBuf>> {
    let root = root();
    let mut files = vec![tools_dir("js").join("installed.lock")];
    for dir in ["examples/orca/steps-js", "guest-sdk/js", "wit"] {
        let dir = root.join(dir);
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().is_some_and(|e| e == "js" || e == "wit") {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Whether `output` exists and is newer than every input.
fn up_to_date(output: &Path, inputs: &[PathBuf]) -> Result<bool> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified());
    let Ok(built) = modified(output) else {
        return Ok(false);
    };
    let mut newest = SystemTime::UNIX_EPOCH;
    for input in inputs {
        newest = newest.max(modified(input).map_err(io(input))?);
    }
    Ok(built > newest)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(io(path))
}

use super::templates::{self, Vars};
use super::*;

fn vars() -> Vars {
    Vars {
        name: "my-step".into(),
        crate_name: "my_step".into(),
        type_name: "MyStepStage".into(),
        port: 5123,
        sdk: "/sdk".into(),
    }
}

fn langs() -> impl Iterator<Item = Lang> {
    <Lang as clap::ValueEnum>::value_variants().iter().copied()
}

#[test]
fn step_names_are_checked() {
    for good in ["a", "my-step", "step_2", "a-b_c9"] {
        assert_eq!(step_name(Path::new(good)).as_deref(), Ok(good));
    }
    assert_eq!(
        step_name(Path::new("some/where/my-step")).as_deref(),
        Ok("my-step"),
        "the folder's last part names the step"
    );
    for (bad, says) in [
        ("My-Step", "lowercase letters, digits"),
        ("2fast", "starting with a letter"),
        ("-x", "starting with a letter"),
        ("has space", "cannot name a step"),
        ("dot.ted", "cannot name a step"),
        ("trailing-", "ends with `-`"),
        ("fn", "Rust keyword"),
        ("test", "Rust keyword or a crate"),
        ("promwasm-guest", "a crate the step builds with"),
        ("proc-macro", "a crate the step builds with"),
        ("..", "names no folder"),
        ("/", "names no folder"),
    ] {
        let error = step_name(Path::new(bad)).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
    let long = "a".repeat(MAX_NAME + 1);
    assert!(step_name(Path::new(&long))
        .unwrap_err()
        .contains("too long"));
    assert!(step_name(Path::new(&long[1..])).is_ok());
}

#[test]
fn stage_types_cannot_clash_with_the_prelude() {
    assert_eq!(type_name("my-step"), "MyStepStage");
    assert_eq!(type_name("audit_stage"), "AuditStage");
    assert_eq!(type_name("stage"), "StageStage");
    assert_eq!(type_name("value"), "ValueStage");
    assert_eq!(type_name("a-1-b"), "A1BStage");
}

#[test]
fn every_placeholder_is_filled() {
    for lang in langs() {
        for file in templates::files(lang, &vars())
            .into_iter()
            .filter(|f| f.template)
        {
            assert!(
                !file.text.contains("{{") && !file.text.contains("}}"),
                "{lang:?} {}: a placeholder is left:\n{}",
                file.path,
                file.text
            );
        }
    }
}

#[test]
fn config_names_what_the_build_writes() {
    for lang in langs() {
        let files = templates::files(lang, &vars());
        let text = |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{lang:?}: no {path}"))
                .text
                .clone()
        };
        let config = text("tests/config.yaml");
        assert!(config.contains("base_port: 5123"), "{config}");
        let module = config
            .lines()
            .find_map(|l| l.trim().strip_prefix("module: "))
            .expect("a module line");
        let built = module.strip_prefix("../").expect("relative to tests/");
        let readme = text("README.md");
        assert!(
            readme.contains(templates::build_command(lang)),
            "{lang:?}: README.md gives the build command"
        );
        assert!(
            readme.contains(built),
            "{lang:?}: README.md says where the build writes {built}"
        );
        assert!(text("tests/.env").contains(templates::KEYPAIR));
        assert!(text("tests/workers.json").contains("tests/worker.py"));
    }
}

#[test]
fn the_default_rust_sdk_is_this_repository_s() {
    let sdk = rust_sdk(None).unwrap();
    assert!(Path::new(&sdk).is_absolute(), "{sdk}");
    assert!(Path::new(&sdk).join("src/lib.rs").is_file(), "{sdk}");
    let dir = tempfile::tempdir().unwrap();
    let error = rust_sdk(Some(dir.path())).unwrap_err();
    assert!(
        error.contains("--sdk names the `guest-sdk` folder"),
        "{error}"
    );
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"other\"\n",
    )
    .unwrap();
    let error = rust_sdk(Some(dir.path())).unwrap_err();
    assert!(error.contains("not the Rust SDK's manifest"), "{error}");
}

fn args(path: &Path, lang: Lang) -> StepArgs {
    StepArgs {
        path: path.to_path_buf(),
        lang,
        sdk: None,
        port: 5000,
    }
}

#[test]
fn a_project_is_written_whole_and_never_over_anything() {
    let dir = tempfile::tempdir().unwrap();
    for lang in langs() {
        let path = dir.path().join(format!("deeper/{}-step", lang.name()));
        args(&path, lang).create().unwrap();
        for file in templates::files(lang, &vars()) {
            let written = path.join(file.path);
            assert!(written.is_file(), "{}", written.display());
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&written).unwrap().permissions().mode();
            assert_eq!(mode & 0o111 != 0, file.executable, "{}", file.path);
        }
        let key = crate::signing::Keypair::from_file(&path.join(templates::KEYPAIR)).unwrap();
        assert!(!key.public_key_base58().is_empty());

        let before = std::fs::read_dir(&path).unwrap().count();
        match args(&path, lang).create() {
            Err(Failure::Invalid(message)) => {
                assert!(message.contains("refusing to overwrite"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), before);
    }
    // A file in the way is refused the same way, and left alone.
    let file = dir.path().join("taken");
    std::fs::write(&file, "mine").unwrap();
    assert!(matches!(
        args(&file, Lang::Rust).create(),
        Err(Failure::Invalid(_))
    ));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}

/// The SDK files of `dir` (relative to the repository) ending in `ext`, by name.
fn sdk_files(dir: &str, ext: &str, skip: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext) && !n.ends_with(skip))
        .collect();
    names.sort();
    names
}

fn file<'a>(files: &'a [templates::File], path: &str) -> &'a templates::File {
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn a_js_project_holds_the_whole_sdk_and_pins_jco() {
    let files = templates::files(Lang::Js, &vars());
    let mut copied: Vec<String> = files
        .iter()
        .filter_map(|f| f.path.strip_prefix("sdk/"))
        .map(str::to_owned)
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        sdk_files("guest-sdk/js", ".js", ".test.js"),
        "every module of guest-sdk/js is copied into sdk/"
    );
    assert_eq!(
        file(&files, "sdk/promwasm.js").text,
        include_str!("../../../../guest-sdk/js/promwasm.js")
    );
    assert_eq!(
        file(&files, "wit/step.wit").text,
        include_str!("../../../../wit/step.wit")
    );

    let jco = templates::jco_version();
    assert!(jco.split('.').count() == 3 && jco.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let manifest: serde_json::Value =
        serde_json::from_str(&file(&files, "package.json").text).unwrap();
    assert_eq!(manifest["name"], "my-step");
    assert_eq!(
        manifest["devDependencies"]["@bytecodealliance/jco"],
        jco.as_str()
    );
    let lock: serde_json::Value =
        serde_json::from_str(&file(&files, "package-lock.json").text).unwrap();
    assert_eq!(lock["name"], "my-step");
    assert_eq!(lock["packages"][""]["name"], "my-step");
    assert_eq!(
        lock["packages"][""]["devDependencies"]["@bytecodealliance/jco"],
        jco.as_str()
    );
    assert_eq!(
        lock["packages"]["node_modules/@bytecodealliance/jco"]["version"],
        jco.as_str(),
        "the lockfile installs the version package.json pins"
    );
    let build = &file(&files, "build.sh");
    assert!(build.executable && build.text.contains("--backend-qjs-disable-async"));
}

#[test]
fn a_python_project_holds_the_whole_sdk_and_pins_componentize_py() {
    let files = templates::files(Lang::Python, &vars());
    let mut copied: Vec<String> = files
        .iter()
        .filter_map(|f| f.path.strip_prefix("sdk/promwasm/"))
        .map(str::to_owned)
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        sdk_files("guest-sdk/python/promwasm", ".py", "\0"),
        "every module of guest-sdk/python/promwasm is copied into sdk/promwasm/"
    );
    // The same componentize-py as `cargo xtask` builds promwasm's own Python steps with.
    let xtask = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/src/langs/python.rs"),
    )
    .unwrap();
    let pin = format!(
        "const COMPONENTIZE_PY: &str = \"{}\";",
        templates::COMPONENTIZE_PY
    );
    assert!(
        xtask.contains(&pin),
        "xtask/src/langs/python.rs lacks `{pin}`"
    );
    let build = file(&files, "build.sh");
    assert!(build.executable);
    assert!(build
        .text
        .contains(&format!("componentize-py=={}", templates::COMPONENTIZE_PY)));
    assert!(file(&files, "src/app.py").text.contains("WitWorld"));
}

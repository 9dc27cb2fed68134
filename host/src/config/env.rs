//! The environment a run sees: the process environment, then the project
//! root's `.env` (fills gaps, like python-dotenv's `load_dotenv()`), then the
//! tests folder's `.env` (overrides, like prometheus-test's second load).
//!
//! A `.env` line ending in a `# secret` comment (`API_TOKEN=abc  # secret`)
//! marks its variable secret: its value is masked in everything promwasm
//! writes, whatever its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::diag::{Diagnostic, Diagnostics, Pos};

/// Variables by name.
pub type Env = BTreeMap<String, String>;

/// The layered variables, and which of them a `.env` file marks secret.
pub struct Layered {
    /// Variables by name.
    pub vars: Env,
    /// Names marked `# secret` in a `.env` file.
    pub secret_names: BTreeSet<String>,
}

impl Layered {
    /// The values of the variables marked secret.
    pub fn secret_values(&self) -> Vec<String> {
        self.secret_names
            .iter()
            .filter_map(|name| self.vars.get(name).cloned())
            .collect()
    }
}

/// Layer the `.env` files over `process`; problems in them are recorded.
pub fn layered(
    project_root: &Path,
    tests_dir: &Path,
    process: Env,
    diags: &mut Diagnostics,
) -> Layered {
    let mut env = process;
    let mut secret_names = BTreeSet::new();
    let root_file = project_root.join(".env");
    let tests_file = tests_dir.join(".env");
    for (key, value) in read_dotenv(&root_file, diags) {
        env.entry(key).or_insert(value);
    }
    secret_names.extend(marked_secret(&root_file));
    if tests_file != root_file {
        for (key, value) in read_dotenv(&tests_file, diags) {
            env.insert(key, value);
        }
        secret_names.extend(marked_secret(&tests_file));
    }
    Layered {
        vars: env,
        secret_names,
    }
}

/// Names whose line in `path` ends with a `# secret` comment (outside quotes).
fn marked_secret(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (name, rest) = line.split_once('=')?;
            let hash = rest.rfind('#')?;
            let (value, comment) = rest.split_at(hash);
            let quoted =
                value.matches('"').count() % 2 == 1 || value.matches('\'').count() % 2 == 1;
            let marked = comment[1..].trim().eq_ignore_ascii_case("secret")
                && value.ends_with(char::is_whitespace)
                && !quoted;
            (marked && !name.trim().starts_with('#')).then(|| name.trim().to_string())
        })
        .collect()
}

fn read_dotenv(path: &Path, diags: &mut Diagnostics) -> Vec<(String, String)> {
    if !path.is_file() {
        return Vec::new();
    }
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) => {
            diags.push(Diagnostic::file(
                path,
                format!("cannot read .env file: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut vars = Vec::new();
    for item in iter {
        match item {
            Ok(pair) => vars.push(pair),
            Err(dotenvy::Error::LineParse(line, index)) => {
                let line_no = locate_line(path, &line);
                diags.push(
                    Diagnostic::at(
                        path,
                        Pos {
                            line: line_no,
                            column: index + 1,
                        },
                        format!("cannot parse `{line}`"),
                    )
                    .hint("each line is `NAME=value`; quote values with spaces"),
                );
            }
            Err(e) => diags.push(Diagnostic::file(
                path,
                format!("cannot read .env file: {e}"),
            )),
        }
    }
    vars
}

fn locate_line(path: &Path, line: &str) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.lines().position(|l| l.trim() == line.trim()))
        .map(|i| i + 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_folder_overrides_root_which_fills_gaps() {
        let root = tempfile::tempdir().unwrap();
        let tests = root.path().join("tests");
        std::fs::create_dir(&tests).unwrap();
        std::fs::write(root.path().join(".env"), "A=root\nB=root\nC=root\n").unwrap();
        std::fs::write(tests.join(".env"), "B=tests\n").unwrap();
        let process = Env::from([("C".to_string(), "process".to_string())]);
        let mut diags = Diagnostics::default();
        let env = layered(root.path(), &tests, process, &mut diags).vars;
        assert!(diags.is_empty(), "{diags}");
        assert_eq!(env["A"], "root");
        assert_eq!(env["B"], "tests");
        assert_eq!(
            env["C"], "process",
            "the root .env does not override the process"
        );
    }

    #[test]
    fn a_secret_comment_marks_a_variable_secret_and_is_not_part_of_its_value() {
        let root = tempfile::tempdir().unwrap();
        let tests = root.path().join("tests");
        std::fs::create_dir(&tests).unwrap();
        std::fs::write(
            root.path().join(".env"),
            "API=abc123456  # secret\nPLAIN=visible # a comment\n",
        )
        .unwrap();
        std::fs::write(
            tests.join(".env"),
            "export TOKENISH=t0ps3cret # Secret\nQUOTED=\"x # secret\"\nNOSPACE=a#secret\n# OLD=x # secret\n",
        )
        .unwrap();
        let mut diags = Diagnostics::default();
        let layered = layered(root.path(), &tests, Env::new(), &mut diags);
        assert!(diags.is_empty(), "{diags}");
        assert_eq!(layered.vars["API"], "abc123456");
        assert_eq!(layered.vars["PLAIN"], "visible");
        assert_eq!(layered.vars["QUOTED"], "x # secret");
        assert_eq!(
            layered.secret_names.iter().collect::<Vec<_>>(),
            ["API", "TOKENISH"]
        );
        assert_eq!(layered.secret_values(), ["abc123456", "t0ps3cret"]);
    }

    #[test]
    fn bad_lines_are_located() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\nthis is not valid\n").unwrap();
        let mut diags = Diagnostics::default();
        layered(dir.path(), dir.path(), Env::new(), &mut diags);
        assert_eq!(diags.0.len(), 1, "{diags}");
        assert_eq!(diags.0[0].pos.unwrap().line, 2);
    }
}

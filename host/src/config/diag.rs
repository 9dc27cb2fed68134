//! Problems found while validating, each located at file:line:column with a hint.

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::plan::Pos;

/// One problem in the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file at fault.
    pub file: PathBuf,
    /// Where in it, when known.
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// A warning does not stop the run.
    pub warning: bool,
}

impl Diagnostic {
    /// A problem at a position in a file.
    pub fn at(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            pos: Some(pos),
            message: message.into(),
            hint: None,
            warning: false,
        }
    }

    /// A problem with a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            pos: None,
            message: message.into(),
            hint: None,
            warning: false,
        }
    }

    /// Mark as a warning.
    pub fn warning(mut self) -> Self {
        self.warning = true;
        self
    }

    /// Attach what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found, reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Record a problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// No errors so far (warnings do not count).
    pub fn is_empty(&self) -> bool {
        self.errors() == 0
    }

    /// How many errors.
    pub fn errors(&self) -> usize {
        self.0.iter().filter(|d| !d.warning).count()
    }

    /// `Ok(value)` when no error was recorded, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

#[cfg(test)]
impl Diagnostics {
    /// The one problem whose message contains `needle` (tests).
    pub fn only(&self, needle: &str) -> &Diagnostic {
        let found: Vec<_> = self
            .0
            .iter()
            .filter(|d| d.message.contains(needle))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one error with `{needle}`, got:\n{self}"
        );
        found[0]
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            let label = if d.warning { "warning" } else { "error" };
            writeln!(f, "{label}: {d}")?;
        }
        let n = self.errors();
        write!(
            f,
            "{n} problem{} found; nothing was started",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Diagnostics {}

/// "did you mean `x`?" for the closest known name, when one is close enough.
pub fn did_you_mean(unknown: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["max_rounds", "base_port", "task_id"];
        assert_eq!(
            did_you_mean("max_round", &known).as_deref(),
            Some("did you mean `max_rounds`?")
        );
        assert_eq!(did_you_mean("completely_else", &known), None);
    }

    #[test]
    fn renders_location_and_hint() {
        let d =
            Diagnostic::at(Path::new("c.yaml"), Pos { line: 3, column: 5 }, "bad").hint("fix it");
        assert_eq!(d.to_string(), "c.yaml:3:5: bad\n  hint: fix it");
    }
}

//! Small helpers that read typed values out of a [`Node`] tree and record a
//! located [`Diagnostic`] instead of stopping at the first problem.

use std::path::{Path, PathBuf};

use super::diag::{did_you_mean, Diagnostic, Diagnostics, Pos};
use super::tree::{Kind, Node};

/// Reads one file's tree, collecting problems.
pub struct Checker<'d> {
    /// The file being read.
    pub file: PathBuf,
    /// Where problems go.
    pub diags: &'d mut Diagnostics,
}

impl<'d> Checker<'d> {
    /// A checker for `file`.
    pub fn new(file: &Path, diags: &'d mut Diagnostics) -> Self {
        Checker {
            file: file.to_path_buf(),
            diags,
        }
    }

    /// Record a problem at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::at(&self.file, pos, message);
        d.hint = hint;
        self.diags.push(d);
    }

    /// Keys of `node` not in `known` are errors, with a suggestion.
    pub fn no_unknown_keys(&mut self, node: &Node, what: &str, known: &[&str]) {
        for e in node.entries().unwrap_or_default() {
            if !known.contains(&e.key.as_str()) {
                let hint = did_you_mean(&e.key, known)
                    .unwrap_or_else(|| format!("known keys: {}", known.join(", ")));
                self.error(
                    e.key_pos,
                    format!("unknown key `{}` in {what}", e.key),
                    Some(hint),
                );
            }
        }
    }

    /// The node must be a mapping.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Node> {
        match node.kind {
            Kind::Map(_) => Some(node),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a mapping, found {}", node.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// An optional string field.
    pub fn opt_str(&mut self, node: &Node, key: &str, what: &str) -> Option<String> {
        let value = node.get(key)?;
        match &value.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Null => None,
            // prometheus-test reads numbers where it wants strings (YAML `task_id: 123`).
            Kind::Int(i) => Some(i.to_string()),
            _ => {
                self.error(
                    value.pos,
                    format!(
                        "`{key}` in {what} must be a string, found {}",
                        value.type_name()
                    ),
                    None,
                );
                None
            }
        }
    }

    /// A required string field.
    pub fn req_str(&mut self, node: &Node, key: &str, what: &str) -> Option<String> {
        if node.get(key).is_none() {
            self.error(
                node.pos,
                format!("{what} has no `{key}`"),
                Some(format!("add `{key}: ...`")),
            );
            return None;
        }
        self.opt_str(node, key, what)
    }

    /// An optional non-negative integer field within `max`.
    pub fn opt_uint(&mut self, node: &Node, key: &str, what: &str, max: u64) -> Option<u64> {
        let value = node.get(key)?;
        match value.kind {
            Kind::Int(i) if i >= 0 && (i as u64) <= max => Some(i as u64),
            Kind::Null => None,
            _ => {
                self.error(
                    value.pos,
                    format!("`{key}` in {what} must be a whole number from 0 to {max}"),
                    None,
                );
                None
            }
        }
    }

    /// Apply a parser (duration, size) to an optional field.
    pub fn opt_with<T>(
        &mut self,
        node: &Node,
        key: &str,
        parse: impl Fn(&Node) -> Result<T, String>,
    ) -> Option<T> {
        let value = node.get(key)?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(value.pos, format!("`{key}`: {e}"), None);
                None
            }
        }
    }
}

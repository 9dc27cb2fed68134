//! A YAML (and JSON) document as a tree whose every node knows its line and
//! column, so validation can point at the exact key at fault. JSON is YAML 1.2
//! flow syntax, so workers.json goes through the same parser once its `//`
//! comments are blanked out.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

use super::diag::Pos;

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub kind: Kind,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in i64.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order, with each key's own position.
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key as text.
    pub key: String,
    /// Where the key is.
    pub key_pos: Pos,
    /// Its value.
    pub value: Node,
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What it said.
    pub message: String,
}

/// Parse one YAML document (an empty document is `null`).
pub fn parse_yaml(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        pos: within(text, to_pos(e.marker())),
        message: e.info().to_string(),
    })?;
    if let Some(message) = builder.error {
        return Err(SyntaxError {
            pos: within(text, builder.error_pos),
            message,
        });
    }
    let mut root = builder.root.unwrap_or(Node {
        pos: Pos { line: 1, column: 1 },
        kind: Kind::Null,
    });
    // An empty value at the very end (`timeout:` on the last line) is placed
    // past it by the parser.
    place_within(&mut root, text);
    Ok(root)
}

/// Every position of the tree moved onto the text (see [`within`]).
fn place_within(node: &mut Node, text: &str) {
    node.pos = within(text, node.pos);
    match &mut node.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|n| place_within(n, text)),
        Kind::Map(entries) => {
            for e in entries {
                e.key_pos = within(text, e.key_pos);
                place_within(&mut e.value, text);
            }
        }
        _ => {}
    }
}

/// Parse JSON that may contain `//` and `/* */` comments (workers.json).
/// Syntax errors come from serde_json, whose messages suit JSON better.
pub fn parse_json_with_comments(text: &str) -> Result<Node, SyntaxError> {
    let clean = blank_comments(text);
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&clean) {
        return Err(SyntaxError {
            pos: within(
                text,
                Pos {
                    line: e.line(),
                    column: e.column(),
                },
            ),
            message: strip_serde_position(&e.to_string()),
        });
    }
    // YAML forbids tabs in some places where JSON allows them; a tab and a
    // space are one column each, so positions stay right.
    parse_yaml(&clean.replace('\t', " "))
}

/// `pos`, moved onto the text: parsers report the end of input one line past
/// a final line break, or at column 0; an editor wants a place that exists.
fn within(text: &str, pos: Pos) -> Pos {
    let lines = text.split('\n').count();
    if pos.line > lines {
        let last = text.rsplit('\n').next().unwrap_or("");
        return Pos {
            line: lines,
            column: last.chars().count() + 1,
        };
    }
    Pos {
        line: pos.line.max(1),
        column: pos.column.max(1),
    }
}

/// Replace comments with spaces (newlines kept) so positions do not move.
pub fn blank_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                // This `/` first: after the newline it would shift the next line.
                out.push(' ');
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                    out.push(' ');
                }
            }
            ('/', Some('*')) => {
                chars.next();
                out.push_str("  ");
                let mut prev = ' ';
                for c in chars.by_ref() {
                    out.push(if c == '\n' { '\n' } else { ' ' });
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn to_pos(m: &Marker) -> Pos {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Vec<Entry>, Option<(String, Pos)>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<String>,
    error_pos: Pos,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, entries, pending)) => match pending.take() {
                None => match scalar_key(&node) {
                    Some(key) => {
                        // A block mapping starts where its first key does; the
                        // parser only reports it once it has read past that key.
                        if entries.is_empty() && before(node.pos, map.pos) {
                            map.pos = node.pos;
                        }
                        *pending = Some((key, node.pos))
                    }
                    None => {
                        if self.error.is_none() {
                            self.error = Some("mapping keys must be plain values".into());
                            self.error_pos = node.pos;
                        }
                        *pending = Some((String::new(), node.pos));
                    }
                },
                Some((key, key_pos)) => {
                    // Like Python dicts and JSON.parse: a repeated key's last value wins.
                    entries.retain(|e| e.key != key);
                    entries.push(Entry {
                        key,
                        key_pos,
                        value: node,
                    });
                }
            },
        }
    }
}

fn before(a: Pos, b: Pos) -> bool {
    (a.line, a.column) < (b.line, b.column)
}

fn scalar_key(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Int(i) => Some(i.to_string()),
        Kind::Float(f) => Some(f.to_string()),
        Kind::Bool(b) => Some(b.to_string()),
        Kind::Null => Some("null".into()),
        _ => None,
    }
}

fn resolve_plain(text: &str) -> Kind {
    match Yaml::from_str(text) {
        Yaml::Null => Kind::Null,
        Yaml::Boolean(b) => Kind::Bool(b),
        Yaml::Integer(i) => Kind::Int(i),
        Yaml::Real(r) => match r.parse::<f64>() {
            Ok(f) => Kind::Float(f),
            Err(_) => Kind::Str(text.to_string()),
        },
        _ => Kind::Str(text.to_string()),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = to_pos(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let kind = if style == TScalarStyle::Plain && tag.is_none() {
                    resolve_plain(&text)
                } else {
                    Kind::Str(text)
                };
                self.push_value(Node { pos, kind }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(
                Node {
                    pos,
                    kind: Kind::Seq(Vec::new()),
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map(
                Node {
                    pos,
                    kind: Kind::Null,
                },
                anchor,
                Vec::new(),
                None,
            )),
            Event::SequenceEnd => {
                if let Some(Open::Seq(node, anchor)) = self.stack.pop() {
                    self.push_value(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut node, anchor, entries, _)) = self.stack.pop() {
                    node.kind = Kind::Map(entries);
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    pos,
                    kind: Kind::Null,
                });
                self.push_value(node, 0);
            }
            _ => {}
        }
    }
}

impl Node {
    /// The entries of a mapping, or `None`.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(e) => Some(e),
            _ => None,
        }
    }

    /// A mapping's value for `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;

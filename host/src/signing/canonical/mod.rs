//! Canonical JSON: the exact bytes a Python or JavaScript task signs.
//!
//! A Koii task signs `json.dumps(obj, sort_keys=True)` (Python) or
//! `JSON.stringify(obj)` (JS), so verifying or reproducing a signature needs
//! those bytes exactly. serde_json cannot give them: it loses integer digits
//! beyond `u64`/`f64`, has its own float formatting and key order, and cannot
//! hold lone UTF-16 surrogates. So this module has a small parser that keeps
//! each number's text and holds strings as code points, and one printer per
//! style that mirrors CPython 3.11's `json` module and V8's `JSON` exactly.

use print::{write_js, write_python};

/// How JSON becomes the exact bytes that are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    /// Python `json.dumps(json.loads(text), sort_keys=True)`: `", "` and `": "`
    /// separators, ASCII-only output, keys in code point order, integers exact,
    /// floats as `float.__repr__`. Also accepts Python's `NaN`, `Infinity` and
    /// `-Infinity` literals, as `json.loads` does.
    Python,
    /// JS `JSON.stringify(JSON.parse(text))`: no spaces, array-index keys first
    /// in numeric order and the rest in insertion order, every number a double
    /// printed as `Number.prototype.toString`, non-finite numbers as `null`.
    Js,
}

/// Why JSON text could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The text is not JSON that the chosen style's reference parser accepts.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the offending character.
        line: usize,
        /// 1-based column, counted in characters.
        column: usize,
        /// What was expected or found there.
        message: String,
    },
    /// Arrays and objects nested deeper than we are willing to recurse.
    #[error("JSON nested deeper than {limit} arrays/objects at line {line}, column {column}")]
    TooDeep {
        /// 1-based line of the bracket that went too deep.
        line: usize,
        /// 1-based column, counted in characters.
        column: usize,
        /// The nesting limit.
        limit: usize,
    },
    /// Python style only: an integer longer than CPython's default
    /// `sys.get_int_max_str_digits()` (4300), which `json.loads` refuses.
    #[error(
        "integer of {digits} digits at line {line}, column {column}: Python's json.loads \
         refuses integers longer than {PY_INT_MAX_STR_DIGITS} digits"
    )]
    IntegerTooLong {
        /// 1-based line where the integer starts.
        line: usize,
        /// 1-based column, counted in characters.
        column: usize,
        /// How many digits it has.
        digits: usize,
    },
}

/// Nesting limit. Recursion keeps the code simple; this keeps it from
/// overflowing the stack on hostile input (an unoptimised build uses about
/// 1.2 KiB of stack per level, so 512 levels fit a 2 MiB thread with room to
/// spare). CPython itself gives up near 1000 levels (RecursionError), and real
/// payloads are a few levels deep.
const MAX_DEPTH: usize = 512;

/// CPython's default limit on digits in int/str conversion (CVE-2020-10735 fix).
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// Parse `json_text` and re-serialise it canonically in `style`.
pub fn canonicalize(json_text: &str, style: JsonStyle) -> Result<String, CanonicalError> {
    let value = Parser::new(json_text, style).parse_document()?;
    let mut out = String::with_capacity(json_text.len());
    match style {
        JsonStyle::Python => write_python(&value, &mut out),
        JsonStyle::Js => write_js(&value, &mut out),
    }
    Ok(out)
}

/// A JSON string as Unicode code points. Not `String`: JSON `\ud800` escapes
/// can denote lone surrogates, which both Python and JS keep and print back.
/// Escaped surrogate pairs are joined into one code point, as both do.
type CodePoints = Vec<u32>;

enum Value<'a> {
    Null,
    Bool(bool),
    /// JSON integer text (no `.`/`e`), kept so Python prints it exactly.
    Int(&'a str),
    /// JSON number text with a fraction or exponent: a float in Python.
    Float(&'a str),
    /// Python's `NaN`, `Infinity`, `-Infinity` literals, printed back verbatim.
    NonFinite(&'static str),
    Str(CodePoints),
    Array(Vec<Value<'a>>),
    /// Members in document order, duplicates included; each style resolves them.
    Object(Vec<(CodePoints, Value<'a>)>),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    style: JsonStyle,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, style: JsonStyle) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            style,
        }
    }

    fn parse_document(&mut self) -> Result<Value<'a>, CanonicalError> {
        if self.text.starts_with('\u{feff}') {
            // Both references refuse a byte order mark rather than skip it.
            return Err(self.syntax_at(0, "unexpected byte order mark (U+FEFF)"));
        }
        self.skip_ws();
        let value = self.parse_value(0)?;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.syntax("extra data after the JSON value"));
        }
        Ok(value)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        // JSON whitespace only; both references reject e.g. U+00A0 here.
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn parse_value(&mut self, depth: usize) -> Result<Value<'a>, CanonicalError> {
        match self.peek() {
            Some(b'{') => self.parse_object(depth + 1),
            Some(b'[') => self.parse_array(depth + 1),
            Some(b'"') => Ok(Value::Str(self.parse_string()?)),
            Some(b't') => self.parse_literal("true", Value::Bool(true)),
            Some(b'f') => self.parse_literal("false", Value::Bool(false)),
            Some(b'n') => self.parse_literal("null", Value::Null),
            Some(b'N') => self.parse_non_finite("NaN"),
            Some(b'I') => self.parse_non_finite("Infinity"),
            Some(b'-') if self.bytes[self.pos..].starts_with(b"-Infinity") => {
                self.parse_non_finite("-Infinity")
            }
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            _ => Err(self.syntax("expecting a value")),
        }
    }

    fn parse_literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, CanonicalError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.syntax("expecting a value"))
        }
    }

    fn parse_non_finite(&mut self, word: &'static str) -> Result<Value<'a>, CanonicalError> {
        if !self.bytes[self.pos..].starts_with(word.as_bytes()) {
            return Err(self.syntax("expecting a value"));
        }
        match self.style {
            JsonStyle::Python => {
                self.pos += word.len();
                Ok(Value::NonFinite(word))
            }
            JsonStyle::Js => Err(self.syntax(&format!(
                "{word} is not JSON (Python's json.loads accepts it, JSON.parse does not)"
            ))),
        }
    }

    fn parse_number(&mut self) -> Result<Value<'a>, CanonicalError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.syntax("expecting a digit")),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("expecting a digit after '.'"));
            }
            self.skip_digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("expecting a digit in the exponent"));
            }
            self.skip_digits();
            is_float = true;
        }
        let text = &self.text[start..self.pos];
        if is_float {
            return Ok(Value::Float(text));
        }
        let digits = int_end - start - usize::from(text.starts_with('-'));
        if self.style == JsonStyle::Python && digits > PY_INT_MAX_STR_DIGITS {
            let (line, column) = self.line_col(start);
            return Err(CanonicalError::IntegerTooLong {
                line,
                column,
                digits,
            });
        }
        Ok(Value::Int(text))
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Four hex digits at `at`, if they are there.
    fn hex4(&self, at: usize) -> Option<u32> {
        let chunk = self.bytes.get(at..at + 4)?;
        let mut v = 0;
        for &b in chunk {
            v = v * 16 + char::from(b).to_digit(16)?;
        }
        Some(v)
    }

    fn parse_string(&mut self) -> Result<CodePoints, CanonicalError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = CodePoints::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.syntax_at(open, "unterminated string starting here"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => out.push(self.parse_escape()?),
                0x00..=0x1f => return Err(self.syntax("invalid control character in string")),
                0x20..=0x7f => {
                    out.push(u32::from(b));
                    self.pos += 1;
                }
                _ => {
                    // `pos` is on a char boundary (we only step over whole
                    // chars); `get` keeps that from ever being a panic.
                    let Some(c) = self
                        .text
                        .get(self.pos..)
                        .and_then(|rest| rest.chars().next())
                    else {
                        return Err(self.syntax("malformed text"));
                    };
                    out.push(u32::from(c));
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// One escape starting at the backslash; joins `\uD83D\uDE00` pairs.
    fn parse_escape(&mut self) -> Result<u32, CanonicalError> {
        let c = match self.bytes.get(self.pos + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let Some(high) = self.hex4(self.pos + 2) else {
                    return Err(self.syntax("invalid \\uXXXX escape"));
                };
                self.pos += 6;
                if (0xd800..0xdc00).contains(&high) && self.bytes[self.pos..].starts_with(b"\\u") {
                    if let Some(low @ 0xdc00..=0xdfff) = self.hex4(self.pos + 2) {
                        self.pos += 6;
                        return Ok(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00));
                    }
                }
                // A lone surrogate stays one, exactly as in Python and JS.
                return Ok(high);
            }
            _ => return Err(self.syntax("invalid \\escape")),
        };
        self.pos += 2;
        Ok(u32::from(c))
    }

    fn parse_array(&mut self, depth: usize) -> Result<Value<'a>, CanonicalError> {
        self.check_depth(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.parse_value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.syntax("expecting ',' or ']'")),
            }
        }
    }

    fn parse_object(&mut self, depth: usize) -> Result<Value<'a>, CanonicalError> {
        self.check_depth(depth)?;
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.syntax("expecting a property name in double quotes"));
            }
            let key = self.parse_string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.syntax("expecting ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.parse_value(depth)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.syntax("expecting ',' or '}'")),
            }
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), CanonicalError> {
        if depth > MAX_DEPTH {
            let (line, column) = self.line_col(self.pos);
            return Err(CanonicalError::TooDeep {
                line,
                column,
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    /// 1-based line and character column of byte offset `pos`. Works on
    /// bytes so that no offset can make it panic.
    fn line_col(&self, pos: usize) -> (usize, usize) {
        let before = &self.bytes[..pos.min(self.bytes.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        // Count chars by their first bytes (anything but UTF-8 continuation bytes).
        let column = 1 + before[line_start..]
            .iter()
            .filter(|&&b| b & 0xc0 != 0x80)
            .count();
        (line, column)
    }

    fn syntax_at(&self, pos: usize, message: &str) -> CanonicalError {
        let (line, column) = self.line_col(pos);
        CanonicalError::Syntax {
            line,
            column,
            message: message.to_owned(),
        }
    }

    fn syntax(&self, message: &str) -> CanonicalError {
        self.syntax_at(self.pos, message)
    }
}

mod print;

#[cfg(test)]
pub(crate) mod tests;

//! The printers: one per style, each mirroring its language's JSON output
//! byte for byte (CPython 3.11's `json.dumps`, V8's `JSON.stringify`),
//! including their number formatting.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{CodePoints, Value};

// ---------------------------------------------------------------- Python

pub(super) fn write_python(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Python ints are exact; the only non-canonical JSON integer is `-0`.
        Value::Int(text) => out.push_str(if *text == "-0" { "0" } else { text }),
        Value::Float(text) => out.push_str(&python_float_repr(parse_f64(text))),
        Value::NonFinite(word) => out.push_str(word),
        Value::Str(s) => write_python_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            // Sort by key (Vec<u32> order is Python's code point order); among
            // duplicates the last one sorts first, and only it is printed,
            // which is what a dict built member by member ends up holding.
            let mut order: Vec<usize> = (0..members.len()).collect();
            order.sort_by(|&a, &b| members[a].0.cmp(&members[b].0).then(b.cmp(&a)));
            out.push('{');
            let mut previous: Option<&CodePoints> = None;
            for i in order {
                let (key, value) = &members[i];
                if previous == Some(key) {
                    continue;
                }
                if previous.is_some() {
                    out.push_str(", ");
                }
                previous = Some(key);
                write_python_str(key, out);
                out.push_str(": ");
                write_python(value, out);
            }
            out.push('}');
        }
    }
}

/// `json.dumps` with `ensure_ascii=True`: only printable ASCII stays raw
/// (so DEL is escaped); astral characters become surrogate pair escapes.
fn write_python_str(s: &[u32], out: &mut String) {
    out.push('"');
    for &c in s {
        match c {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(c as u8)),
            0x10000.. => {
                let v = c - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xd800 | (v >> 10),
                    0xdc00 | (v & 0x3ff)
                );
            }
            _ => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
    }
    out.push('"');
}

/// CPython's `float.__repr__` (`repr` mode of `PyOS_double_to_string`):
/// shortest round-trip digits; exponent form when the decimal point position
/// is `<= -4` or `> 16`, with a sign and at least two exponent digits;
/// otherwise positional with `.0` added to integral values.
fn python_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0.0");
    }
    let (digits, decpt) = shortest_digits(v.abs());
    let len = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let exp = decpt - 1;
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{exp_sign}{:02}", mantissa(&digits), exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= len {
        format!("{digits}{}.0", "0".repeat((decpt - len) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

// ---------------------------------------------------------------- JS

pub(super) fn write_js(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(text) | Value::Float(text) => {
            out.push_str(&js_number_to_string(parse_f64(text)))
        }
        // The parser refuses these literals in JS style; `null` is what
        // JSON.stringify prints for non-finite numbers anyway.
        Value::NonFinite(_) => out.push_str("null"),
        Value::Str(s) => write_js_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            // Property order: a re-assigned key keeps its first slot but takes
            // the last value; array indices come first, in numeric order.
            let mut slots: Vec<(&CodePoints, usize)> = Vec::new();
            let mut slot_of: HashMap<&CodePoints, usize> = HashMap::new();
            for (i, (key, _)) in members.iter().enumerate() {
                match slot_of.get(key) {
                    Some(&slot) => slots[slot].1 = i,
                    None => {
                        slot_of.insert(key, slots.len());
                        slots.push((key, i));
                    }
                }
            }
            let (mut indices, names): (Vec<_>, Vec<_>) = slots
                .into_iter()
                .partition(|(key, _)| array_index(key).is_some());
            indices.sort_by_key(|(key, _)| array_index(key));
            out.push('{');
            for (n, (key, i)) in indices.into_iter().chain(names).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_js_str(key, out);
                out.push(':');
                write_js(&members[i].1, out);
            }
            out.push('}');
        }
    }
}

/// An ECMAScript array index: canonical decimal `0..=2^32-2`.
fn array_index(key: &[u32]) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key[0] == u32::from(b'0')) {
        return None;
    }
    let mut n: u64 = 0;
    for &c in key {
        let d = char::from_u32(c)?.to_digit(10)?;
        n = n * 10 + u64::from(d);
    }
    u32::try_from(n).ok().filter(|&n| n != u32::MAX)
}

/// JSON.stringify's QuoteJSONString: short escapes, other C0 controls as
/// `\u00xx`, lone surrogates as `\udxxx`, everything else raw (incl. U+2028).
fn write_js_str(s: &[u32], out: &mut String) {
    out.push('"');
    for &c in s {
        match c {
            0x22 => out.push_str("\\\""),
            0x5c => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            0x0d => out.push_str("\\r"),
            _ => match char::from_u32(c) {
                Some(ch) if c >= 0x20 => out.push(ch),
                // Controls and (necessarily lone) surrogates.
                _ => {
                    let _ = write!(out, "\\u{c:04x}");
                }
            },
        }
    }
    out.push('"');
}

/// ECMAScript `Number::toString(x)` for radix 10.
fn js_number_to_string(v: f64) -> String {
    if !v.is_finite() {
        // JSON.stringify turns NaN and ±Infinity into null.
        return "null".into();
    }
    if v == 0.0 {
        return "0".into(); // -0 too
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let (digits, n) = shortest_digits(v.abs());
    let k = digits.len() as i32;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let exp = n - 1;
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{exp_sign}{}", mantissa(&digits), exp.abs())
    };
    format!("{sign}{body}")
}

// ---------------------------------------------------------------- numbers

/// A JSON number's value as the nearest double. Rust's parser rounds
/// correctly (as CPython's and V8's do), overflows to infinity and
/// underflows to zero; JSON number syntax is a subset of what it accepts.
fn parse_f64(text: &str) -> f64 {
    text.parse().unwrap_or(f64::NAN)
}

/// Shortest round-trip decimal digits of a finite positive `v`, and the
/// decimal point position: `v = 0.DIGITS × 10^decpt`. Among equally short
/// round-tripping digit strings CPython's repr and V8 print the one closest
/// to `v`, and on an exact tie the even one.
fn shortest_digits(v: f64) -> (String, i32) {
    let (digits, decpt) = split_exp(&format!("{v:e}"));
    // Rust's shortest mode breaks such a tie upwards (866636871482939.25
    // gives ...939.3, Python and node ...939.2). The correctly rounded
    // (ties-to-even) digits of the same length are the closest candidate,
    // so when they round-trip they are the answer.
    let rounded = format!("{v:.*e}", digits.len().saturating_sub(1));
    if rounded.parse::<f64>() == Ok(v) {
        let (rounded_digits, rounded_decpt) = split_exp(&rounded);
        let trimmed = rounded_digits.trim_end_matches('0');
        if !trimmed.is_empty() {
            return (trimmed.to_owned(), rounded_decpt);
        }
    }
    (digits, decpt)
}

/// Digits and decimal point position of Rust's `{:e}` output `d.ddde±x`.
fn split_exp(formatted: &str) -> (String, i32) {
    let (mantissa, exp) = formatted.split_once('e').unwrap_or((formatted, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exp.parse::<i32>().unwrap_or(0) + 1)
}

/// `d` or `d.ddd` from a digit string.
fn mantissa(digits: &str) -> String {
    let (first, rest) = digits.split_at(1);
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}.{rest}")
    }
}

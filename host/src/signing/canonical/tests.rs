//! Differential tests: the canonical printers against CPython and node themselves.
//!
//! (Long by nature: one case per rule.)

use super::*;
use std::io::Write as _;
use std::process::{Command, Stdio};

const PYTHON_SCRIPT: &str = r#"
import json, sys
docs = json.loads(sys.stdin.buffer.read().decode("utf-8"))
rows = []
for doc in docs:
    try:
        rows.append([True, json.dumps(json.loads(doc), sort_keys=True)])
    except Exception as e:
        # Messages may quote a lone surrogate; keep the reply valid UTF-8.
        message = "%s: %s" % (type(e).__name__, e)
        rows.append([False, message.encode("utf-8", "replace").decode("utf-8")])
sys.stdout.write(json.dumps(rows))
"#;

const NODE_SCRIPT: &str = r#"
const docs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const rows = docs.map((doc) => {
  try { return [true, JSON.stringify(JSON.parse(doc))]; }
  // Messages quote the input and may cut a surrogate pair; keep the reply valid UTF-8.
  catch (e) { return [false, String(e).toWellFormed()]; }
});
process.stdout.write(JSON.stringify(rows));
"#;

/// Run `program` with `args`, feed it `stdin`, and return its stdout.
/// Panics (fails the test) if the program is missing: these tests exist
/// to compare against the real thing, so skipping would hide a gap.
pub(crate) fn run_tool(program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}); this test checks against the real \
                     {program}, so install it and put it on PATH"
            )
        });
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    // Write from a thread so a chatty child cannot deadlock us.
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let output = child.wait_with_output().expect("wait for reference tool");
    writer
        .join()
        .expect("stdin writer thread")
        .expect("write stdin");
    assert!(
        output.status.success(),
        "`{program}` failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// What the real Python or node makes of each document: `Ok(canonical)`
/// or `Err(error message)`. One process for the whole batch.
pub(crate) fn reference_outputs(style: JsonStyle, docs: &[String]) -> Vec<Result<String, String>> {
    let (program, args) = match style {
        JsonStyle::Python => ("python3", ["-c", PYTHON_SCRIPT]),
        JsonStyle::Js => ("node", ["-e", NODE_SCRIPT]),
    };
    let stdin = serde_json::to_vec(docs).expect("encode corpus");
    let stdout = run_tool(program, &args, &stdin);
    let rows: Vec<(bool, String)> = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "`{program}` printed something unexpected ({e}): {}",
            String::from_utf8_lossy(&stdout)
        )
    });
    assert_eq!(
        rows.len(),
        docs.len(),
        "`{program}` answered for a different number of documents"
    );
    rows.into_iter()
        .map(|(ok, text)| if ok { Ok(text) } else { Err(text) })
        .collect()
}

/// Every document must come out byte-identical to the reference, and be
/// rejected exactly when the reference rejects it. Returns how many the
/// reference accepted.
fn assert_same_as_reference(style: JsonStyle, docs: &[String]) -> usize {
    let expected = reference_outputs(style, docs);
    let mut failures = Vec::new();
    let mut accepted = 0;
    for (doc, want) in docs.iter().zip(&expected) {
        let got = canonicalize(doc, style);
        match (want, &got) {
            (Ok(w), Ok(g)) if w == g => accepted += 1,
            (Err(_), Err(_)) => {}
            _ => failures.push(format!(
                "input:    {doc:?}\n  reference: {want:?}\n  ours:      {:?}",
                got.map_err(|e| e.to_string())
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documents differ from {style:?}'s reference:\n{}",
        failures.len(),
        docs.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    accepted
}

fn hand_corpus() -> Vec<String> {
    let mut docs: Vec<String> = [
            // Scalars, empties, whitespace.
            "null", "true", "false", "0", "-0", "1", "-1", "\"\"", "[]", "{}", "[[]]", "[{}]",
            "{\"a\":{}}", "[[],{},[[]],{\"\":[]}]", " \t\n\r[ 1 , 2 ]\n", "\n\n  {\"a\"\t:\r\n1}  ",
            "[ ]", "{ }", "[\n]", "  \"x\"  ",
            // Integers, exact in Python, doubles in JS.
            "123456789012345678901234567890", "-123456789012345678901234567890",
            "9007199254740991", "9007199254740992", "9007199254740993", "18446744073709551616",
            "-9223372036854775809", "[0,-0,10,100,1000000]", "100000000000000000000",
            "1000000000000000000000", "999999999999999999999", "12345678901234567890123",
            // Floats: every repr / toString branch.
            "1.0", "0.1", "0.5", "-0.0", "0.0", "0e0", "-0e-0", "1e5", "1E5", "1e+5", "1e16", "1e15",
            "1e17", "1e-5", "1e-4", "0.0001", "0.00001", "1e-6", "1e-7", "1.5e-7", "1e21", "1e20",
            "1e22", "1.5e300", "-1.5e300", "1e308", "1.7976931348623157e308",
            "1.7976931348623158e308", "1.7976931348623159e308", "1e400", "-1e400", "1e-400",
            "-1e-400", "5e-324", "4.9e-324", "2e-324", "3e-324", "2.2250738585072014e-308",
            "2.2250738585072011e-308", "0.30000000000000004", "0.1e1", "123.456e-7", "100e-2",
            "3.141592653589793238462643383279", "12345678901234567.0", "1234567890123456.0",
            "123456789012345680000.0", "1.2345678901234567e-7", "2.5e-5", "1.25", "100.0",
            "1e01", "1e-01", "1e0000000000000000000000000000000000000001",
            "1e99999999999999999999", "-1e-99999999999999999999", "0.000001", "0.0000001",
            "1.1e-6", "123e-20", "9.999999999999999e22", "1e23", "8.41e21", "5e-7",
            "[1.0, 2.50, -3.000e2, 4E-3]", "1.000000000000000000000000000001",
            "0.1000000000000000055511151231257827", "4.35", "0.3", "2.675", "1e-323",
            // Strings: escapes, controls, unicode.
            "\"hello\"", "\"héllo\"", "\"日本語テキスト\"", "\"😀\"", "\"👍🏽👨‍👩‍👧\"",
            "\"\\ud83d\\ude00\"", "\"\\uD83D\\uDE00\"", "\"\\ud83d\"", "\"\\ude00\"",
            "\"\\ude00\\ud83d\"", "\"\\ud83d\\ud83d\\ude00\"", "\"\\ud83dx\"", "\"\\ud83d\\n\"",
            "\"\\ud83d😀\"", "\"\\udbff\\udfff\"", "\"\\ud800\\udc00\"", "\"\\u2028\\u2029\"",
            "\"\u{2028}\u{2029}\"", "\"\\u0000\\u001f\\u007f\\u0080\\u00ff\\u0100\"",
            "\"\\b\\f\\n\\r\\t\\/\\\\\\\"\"", "\"a/b\"", "\"\u{7f}\"", "\"\u{80}\u{9f}\"",
            "\"\u{feff}\"", "\"\\uFEFF\"", "\"\u{10ffff}\"", "\"\u{ffff}\u{fffe}\"",
            "\"\\u00e9\\u00E9\"", "\"\\u0041\"", "\"tab\\there\"", "\"\u{e000}\u{f8ff}\"",
            "\"\\u001b[31mred\\u001b[0m\"", "\"'single'\"", "\"<script>&amp;</script>\"",
            "[\"\\\\u0041\", \"\\\\\"]",
            // Objects: ordering, duplicates, array-index keys, unicode keys.
            "{\"b\":1,\"a\":2}", "{\"a\":1,\"a\":2}", "{\"b\":1,\"a\":2,\"b\":3}",
            "{\"a\":1,\"b\":2,\"a\":{\"z\":1,\"y\":2}}",
            "{\"10\":1,\"2\":2,\"a\":3,\"1\":4,\"01\":5,\"-1\":6,\"4294967294\":7,\"4294967295\":8,\"1.0\":9,\" 1\":10,\"0\":11}",
            "{\"4294967296\":1,\"99999999999\":2,\"4294967293\":3,\"b\":4}",
            "{\"z\":1,\"2\":2,\"y\":3,\"1\":4,\"2\":5}",
            "{\"\u{fffd}\":1,\"😀\":2,\"\u{e000}\":3,\"z\":4,\"é\":5,\"Z\":6,\"\":7,\"aa\":8,\"a\":9}",
            "{\"\\ud83d\\ude00\":1,\"😀\":2}", "{\"\\ud800\":1,\"\\uffff\":2,\"\\ud7ff\":3}",
            "{\"\\ude00\":1,\"\\ud83d\\ude00\":2,\"\\ud83d\":3}",
            "{\"__proto__\":1,\"constructor\":2,\"toString\":3}", "{\"\":1}",
            "{\"B\":1,\"a\":2,\"_\":3,\"0\":4,\" \":5}",
            "{\"k\":[{\"b\":[3,2,1],\"a\":null}],\"j\":{\"d\":true,\"c\":false}}",
            "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12}",
            "{\"x\":1,\"X\":2,\"\\u0000\":3,\"\\u007f\":4}",
            // Python-only literals (JS rejects them).
            "NaN", "Infinity", "-Infinity", "[NaN, Infinity, -Infinity]", "{\"a\":NaN}",
            // Invalid in both.
            "", " ", "[1,]", "{\"a\":1,}", "{'a':1}", "[01]", "01", "1.", ".5", "+1", "-", "1e",
            "1e+", "1.e5", "[1 2]", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\ud83d\\u12\"",
            "\"a\u{1}b\"", "\"a\tb\"", "\"a\nb\"", "nul", "tru", "True", "None", "-NaN", "nan",
            "infinity", "-Inf", "{\"a\" 1}", "{1:2}", "\u{feff}[]", "[] []", "[]x", "\"abc",
            "[", "{", "]", "[\"a\"", "{\"a\":}", "{\"a\"}", "\u{a0}1", "1\u{2028}", "[1,,2]",
            "[,1]", "{,}", "\"\\", "\"\\u\"", "\"\\U0041\"", "0x10", "1_000", "--1", "- 1",
            "[1]]", "{\"a\":1}}", "//c\n1", "/*c*/1", "\"\u{0}\"", "\"\u{1f}\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Built inputs: nesting, long numbers, Python's int digit limit.
    docs.push(format!("{}1{}", "[".repeat(100), "]".repeat(100)));
    docs.push(format!("{}[]{}", "{\"a\":".repeat(60), "}".repeat(60)));
    docs.push("9".repeat(4300));
    docs.push(format!("-{}", "9".repeat(4300)));
    docs.push(format!("1{}", "0".repeat(4300)));
    docs.push(format!("[{}]", "7".repeat(5000)));
    docs.push(format!("0.{}1", "0".repeat(5000)));
    docs.push(format!("1{}.5", "0".repeat(400)));
    docs.push(format!(
        "[{}]",
        (0..300)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    ));
    docs.push(format!(
        "{{{}}}",
        (0..200)
            .rev()
            .map(|i| format!("\"{i}\":{i},\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    ));
    docs
}

#[test]
fn hand_corpus_matches_python() {
    let docs = hand_corpus();
    let accepted = assert_same_as_reference(JsonStyle::Python, &docs);
    assert!(
        accepted > docs.len() / 2,
        "corpus mostly rejected: {accepted}"
    );
}

#[test]
fn hand_corpus_matches_node() {
    let docs = hand_corpus();
    let accepted = assert_same_as_reference(JsonStyle::Js, &docs);
    assert!(
        accepted > docs.len() / 2,
        "corpus mostly rejected: {accepted}"
    );
}

/// splitmix64: a tiny seeded PRNG, so generated corpora are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn gen_ws(rng: &mut Rng) -> &'static str {
    if rng.chance(70) {
        ""
    } else {
        rng.pick(&[" ", "\n", "\t", "\r\n  ", "  "])
    }
}

fn gen_digits(rng: &mut Rng, min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    (0..len)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

fn gen_number(rng: &mut Rng) -> String {
    let sign = if rng.chance(30) { "-" } else { "" };
    match rng.below(7) {
        0 => format!("{sign}{}", rng.below(1000)),
        1 => {
            // Integers of any length, incl. beyond u64 and f64 precision.
            let body = gen_digits(rng, 1, 40);
            format!("{sign}{}", body.trim_start_matches('0').to_owned() + "7")
        }
        2 => format!("{sign}{}.{}", rng.below(100_000), gen_digits(rng, 1, 20)),
        3 => format!(
            "{sign}{}.{}{}{}{}",
            rng.below(10),
            gen_digits(rng, 1, 25),
            rng.pick(&["e", "E"]),
            rng.pick(&["", "+", "-"]),
            rng.below(340)
        ),
        4 => format!("{sign}{}e{}", 1 + rng.below(9), rng.below(30) as i64 - 15),
        _ => {
            // Random doubles by bit pattern: exercises every digit count
            // and exponent, printed in Rust's three float notations.
            let v = loop {
                let v = f64::from_bits(rng.next());
                if v.is_finite() {
                    break v;
                }
            };
            match rng.below(3) {
                0 => format!("{v:e}"),
                1 => format!("{v:?}"),
                _ => format!("{v}"),
            }
        }
    }
}

fn gen_string(rng: &mut Rng) -> String {
    let mut s = String::from("\"");
    for _ in 0..rng.below(8) {
        match rng.below(6) {
            0 | 1 => s.push(char::from(b'a' + rng.below(26) as u8)),
            2 => s.push_str(rng.pick(&[
                "\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t", " ", "'", "~",
            ])),
            3 => {
                // \u escapes of any code unit, surrogates included (paired or not).
                let unit = match rng.below(4) {
                    0 => rng.below(0x80),
                    1 => 0xd800 + rng.below(0x800),
                    _ => rng.below(0x10000),
                };
                s.push_str(&format!("\\u{unit:04x}"));
                if (0xd800..0xdc00).contains(&unit) && rng.chance(70) {
                    s.push_str(&format!("\\u{:04X}", 0xdc00 + rng.below(0x400)));
                }
            }
            _ => s.push_str(rng.pick(&[
                "é",
                "ß",
                "日本",
                "한",
                "😀",
                "👍🏽",
                "\u{2028}",
                "\u{7f}",
                "\u{ffff}",
                "\u{10ffff}",
                "\u{e000}",
                "\u{fffd}",
                "\u{a0}",
                "\u{feff}",
                "\u{1d11e}",
            ])),
        }
    }
    s.push('"');
    s
}

fn gen_key(rng: &mut Rng) -> String {
    if rng.chance(40) {
        let key = rng.pick(&[
            "a",
            "b",
            "B",
            "id",
            "0",
            "1",
            "2",
            "10",
            "01",
            "-1",
            "4294967294",
            "4294967295",
            "1.5",
            "é",
            "😀",
            "\u{fffd}",
            "\u{e000}",
            "",
            "__proto__",
        ]);
        format!("\"{key}\"")
    } else {
        gen_string(rng)
    }
}

fn gen_value(rng: &mut Rng, depth: usize) -> String {
    let kinds = if depth >= 4 { 4 } else { 6 };
    match rng.below(kinds) {
        0 => rng.pick(&["null", "true", "false"]).to_owned(),
        1 => gen_number(rng),
        2 => gen_string(rng),
        3 => gen_number(rng),
        4 => {
            let items: Vec<String> = (0..rng.below(5))
                .map(|_| {
                    format!(
                        "{}{}{}",
                        gen_ws(rng),
                        gen_value(rng, depth + 1),
                        gen_ws(rng)
                    )
                })
                .collect();
            format!("[{}{}]", items.join(","), gen_ws(rng))
        }
        _ => {
            let mut keys: Vec<String> = Vec::new();
            let members: Vec<String> = (0..rng.below(6))
                .map(|_| {
                    // Reuse an earlier key now and then: duplicates.
                    let key = if !keys.is_empty() && rng.chance(20) {
                        keys[rng.below(keys.len())].clone()
                    } else {
                        gen_key(rng)
                    };
                    keys.push(key.clone());
                    let ws = [gen_ws(rng), gen_ws(rng), gen_ws(rng)];
                    format!(
                        "{}{key}{}:{}{}",
                        ws[0],
                        ws[1],
                        ws[2],
                        gen_value(rng, depth + 1)
                    )
                })
                .collect();
            format!("{{{}{}}}", members.join(","), gen_ws(rng))
        }
    }
}

/// A few hundred random documents; about one in ten has a character
/// deleted, to check that we reject exactly what the reference rejects.
fn generated_corpus(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let mut doc = format!(
                "{}{}{}",
                gen_ws(&mut rng),
                gen_value(&mut rng, 0),
                gen_ws(&mut rng)
            );
            if rng.chance(10) {
                let chars: Vec<char> = doc.chars().collect();
                let cut = rng.below(chars.len());
                doc = chars[..cut].iter().chain(&chars[cut + 1..]).collect();
            }
            doc
        })
        .collect()
}

#[test]
fn generated_corpus_matches_python() {
    let docs = generated_corpus(0x5eed_0001, 600);
    let accepted = assert_same_as_reference(JsonStyle::Python, &docs);
    assert!(
        accepted > docs.len() / 2,
        "corpus mostly rejected: {accepted}"
    );
}

#[test]
fn generated_corpus_matches_node() {
    let docs = generated_corpus(0x5eed_0002, 600);
    let accepted = assert_same_as_reference(JsonStyle::Js, &docs);
    assert!(
        accepted > docs.len() / 2,
        "corpus mostly rejected: {accepted}"
    );
}

/// Both references print the shortest round-trip digits; make sure ours
/// agree on many random doubles (the riskiest part of the printer).
#[test]
fn random_doubles_match_python_and_node() {
    let mut rng = Rng(0xd0_0b1e);
    let docs: Vec<String> = (0..50)
        .map(|_| {
            let numbers: Vec<String> = (0..200)
                .map(|_| loop {
                    let v = f64::from_bits(rng.next());
                    if v.is_finite() {
                        break format!("{v:e}");
                    }
                })
                .collect();
            format!("[{}]", numbers.join(","))
        })
        .collect();
    assert_eq!(
        assert_same_as_reference(JsonStyle::Python, &docs),
        docs.len()
    );
    assert_eq!(assert_same_as_reference(JsonStyle::Js, &docs), docs.len());
}

fn py(text: &str) -> String {
    canonicalize(text, JsonStyle::Python).unwrap()
}

fn js(text: &str) -> String {
    canonicalize(text, JsonStyle::Js).unwrap()
}

#[test]
fn python_formatting_examples() {
    assert_eq!(
        py("{\"b\":[1,2.0],\"a\":\"é\"}"),
        "{\"a\": \"\\u00e9\", \"b\": [1, 2.0]}"
    );
    assert_eq!(
        py("123456789012345678901234567890"),
        "123456789012345678901234567890"
    );
    assert_eq!(py("-0"), "0");
    assert_eq!(py("-0.0"), "-0.0");
    assert_eq!(py("1e5"), "100000.0");
    assert_eq!(py("1e16"), "1e+16");
    assert_eq!(py("1e-5"), "1e-05");
    assert_eq!(py("0.1"), "0.1");
    assert_eq!(py("1.5e300"), "1.5e+300");
    assert_eq!(py("1e400"), "Infinity");
    assert_eq!(py("\"😀\""), "\"\\ud83d\\ude00\"");
    assert_eq!(py("\"\\ud800\""), "\"\\ud800\"");
    assert_eq!(py("\"\u{7f}\""), "\"\\u007f\"");
    // Code point order: U+FFFD before U+1F600 (UTF-16 order would flip them).
    assert_eq!(
        py("{\"😀\":1,\"\u{fffd}\":2}"),
        "{\"\\ufffd\": 2, \"\\ud83d\\ude00\": 1}"
    );
    assert_eq!(py("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\": 3, \"b\": 2}");
    assert_eq!(py("NaN"), "NaN");
    // An exact tie between two shortest candidates goes to the even digit.
    assert_eq!(py("866636871482939.25"), "866636871482939.2");
}

#[test]
fn js_formatting_examples() {
    assert_eq!(
        js("{\"b\":1,\"2\":2,\"a\":3,\"1\":4,\"b\":5}"),
        "{\"1\":4,\"2\":2,\"b\":5,\"a\":3}"
    );
    assert_eq!(js("1e21"), "1e+21");
    assert_eq!(js("1.0"), "1");
    assert_eq!(
        js("123456789012345678901234567890"),
        "1.2345678901234568e+29"
    );
    assert_eq!(js("1e-7"), "1e-7");
    assert_eq!(js("866636871482939.25"), "866636871482939.2");
    assert_eq!(js("-0"), "0");
    assert_eq!(js("1e400"), "null");
    assert_eq!(js("\"é\u{2028}\""), "\"é\u{2028}\"");
    assert_eq!(js("\"\\ud800\\u001f\""), "\"\\ud800\\u001f\"");
    assert!(canonicalize("NaN", JsonStyle::Js).is_err());
}

#[test]
fn errors_carry_line_and_column() {
    let err = canonicalize("{\n  \"a\": 1,\n  \"b\": tru\n}", JsonStyle::Python).unwrap_err();
    assert_eq!(
        err,
        CanonicalError::Syntax {
            line: 3,
            column: 8,
            message: "expecting a value".into()
        }
    );
    assert!(err.to_string().contains("line 3, column 8"), "{err}");
    // Columns count characters, not bytes.
    match canonicalize("[\"日本\", x]", JsonStyle::Js).unwrap_err() {
        CanonicalError::Syntax { line, column, .. } => assert_eq!((line, column), (1, 8)),
        other => panic!("unexpected {other:?}"),
    }
    match canonicalize("\"abc", JsonStyle::Js).unwrap_err() {
        CanonicalError::Syntax {
            column, message, ..
        } => {
            assert_eq!(column, 1);
            assert!(message.contains("unterminated"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let long_int = "1".repeat(4301);
    assert!(matches!(
        canonicalize(&long_int, JsonStyle::Python),
        Err(CanonicalError::IntegerTooLong { digits: 4301, .. })
    ));
    assert_eq!(
        canonicalize(&long_int, JsonStyle::Js).unwrap(),
        "Infinity".replace("Infinity", "null")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert_eq!(py(&ok), ok);
    let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert!(matches!(
        canonicalize(&too_deep, JsonStyle::Js),
        Err(CanonicalError::TooDeep { column, .. }) if column == MAX_DEPTH + 1
    ));
    let hostile = "[{\"a\":".repeat(100_000);
    assert!(matches!(
        canonicalize(&hostile, JsonStyle::Python),
        Err(CanonicalError::TooDeep { .. })
    ));
}

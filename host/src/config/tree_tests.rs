//! Tests of `tree`, beside it.

use super::*;

#[test]
fn positions_point_at_keys_and_values() {
    let doc = parse_yaml("task_id: abc\nsteps:\n  - name: one\n    worker: w1\n").unwrap();
    let entries = doc.entries().unwrap();
    assert_eq!(entries[0].key_pos, Pos { line: 1, column: 1 });
    let steps = doc.get("steps").unwrap();
    let Kind::Seq(items) = &steps.kind else {
        panic!("not a list")
    };
    let w = &items[0].entries().unwrap()[1];
    assert_eq!(w.key, "worker");
    assert_eq!(w.key_pos, Pos { line: 4, column: 5 });
    assert_eq!(
        w.value.pos,
        Pos {
            line: 4,
            column: 13
        }
    );
}

#[test]
fn mappings_start_at_their_first_key() {
    let doc =
        parse_yaml("# comment\nsteps:\n  - name: a\n    worker: w\n  - { name: b }\n").unwrap();
    assert_eq!(doc.pos, Pos { line: 2, column: 1 });
    let Kind::Seq(items) = &doc.get("steps").unwrap().kind else {
        panic!("not a list")
    };
    assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
    assert_eq!(
        items[1].pos,
        Pos { line: 5, column: 5 },
        "a flow mapping starts at `{{`"
    );
}

#[test]
fn scalars_resolve_like_yaml_core_schema() {
    let doc = parse_yaml("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: text\n").unwrap();
    let json = doc.to_json();
    assert_eq!(
        json,
        serde_json::json!({"a": 1, "b": 1.5, "c": true, "d": null, "e": "1", "f": "text"})
    );
}

#[test]
fn json_comments_are_blanked_without_moving_positions() {
    let text = "{\n  // a comment with \"quotes\"\n  \"w1\": {\"port\": 1, /* x */ \"url\": \"http://a//b\"}\n}";
    assert_eq!(blank_comments(text).len(), text.len());
    let doc = parse_json_with_comments(text).unwrap();
    let w1 = &doc.entries().unwrap()[0];
    // Quoted scalars are located at their opening quote.
    assert_eq!(w1.key_pos, Pos { line: 3, column: 3 });
    let url = w1.value.get("url").unwrap();
    assert_eq!(
        url.pos,
        Pos {
            line: 3,
            column: 36
        },
        "after `/* */` too"
    );
    assert_eq!(
        w1.value.get("url").unwrap().as_str(),
        Some("http://a//b"),
        "`//` inside strings is not a comment"
    );
}

#[test]
fn json_syntax_errors_are_located() {
    let err = parse_json_with_comments("{\n  \"w1\": {\"port\": 1,,}\n}").unwrap_err();
    assert_eq!(err.pos.line, 2);
    assert!(!err.message.contains("at line"), "{}", err.message);
}

#[test]
fn yaml_syntax_errors_are_located() {
    let err = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
    assert!(err.pos.line >= 1, "{err:?}");
}

#[test]
fn repeated_keys_keep_the_last_value() {
    let doc = parse_yaml("a: 1\na: 2\n").unwrap();
    assert_eq!(doc.to_json(), serde_json::json!({"a": 2}));
}

#[test]
fn syntax_errors_at_the_end_point_into_the_text() {
    // Found by tests/fuzz_inputs.rs: the end of input was reported one line
    // past the last line break (YAML) or at column 0 (empty JSON).
    let yaml = parse_yaml("a: 1\nb: [1,\n").unwrap_err();
    assert!(yaml.pos.line <= 3 && yaml.pos.column >= 1, "{yaml:?}");
    let empty = parse_json_with_comments("").unwrap_err();
    assert_eq!((empty.pos.line, empty.pos.column), (1, 1), "{empty:?}");
    let open = parse_json_with_comments("{\n  \"a\": ").unwrap_err();
    assert_eq!(open.pos.line, 2, "{open:?}");
    assert!(open.pos.column >= 1);
}

#[test]
fn an_empty_value_at_the_end_is_placed_on_its_line() {
    let root = parse_yaml("a: 1\ntimeout:").unwrap();
    let timeout = root.get("timeout").unwrap();
    assert_eq!(timeout.pos.line, 2, "{timeout:?}");
}

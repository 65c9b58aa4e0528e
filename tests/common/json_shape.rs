//! The `--format json` shapes the README's command reference documents (each a fenced `json` block after a
//! `<!-- json: NAME -->` line), checked against a command's real output: the same keys at every level, both
//! ways, and the same kind of value (`null` in either stands for "absent this time": the README says when).

use std::path::Path;

use serde_json::Value;

/// Every documented shape: (name, example).
pub fn documented() -> Vec<(String, Value)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut out = vec![];
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        let Some(name) = l.trim().strip_prefix("<!-- json: ").and_then(|r| r.strip_suffix(" -->")) else { continue };
        assert_eq!(lines.next().map(str::trim), Some("```json"), "README: the line after `{l}` opens a ```json block");
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let v = serde_json::from_str(&body.join("\n")).unwrap_or_else(|e| panic!("README: the json block of {name} does not parse: {e}"));
        out.push((name.to_string(), v));
    }
    out
}

/// Panics unless `stdout` is exactly one JSON document of the shape the README documents as `name`.
pub fn assert_documented(name: &str, stdout: &[u8]) -> Value {
    let doc = documented().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("README documents no json shape {name:?}")).1;
    let text = String::from_utf8_lossy(stdout);
    let real: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: stdout is not one JSON document ({e}):\n{text}"));
    let mut problems = vec![];
    compare(&doc, &real, name, &mut problems);
    assert!(problems.is_empty(), "{name}: the output differs from the README's shape:\n  {}\noutput:\n{text}", problems.join("\n  "));
    real
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn compare(doc: &Value, real: &Value, at: &str, out: &mut Vec<String>) {
    match (doc, real) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(d), Value::Object(r)) => {
            for k in d.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{at}.{k}: documented, missing from the output"));
            }
            for k in r.keys().filter(|k| !d.contains_key(*k)) {
                out.push(format!("{at}.{k}: in the output, not documented"));
            }
            for (k, dv) in d {
                if let Some(rv) = r.get(k) {
                    compare(dv, rv, &format!("{at}.{k}"), out);
                }
            }
        }
        (Value::Array(d), Value::Array(r)) => {
            if let Some(first) = d.first() {
                for (i, rv) in r.iter().enumerate() {
                    compare(first, rv, &format!("{at}[{i}]"), out);
                }
            }
        }
        (d, r) if kind(d) != kind(r) => out.push(format!("{at}: documented as {}, the output has {}", kind(d), kind(r))),
        _ => {}
    }
}

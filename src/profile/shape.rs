//! Structural checks (unknown keys, missing keys, wrong types, enum values, integer bounds) driven by the
//! profile's own JSON Schema, so every such problem is reported at once instead of serde's first one,
//! and the schema editors get is the schema that is enforced.

use serde_json::Value as Json;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::spans::{index, join};
use super::Problem;

pub struct Shape {
    root: Json,
}

impl Shape {
    pub fn new() -> Shape {
        Shape { root: serde_json::to_value(super::schema()).expect("schema serializes") }
    }

    /// Check a parsed document against the schema.
    pub fn check(&self, doc: &Spanned<DeTable<'_>>) -> Vec<Problem> {
        let mut out = Vec::new();
        self.table(&self.root, "", doc.get_ref(), doc.span(), &mut out);
        out
    }

    fn resolve<'a>(&'a self, mut s: &'a Json) -> &'a Json {
        loop {
            if let Some(r) = s.get("$ref").and_then(Json::as_str) {
                let name = r.trim_start_matches("#/$defs/");
                s = &self.root["$defs"][name];
                continue;
            }
            // TOML has no null: `anyOf [X, null]` (an Option) is X.
            if let Some(alts) = s.get("anyOf").and_then(Json::as_array) {
                let real: Vec<&Json> = alts.iter().filter(|a| a.get("type").and_then(Json::as_str) != Some("null")).collect();
                if real.len() == 1 {
                    s = real[0];
                    continue;
                }
            }
            return s;
        }
    }

    fn value(&self, schema: &Json, path: &str, v: &Spanned<DeValue<'_>>, out: &mut Vec<Problem>) {
        let schema = self.resolve(schema);
        if let Some(allowed) = allowed_strings(schema) {
            match v.get_ref() {
                DeValue::String(s) if allowed.iter().any(|a| a == s.as_ref()) => {}
                DeValue::String(s) => out.push(Problem::at(
                    path,
                    v.span(),
                    format!("{s:?} is not allowed (expected one of {})", allowed.join(", ")),
                )),
                other => out.push(Problem::at(path, v.span(), format!("expected a string, found {}", kind(other)))),
            }
            return;
        }
        let want: Vec<&str> = match schema.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).filter(|t| *t != "null").collect(),
            _ => return,
        };
        let got = kind(v.get_ref());
        let matches = want.iter().any(|w| {
            matches!(
                (*w, v.get_ref()),
                ("string", DeValue::String(_))
                    | ("integer", DeValue::Integer(_))
                    | ("number", DeValue::Integer(_) | DeValue::Float(_))
                    | ("boolean", DeValue::Boolean(_))
                    | ("array", DeValue::Array(_))
                    | ("object", DeValue::Table(_))
            )
        });
        if !matches {
            let expected = want.iter().map(|w| describe(w)).collect::<Vec<_>>().join(" or ");
            out.push(Problem::at(path, v.span(), format!("expected {expected}, found {got}")));
            return;
        }
        match v.get_ref() {
            DeValue::Table(t) => self.table(schema, path, t, v.span(), out),
            DeValue::Array(a) => {
                if let Some(items) = schema.get("items") {
                    for (i, e) in a.iter().enumerate() {
                        self.value(items, &index(path, i), e, out);
                    }
                }
            }
            DeValue::Integer(n) => {
                let parsed = i64::from_str_radix(&n.as_str().replace('_', ""), n.radix()).ok();
                let min = schema.get("minimum").and_then(Json::as_i64);
                let max = schema.get("maximum").and_then(Json::as_i64);
                let max = max.or(match schema.get("format").and_then(Json::as_str) {
                    Some("uint32") => Some(u32::MAX as i64),
                    Some("uint16") => Some(u16::MAX as i64),
                    Some("uint8") => Some(u8::MAX as i64),
                    _ => None,
                });
                let ok = parsed.is_some_and(|x| min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m));
                if !ok {
                    let range = match (min, max) {
                        (Some(a), Some(b)) => format!("an integer from {a} to {b}"),
                        (Some(a), None) => format!("an integer of at least {a}"),
                        _ => "an integer".to_string(),
                    };
                    out.push(Problem::at(path, v.span(), format!("{} is out of range (expected {range})", n.as_str())));
                }
            }
            _ => {}
        }
    }

    fn table(&self, schema: &Json, path: &str, t: &DeTable<'_>, span: std::ops::Range<usize>, out: &mut Vec<Problem>) {
        let schema = self.resolve(schema);
        let props = schema.get("properties").and_then(Json::as_object);
        let closed = schema.get("additionalProperties") == Some(&Json::Bool(false));
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let p = join(path, key);
            match props.and_then(|m| m.get(key)) {
                Some(s) => self.value(s, &p, v, out),
                None if closed => {
                    let known: Vec<&str> = props.map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
                    let hint = match close_match(key, &known) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("expected one of {}", known.join(", ")),
                    };
                    out.push(Problem::at(&p, k.span(), format!("unknown key ({hint})")));
                }
                None => {}
            }
        }
        if let Some(req) = schema.get("required").and_then(Json::as_array) {
            for r in req.iter().filter_map(Json::as_str) {
                if !t.iter().any(|(k, _)| k.get_ref().as_ref() == r) {
                    let what = if path.is_empty() { "the profile".to_string() } else { format!("[{path}]") };
                    let mut p = Problem::at(&join(path, r), span.clone(), format!("missing: {what} needs `{r}`"));
                    p.missing = true;
                    out.push(p);
                }
            }
        }
    }
}

impl Shape {
    /// The document as a TOML value with the `drop` paths removed and every missing required key filled
    /// with a placeholder, so the remaining rules can still run; returns the placeholder paths too.
    pub fn repaired(&self, doc: &Spanned<DeTable<'_>>, drop: &[String]) -> (toml::Value, Vec<String>) {
        let mut filled = Vec::new();
        let v = self.repair_table(&self.root, "", doc.get_ref(), drop, &mut filled);
        (v, filled)
    }

    fn repair(&self, schema: &Json, path: &str, v: &DeValue<'_>, drop: &[String], filled: &mut Vec<String>) -> Option<toml::Value> {
        if drop.iter().any(|d| d == path) {
            return None;
        }
        let schema = self.resolve(schema);
        Some(match v {
            DeValue::String(s) => toml::Value::String(s.to_string()),
            DeValue::Integer(n) => toml::Value::Integer(i64::from_str_radix(&n.as_str().replace('_', ""), n.radix()).ok()?),
            DeValue::Float(f) => toml::Value::Float(f.as_str().replace('_', "").parse().unwrap_or(0.0)),
            DeValue::Boolean(b) => toml::Value::Boolean(*b),
            DeValue::Datetime(d) => toml::Value::Datetime(*d),
            DeValue::Array(a) => {
                let items = schema.get("items").cloned().unwrap_or(Json::Null);
                toml::Value::Array(
                    a.iter().enumerate().filter_map(|(i, e)| self.repair(&items, &index(path, i), e.get_ref(), drop, filled)).collect(),
                )
            }
            DeValue::Table(t) => self.repair_table(schema, path, t, drop, filled),
        })
    }

    fn repair_table(&self, schema: &Json, path: &str, t: &DeTable<'_>, drop: &[String], filled: &mut Vec<String>) -> toml::Value {
        let schema = self.resolve(schema);
        let props = schema.get("properties").and_then(Json::as_object);
        let mut out = toml::Table::new();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let Some(s) = props.and_then(|m| m.get(key)) else { continue };
            if let Some(x) = self.repair(s, &join(path, key), v.get_ref(), drop, filled) {
                out.insert(key.to_string(), x);
            }
        }
        if let Some(req) = schema.get("required").and_then(Json::as_array) {
            for r in req.iter().filter_map(Json::as_str) {
                if !out.contains_key(r) {
                    let p = join(path, r);
                    let s = props.and_then(|m| m.get(r)).cloned().unwrap_or(Json::Null);
                    out.insert(r.to_string(), self.placeholder(&s));
                    filled.push(p);
                }
            }
        }
        toml::Value::Table(out)
    }

    /// The simplest value a schema accepts (strings empty, tables with their required keys).
    fn placeholder(&self, schema: &Json) -> toml::Value {
        let schema = self.resolve(schema);
        if let Some(a) = allowed_strings(schema) {
            return toml::Value::String(a.into_iter().next().unwrap_or_default());
        }
        let t = match schema.get("type") {
            Some(Json::String(t)) => t.as_str(),
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).find(|t| *t != "null").unwrap_or("string"),
            _ => "string",
        };
        match t {
            "integer" | "number" => toml::Value::Integer(schema.get("minimum").and_then(Json::as_i64).unwrap_or(0)),
            "boolean" => toml::Value::Boolean(false),
            "array" => toml::Value::Array(vec![]),
            "object" => {
                let mut out = toml::Table::new();
                let props = schema.get("properties").and_then(Json::as_object);
                for r in schema.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str) {
                    let s = props.and_then(|m| m.get(r)).cloned().unwrap_or(Json::Null);
                    out.insert(r.to_string(), self.placeholder(&s));
                }
                toml::Value::Table(out)
            }
            _ => toml::Value::String(String::new()),
        }
    }
}

fn allowed_strings(schema: &Json) -> Option<Vec<String>> {
    let alts: Vec<&Json> = match schema.get("oneOf").and_then(Json::as_array) {
        Some(a) => a.iter().collect(),
        None if schema.get("enum").is_some() => vec![schema],
        None => return None,
    };
    let mut out = Vec::new();
    for a in alts {
        if let Some(e) = a.get("enum").and_then(Json::as_array) {
            out.extend(e.iter().filter_map(Json::as_str).map(String::from));
        } else if let Some(c) = a.get("const").and_then(Json::as_str) {
            out.push(c.to_string());
        } else {
            return None;
        }
    }
    Some(out)
}

fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn describe(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        "array" => "an array",
        "object" => "a table",
        _ => "a value",
    }
}

/// The known key a misspelt one most likely meant (edit distance at most 2).
fn close_match<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known.iter().map(|k| (distance(key, k), *k)).filter(|(d, _)| *d <= 2).min().map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

//! Where each key of a profile sits in its file: key paths mapped to byte spans, and byte offsets
//! turned into line and column, so every problem can be reported as `FILE:LINE:COL: key.path: ...`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Spans of every key and value in a document, by key path (`zone.hosts[0].password`).
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    /// path -> (span of the key, span of the value); tables defined by a header have the header as value span.
    entries: BTreeMap<String, (Range<usize>, Range<usize>)>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    text: String,
}

/// A line and column, both counted from 1; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The parent of a key path: `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> ``.
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

impl SpanIndex {
    pub fn new(text: &str, root: &Spanned<DeTable<'_>>) -> SpanIndex {
        let mut idx = SpanIndex {
            entries: BTreeMap::new(),
            line_starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect(),
            text: text.to_string(),
        };
        idx.add_table("", root.get_ref());
        idx
    }

    fn add_table(&mut self, parent: &str, table: &DeTable<'_>) {
        for (k, v) in table.iter() {
            let path = join(parent, k.get_ref());
            self.add_value(path, k.span(), v);
        }
    }

    fn add_value(&mut self, path: String, key_span: Range<usize>, v: &Spanned<DeValue<'_>>) {
        self.entries.insert(path.clone(), (key_span, v.span()));
        match v.get_ref() {
            DeValue::Table(t) => self.add_table(&path, t),
            DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    self.add_value(index(&path, i), e.span(), e);
                }
            }
            _ => {}
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// Span of the value at `path`, or of the closest enclosing table that exists (for a missing key).
    pub fn value_span(&self, path: &str) -> Range<usize> {
        let mut p = path;
        loop {
            if let Some((_, v)) = self.entries.get(p) {
                return v.clone();
            }
            match parent(p) {
                Some(up) => p = up,
                None => return 0..0,
            }
        }
    }

    /// Span of the key at `path` (falls back like `value_span`).
    pub fn key_span(&self, path: &str) -> Range<usize> {
        match self.entries.get(path) {
            Some((k, _)) => k.clone(),
            None => self.value_span(path),
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.text.get(start..offset).map(|s| s.chars().count()).unwrap_or(offset - start) + 1;
        Position { line, col }
    }

    /// The key path a syntax error at `offset` belongs to: the key assigned on that line (innermost first),
    /// else what the line's text says (a table header, or a key under the last header above it).
    pub fn path_at(&self, offset: usize) -> String {
        let line = self.position(offset).line;
        let best = self
            .entries
            .iter()
            .filter(|(_, (k, _))| !k.is_empty() && self.position(k.start).line == line)
            .filter(|(_, (k, v))| k.start <= offset && offset <= v.end.max(k.end))
            .max_by_key(|(p, (k, _))| (k.start, p.len()));
        if let Some((p, _)) = best {
            return p.clone();
        }
        self.path_by_text(offset)
    }

    fn path_by_text(&self, offset: usize) -> String {
        let pos = self.position(offset);
        let line_text = |n: usize| -> &str {
            let s = self.line_starts[n - 1];
            let e = self.line_starts.get(n).copied().unwrap_or(self.text.len());
            &self.text[s..e]
        };
        let header_of = |l: &str| l.trim_start_matches('[').split(']').next().unwrap_or("").trim().to_string();
        let here = line_text(pos.line).trim();
        if here.starts_with('[') {
            return header_of(here);
        }
        let mut header = String::new();
        for n in (1..pos.line).rev() {
            let l = line_text(n).trim();
            if l.starts_with('[') {
                header = header_of(l);
                break;
            }
        }
        let l = line_text(pos.line).trim();
        let key = match l.split_once('=') {
            Some((k, _)) if !k.trim().is_empty() && !k.contains('[') => k.trim().trim_matches(['"', '\'']).to_string(),
            _ => String::new(),
        };
        match (header.is_empty(), key.is_empty()) {
            (true, true) => "(top level)".to_string(),
            (false, true) => header,
            (true, false) => key,
            (false, false) => format!("{header}.{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_walk_up_paths() {
        assert_eq!(parent("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn positions_count_characters() {
        let text = "a = 1\n[t]\nk = \"é\" # x\nz = 2\n";
        let (doc, errs) = DeTable::parse_recoverable(text);
        assert!(errs.is_empty());
        let idx = SpanIndex::new(text, &doc);
        assert_eq!(idx.position(idx.value_span("t.k").start), Position { line: 3, col: 5 });
        assert_eq!(idx.position(idx.key_span("t.z").start), Position { line: 4, col: 1 });
        // A missing key is reported at its table's header.
        assert_eq!(idx.position(idx.value_span("t.missing").start), Position { line: 2, col: 1 });
        assert_eq!(idx.position(idx.value_span("nothing.here").start), Position { line: 1, col: 1 });
    }
}

//! The layering written in src/lib.rs holds: every `crate::NAME` path in a top-level module's source
//! (outside its unit tests) names a module of a lower layer, so no two top-level modules import each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `module -> layer` from the `//! - layer N: `a`, `b`` lines of lib.rs.
fn layers() -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! - layer ") else { continue };
        let (n, mods) = rest.split_once(':').expect("`layer N: ...`");
        let n: usize = n.trim().parse().expect("a layer number");
        for m in mods.split(',') {
            out.insert(m.trim().trim_matches('`').to_string(), n);
        }
    }
    out
}

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

/// Top-level module names a source text refers to: `crate::NAME` and the names inside `use crate::{...}`.
fn referenced(text: &str, known: &BTreeMap<String, usize>) -> Vec<String> {
    // Unit tests may reach anywhere.
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let body = &group[..group.find("};").unwrap_or(group.len())];
            for part in body.split([',', '{', '}', '\n', ' ']) {
                let head = part.split("::").next().unwrap_or("").trim();
                names.push(head.to_string());
            }
        } else {
            names.push(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
        }
    }
    names.retain(|n| known.contains_key(n));
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_top_level_module_is_in_a_layer() {
    let layers = layers();
    assert!(layers.len() > 10, "lib.rs lists the layers");
    for e in std::fs::read_dir(src()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        assert!(layers.contains_key(&name), "src/{name} is in no layer of lib.rs");
    }
}

#[test]
fn modules_use_only_lower_layers() {
    let layers = layers();
    let mut wrong = Vec::new();
    for (module, layer) in &layers {
        let mut files = Vec::new();
        let dir = src().join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src().join(format!("{module}.rs")));
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for other in referenced(&text, &layers) {
                if other != *module && layers[&other] >= *layer {
                    wrong.push(format!("{} (layer {layer}) uses {other} (layer {})", f.display(), layers[&other]));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering of src/lib.rs:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    let layers = layers();
    assert_eq!(referenced("use crate::cli::exit;\nuse crate::{log, run::Cmd};", &layers), ["cli", "log", "run"]);
}

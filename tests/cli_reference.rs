//! The README's command reference against the real command line: every subcommand's `--help` fits 80
//! columns, every flag the reference documents exists and every flag that exists is documented, and every
//! `--format json` shape it documents is checked against real output by some test (the checks live beside
//! the fixtures that can run each command: reset.rs, uninstall.rs, template_fetch.rs, zone_deploy.rs, here).

#[path = "common/json_shape.rs"]
mod json_shape;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use clap::CommandFactory;

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

/// Every visible subcommand as its words (`["template", "fetch"]`), with its own (not global) long flags.
fn subcommands() -> BTreeMap<Vec<String>, BTreeSet<String>> {
    fn walk(c: &clap::Command, path: Vec<String>, out: &mut BTreeMap<Vec<String>, BTreeSet<String>>) {
        let subs: Vec<&clap::Command> = c.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help").collect();
        if subs.is_empty() && !path.is_empty() {
            let flags = c
                .get_arguments()
                .filter(|a| !a.is_hide_set() && !a.is_global_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .filter(|l| l != "--help" && l != "--version")
                .collect();
            out.insert(path.clone(), flags);
        }
        for s in subs {
            let mut p = path.clone();
            p.push(s.get_name().to_string());
            walk(s, p, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&cloudstrap::cli::Cli::command(), vec![], &mut out);
    out
}

fn global_flags() -> BTreeSet<String> {
    cloudstrap::cli::Cli::command().get_arguments().filter(|a| a.is_global_set() && !a.is_hide_set()).filter_map(|a| a.get_long().map(|l| format!("--{l}"))).collect()
}

/// The reference's sections: heading (`cloudstrap template fetch`, `Global flags`) → its synopsis block.
fn reference() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("\n## Command reference").expect("README has a `## Command reference` section");
    let body = &readme[start + 1..];
    let body = &body[..body[3..].find("\n## ").map_or(body.len(), |i| i + 3)];
    let mut out = BTreeMap::new();
    for part in body.split("\n### ").skip(1) {
        let heading = part.lines().next().unwrap().trim().trim_matches('`').to_string();
        let block = part.split("```").nth(1).unwrap_or_else(|| panic!("README reference: `{heading}` has no synopsis block"));
        out.insert(heading, block.to_string());
    }
    out
}

fn flags_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            out.insert(format!("--{name}"));
        }
    }
    out
}

#[test]
fn every_help_fits_80_columns() {
    let mut paths: Vec<Vec<String>> = vec![vec![]];
    paths.extend(subcommands().into_keys());
    // The parents too (`template`, `zone`, `profile`).
    let parents: BTreeSet<Vec<String>> = paths.iter().filter(|p| p.len() > 1).map(|p| p[..1].to_vec()).collect();
    paths.extend(parents);
    let mut wide = vec![];
    for p in &paths {
        let out = Command::new(BIN).args(p).arg("--help").stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{p:?} --help");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Usage: cloudstrap"), "{p:?} --help printed no usage:\n{text}");
        for l in text.lines().filter(|l| l.chars().count() > 80) {
            wide.push(format!("cloudstrap {} --help: {} columns: {l}", p.join(" "), l.chars().count()));
        }
    }
    assert!(wide.is_empty(), "help lines wider than 80 columns:\n{}", wide.join("\n"));
}

#[test]
fn the_reference_documents_every_flag_and_only_flags_that_exist() {
    let reference = reference();
    let mut problems = vec![];
    let globals = global_flags();
    match reference.get("Global flags") {
        Some(block) => {
            let documented = flags_in(block);
            problems.extend(globals.difference(&documented).map(|f| format!("global flag {f} is not documented")));
            problems.extend(documented.difference(&globals).map(|f| format!("`Global flags` documents {f}, which is not a global flag")));
        }
        None => problems.push("the reference has no `### Global flags`".into()),
    }
    let subs = subcommands();
    for (path, flags) in &subs {
        let heading = format!("cloudstrap {}", path.join(" "));
        let Some(block) = reference.get(&heading) else {
            problems.push(format!("`{heading}` has no section in the reference"));
            continue;
        };
        // Global flags may be shown in a synopsis; anything else must be the subcommand's own.
        let documented: BTreeSet<String> = flags_in(block).difference(&globals).cloned().collect();
        problems.extend(flags.difference(&documented).map(|f| format!("{heading} {f} is not documented")));
        problems.extend(documented.difference(flags).map(|f| format!("the reference documents {heading} {f}, which does not exist")));
    }
    for heading in reference.keys().filter(|h| *h != "Global flags") {
        let words: Vec<String> = heading.strip_prefix("cloudstrap ").unwrap_or(heading).split(' ').map(str::to_string).collect();
        if !subs.contains_key(&words) {
            problems.push(format!("the reference has a section `{heading}`, which is not a subcommand"));
        }
    }
    assert!(problems.is_empty(), "README command reference vs the command line:\n  {}", problems.join("\n  "));
}

#[test]
fn every_documented_json_shape_is_checked_against_real_output_by_a_test() {
    let documented: BTreeSet<String> = json_shape::documented().into_iter().map(|(n, _)| n).collect();
    assert!(documented.len() >= 8, "too few documented shapes: {documented:?}");
    let mut checked = BTreeSet::new();
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")).unwrap().flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
        for (i, _) in text.match_indices("assert_documented(\"") {
            let rest = &text[i + "assert_documented(\"".len()..];
            checked.insert(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    let unchecked: Vec<_> = documented.difference(&checked).collect();
    let undocumented: Vec<_> = checked.difference(&documented).collect();
    assert!(unchecked.is_empty() && undocumented.is_empty(), "documented but checked by no test: {unchecked:?}; checked but not documented: {undocumented:?}");
}

#[test]
fn preflight_and_plan_print_their_documented_shapes() {
    let out = Command::new(BIN).args(["preflight", "--format", "json"]).stdin(Stdio::null()).output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    json_shape::assert_documented("preflight", &out.stdout);

    let root = tempfile::tempdir().unwrap();
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/all-in-one.toml");
    let dir = tempfile::tempdir().unwrap();
    // The shipped profile with its secrets inline in a private copy (no environment is set here).
    let text = std::fs::read_to_string(&profile).unwrap();
    let copy = dir.path().join("p.toml");
    // Its platform named, as no host facts are read from an empty root.
    let text = inline_secrets(&text).replacen("[host]\n", "[host]\nplatform = \"debian-12\"\n", 1);
    std::fs::write(&copy, text).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let plan = Command::new(BIN).arg("--root").arg(root.path()).args(["plan", "--format", "json", "--profile"]).arg(&copy).stdin(Stdio::null()).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stderr));
    let v = json_shape::assert_documented("plan", &plan.stdout);
    assert!(v["actions"].as_array().is_some_and(|a| a.len() > 20), "{v}");
    let dry = Command::new(BIN).arg("--root").arg(root.path()).args(["install", "--dry-run", "--format", "json", "--profile"]).arg(&copy).stdin(Stdio::null()).output().unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", String::from_utf8_lossy(&dry.stderr));
    json_shape::assert_documented("install-dry-run", &dry.stdout);
}

/// `*-env = "VAR"` secrets of a shipped profile replaced by inline values.
fn inline_secrets(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once("-env = ") {
            Some((key, _)) if !l.trim_start().starts_with('#') => format!("{key} = \"Secret-{}\"\n", key.trim().len()),
            _ => format!("{l}\n"),
        })
        .collect()
}

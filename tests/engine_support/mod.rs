//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use cloudstrap::action::progress::Lines;

/// Panics with a clear message when a command the test needs is missing (CI installs it).
pub fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(found, "this test needs `{program}` (Debian package {package}; listed in scripts/test-env/packages/engine.list)");
}

pub fn require_mariadb() {
    require("mysql", "mariadb-client");
    let ok = Command::new("mysqladmin").arg("ping").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "this test needs the MariaDB server running (start it with `bash scripts/test-env/services/mariadb.sh`)");
}

/// Run SQL as root over the local socket; panics on failure.
pub fn mysql_root(sql: &str) -> String {
    let out = Command::new("mysql").args(["--batch", "--skip-column-names", "-e", sql]).output().expect("mysql runs");
    assert!(out.status.success(), "mysql -e {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A progress sink whose text the test can read.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn lines(&self) -> Lines {
        Lines::new(Box::new(self.clone()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every file below `dir` (relative path -> bytes), for comparing trees.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(base: &Path, d: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(base, &p, out);
            } else if ft.is_file() {
                out.insert(p.strip_prefix(base).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            } else if ft.is_symlink() {
                out.insert(p.strip_prefix(base).unwrap().to_path_buf(), std::fs::read_link(&p).unwrap().display().to_string().into_bytes());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// A receipt with its timestamps replaced, so two runs can be compared byte for byte.
pub fn normalise_receipt(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("\"at\":") || t.starts_with("\"started\":") || t.starts_with("\"finished\":") {
            let key = t.split(':').next().unwrap();
            let comma = if t.ends_with(',') { "," } else { "" };
            out.push_str(&format!("{}{key}: \"TIME\"{comma}\n", &line[..line.len() - t.len()]));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

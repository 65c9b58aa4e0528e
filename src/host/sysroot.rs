//! Every host fact is read through a `Sysroot`: `/` on a live system, a fixture tree in tests.

use std::io;
use std::path::{Path, PathBuf};

/// Where a command works: files are written and read as "/" under `root`; host facts are read under
/// `sysroot` (default: `root`). The command line's `--root` / `--sysroot`, as a plain value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub root: PathBuf,
    pub sysroot: Option<PathBuf>,
}

impl Site {
    /// Files under `root`, facts read from the same tree.
    pub fn at(root: impl Into<PathBuf>) -> Site {
        Site { root: root.into(), sysroot: None }
    }

    /// Where host facts are read from.
    pub fn sysroot(&self) -> Sysroot {
        Sysroot::new(self.sysroot.clone().unwrap_or_else(|| self.root.clone()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysroot {
    root: PathBuf,
}

impl Sysroot {
    pub fn new(root: impl Into<PathBuf>) -> Sysroot {
        Sysroot { root: root.into() }
    }

    pub fn live() -> Sysroot {
        Sysroot::new("/")
    }

    /// True when this is the running system's own root (then live probes such as the resolver may be used).
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of an absolute in-system path (`/etc/hosts`) below this root.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let rel = abs.as_ref().strip_prefix("/").unwrap_or(abs.as_ref());
        self.root.join(rel)
    }

    pub fn read(&self, abs: impl AsRef<Path>) -> io::Result<String> {
        std::fs::read_to_string(self.path(abs))
    }

    /// Read a file that may be absent: Ok(None) when it does not exist.
    pub fn read_opt(&self, abs: impl AsRef<Path>) -> io::Result<Option<String>> {
        match self.read(abs) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn exists(&self, abs: impl AsRef<Path>) -> bool {
        self.path(abs).exists()
    }

    /// Entries of a directory (full sysroot paths), sorted; empty when it does not exist.
    pub fn list(&self, abs: impl AsRef<Path>) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.path(abs))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// A throw-away sysroot holding `files` (absolute in-system path, content), for unit tests of probes.
#[cfg(test)]
pub(crate) fn fixture_tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Sysroot) {
    let d = tempfile::tempdir().unwrap();
    for (p, t) in files {
        let path = d.path().join(p.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    }
    let s = Sysroot::new(d.path());
    (d, s)
}

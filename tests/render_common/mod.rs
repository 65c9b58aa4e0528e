//! Shared by the render test suites: fixture profiles, stock roots, rendered trees.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use cloudstrap::host::Sysroot;
use cloudstrap::platform::{Platform, PlatformId};
use cloudstrap::profile::Profile;
use cloudstrap::render::{self, FileKind, Placement, RenderedFile};

pub const ROLE_FIXTURES: [&str; 5] = ["management", "database", "nfs", "kvm-agent", "all-in-one"];

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render").join(name)
}

pub fn load_fixture(name: &str) -> Profile {
    let path = fixture(name);
    cloudstrap::profile::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A profile shipped in profiles/ (engineer profile's), validated.
pub fn load_shipped(name: &str) -> Profile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles").join(name);
    cloudstrap::profile::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A role fixture made to fit the platform: its newest CloudStack line (3.0.2 on el6).
pub fn role_profile(role: &str, pid: PlatformId) -> Profile {
    let mut p = load_fixture(&format!("role-{role}.toml"));
    p.cloudstack.release = Platform::get(pid).releases.last().unwrap().to_string();
    p
}

/// Stock-like files of the platform, as a fresh host has them.
pub fn stock_root(pid: PlatformId) -> Sysroot {
    let dir = match pid {
        PlatformId::El6 => "el6",
        PlatformId::El8 | PlatformId::El9 => "el",
        PlatformId::Ubuntu2204 | PlatformId::Ubuntu2404 => "ubuntu",
        PlatformId::Debian12 => "debian",
    };
    Sysroot::new(fixture("roots").join(dir))
}

pub fn kind_name(k: &FileKind) -> String {
    match k {
        FileKind::Whole => "whole".into(),
        FileKind::Keys => "keys".into(),
        FileKind::ManagedBlock(Placement::Top) => "block@top".into(),
        FileKind::ManagedBlock(Placement::End) => "block@end".into(),
        FileKind::ManagedBlock(Placement::IptablesChain(c)) => format!("block@{c}"),
    }
}

pub fn render(profile: &Profile, pid: PlatformId) -> Vec<RenderedFile> {
    render::render_all(profile, pid).unwrap_or_else(|e| panic!("{pid}: {e}"))
}

/// Final content of every file (merged with the stock root) by relative path, plus a MANIFEST
/// listing mode, kind, role and purpose of each.
pub fn tree(profile: &Profile, pid: PlatformId) -> BTreeMap<String, String> {
    let files = render(profile, pid);
    let changes = render::file_changes(&files, &stock_root(pid)).unwrap();
    let mut out = BTreeMap::new();
    let mut manifest = String::new();
    for (f, c) in files.iter().zip(changes) {
        let rel = f.path.strip_prefix("/").unwrap().to_string_lossy().to_string();
        manifest.push_str(&format!(
            "{:04o} {:<10} {:<10} {:<9} /{rel}  # {}\n",
            f.mode,
            kind_name(&f.kind),
            f.role.map_or("host", |r| r.as_str()),
            format!("{:?}", c.status).to_lowercase(),
            f.what
        ));
        assert!(out.insert(rel.clone(), c.new).is_none(), "{pid}: {rel} rendered twice");
    }
    out.insert("MANIFEST".into(), manifest);
    out
}

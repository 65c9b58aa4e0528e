//! Golden rendered trees: one per platform and role (fixtures tests/fixtures/render/role-*.toml) and the seed
//! article's two hosts (el6, CloudStack 3.0.2), each merged with stock-like files of that platform
//! (tests/fixtures/render/roots/) and compared exactly with tests/golden/<platform>-<name>/.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test --test render_golden`, then review the diff.

mod render_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cloudstrap::platform::PlatformId;
use render_common::*;

fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

fn check_golden(name: &str, tree: &BTreeMap<String, String>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, content) in tree {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        return;
    }
    assert!(dir.is_dir(), "missing golden tree {} (run with UPDATE_GOLDEN=1 and review)", dir.display());
    let golden = read_tree(&dir);
    let got: Vec<&String> = tree.keys().collect();
    let want: Vec<&String> = golden.keys().collect();
    assert_eq!(got, want, "{name}: the set of rendered files differs from the golden tree");
    for (rel, content) in tree {
        pretty_assertions::assert_eq!(content, &golden[rel], "{name}: {rel} differs from the golden file");
    }
}

#[test]
fn golden_tree_per_platform_and_role() {
    for pid in PlatformId::ALL {
        for role in ROLE_FIXTURES {
            let profile = role_profile(role, pid);
            check_golden(&format!("{pid}-{role}"), &tree(&profile, pid));
        }
    }
}

#[test]
fn golden_trees_of_the_shipped_profiles() {
    // The article's hosts on their platform; the 4.22 profiles each on one platform they fit.
    let cases = [
        ("squirrel-server", PlatformId::El6),
        ("squirrel-agent", PlatformId::El6),
        ("all-in-one", PlatformId::Debian12),
        ("management", PlatformId::El9),
        ("kvm-agent", PlatformId::Ubuntu2404),
        ("nfs-storage", PlatformId::El8),
    ];
    for (name, pid) in cases {
        let profile = load_shipped(&format!("{name}.toml"));
        check_golden(&format!("profiles/{pid}-{name}"), &tree(&profile, pid));
    }
}

#[test]
fn golden_trees_of_the_article_hosts() {
    for name in ["squirrel-server", "squirrel-agent"] {
        let profile = load_fixture(&format!("{name}.toml"));
        check_golden(&format!("el6-{name}"), &tree(&profile, PlatformId::El6));
    }
}

#[test]
fn every_file_of_ours_says_it_is_managed() {
    use cloudstrap::render::{merge, FileKind, BEGIN, KEY_MARK};
    for pid in PlatformId::ALL {
        for role in ROLE_FIXTURES {
            for f in render(&role_profile(role, pid), pid) {
                let head: String = f.content.lines().take(2).collect::<Vec<_>>().join("\n");
                match f.kind {
                    FileKind::Whole => {
                        assert!(head.contains("managed by cloudstrap"), "{pid} {}: no header:\n{head}", f.path.display())
                    }
                    FileKind::ManagedBlock(_) => {
                        assert!(merge(None, &f).contains(BEGIN), "{pid} {}", f.path.display())
                    }
                    FileKind::Keys => assert!(merge(None, &f).contains(KEY_MARK), "{pid} {}", f.path.display()),
                }
            }
        }
    }
}

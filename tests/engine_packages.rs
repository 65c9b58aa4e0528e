//! Package and repository actions against a real Debian 12 root (debootstrap, cached between runs),
//! through `chroot ROOT apt-get`, in a copy-on-write overlay so the cached root stays clean.

mod engine_support;

use std::path::PathBuf;

use cloudstrap::action::packages::{missing, InstallPackages, PackageManager};
use cloudstrap::action::repo::{ConfigureRepo, RepoKey};
use cloudstrap::action::{Action, Ctx, Record};
use cloudstrap::run::Redactor;
use engine_support::*;

#[test]
fn apt_install_detect_and_revert_in_a_debian_root() {
    let base = prepared_root();
    let ov = Overlay::new(&base);
    let ctx = Ctx::for_root(&ov.root, Redactor::default());
    assert!(!ctx.live && ctx.chroot.is_some());

    let act = InstallPackages { manager: PackageManager::Apt, packages: vec!["hello".into(), "bash".into()], purpose: "test".into() };
    assert!(!act.is_done(&ctx).unwrap());
    assert_eq!(missing(&ctx, PackageManager::Apt, &act.packages).unwrap(), vec!["hello".to_string()]);
    let mut rec = Record::default();
    act.prepare(&ctx, &mut rec).unwrap();
    assert_eq!(rec.added, vec!["hello".to_string()], "only what was missing is recorded, so revert leaves bash alone");
    act.execute(&ctx, &mut rec).unwrap();
    act.verify(&ctx).unwrap();
    assert!(act.is_done(&ctx).unwrap());
    assert!(ov.upper.join("usr/bin/hello").exists(), "the package landed in the root, not on this machine");
    let out = std::process::Command::new("chroot").arg(&ov.root).arg("hello").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Hello, world!"));

    act.revert(&ctx, &rec).unwrap();
    assert!(!act.is_done(&ctx).unwrap());
    assert!(missing(&ctx, PackageManager::Apt, &["bash".to_string()]).unwrap().is_empty(), "bash stays");
}

#[test]
fn repository_key_and_refresh_in_a_debian_root() {
    let base = prepared_root();
    let ov = Overlay::new(&base);
    std::fs::copy("/etc/resolv.conf", ov.root.join("etc/resolv.conf")).unwrap();
    let ctx = Ctx::for_root(&ov.root, Redactor::default());
    let key_src = "/usr/share/keyrings/debian-archive-keyring.gpg";
    assert!(std::path::Path::new(key_src).exists(), "this test needs {key_src} (debian-archive-keyring)");
    let repo = ConfigureRepo {
        name: "debian".into(),
        manager: PackageManager::Apt,
        repo_file: PathBuf::from("/etc/apt/sources.list"),
        key: Some(RepoKey { source: key_src.into(), dest: "/etc/apt/keyrings/test-debian.gpg".into() }),
    };
    assert!(!repo.is_done(&ctx).unwrap());
    let mut rec = Record::default();
    repo.prepare(&ctx, &mut rec).unwrap();
    repo.execute(&ctx, &mut rec).unwrap();
    assert!(repo.is_done(&ctx).unwrap());
    assert_eq!(std::fs::read(ov.root.join("etc/apt/keyrings/test-debian.gpg")).unwrap(), std::fs::read(key_src).unwrap());
    // Editing the repository file makes the refresh due again.
    let sources = ov.root.join("etc/apt/sources.list");
    let mut text = std::fs::read_to_string(&sources).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&sources, text).unwrap();
    assert!(!repo.is_done(&ctx).unwrap());
    repo.revert(&ctx, &rec).unwrap();
    assert!(!ov.root.join("etc/apt/keyrings/test-debian.gpg").exists());
}

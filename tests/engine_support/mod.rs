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

/// Where Debian roots built for tests are kept between runs.
pub const CACHE: &str = "/var/cache/cloudstrap-test";

fn lock_cache() -> nix::fcntl::Flock<std::fs::File> {
    std::fs::create_dir_all(CACHE).unwrap();
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(Path::new(CACHE).join(".lock")).unwrap();
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap()
}

fn sh(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// A Debian 12 minbase root (`debootstrap --variant=minbase bookworm`), built once and cached under
/// /var/cache/cloudstrap-test/bookworm-minbase; prints whether it was reused.
pub fn debian_root() -> PathBuf {
    require("debootstrap", "debootstrap");
    let _lock = lock_cache();
    let base = Path::new(CACHE).join("bookworm-minbase");
    if base.join(".cloudstrap-complete").exists() {
        eprintln!("debian root: reusing the cached debootstrap root {}", base.display());
        return base;
    }
    let partial = Path::new(CACHE).join("bookworm-minbase.partial");
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(&base);
    eprintln!("debian root: building {} with debootstrap (first run only; about half a minute plus download)", base.display());
    sh(
        Command::new("debootstrap").args(["--variant=minbase", "bookworm"]).arg(&partial).arg("http://deb.debian.org/debian"),
        "debootstrap",
    );
    std::fs::rename(&partial, &base).unwrap();
    std::fs::write(base.join(".cloudstrap-complete"), "").unwrap();
    base
}

/// Prepare the cached root once for a package set: `install` goes into the base itself, `download` is
/// fetched into its apt archive (so installs in overlays need no network). Prints what it reused.
pub fn prepare_debian_root(install: &[&str], download: &[String]) -> PathBuf {
    let base = debian_root();
    let _lock = lock_cache();
    let mut all: Vec<String> = install.iter().map(|s| s.to_string()).collect();
    all.push("|".into());
    all.extend(download.iter().cloned());
    let marker = base.join(format!(".cloudstrap-prepared-{}", cloudstrap::action::digest(all.join(" ").as_bytes())));
    if marker.exists() {
        eprintln!("debian root: reusing prepared packages ({})", all.join(" "));
        return base;
    }
    eprintln!("debian root: preparing {}", all.join(" "));
    std::fs::copy("/etc/resolv.conf", base.join("etc/resolv.conf")).ok();
    let apt = |args: &[&str], pkgs: &[String]| {
        let mut c = Command::new("chroot");
        c.arg(&base).arg("apt-get").args(args).args(pkgs).env("DEBIAN_FRONTEND", "noninteractive");
        sh(&mut c, &format!("chroot apt-get {args:?} {pkgs:?}"));
    };
    apt(&["update", "-q"], &[]);
    if !install.is_empty() {
        apt(&["install", "-y", "-q", "--no-install-recommends"], &install.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    if !download.is_empty() {
        apt(&["install", "-y", "-q", "--no-install-recommends", "--download-only"], download);
    }
    std::fs::write(&marker, "").unwrap();
    base
}

/// A throwaway copy-on-write root: an overlay mount over `base`; what changed is in `upper`.
pub struct Overlay {
    pub root: PathBuf,
    pub upper: PathBuf,
    _dir: tempfile::TempDir,
}

impl Overlay {
    pub fn new(base: &Path) -> Overlay {
        // tmpfs when there is one: the upper layer takes dpkg's many fsyncs cheaply.
        let place = if Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/var/tmp" };
        let dir = tempfile::Builder::new().prefix("engine-overlay-").tempdir_in(place).unwrap();
        let (upper, work, root) = (dir.path().join("upper"), dir.path().join("work"), dir.path().join("root"));
        for d in [&upper, &work, &root] {
            std::fs::create_dir_all(d).unwrap();
        }
        let opts = format!("lowerdir={},upperdir={},workdir={}", base.display(), upper.display(), work.display());
        sh(Command::new("mount").args(["-t", "overlay", "overlay", "-o", &opts]).arg(&root), "mount overlay (needs root)");
        Overlay { root, upper, _dir: dir }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

/// The engine tests' profile for the resume test.
pub fn nfs_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/nfs-debian12.toml")
}

/// The cached Debian root prepared for every engine test at once (so no overlay is mounted while the
/// base changes): systemd in the base (systemctl enables units in a root offline), and the packages of
/// the NFS plan plus `hello` downloaded.
pub fn prepared_root() -> PathBuf {
    let site = cloudstrap::host::Site::at("/nonexistent-root");
    let prepared = cloudstrap::install::prepare(&nfs_profile(), &site).expect("the fixture profile plans");
    let mut download = vec!["hello".to_string()];
    for s in &prepared.plan.steps {
        if let Some(list) = s.action.id().strip_prefix("packages:") {
            download.extend(list.split(',').map(str::to_string));
        }
    }
    prepare_debian_root(&["systemd"], &download)
}

/// The environment the CloudStack setup stand-ins (tests/standins/) read: they write below `root`, act as
/// 4.22 and prefix their database names with `prefix`. Given to a context's commands (`Ctx::env`), never
/// set on this multi-threaded test process.
pub fn standin_env(root: &std::path::Path, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("CLOUDSTACK_STANDIN_ROOT".into(), root.display().to_string()),
        ("CLOUDSTACK_STANDIN_RELEASE".into(), "4.22".into()),
        ("CLOUDSTACK_STANDIN_DB_PREFIX".into(), prefix.into()),
        ("CLOUDSTACK_STANDIN_ALLOW_NONROOT".into(), "1".into()),
    ]
}

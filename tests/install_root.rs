//! `install --root DIR` stays inside the root: no step that talks to a service (database, API, NFS, the
//! service manager) is planned, and neither planning, surveying nor the executor's pre-run probes open a
//! connection to a MariaDB running on the build host. The root is a real chroot (the host's /usr bound
//! read-only, so the mysql client and python3 are there), the database is the machine's MariaDB behind a
//! loopback relay that counts every connection made to it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cloudstrap::action::Record;
use cloudstrap::host::Site;


/// A relay on a loopback port to the machine's MariaDB (127.0.0.1:3306) that counts connections.
fn counting_relay() -> (u16, Arc<AtomicUsize>) {
    let probe = TcpStream::connect("127.0.0.1:3306");
    assert!(probe.is_ok(), "MariaDB does not listen on 127.0.0.1:3306: run scripts/test-env/setup");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect("127.0.0.1:3306") else { continue };
            let (mut a, mut b) = (conn.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut a, &mut { server }));
            std::thread::spawn(move || std::io::copy(&mut b, &mut { conn }));
        }
    });
    (port, count)
}

/// A chroot whose /usr is the host's, read-only (bin, lib, lib64 and sbin link into it, as on Debian 12).
struct Chroot {
    dir: tempfile::TempDir,
}

impl Chroot {
    fn new() -> Chroot {
        let dir = tempfile::tempdir().unwrap();
        let usr = dir.path().join("usr");
        std::fs::create_dir(&usr).unwrap();
        for l in ["bin", "lib", "lib64", "sbin"] {
            std::os::unix::fs::symlink(format!("usr/{l}"), dir.path().join(l)).unwrap();
        }
        let bind = Command::new("mount").args(["--bind", "/usr"]).arg(&usr).output().unwrap();
        assert!(bind.status.success(), "this test binds /usr into a chroot and needs root: {}", String::from_utf8_lossy(&bind.stderr));
        let ro = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&usr).output().unwrap();
        let c = Chroot { dir };
        assert!(ro.status.success(), "remount read-only: {}", String::from_utf8_lossy(&ro.stderr));
        let sh = Command::new("chroot").arg(c.path()).args(["sh", "-c", "command -v mysql && command -v python3"]).output().unwrap();
        assert!(sh.status.success(), "the chroot has no mysql client or python3: {}", String::from_utf8_lossy(&sh.stderr));
        c
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path().join("usr")).status();
    }
}

/// The shipped all-in-one profile on Debian 12 with its database reached through `port`, its secrets
/// inline in a 0600 copy (no environment variable is set in this multi-threaded test process).
fn profile(dir: &Path, port: u16) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/all-in-one.toml");
    let mut text = std::fs::read_to_string(shipped)
        .unwrap()
        .replace("[host]\n", "[host]\nplatform = \"debian-12\"\n")
        .replace("[database]\n", &format!("[database]\nport = {port}\n"));
    for (var, value) in [
        ("CLOUDSTRAP_DB_ROOT_PASSWORD", "RootIn-Root-1"),
        ("CLOUDSTRAP_DB_CLOUD_PASSWORD", "CloudIn-Root-2"),
        ("CLOUDSTRAP_ADMIN_PASSWORD", "AdminIn-Root-3"),
        ("CLOUDSTRAP_HOST_ROOT_PASSWORD", "HostIn-Root-4"),
    ] {
        text = text.replace(&format!("-env = \"{var}\""), &format!(" = \"{value}\""));
    }
    let p = dir.join("aio.toml");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    p
}

#[test]
fn install_into_a_root_plans_nothing_that_talks_to_a_service_and_opens_no_connection() {
    let (port, connections) = counting_relay();
    // The relay itself works: a client through it reaches MariaDB and is counted.
    let out = Command::new("mysql").args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", "nobody-here", "-e", "SELECT 1"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Access denied"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(connections.swap(0, Ordering::SeqCst), 1);

    let chroot = Chroot::new();
    let pdir = tempfile::tempdir().unwrap();
    let path = profile(pdir.path(), port);
    let site = Site::at(chroot.path());
    let prepared = cloudstrap::install::prepare(&path, &site).expect("the profile plans");
    assert!(!prepared.ctx.live);
    let ids: Vec<String> = prepared.plan.steps.iter().map(|s| s.action.id()).collect();
    for talks in ["setup:", "db-", "wait:", "exportfs", "firewall:", "cloudstack:", "template"] {
        assert!(!ids.iter().any(|i| i.starts_with(talks)), "{talks} planned for an image root: {ids:#?}");
    }
    // What is left is written into the root or enabled for boot, and the keys setup-databases will use.
    assert!(ids.iter().any(|i| i.starts_with("packages:") && i.contains("cloudstack-management")), "{ids:#?}");
    assert!(ids.iter().any(|i| i.starts_with("service:")), "{ids:#?}");

    // Every probe the executor makes before it changes anything, each step in the chroot.
    for s in &prepared.plan.steps {
        let _ = s.action.is_done(&prepared.ctx);
        let _ = s.action.prepare(&prepared.ctx, &mut Record::default());
    }
    // And the binary's own survey of the plan.
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .arg("--root")
        .arg(chroot.path())
        .args(["install", "--dry-run", "--profile"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("setup-databases") && !text.contains("setup-management"), "{text}");
    // Give a stray connection time to reach the relay's accept loop.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(connections.load(Ordering::SeqCst), 0, "a connection was opened to the host's MariaDB");
    let mut leftover = String::new();
    for e in walk(chroot.path()) {
        if e.to_string_lossy().contains("run/cloudstrap/") {
            std::fs::File::open(&e).unwrap().read_to_string(&mut leftover).unwrap();
        }
    }
    assert!(leftover.is_empty(), "secret files left in the root: {leftover}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() && !ft.is_symlink() && !p.ends_with("usr") {
            out.extend(walk(&p));
        } else if ft.is_file() {
            out.push(p);
        }
    }
    out
}

//! The installer medium's guided install (`media install --guided`, what the live system's console runs
//! when no profile on the medium is for the machine), through a real pseudo-terminal (tmux): the questions,
//! the disk chosen from a list that shows what is on each, root's password, then the install onto a loop
//! device from a squashfs image, without rebooting. A disk holding data is only erased once its name is typed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "common/machine.rs"]
mod machine;

use machine::{image, sh, Loop};

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

static NEXT: AtomicUsize = AtomicUsize::new(0);

struct Tmux(String);

impl Tmux {
    fn start(command: &str) -> Tmux {
        let socket = format!("cloudstrap-medium-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let script = format!("{command}; echo \"__EXIT=$?__\"; sleep 600");
        let st = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "80", "-s", "t"])
            .arg(script)
            .env("TERM", "xterm")
            .status()
            .expect("tmux (scripts/test-env/packages/tui.list)");
        assert!(st.success());
        Tmux(socket)
    }
    fn screen(&self) -> String {
        let out = Command::new("tmux").args(["-L", &self.0, "capture-pane", "-p", "-J", "-S", "-3000", "-t", "t"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
    fn wait(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while !cond(&self.screen()) {
            assert!(start.elapsed() < Duration::from_secs(180), "waited for {what}; the screen is:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    /// A prompt on the last line with text.
    fn prompt(&self, text: &str) {
        self.wait(text, |s| s.lines().rev().map(str::trim_end).find(|l| !l.is_empty()).is_some_and(|l| l.contains(text)));
    }
    fn menu(&self, text: &str) {
        self.wait(text, |s| s.lines().rev().map(str::trim_end).filter(|l| !l.is_empty()).take(12).any(|l| l.starts_with(text) && !l.contains(": ")));
    }
    fn send(&self, keys: &[&str]) {
        assert!(Command::new("tmux").args(["-L", &self.0, "send-keys", "-t", "t"]).args(keys).status().unwrap().success());
    }
    fn line(&self, text: &str) {
        if !text.is_empty() {
            self.send(&["-l", text]);
        }
        self.send(&["Enter"]);
    }
    /// A hidden value at its prompt, typed twice.
    fn secret(&self, prompt: &str, value: &str) {
        self.prompt(prompt);
        self.line(value);
        self.prompt("Type it again");
        self.line(value);
    }
    fn exit_code(&self) -> i32 {
        self.wait("the command to end", |s| s.contains("__EXIT="));
        self.screen().split("__EXIT=").nth(1).and_then(|r| r.split("__").next()).unwrap().parse().unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).status();
    }
}

/// A medium folder: what `media build` records, and the test image as its squashfs system image.
fn medium(dir: &Path) -> PathBuf {
    let m = dir.join("medium");
    let img = image(dir);
    std::fs::create_dir_all(m.join("live")).unwrap();
    std::fs::create_dir_all(m.join("cloudstrap")).unwrap();
    std::fs::write(m.join("cloudstrap/build.json"), r#"{"release": "4.22", "platform": "debian-12"}"#).unwrap();
    sh("mksquashfs", &[img.to_str().unwrap(), m.join("live/10-system.squashfs").to_str().unwrap(), "-noappend", "-quiet"]);
    m
}

/// Walk the questions for an NFS host on `disk`, up to the confirmation.
fn walk(t: &Tmux, disk: &str) {
    t.menu("Roles of this host");
    for _ in 0..5 {
        t.send(&["Down"]);
    }
    t.send(&["Enter"]);
    t.wait("the release", |s| s.contains("CloudStack release: 4.22 (the one on this medium)"));
    t.menu("Network interface that carries the host's address");
    t.send(&["Enter"]);
    for p in ["Host name", "Fully qualified name", "Address with prefix length", "Gateway", "DNS servers", "Primary storage export", "Secondary storage export", "Network allowed"] {
        t.prompt(p);
        t.line("");
    }
    // The disk list shows each disk with what is on it; ours is picked by its path.
    t.menu("Install onto");
    let screen = t.screen();
    let start = screen.rfind("Install onto").unwrap();
    let items: Vec<&str> = screen[start..].lines().skip(1).map(str::trim).filter(|l| l.contains("/dev/")).collect();
    let i = items.iter().position(|l| l.trim_start_matches(['>', ' ']).starts_with(&format!("{disk} "))).unwrap_or_else(|| panic!("{disk} not offered:\n{screen}"));
    for _ in 0..i {
        t.send(&["Down"]);
    }
    t.send(&["Enter"]);
}

#[test]
fn the_guided_install_asks_for_the_disk_and_installs_onto_it() {
    let l = Loop::new(10);
    let dir = tempfile::tempdir().unwrap();
    let m = medium(dir.path());
    let answers = dir.path().join("answers");
    let host = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tui/host");
    let t = Tmux::start(&format!(
        "'{BIN}' --sysroot '{}' media install --guided --no-reboot --medium '{}' --profile-dir '{}'",
        host.display(),
        m.display(),
        answers.display()
    ));
    walk(&t, &l.dev);
    t.wait("the empty disk", |s| s.contains(&format!("{} 10.0 GiB: empty", l.dev)));
    t.secret("Root password of the new system", "medium-root-1");
    t.menu("Go ahead?");
    let review = t.screen();
    assert!(review.contains(&format!("device = \"{}\"", l.dev)) && review.contains("mac = \""), "{review}");
    assert!(!review.contains("medium-root-1"), "the password was shown:\n{review}");
    t.send(&["Enter"]);
    assert_eq!(t.exit_code(), 0, "{}", t.screen());
    let s = t.screen();
    assert!(s.contains("==> Partitioning") && s.contains("installed; not rebooting"), "{s}");
    // The saved answers: the profile, its secret in a 0600 file, both on the new system.
    let saved = std::fs::read_to_string(answers.join("profile.toml")).unwrap();
    assert!(saved.contains("root-password-file = \"profile.secrets/disk-root-password\""), "{saved}");
    let check = Command::new(BIN).args(["profile", "check"]).arg(answers.join("profile.toml")).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let mnt = tempfile::tempdir().unwrap();
    sh("mount", &["-o", "ro", &format!("{}p3", l.dev), mnt.path().to_str().unwrap()]);
    let on_disk = std::fs::read_to_string(mnt.path().join("etc/cloudstrap/profile.toml"));
    let secret = std::fs::read_to_string(mnt.path().join("etc/cloudstrap/profile.secrets/disk-root-password"));
    let _ = Command::new("umount").arg(mnt.path()).status();
    assert_eq!(on_disk.unwrap(), saved);
    assert_eq!(secret.unwrap(), "medium-root-1\n");

    // Now the disk holds data: offered with its contents, and erased only once its name is typed.
    let answers2 = dir.path().join("answers2");
    let t = Tmux::start(&format!(
        "'{BIN}' --sysroot '{}' media install --guided --no-reboot --medium '{}' --profile-dir '{}'",
        host.display(),
        m.display(),
        answers2.display()
    ));
    walk(&t, &l.dev);
    // (What lsblk can tell about the partitions depends on udev, which a test machine may not run.)
    t.wait("the disk's contents", |s| s.contains(&format!("{} holds data: ", l.dev)) && s.contains(&format!("{}p3 (9.7 GiB)", l.dev)));
    t.secret("Root password of the new system", "medium-root-1");
    t.menu("Go ahead?");
    t.send(&["Enter"]);
    t.prompt("Type the disk's name");
    t.line("no");
    assert_eq!(t.exit_code(), 3, "{}", t.screen());
    assert!(t.screen().contains("cancelled, nothing was written"), "{}", t.screen());
}

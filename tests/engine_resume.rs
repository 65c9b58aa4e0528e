//! The resume property, end to end through the `cloudstrap` binary: an install into a Debian 12 root
//! (an overlay over the cached debootstrap root), killed with SIGKILL right after action k (the
//! debug build's hidden `--test-kill-after K`, which raises SIGKILL once the receipt of action k is saved), then
//! run again, ends with exactly the files and receipt of an install that was never interrupted.
//!
//! Compared: every file the install changed in the root (the overlay's upper layer), byte for byte, and
//! the receipt with its timestamps normalised. Left out, because they record when rather than what:
//! the install log and dpkg/apt logs (var/log/), apt's binary caches, dpkg's `*-old` backups and
//! debconf's `*-old` files. A second run on the finished root runs no action.

mod engine_support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use engine_support::*;

fn install(root: &Path, kill_after: Option<usize>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudstrap"));
    c.args(["install", "--yes", "--profile"]).arg(nfs_profile()).arg("--root").arg(root).stdin(Stdio::null());
    if let Some(k) = kill_after {
        c.arg("--test-kill-after").arg(k.to_string());
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn volatile(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.starts_with("var/log/")
        || s.starts_with("var/cache/apt/") && s.ends_with(".bin")
        || s.ends_with("-old")
        || s.starts_with("var/cache/ldconfig/")
}

fn snapshot(upper: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut t = tree(upper);
    t.retain(|p, _| !volatile(p));
    let receipt = PathBuf::from("var/lib/cloudstrap/receipt.json");
    let r = t.get(&receipt).expect("a receipt").clone();
    t.insert(receipt, normalise_receipt(&String::from_utf8_lossy(&r)).into_bytes());
    t
}

fn diff(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    let mut out = vec![];
    for (p, v) in a {
        match b.get(p) {
            None => out.push(format!("only in the uninterrupted install: {}", p.display())),
            Some(w) if w != v => out.push(format!("differs: {}", p.display())),
            _ => {}
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        out.push(format!("only in the resumed install: {}", p.display()));
    }
    out
}

#[test]
fn an_install_killed_after_any_action_resumes_to_the_same_result() {
    let base = prepared_root();
    let profile_text = std::fs::read_to_string(nfs_profile()).unwrap();
    let secrets: Vec<String> = ["root-password", "cloud-password"]
        .iter()
        .map(|k| profile_text.lines().find(|l| l.starts_with(k)).unwrap().split('"').nth(1).unwrap().to_string())
        .collect();

    let reference = Overlay::new(&base);
    let out = install(&reference.root, None);
    assert!(out.status.success(), "uninterrupted install failed:\n{}", text(&out));
    let want = snapshot(&reference.upper);
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reference.root.join("var/lib/cloudstrap/receipt.json")).unwrap()).unwrap();
    let n = receipt["actions"].as_array().unwrap().len();
    assert!(receipt["complete"].as_bool().unwrap() && n >= 5, "{receipt}");

    // A second run changes nothing and says so.
    let again = install(&reference.root, None);
    assert!(again.status.success() && text(&again).contains("Nothing to do"), "{}", text(&again));
    assert!(diff(&want, &snapshot(&reference.upper)).is_empty());

    for k in 1..n {
        let ov = Overlay::new(&base);
        let killed = install(&ov.root, Some(k));
        assert_eq!(killed.status.signal(), Some(9), "run meant to be killed after action {k} (the hook works in debug builds only):\n{}", text(&killed));
        let partial: serde_json::Value =
            serde_json::from_slice(&std::fs::read(ov.root.join("var/lib/cloudstrap/receipt.json")).unwrap()).unwrap();
        assert_eq!(partial["complete"], false);
        let resumed = install(&ov.root, None);
        assert!(resumed.status.success(), "resume after a kill after action {k} failed:\n{}", text(&resumed));
        let d = diff(&want, &snapshot(&ov.upper));
        assert!(d.is_empty(), "killed after action {k}, then resumed: {d:#?}");
        eprintln!("killed after action {k} of {n}: resumed to an identical root");

        // No secret of the profile in the log or the receipt.
        let log = std::fs::read_to_string(ov.root.join("var/log/cloudstrap/install.log")).unwrap();
        let rec = std::fs::read_to_string(ov.root.join("var/lib/cloudstrap/receipt.json")).unwrap();
        for s in &secrets {
            assert!(!log.contains(s.as_str()) && !rec.contains(s.as_str()));
        }
    }
}

#[test]
fn a_sigkill_in_the_middle_of_a_package_install_resumes_to_the_same_result() {
    let base = prepared_root();
    let reference = Overlay::new(&base);
    let out = install(&reference.root, None);
    assert!(out.status.success(), "{}", text(&out));
    let want = snapshot(&reference.upper);

    // Kill -9 while the receipt says a package install is running (apt/dpkg may go on as orphans).
    let ov = Overlay::new(&base);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .args(["install", "--yes", "--profile"])
        .arg(nfs_profile())
        .arg("--root")
        .arg(&ov.root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let receipt_path = ov.root.join("var/lib/cloudstrap/receipt.json");
    let mut caught = false;
    while child.try_wait().unwrap().is_none() {
        let running_packages = std::fs::read(&receipt_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|r| {
                r["actions"].as_array().unwrap().iter().any(|a| a["state"] == "running" && a["id"].as_str().unwrap().starts_with("packages:"))
            });
        if running_packages {
            child.kill().unwrap();
            caught = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    assert!(caught && status.signal() == Some(9), "the install was not caught during a package install");
    let resumed = install(&ov.root, None);
    assert!(resumed.status.success(), "resume after a kill during a package install failed:\n{}", text(&resumed));
    let d = diff(&want, &snapshot(&ov.upper));
    assert!(d.is_empty(), "killed during a package install, then resumed: {d:#?}");
}

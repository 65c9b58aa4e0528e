//! File actions and backups under a root, the receipt's compatibility, the executor's failure handling
//! and its overlap of independent chains, and the install command's confirmation and dry run.

mod engine_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use cloudstrap::action::executor::{execute, revert, ExecError, Options, Step};
use cloudstrap::action::file::{FileKind, FileSpec, Placement, WriteFile};
use cloudstrap::action::receipt::{Receipt, State};
use cloudstrap::action::{Action, ActionError, Ctx, Record};
use cloudstrap::run::{Cmd, Redactor};
use engine_support::*;

fn spec(path: &str, content: &str, mode: u32, kind: FileKind) -> FileSpec {
    FileSpec { path: path.into(), content: content.into(), mode, kind, role: None, what: "test".into() }
}

fn write(s: FileSpec) -> Box<WriteFile> {
    Box::new(WriteFile::rendered(s))
}

fn quiet() -> Captured {
    Captured::default()
}

#[test]
fn files_are_written_under_the_root_with_backups_and_revert() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ctx = Ctx::for_root(root, Redactor::default());
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/exports"), "/srv/old *(ro)\n").unwrap();
    std::fs::set_permissions(root.join("etc/exports"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let plan = vec![
        Step { action: write(spec("/etc/exports", "/export/primary 10.0.0.0/24(rw)\n", 0o600, FileKind::ManagedBlock(Placement::End))), after: vec![] },
        Step { action: write(spec("/etc/cloudstrap-test/new.conf", "a=1\n", 0o640, FileKind::Whole)), after: vec![] },
    ];
    let out = quiet();
    let s = execute(&plan, &ctx, Receipt::new("el9", vec!["nfs".into()]), &out.lines(), &Options { workers: 2, kill_after: None }).unwrap();
    assert_eq!(s.executed, 2);

    let exports = std::fs::read_to_string(root.join("etc/exports")).unwrap();
    assert!(exports.starts_with("/srv/old *(ro)\n") && exports.contains("# BEGIN cloudstrap managed block\n/export/primary"), "{exports}");
    // A file with foreign content keeps its mode; a file of ours gets the rendered one.
    assert_eq!(std::fs::metadata(root.join("etc/exports")).unwrap().permissions().mode() & 0o777, 0o644);
    assert_eq!(std::fs::metadata(root.join("etc/cloudstrap-test/new.conf")).unwrap().permissions().mode() & 0o777, 0o640);
    // The original is backed up under the root's state directory, nowhere else; no temp files are left.
    let backups = tree(&root.join("var/lib/cloudstrap/backups"));
    assert_eq!(backups.len(), 1, "{:?}", backups.keys());
    let (name, content) = backups.iter().next().unwrap();
    assert!(name.starts_with("etc") && content == b"/srv/old *(ro)\n");
    assert!(!tree(root).keys().any(|p| p.to_string_lossy().contains("cloudstrap-tmp")));
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("var/lib/cloudstrap/receipt.json")).unwrap()).unwrap();
    // The undo records: restore the backup; remove the new file, then its new directory.
    let undo = |i: usize| receipt["actions"][i]["record"]["undo"].clone();
    assert_eq!(undo(0), serde_json::json!([{"undo": "restore-file", "path": "/etc/exports", "backup": format!("/var/lib/cloudstrap/backups/{}", name.display())}]));
    assert_eq!(
        undo(1),
        serde_json::json!([{"undo": "remove-empty-dirs", "paths": ["/etc/cloudstrap-test"]}, {"undo": "remove-file", "path": "/etc/cloudstrap-test/new.conf"}])
    );

    // A second run writes nothing (the files keep their inode) and a third after revert restores.
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(root.join("etc/exports")).unwrap());
    let s = execute(&plan, &ctx, Receipt::new("el9", vec!["nfs".into()]), &out.lines(), &Options::default()).unwrap();
    assert_eq!((s.executed, s.already_done), (0, 2));
    assert_eq!(ino, std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(root.join("etc/exports")).unwrap()));

    assert_eq!(revert(&plan, &ctx).unwrap(), 2);
    assert_eq!(std::fs::read_to_string(root.join("etc/exports")).unwrap(), "/srv/old *(ro)\n");
    assert!(!root.join("etc/cloudstrap-test").exists(), "the new file and the directory made for it are gone");
}

#[test]
fn receipts_from_older_and_newer_versions() {
    // An older receipt with fewer fields parses; unknown fields of a same-version writer are ignored.
    let old = r#"{"actions":[{"id":"file:/etc/exports","state":"done"}],"extra":"ignored"}"#;
    let r: Receipt = serde_json::from_str(old).unwrap();
    assert_eq!((r.version, r.actions[0].state), (1, State::Done));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("receipt.json");
    std::fs::write(&p, r#"{"version": 99, "actions": []}"#).unwrap();
    let e = Receipt::load(&p).unwrap_err().to_string();
    assert!(e.contains("newer cloudstrap") && e.contains("99"), "{e}");
    std::fs::write(&p, "{ not json").unwrap();
    assert!(Receipt::load(&p).unwrap_err().to_string().contains("move it aside"));
}

/// A step whose command fails with output that includes a secret.
struct Failing;
impl Action for Failing {
    fn id(&self) -> String {
        "test:failing".into()
    }
    fn describe(&self) -> String {
        "Run a command that fails".into()
    }
    fn is_done(&self, _: &Ctx) -> Result<bool, ActionError> {
        Ok(false)
    }
    fn execute(&self, ctx: &Ctx, _: &mut Record) -> Result<(), ActionError> {
        ctx.run_ok(&Cmd::new("sh").args(["-c", "echo line one; echo the password is hunter2-secret >&2; exit 7"]))?;
        Ok(())
    }
    fn revert(&self, _: &Ctx, _: &Record) -> Result<(), ActionError> {
        Ok(())
    }
}

#[test]
fn a_failure_stops_at_its_action_with_the_output_tail_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let mut red = Redactor::default();
    red.add("hunter2-secret");
    let ctx = Ctx::for_root(dir.path(), red);
    let plan = vec![
        Step { action: Box::new(Failing), after: vec![] },
        Step { action: write(spec("/etc/after", "x\n", 0o644, FileKind::Whole)), after: vec![0] },
    ];
    let out = quiet();
    let e = execute(&plan, &ctx, Receipt::new("el9", vec![]), &out.lines(), &Options::default()).unwrap_err();
    let ExecError::Action { number, error, tail, .. } = e else { panic!("{e}") };
    assert_eq!(number, 1);
    let tail = tail.unwrap();
    assert!(tail.contains("line one") && tail.contains("********"), "{tail}");
    assert!(!error.contains("hunter2-secret") && !tail.contains("hunter2-secret"));
    assert!(!dir.path().join("etc/after").exists(), "nothing after the failed action ran");
    let receipt = std::fs::read_to_string(dir.path().join("var/lib/cloudstrap/receipt.json")).unwrap();
    assert!(receipt.contains("\"failed\"") && !receipt.contains("hunter2-secret"));
}

/// Steps that meet: each waits (bounded) for the other to have started, which only happens when the
/// executor runs independent chains side by side.
struct Meet {
    name: &'static str,
    tx: Mutex<mpsc::Sender<()>>,
    rx: Mutex<mpsc::Receiver<()>>,
}
impl Action for Meet {
    fn id(&self) -> String {
        format!("test:meet:{}", self.name)
    }
    fn describe(&self) -> String {
        format!("Meet {}", self.name)
    }
    fn is_done(&self, _: &Ctx) -> Result<bool, ActionError> {
        Ok(false)
    }
    fn execute(&self, _: &Ctx, _: &mut Record) -> Result<(), ActionError> {
        self.tx.lock().unwrap().send(()).unwrap();
        self.rx.lock().unwrap().recv_timeout(Duration::from_secs(60)).map_err(|_| ActionError::Failed("the other chain never started".into()))
    }
    fn verify(&self, _: &Ctx) -> Result<(), ActionError> {
        Ok(())
    }
    fn revert(&self, _: &Ctx, _: &Record) -> Result<(), ActionError> {
        Ok(())
    }
}

#[test]
fn independent_chains_overlap() {
    let (a_tx, b_rx) = mpsc::channel();
    let (b_tx, a_rx) = mpsc::channel();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::for_root(dir.path(), Redactor::default());
    let plan = vec![
        Step { action: write(spec("/a", "a\n", 0o644, FileKind::Whole)), after: vec![] },
        Step { action: Box::new(Meet { name: "download", tx: Mutex::new(a_tx), rx: Mutex::new(a_rx) }), after: vec![0] },
        Step { action: Box::new(Meet { name: "packages", tx: Mutex::new(b_tx), rx: Mutex::new(b_rx) }), after: vec![] },
    ];
    let s = execute(&plan, &ctx, Receipt::new("el9", vec![]), &quiet().lines(), &Options { workers: 4, kill_after: None }).unwrap();
    assert_eq!(s.executed, 3);
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cloudstrap")).args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn install_asks_first_and_dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let profile = nfs_profile();
    let p = profile.to_str().unwrap();

    let dry = cli(&["install", "--profile", p, "--root", root, "--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("Install NFS server packages") && text.contains("[pending]"), "{text}");
    let json = cli(&["install", "--profile", p, "--root", root, "--dry-run", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["platform"], "debian-12");
    assert!(v["actions"].as_array().unwrap().len() >= 5);

    // `cloudstrap plan` shows the file diffs and then the same actions.
    let plan = cli(&["plan", "--profile", p, "--root", root]);
    let plan_text = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success() && plan_text.contains("files would change") && plan_text.contains("Install NFS server packages"), "{plan_text}");
    let plan_json: serde_json::Value = serde_json::from_slice(&cli(&["plan", "--profile", p, "--root", root, "--format", "json"]).stdout).unwrap();
    assert_eq!(plan_json["actions"], v["actions"], "plan and install --dry-run list the same actions");

    // No terminal and no --yes: refused (exit 3), nothing changed.
    let refused = cli(&["install", "--profile", p, "--root", root]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert!(tree(Path::new(root)).is_empty(), "the root was changed");

    // A profile that is not valid TOML: exit 2, nothing changed.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[cloudstack\nrelease = 4").unwrap();
    let r = cli(&["install", "--profile", bad.to_str().unwrap(), "--root", root, "--yes"]);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(tree(Path::new(root)).len(), 1, "only the bad profile itself");
}

#[test]
fn a_failed_install_says_what_failed_where_the_log_is_and_how_to_resume() {
    // An empty directory as the root: the first package action fails (there is no apt-get inside).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let profile = nfs_profile();
    let dry: serde_json::Value =
        serde_json::from_slice(&cli(&["install", "--profile", profile.to_str().unwrap(), "--root", root, "--dry-run", "--format", "json"]).stdout).unwrap();
    let out = cli(&["install", "--yes", "--profile", profile.to_str().unwrap(), "--root", root]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("install: action ") && err.contains(" of 13 failed: Install"), "{err}");
    assert!(err.contains("last lines of its output"), "{err}");
    assert!(err.contains(&format!("log: {root}/var/log/cloudstrap/install.log")), "{err}");
    assert!(err.contains("to resume") && err.contains("--root"), "{err}");
    // Not a terminal: plain timestamped lines ("2026-...Z [1/13] Install ..."), no bars.
    let all = format!("{}{err}", String::from_utf8_lossy(&out.stdout));
    assert!(all.lines().any(|l| l.len() > 21 && l.as_bytes()[4] == b'-' && l[..20].ends_with('Z') && l[20..].starts_with(" [1/13] ")), "{all}");
    assert!(!all.contains("/13 actions"), "{all}");
    let receipt = std::fs::read_to_string(dir.path().join("var/lib/cloudstrap/receipt.json")).unwrap();
    assert!(receipt.contains("\"failed\""), "{receipt}");
    // The run worked through exactly the actions the dry run listed, in the same order.
    let r: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    let ran: Vec<&serde_json::Value> = r["actions"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    let listed: Vec<&serde_json::Value> = dry["actions"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    assert_eq!(ran, listed, "install --dry-run and install plan the same actions");
}

/// Run the binary on a pseudo-terminal (util-linux `script`), typing `keys`; (exit code, screen text).
fn on_terminal(args: &[&str], keys: &str) -> (Option<i32>, String) {
    use std::io::Write;
    require("script", "bsdutils");
    let mut line = String::from(env!("CARGO_BIN_EXE_cloudstrap"));
    for a in args {
        line += &format!(" '{a}'");
    }
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(keys.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn on_a_terminal_install_shows_the_plan_and_asks_before_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let profile = nfs_profile();
    let p = profile.to_str().unwrap();

    // Declined: exit 3, nothing changed.
    let (code, screen) = on_terminal(&["install", "--profile", p, "--root", root], "n");
    assert!(screen.contains("Plan for nfs") && screen.contains("[pending] Install NFS server packages") && screen.contains("Proceed?"), "{screen}");
    assert_eq!(code, Some(3), "{screen}");
    assert!(tree(Path::new(root)).is_empty(), "declining changed the root");

    // Accepted: it runs (and, in this empty root without apt-get, fails at the first package step).
    let (code, screen) = on_terminal(&["install", "--profile", p, "--root", root], "y");
    // The terminal display: the overall bar ("N/13 actions"), not the plain "[N/13]" lines.
    assert!(screen.contains("Proceed?") && screen.contains("/13 actions") && !screen.contains("[1/13]"), "{screen}");
    assert_eq!(code, Some(1), "{screen}");
    assert!(dir.path().join("var/lib/cloudstrap/receipt.json").exists(), "accepting did not start the install");
}

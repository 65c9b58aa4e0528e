//! `cloudstrap uninstall` against real components: an NFS host installed into a Debian 12 root (real apt
//! and dpkg in chroot, files, directories, services enabled for boot) and undone from its receipt alone;
//! the undo records of a live firewall block (iptables in a network namespace); the CloudStack databases
//! purged after a verified dump (the machine's MariaDB); every failure collected.

mod engine_support;
#[path = "common/json_shape.rs"]
mod json_shape;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::firewall::{ApplyFirewall, Backend};
use cloudstrap::action::receipt::{Receipt, State};
use cloudstrap::action::undo::Undo;
use cloudstrap::action::{digest, Ctx};
use cloudstrap::run::Redactor;
use engine_support::*;

fn cloudstrap(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cloudstrap")).arg("--root").arg(root).args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Digest and mode of every file, symlink and directory of the root, except cloudstrap's own state and
/// what apt and dpkg keep as caches and logs (the package set is compared on its own).
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    const SKIP: [&str; 8] = ["var/lib/cloudstrap", "var/cache", "var/lib/apt", "var/log", "run", "tmp", "var/lib/dpkg", "proc"];
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if SKIP.iter().any(|s| rel == *s) {
                continue;
            }
            let md = std::fs::symlink_metadata(&p).unwrap();
            let mode = std::os::unix::fs::PermissionsExt::mode(&md.permissions());
            let what = if md.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if md.is_dir() {
                stack.push(p.clone());
                format!("dir {mode:o}")
            } else if md.is_file() {
                format!("file {mode:o} {}", digest(&std::fs::read(&p).unwrap()))
            } else {
                // Device nodes, FIFOs, sockets: never read (dev/zero would not end).
                format!("special {mode:o}")
            };
            out.insert(rel, what);
        }
    }
    out
}

fn packages(root: &Path) -> Vec<String> {
    let out = Command::new("chroot").arg(root).args(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.ends_with(" installed")).map(str::to_string).collect()
}

fn diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut v = vec![];
    for (k, x) in a {
        match b.get(k) {
            None => v.push(format!("gone: {k}")),
            Some(y) if x != y => v.push(format!("changed: {k} ({x} -> {y})")),
            _ => {}
        }
    }
    v.extend(b.keys().filter(|k| !a.contains_key(*k)).map(|k| format!("new: {k}")));
    v
}

#[test]
fn install_then_uninstall_puts_every_file_and_the_package_set_back() {
    let base = prepared_root();
    let ov = Overlay::new(&base);
    // Files the install changes that were there before: their content must come back exactly.
    std::fs::write(ov.root.join("etc/exports"), "/srv/old 10.9.9.0/24(ro)\n").unwrap();
    let files_before = snapshot(&ov.root);
    let pkgs_before = packages(&ov.root);

    // Refused without a terminal and without --yes (exit 3), before anything is installed or undone.
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap")).args(["install", "--yes", "--format", "json", "--profile"]).arg(nfs_profile()).arg("--root").arg(&ov.root).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json_shape::assert_documented("install", &out.stdout);
    let n = |k: &str| report["actions"][k].as_u64().unwrap();
    assert!(report["outcome"] == "installed" && n("done") > 5 && n("done") + n("skipped") == n("total") && n("failed") == 0, "{report}");
    assert!(report["failed_action"].is_null() && report["ui"].is_null(), "an NFS host leads to no UI: {report}");
    let files_installed = snapshot(&ov.root);
    assert!(!diff(&files_before, &files_installed).is_empty(), "the install changed nothing");
    let pkgs_installed = packages(&ov.root);
    assert!(pkgs_installed.len() > pkgs_before.len() + 1, "nfs-kernel-server and its dependencies were installed");

    // Every owned entry of the receipt carries undo records.
    let receipt: Receipt = serde_json::from_slice(&std::fs::read(ov.root.join("var/lib/cloudstrap/receipt.json")).unwrap()).unwrap();
    for e in receipt.actions.iter().filter(|e| e.state == State::Done) {
        assert!(!e.record.undo.is_empty() || e.id.starts_with("wait:"), "{} records no undo: {:?}", e.id, e.record);
    }
    let pkg_undo = receipt.actions.iter().flat_map(|e| e.record.undo.iter()).find_map(|u| match u {
        Undo::RemovePackages { packages, .. } => Some(packages.clone()),
        _ => None,
    });
    assert!(pkg_undo.as_ref().is_some_and(|p| p.len() > 1), "the dependencies are recorded too: {pkg_undo:?}");

    let refused = cloudstrap(&ov.root, &["uninstall"]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert!(diff(&files_installed, &snapshot(&ov.root)).is_empty(), "a refused uninstall changed files");

    let out = cloudstrap(&ov.root, &["uninstall", "--yes", "--format", "json"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let report = json_shape::assert_documented("uninstall", &out.stdout);
    assert!(report["outcome"] == "uninstalled" && report["undone"].as_u64() > Some(5) && report["failed"] == serde_json::json!([]), "{report}");
    assert!(said.contains("will, newest first") && said.contains("remove packages (apt-get)"), "{said}");
    assert_eq!(diff(&files_before, &snapshot(&ov.root)), Vec::<String>::new(), "files differ after uninstall");
    assert_eq!(packages(&ov.root), pkgs_before, "the package set is not the one before the install");

    // The receipt records the uninstall: a second one has nothing to do.
    let receipt: Receipt = serde_json::from_slice(&std::fs::read(ov.root.join("var/lib/cloudstrap/receipt.json")).unwrap()).unwrap();
    assert!(receipt.uninstalled.is_some() && receipt.actions.iter().all(|e| matches!(e.state, State::Pending | State::AlreadyDone)), "{receipt:#?}");
    let again = cloudstrap(&ov.root, &["uninstall", "--yes", "--format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(text(&again).contains("Nothing to undo"), "{}", text(&again));
    assert_eq!(json_shape::assert_documented("uninstall", &again.stdout)["outcome"], "nothing_to_undo");
}

#[test]
fn every_failure_is_collected_and_stays_in_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut rec = Receipt::new("debian-12", vec!["nfs".into()]);
    let entry = |id: &str, undo: Vec<Undo>| cloudstrap::action::receipt::Entry {
        id: id.into(),
        description: format!("step {id}"),
        state: State::Done,
        record: cloudstrap::action::Record { undo, ..Default::default() },
        ..Default::default()
    };
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/made.conf"), "x\n").unwrap();
    rec.actions = vec![
        entry("a", vec![Undo::RemoveFile { path: "/etc/made.conf".into() }]),
        // Its backup is gone: cannot be put back.
        entry("b", vec![Undo::RestoreFile { path: "/etc/other.conf".into(), backup: "/var/lib/cloudstrap/backups/etc/other.conf.0000".into() }]),
        // The package manager fails in this root (there is none).
        entry("c", vec![Undo::RemovePackages { manager: "apt-get".into(), packages: vec!["hello".into()] }]),
        entry("d", vec![Undo::Kept { what: "zone z1 in CloudStack".into() }]),
    ];
    let ctx = Ctx::for_root(root, Redactor::default());
    rec.save(&cloudstrap::action::receipt::path(&ctx)).unwrap();

    let out = cloudstrap(root, &["uninstall", "--yes"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(!root.join("etc/made.conf").exists(), "the undo that works ran despite the others failing");
    assert!(said.contains("could not undo 2") && said.contains("step b: could not put /etc/other.conf back") && said.contains("step c: could not remove packages"), "{said}");
    assert!(said.contains("Left as it is: zone z1 in CloudStack"), "{said}");
    // Newest first: c's failure is reported before b's.
    assert!(said.find("step c:").unwrap() < said.find("step b:").unwrap(), "{said}");

    // What failed stays to do; what worked does not run again.
    let after: Receipt = serde_json::from_slice(&std::fs::read(root.join("var/lib/cloudstrap/receipt.json")).unwrap()).unwrap();
    let states: Vec<State> = after.actions.iter().map(|e| e.state).collect();
    assert_eq!(states, vec![State::Pending, State::Done, State::Done, State::Pending]);
    let again = text(&cloudstrap(root, &["uninstall", "--yes"]));
    assert!(!again.contains("remove /etc/made.conf") && again.contains("put /etc/other.conf back"), "{again}");
}

#[test]
fn the_firewall_block_is_deleted_from_the_running_firewall() {
    require("iptables", "iptables");
    require("unshare", "util-linux");
    if std::env::var_os("UNINSTALL_FW_IN_NETNS").is_none() {
        // Re-run this very test inside a fresh network namespace, so the host's firewall is never touched.
        let out = Command::new("unshare")
            .args(["-n", "--"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "the_firewall_block_is_deleted_from_the_running_firewall", "--nocapture", "--test-threads=1"])
            .env("UNINSTALL_FW_IN_NETNS", "1")
            .output()
            .unwrap();
        assert!(out.status.success() && text(&out).contains("1 passed"), "inside the namespace:\n{}", text(&out));
        return;
    }
    let iptables = |args: &[&str]| String::from_utf8_lossy(&Command::new("iptables").args(args).output().unwrap().stdout).into_owned();
    // The operator's own rule, live before the install: it stays.
    iptables(&["-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc/iptables")).unwrap();
    std::fs::write(
        root.join("etc/iptables/rules.v4"),
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n# BEGIN cloudstrap managed block\n\
         -A INPUT -s 10.0.0.0/24 -p tcp --dport 2049 -j ACCEPT\n-A INPUT -s 10.0.0.0/24 -p udp --dport 111 -j ACCEPT\n\
         # END cloudstrap managed block\nCOMMIT\n",
    )
    .unwrap();
    let ctx = Ctx::live_with_files_in(root, Redactor::default());
    let plan = vec![Step { action: Box::new(ApplyFirewall { backend: Backend::IptablesFile { file: "/etc/iptables/rules.v4".into(), chain: "INPUT".into() } }), after: vec![] }];
    execute(&plan, &ctx, Receipt::new("debian-12", vec!["nfs".into()]), &Captured::default().lines(), &Options { workers: 1, kill_after: None }).unwrap();
    assert!(iptables(&["-S", "INPUT"]).contains("2049"));

    let p = cloudstrap::uninstall::plan(&ctx, false).unwrap();
    assert!(p.lines().iter().any(|l| l.contains("delete 2 firewall rule(s) of cloudstrap from INPUT")), "{:?}", p.lines());
    let r = cloudstrap::uninstall::execute(&ctx, &p, &mut |_| {}).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let live = iptables(&["-S", "INPUT"]);
    assert!(live.contains("--dport 22") && !live.contains("2049") && !live.contains("dport 111"), "{live}");
    assert!(cloudstrap::uninstall::plan(&ctx, false).unwrap().is_empty());
}

/// A receipt in `root` whose setup step made the CloudStack databases named in its db.properties.
fn installed_databases(root: &Path, cloud: &str, usage: &str) {
    require_mariadb();
    mysql_root(&format!(
        "DROP DATABASE IF EXISTS {cloud}; DROP DATABASE IF EXISTS {usage}; CREATE DATABASE {cloud}; CREATE DATABASE {usage};\n\
         CREATE TABLE {cloud}.vm_template (id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO {cloud}.vm_template VALUES (3, 'SystemVM'), (4, 'it''s');\n\
         CREATE TABLE {usage}.usage_job (id INT PRIMARY KEY); INSERT INTO {usage}.usage_job VALUES (1);"
    ));
    let props = root.join("etc/cloudstack/management/db.properties");
    std::fs::create_dir_all(props.parent().unwrap()).unwrap();
    std::fs::write(&props, format!("db.cloud.name={cloud}\ndb.usage.name={usage}\ndb.cloud.host=localhost\n")).unwrap();
    let ctx = Ctx::for_root(root, Redactor::default());
    let mut rec = Receipt::new("debian-12", vec!["management".into()]);
    rec.actions = vec![cloudstrap::action::receipt::Entry {
        id: "setup:cloudstack-setup-databases".into(),
        description: "Run cloudstack-setup-databases".into(),
        state: State::Done,
        record: cloudstrap::action::Record {
            undo: vec![Undo::Stamp { name: "setup-cloudstack-setup-databases".into() }, Undo::RemoveFile { path: "/etc/cloudstack/management/db.properties".into() }],
            ..Default::default()
        },
        ..Default::default()
    }];
    rec.save(&cloudstrap::action::receipt::path(&ctx)).unwrap();
}

fn databases() -> String {
    mysql_root("SHOW DATABASES")
}

#[test]
fn the_databases_are_kept_unless_purged_and_then_only_after_a_verified_dump() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (cloud, usage) = ("uninst_cloud", "uninst_usage");
    installed_databases(root, cloud, usage);

    // Without --purge-data the databases are data: kept.
    let out = cloudstrap(root, &["uninstall", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("databases and storage contents are kept"), "{}", text(&out));
    assert!(databases().lines().any(|l| l == cloud) && databases().lines().any(|l| l == usage));
    assert!(!root.join("etc/cloudstack/management/db.properties").exists());

    // With it: dumped, verified, then dropped; the backup holds every row.
    installed_databases(root, cloud, usage);
    let out = cloudstrap(root, &["uninstall", "--yes", "--purge-data"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains(&format!("dump database {cloud} (verified backup), then drop it")), "{said}");
    assert!(!databases().lines().any(|l| l == cloud || l == usage), "{}", databases());
    let backups: Vec<_> = std::fs::read_dir(root.join("var/lib/cloudstrap/backups")).unwrap().flatten().map(|e| e.path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("uninstall-")).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(backups[0].join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["databases"][0]["rows"]["vm_template"], 2, "{manifest}");
    assert_eq!(manifest["databases"][1]["rows"]["usage_job"], 1, "{manifest}");
    assert!(manifest["files"][0]["path"].as_str().unwrap().ends_with("db.properties"), "{manifest}");
    // restore's own verification accepts the backup.
    let dumped = Command::new("sh").arg("-c").arg(format!("cd {} && sha256sum -c SHA256SUMS", backups[0].display())).output().unwrap();
    assert!(dumped.status.success(), "{}", text(&dumped));
}

#[test]
fn a_dump_that_cannot_be_made_drops_nothing_and_undoes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (cloud, usage) = ("uninst2_cloud", "uninst2_usage");
    installed_databases(root, cloud, usage);
    // The backup directory cannot be written: the state directory is a file.
    std::fs::write(root.join("var/lib/cloudstrap/backups"), "not a directory").unwrap();
    let out = cloudstrap(root, &["uninstall", "--yes", "--purge-data"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing was dropped"), "{}", text(&out));
    assert!(databases().lines().any(|l| l == cloud) && databases().lines().any(|l| l == usage));
    assert!(root.join("etc/cloudstack/management/db.properties").exists(), "undone although the purge failed");
    mysql_root(&format!("DROP DATABASE {cloud}; DROP DATABASE {usage};"));
}

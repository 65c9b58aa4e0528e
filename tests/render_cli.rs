//! `cloudstrap render` and `cloudstrap plan` as a user runs them: files written under --out, diffs against
//! --root, "no changes" once installed, re-runs that change nothing, exit code 2 on bad input.

mod render_common;

use std::path::Path;
use std::process::{Command, Output};

use render_common::*;

fn cloudstrap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cloudstrap")).args(args).output().expect("run cloudstrap")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn render_writes_every_file_and_plan_then_says_no_changes() {
    let profile = fixture("squirrel-server.toml");
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixture("roots/el6"), root.path());

    let o = cloudstrap(&["plan", "--profile", s(&profile), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let plan = out(&o);
    assert!(plan.contains("--- /etc/sysconfig/iptables\n+++ /etc/sysconfig/iptables (cloudstrap)\n"), "{plan}");
    assert!(
        plan.contains("\n+-A INPUT -s 192.168.1.0/24 -m state --state NEW -p tcp --dport 2049 -j ACCEPT\n"),
        "{plan}"
    );
    assert!(plan.contains("create     /etc/yum.repos.d/cloudstack.repo"), "{plan}");
    assert!(plan.contains("10 of 10 files would change"), "{plan}");

    // Render into the root itself: what the install writes.
    let o = cloudstrap(&["render", "--profile", s(&profile), "--out", s(root.path()), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.path().join("etc/sysconfig/iptables")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let stock = std::fs::read_to_string(fixture("roots/el6/etc/my.cnf")).unwrap();
    let now = std::fs::read_to_string(root.path().join("etc/my.cnf")).unwrap();
    assert!(now.starts_with(&stock), "the user's my.cnf lines must stay as they were");
    let backup = std::fs::read_to_string(root.path().join("etc/my.cnf.cloudstrap.orig")).unwrap();
    assert_eq!(backup, stock, "the replaced file is kept");

    let o = cloudstrap(&["plan", "--profile", s(&profile), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("no changes"), "{}", out(&o));

    // Rendering again over an installed root changes no byte.
    let before = std::fs::read_to_string(root.path().join("etc/sysconfig/iptables")).unwrap();
    let o = cloudstrap(&["render", "--profile", s(&profile), "--out", s(root.path()), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(root.path().join("etc/sysconfig/iptables")).unwrap(), before);

    let o = cloudstrap(&["plan", "--profile", s(&profile), "--root", s(root.path()), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("plan json");
    assert_eq!(v["changes"], 0);
    assert_eq!(v["platform"], "el6");
    assert_eq!(v["files"].as_array().unwrap().len(), 10);
    assert!(v["files"].as_array().unwrap().iter().all(|f| f["status"] == "unchanged"));
}

#[test]
fn a_changed_profile_updates_only_the_managed_block() {
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixture("roots/el6"), root.path());
    let profile = fixture("squirrel-server.toml");
    let o = cloudstrap(&["render", "--profile", s(&profile), "--out", s(root.path()), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // The user adds a rule after ours; then the storage network changes.
    let rules = root.path().join("etc/sysconfig/iptables");
    let text = std::fs::read_to_string(&rules)
        .unwrap()
        .replace("COMMIT\n", "-A INPUT -p tcp --dport 10000 -j ACCEPT\nCOMMIT\n");
    std::fs::write(&rules, &text).unwrap();
    let changed = root.path().join("changed.toml");
    let p = std::fs::read_to_string(&profile)
        .unwrap()
        .replace("clients = \"192.168.1.0/24\"", "clients = \"192.168.0.0/16\"");
    std::fs::write(&changed, p).unwrap();
    let o = cloudstrap(&["render", "--profile", s(&changed), "--out", s(root.path()), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let after = std::fs::read_to_string(&rules).unwrap();
    assert!(after.contains("-A INPUT -s 192.168.0.0/16 -m state --state NEW -p tcp --dport 2049 -j ACCEPT"));
    assert!(!after.contains("-s 192.168.1.0/24 -m state --state NEW -p tcp --dport 2049"));
    assert_eq!(after.matches("# BEGIN cloudstrap managed block").count(), 1);
    assert!(after.contains("-A INPUT -p tcp --dport 10000 -j ACCEPT\nCOMMIT\n"), "the user's rule must stay");
    let exports = std::fs::read_to_string(root.path().join("etc/exports")).unwrap();
    assert!(exports.contains("/export/primary 192.168.0.0/16(") && !exports.contains("192.168.1.0/24"), "{exports}");
}

#[test]
fn platform_is_detected_from_the_sysroot_when_the_profile_does_not_say() {
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixture("roots/el6"), root.path());
    let text = std::fs::read_to_string(fixture("squirrel-agent.toml")).unwrap().replace("platform = \"el6\"\n", "");
    let profile = root.path().join("agent.toml");
    std::fs::write(&profile, text).unwrap();
    let o = cloudstrap(&["plan", "--profile", s(&profile), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("(el6, CloudStack 3.0.2, roles: kvm-agent)"), "{}", out(&o));
    // Bridges are off by default but can be rendered for review.
    let text =
        std::fs::read_to_string(&profile).unwrap().replace("configure-bridges = true", "configure-bridges = false");
    std::fs::write(&profile, text).unwrap();
    let dest = root.path().join("out");
    let o = cloudstrap(&["render", "--profile", s(&profile), "--out", s(&dest), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!dest.join("etc/sysconfig/network-scripts/ifcfg-cloudbr0").exists());
    let o = cloudstrap(&["render", "--network", "--profile", s(&profile), "--out", s(&dest), "--root", s(root.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(dest.join("etc/sysconfig/network-scripts/ifcfg-cloudbr0").exists());
}

#[test]
fn render_refuses_to_write_into_the_live_root() {
    let o = cloudstrap(&["render", "--profile", s(&fixture("squirrel-server.toml")), "--out", "/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("would change this system"), "{}", err(&o));
}

#[test]
fn bad_input_exits_2_naming_the_key_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(fixture("squirrel-server.toml")).unwrap();
    let cases = [
        (base.replace("address = \"192.168.1.4/24\"", "address = \"192.168.1.400\""), "host.address"),
        // A release the platform has no packages for: reported on the platform or the release.
        (base.replace("release = \"3.0.2\"", "release = \"4.22\""), "4.22"),
        (base.replace("platform = \"el6\"", "platform = \"el7\""), "host.platform"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let p = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let dest = tmp.path().join(format!("out{i}"));
        let o = cloudstrap(&["render", "--profile", s(&p), "--out", s(&dest), "--root", s(&fixture("roots/el6"))]);
        assert_eq!(o.status.code(), Some(2), "{key}: {}", err(&o));
        let e = err(&o);
        // Located: every line FILE:LINE:COL: key: ..., as profile check prints it.
        assert!(e.lines().all(|l| l.starts_with(&format!("{}:", p.display()))), "{e}");
        assert!(e.contains(key), "{e}");
        assert!(!dest.exists(), "nothing may be written on bad input");
    }
    // No platform in the profile and none to detect: located at host, for render and plan alike.
    let p = tmp.path().join("noplatform.toml");
    std::fs::write(&p, base.replace("platform = \"el6\"\n", "")).unwrap();
    let empty = tmp.path().join("empty-root");
    std::fs::create_dir(&empty).unwrap();
    let dest = tmp.path().join("out-noplatform");
    for args in [vec!["render", "--out", s(&dest)], vec!["plan"]] {
        let mut all = args.clone();
        all.extend(["--profile", s(&p), "--root", s(&empty)]);
        let o = cloudstrap(&all);
        assert_eq!(o.status.code(), Some(2), "{}", err(&o));
        let e = err(&o);
        let want = format!("{}:", p.display());
        assert!(e.starts_with(&want) && e.contains(": host.platform: is not given and "), "{e}");
    }
    assert!(!dest.exists() && std::fs::read_dir(&empty).unwrap().next().is_none(), "nothing may be written on bad input");
}

#[test]
fn an_offline_mirror_replaces_the_download_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("root");
    std::fs::create_dir(&empty).unwrap();
    let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/all-in-one.toml")).unwrap();
    let cases = [
        ("el9", "etc/yum.repos.d/cloudstack.repo", "\nbaseurl=file:///srv/mirror/cloudstack\n"),
        ("debian-12", "etc/apt/sources.list.d/cloudstack.list", "\ndeb [signed-by=/etc/apt/keyrings/cloudstack.asc] file:///srv/mirror/cloudstack bookworm 4.22\n"),
    ];
    for (platform, file, line) in cases {
        let text = base
            .replace("release = \"4.22\"\n", "release = \"4.22\"\nmirror = \"/srv/mirror/cloudstack\"\ngpg-key = \"/srv/mirror/cloudstack/release.asc\"\n")
            .replace("roles = [\"all-in-one\"]\n", &format!("roles = [\"all-in-one\"]\nplatform = \"{platform}\"\n"));
        let p = tmp.path().join(format!("{platform}.toml"));
        std::fs::write(&p, text).unwrap();
        let out = tmp.path().join(platform);
        let o = cloudstrap(&["render", "--profile", s(&p), "--out", s(&out), "--root", s(&empty)]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let repo = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(repo.contains(line), "{platform}: {repo}");
        assert!(repo.contains("file:///srv/mirror/cloudstack/release.asc") && !repo.contains("download.cloudstack.org"), "{platform}: {repo}");
    }
}

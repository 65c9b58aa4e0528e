//! The EL code paths (yum/dnf + rpm, SysV `chkconfig`/`service`, firewalld's `firewall-cmd --reload`,
//! ufw's `ufw reload`), which cannot run for real here (no EL root on this machine).
//!
//! STAND-INS: `rpm`, `yum`, `dnf`, `chkconfig`, `service`, `firewall-cmd` and `ufw` below are small shell
//! scripts written by this test, NOT the real tools. They append every call (argv) to a log and keep the
//! state the real tools would keep (installed packages, runlevel links, running services) as files, so
//! the test can assert the exact commands cloudstrap builds and that a second run finds everything done
//! and runs nothing that changes state. They say nothing about how the real tools behave beyond the
//! argument shapes and exit codes mirrored here (`rpm -q` 1 when missing, `service X status` 3 when
//! stopped, `chkconfig --list X` with "3:on").

mod engine_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::firewall::{ApplyFirewall, Backend};
use cloudstrap::action::packages::{InstallPackages, PackageManager};
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::repo::{ConfigureRepo, RepoKey};
use cloudstrap::action::service::{Init, Service};
use cloudstrap::action::{Action, Ctx, Record};
use cloudstrap::run::Redactor;
use engine_support::*;

/// Shared prologue of every stand-in: log argv, state under $ELSTUB_STATE.
const PROLOGUE: &str = "#!/bin/sh\n# STAND-IN for tests only (tests/engine_el_paths.rs), not the real tool.\nset -eu\nS=\"$ELSTUB_STATE\"\nmkdir -p \"$S/rpm\" \"$S/chk\" \"$S/run\"\necho \"$(basename \"$0\") $*\" >> \"$S/calls\"\n";

const RPM: &str = r#"case "$1" in
  -q) [ "$2" = --whatprovides ] || exit 9; [ -e "$S/rpm/$3" ] && { echo "$3-1.el"; exit 0; }; echo "no package provides $3"; exit 1 ;;
  --import) [ -s "$ELSTUB_ROOT$2" ] || exit 1; touch "$S/rpm-key-imported" ;;
  -qa) [ "$2" = --qf ] || exit 9; ls "$S/rpm" | sed 's/$/ installed/' ;;
  -ql) exit 0 ;;
  *) exit 9 ;;
esac
"#;

const YUM: &str = r#"[ "$1" = -y ] || exit 9
verb="$2"; shift 2
case "$verb" in
  install) for p in "$@"; do touch "$S/rpm/$p"; done ;;
  remove) for p in "$@"; do rm -f "$S/rpm/$p"; done ;;
  makecache) [ $# -eq 0 ] || exit 9 ;;
  *) exit 9 ;;
esac
"#;

const CHKCONFIG: &str = r#"if [ "$1" = --list ]; then
  [ -e "$S/known/$2" ] || { echo "service $2 supports chkconfig, but is not referenced in any runlevel"; exit 1; }
  if [ -e "$S/chk/$2" ]; then printf '%s\t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n' "$2"; else printf '%s\t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off\n' "$2"; fi
  exit 0
fi
case "$2" in on) touch "$S/chk/$1" ;; off) rm -f "$S/chk/$1" ;; *) exit 9 ;; esac
"#;

const SERVICE: &str = r#"[ -e "$S/known/$1" ] || { echo "$1: unrecognized service"; exit 1; }
case "$2" in
  status) [ -e "$S/run/$1" ] && { echo "$1 is running"; exit 0; }; echo "$1 is stopped"; exit 3 ;;
  start|restart) touch "$S/run/$1" ;;
  stop) rm -f "$S/run/$1" ;;
  *) exit 9 ;;
esac
"#;

const RELOAD: &str = "[ $# -eq 1 ] && [ \"$1\" = --reload ] || [ \"$*\" = reload ] || exit 9\n";

fn install_standins(bin: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    for (name, body) in
        [("rpm", RPM), ("yum", YUM), ("dnf", YUM), ("chkconfig", CHKCONFIG), ("service", SERVICE), ("firewall-cmd", RELOAD), ("ufw", RELOAD)]
    {
        let p = bin.join(name);
        std::fs::write(&p, format!("{PROLOGUE}{body}")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
    /// PATH with the stand-ins first, and where they keep their state, for this lab's commands only.
    env: Vec<(String, String)>,
}

impl Lab {
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.join("calls")).unwrap_or_default().lines().map(str::to_string).collect()
    }
    fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.state.join("calls"));
    }
    fn ctx(&self) -> Ctx {
        let mut ctx = Ctx::live_with_files_in(&self.root, Redactor::default());
        ctx.env = self.env.clone();
        ctx
    }
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("standin-bin");
    install_standins(&bin);
    let state = dir.path().join("state");
    for d in ["known", "rpm", "chk", "run"] {
        std::fs::create_dir_all(state.join(d)).unwrap();
    }
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let env = vec![
        ("PATH".to_string(), format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())),
        ("ELSTUB_STATE".to_string(), state.display().to_string()),
        // A live context with its files in a scratch root: in-system paths the stand-ins get are below it.
        ("ELSTUB_ROOT".to_string(), root.display().to_string()),
    ];
    Lab { root, state, env, _dir: dir }
}

fn run_twice(lab: &Lab, steps: &[Step]) -> (Vec<String>, Vec<String>) {
    let ctx = lab.ctx();
    let opts = Options { workers: 1, kill_after: None };
    let out = Captured::default();
    let s = execute(steps, &ctx, Receipt::new("el6", vec!["management".into()]), &out.lines(), &opts).unwrap();
    assert_eq!(s.executed, steps.len(), "{}", out.text());
    let first = lab.calls();
    lab.clear_calls();
    let s = execute(steps, &ctx, Receipt::new("el6", vec!["management".into()]), &out.lines(), &opts).unwrap();
    assert_eq!((s.executed, s.already_done), (0, steps.len()), "second run must find everything done: {}", out.text());
    (first, lab.calls())
}

/// Only queries (rpm -q, chkconfig --list, service status) on a finished host.
fn assert_only_queries(calls: &[String]) {
    for c in calls {
        assert!(
            c.starts_with("rpm -q ") || c.starts_with("chkconfig --list ") || c.ends_with(" status"),
            "a re-run on a finished host changed something: {c:?} in {calls:#?}"
        );
    }
}

#[test]
fn yum_installs_only_what_rpm_lacks_and_a_rerun_only_queries() {
    let lab = lab();
    std::fs::write(lab.state.join("rpm/java-1.8.0-openjdk"), "").unwrap();
    let steps = vec![Step {
        action: Box::new(InstallPackages {
            manager: PackageManager::Yum,
            packages: vec!["mysql-server".into(), "java-1.8.0-openjdk".into(), "cloud-client".into()],
            purpose: "management server".into(),
        }),
        after: vec![],
    }];
    let (first, second) = run_twice(&lab, &steps);
    assert!(first.contains(&"yum -y install mysql-server cloud-client".to_string()), "{first:#?}");
    assert_eq!(first.iter().filter(|c| c.starts_with("yum ")).count(), 1, "{first:#?}");
    assert!(!first.iter().any(|c| c.starts_with("dpkg") || c.starts_with("apt")), "{first:#?}");
    assert_eq!(second, vec!["rpm -q --whatprovides mysql-server", "rpm -q --whatprovides java-1.8.0-openjdk", "rpm -q --whatprovides cloud-client"]);

    // Revert removes only what this action added, not the package that was there before.
    let act = InstallPackages { manager: PackageManager::Dnf, packages: vec!["nfs-utils".into(), "java-1.8.0-openjdk".into()], purpose: "x".into() };
    let ctx = lab.ctx();
    let mut rec = Record::default();
    act.prepare(&ctx, &mut rec).unwrap();
    assert_eq!(rec.added, vec!["nfs-utils".to_string()]);
    lab.clear_calls();
    act.execute(&ctx, &mut rec).unwrap();
    assert!(lab.calls().contains(&"dnf -y install nfs-utils".to_string()), "{:#?}", lab.calls());
    act.revert(&ctx, &rec).unwrap();
    assert!(lab.calls().contains(&"dnf -y remove nfs-utils".to_string()), "{:#?}", lab.calls());
    assert!(lab.state.join("rpm/java-1.8.0-openjdk").exists() && !lab.state.join("rpm/nfs-utils").exists());
}

#[test]
fn yum_repository_imports_its_key_then_makecache_once_per_file_content() {
    let lab = lab();
    let ctx = lab.ctx();
    std::fs::create_dir_all(lab.root.join("etc/yum.repos.d")).unwrap();
    std::fs::write(lab.root.join("etc/yum.repos.d/cloudstack.repo"), "[cloudstack]\nbaseurl=http://127.0.0.1/\n").unwrap();
    let keysrc = lab.root.join("key.asc");
    std::fs::write(&keysrc, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n").unwrap();
    let steps = vec![Step {
        action: Box::new(ConfigureRepo {
            name: "cloudstack".into(),
            manager: PackageManager::Yum,
            repo_file: "/etc/yum.repos.d/cloudstack.repo".into(),
            key: Some(RepoKey { source: keysrc.display().to_string(), dest: "/etc/pki/rpm-gpg/RPM-GPG-KEY-cloudstack".into() }),
        }),
        after: vec![],
    }];
    let (first, second) = run_twice(&lab, &steps);
    // The key is imported from where the command sees it (live: the in-system path).
    assert_eq!(first, vec!["rpm --import /etc/pki/rpm-gpg/RPM-GPG-KEY-cloudstack", "yum -y makecache"]);
    assert!(second.is_empty(), "{second:#?}");
    // A changed repository file makes the refresh due again.
    std::fs::write(lab.root.join("etc/yum.repos.d/cloudstack.repo"), "[cloudstack]\nbaseurl=http://127.0.0.2/\n").unwrap();
    assert!(!steps[0].action.is_done(&ctx).unwrap());
}

#[test]
fn a_repository_key_already_on_the_host_is_backed_up_and_put_back_by_revert() {
    let lab = lab();
    let ctx = lab.ctx();
    let dest = lab.root.join("etc/pki/rpm-gpg/RPM-GPG-KEY-cloudstack");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, "operator's old key\n").unwrap();
    let keysrc = lab.root.join("key.asc");
    std::fs::write(&keysrc, "new key\n").unwrap();
    let repo = ConfigureRepo {
        name: "cloudstack".into(),
        manager: PackageManager::Yum,
        repo_file: "/etc/yum.repos.d/cloudstack.repo".into(),
        key: Some(RepoKey { source: keysrc.display().to_string(), dest: "/etc/pki/rpm-gpg/RPM-GPG-KEY-cloudstack".into() }),
    };
    let mut rec = Record::default();
    repo.prepare(&ctx, &mut rec).unwrap();
    let b = rec
        .undo
        .iter()
        .find_map(|u| match u {
            cloudstrap::action::undo::Undo::RestoreFile { backup, .. } => Some(backup.clone()),
            _ => None,
        })
        .expect("the replaced key is backed up");
    assert_eq!(std::fs::read_to_string(lab.root.join(b.trim_start_matches('/'))).unwrap(), "operator's old key\n");
    repo.execute(&ctx, &mut rec).unwrap();
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new key\n");
    repo.revert(&ctx, &rec).unwrap();
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "operator's old key\n");
}

#[test]
fn sysv_service_is_chkconfig_on_and_started_then_restarted_only_on_config_change() {
    let lab = lab();
    std::fs::write(lab.state.join("known/mysqld"), "").unwrap();
    std::fs::create_dir_all(lab.root.join("etc")).unwrap();
    std::fs::write(lab.root.join("etc/my.cnf"), "[mysqld]\n").unwrap();
    let steps = vec![Step { action: Box::new(Service::run(Init::SysV, "mysqld", vec!["/etc/my.cnf".into()], true)), after: vec![] }];
    let (first, second) = run_twice(&lab, &steps);
    let changes: Vec<&String> = first.iter().filter(|c| !c.starts_with("chkconfig --list") && !c.ends_with(" status")).collect();
    assert_eq!(changes, vec!["chkconfig mysqld on", "service mysqld start"], "{first:#?}");
    assert!(!first.iter().any(|c| c.starts_with("systemctl")));
    assert_only_queries(&second);

    // Changed configuration: a restart, not a second start.
    std::fs::write(lab.root.join("etc/my.cnf"), "[mysqld]\nport=3306\n").unwrap();
    let ctx = lab.ctx();
    assert!(!steps[0].action.is_done(&ctx).unwrap());
    lab.clear_calls();
    steps[0].action.execute(&ctx, &mut Record::default()).unwrap();
    assert!(lab.calls().contains(&"service mysqld restart".to_string()), "{:#?}", lab.calls());
    assert!(!lab.calls().contains(&"service mysqld start".to_string()));
    assert!(steps[0].action.is_done(&ctx).unwrap());

    // Stopped behind our back: due again.
    std::fs::remove_file(lab.state.join("run/mysqld")).unwrap();
    assert!(!steps[0].action.is_done(&ctx).unwrap());

    // Revert puts back "off and stopped" from the record taken before the change.
    let act = Service::run(Init::SysV, "nfs", vec![], true);
    std::fs::write(lab.state.join("known/nfs"), "").unwrap();
    let mut rec = Record::default();
    act.prepare(&ctx, &mut rec).unwrap();
    assert_eq!(rec.previous.as_deref(), Some("disabled inactive"));
    act.execute(&ctx, &mut rec).unwrap();
    assert!(lab.state.join("chk/nfs").exists() && lab.state.join("run/nfs").exists());
    act.revert(&ctx, &rec).unwrap();
    assert!(!lab.state.join("chk/nfs").exists() && !lab.state.join("run/nfs").exists());
}

#[test]
fn sysv_service_in_an_image_root_is_only_chkconfig_on() {
    let lab = lab();
    std::fs::write(lab.state.join("known/cloud-management"), "").unwrap();
    let steps = vec![Step { action: Box::new(Service::run(Init::SysV, "cloud-management", vec![], false)), after: vec![] }];
    let (first, second) = run_twice(&lab, &steps);
    assert!(first.contains(&"chkconfig cloud-management on".to_string()));
    assert!(!first.iter().any(|c| c.starts_with("service ")), "nothing starts in an image root: {first:#?}");
    assert_only_queries(&second);
}

#[test]
fn firewalld_and_ufw_reload_once_per_policy_content() {
    for (file, argv, line) in [
        ("/etc/firewalld/policies/cloudstrap.xml", vec!["firewall-cmd", "--reload"], "firewall-cmd --reload"),
        ("/etc/ufw/before.rules", vec!["ufw", "reload"], "ufw reload"),
    ] {
        let lab = lab();
        let host = lab.root.join(file.trim_start_matches('/'));
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(&host, "policy v1\n").unwrap();
        let mk = || ApplyFirewall { backend: Backend::Reload { file: file.into(), argv: argv.iter().map(|s| s.to_string()).collect() } };
        let steps = vec![Step { action: Box::new(mk()), after: vec![] }];
        let (first, second) = run_twice(&lab, &steps);
        assert_eq!(first, vec![line.to_string()]);
        assert!(second.is_empty(), "{second:#?}");
        std::fs::write(&host, "policy v2\n").unwrap();
        assert!(!mk().is_done(&lab.ctx()).unwrap(), "a changed policy file must be applied again");
    }
}

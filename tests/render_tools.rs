//! Rendered files checked by the tools that read them on a real host: visudo, iptables-restore in a fresh
//! network namespace, MariaDB (option parsing and a real server start), exportfs, nfsconf,
//! firewall-offline-cmd, ifquery and a YAML parser for netplan. Needs root and the packages in
//! scripts/test-env/packages/render.list; a missing tool fails the test with the package to install.

mod render_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cloudstrap::platform::{Firewall, Platform, PlatformId};
use cloudstrap::render::{self, RenderedFile};
use render_common::*;

fn need(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(tool).is_file())
        })
        .unwrap_or(false);
    assert!(found, "`{tool}` is missing: install the Debian package {package} (scripts/test-env/packages/render.list)");
}

fn need_root() {
    assert!(nix::unistd::geteuid().is_root(), "these checks need root (network and mount namespaces)");
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn sh(script: &str, ns: &str) -> Output {
    run(Command::new("unshare").arg(ns).args(["sh", "-ec", script]))
}

/// Final content of the rendered file at `path`, merged with the platform's stock file.
fn final_content(files: &[RenderedFile], pid: PlatformId, path: &str) -> String {
    let f = files.iter().find(|f| f.path == Path::new(path)).unwrap_or_else(|| panic!("{pid}: {path} not rendered"));
    let existing = stock_root(pid).read_opt(path).unwrap();
    render::merge(existing.as_deref(), f)
}

fn write_temp(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn sudoers_dropin_passes_visudo() {
    need("visudo", "sudo");
    let tmp = tempfile::tempdir().unwrap();
    for pid in PlatformId::ALL {
        let files = render(&role_profile("all-in-one", pid), pid);
        let f = files.iter().find(|f| f.path == Path::new("/etc/sudoers.d/cloudstrap")).expect("sudoers drop-in");
        assert_eq!(f.mode, 0o440);
        assert!(f.content.lines().any(|l| l == "Defaults:cloud !requiretty"));
        let p = write_temp(tmp.path(), &format!("{pid}-sudoers"), &f.content);
        let o = run(Command::new("visudo").arg("-cf").arg(&p));
        assert!(o.status.success(), "{pid}: visudo rejected the drop-in: {}", text(&o));
        // Management or agent alone: no sudoers change.
        let files = render(&role_profile("management", pid), pid);
        assert!(!files.iter().any(|f| f.path.starts_with("/etc/sudoers.d")));
    }
}

/// Load the rules in a fresh network namespace and list the chain as the kernel holds it.
fn load_iptables(rules: &Path, chain: &str) -> Vec<String> {
    let o = sh(
        &format!("iptables-restore --test < '{0}'; iptables-restore < '{0}'; iptables -S '{chain}'", rules.display()),
        "-n",
    );
    assert!(o.status.success(), "iptables-restore rejected {}: {}", rules.display(), text(&o));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.starts_with("-A ")).map(str::to_string).collect()
}

#[test]
fn iptables_rules_load_and_come_before_any_reject() {
    need("iptables-restore", "iptables");
    need("unshare", "util-linux");
    need_root();
    let tmp = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, cloudstrap::profile::Profile, PlatformId)> = vec![];
    for pid in PlatformId::ALL {
        if matches!(Platform::get(pid).firewall, Firewall::IptablesFile { .. }) {
            for role in ROLE_FIXTURES {
                cases.push((format!("{pid}-{role}"), role_profile(role, pid), pid));
            }
        }
    }
    cases.push(("el6-squirrel-server".into(), load_fixture("squirrel-server.toml"), PlatformId::El6));
    for (name, profile, pid) in cases {
        let Firewall::IptablesFile { path, chain, .. } = Platform::get(pid).firewall else { unreachable!() };
        let files = render(&profile, pid);
        let ours: Vec<&str> = files
            .iter()
            .find(|f| f.path == Path::new(path))
            .expect("firewall rules rendered")
            .content
            .lines()
            .filter(|l| l.starts_with("-A "))
            .collect();
        assert!(!ours.is_empty(), "{name}: no rules");
        let p = write_temp(tmp.path(), &format!("{name}.rules"), &final_content(&files, pid, path));
        let listed = load_iptables(&p, chain);
        // Our rules are the chain's first rules, every one scoped to a source network.
        assert!(listed.len() >= ours.len(), "{name}: {listed:?}");
        for l in &listed[..ours.len()] {
            assert!(l.contains(" -s ") && l.ends_with("-j ACCEPT"), "{name}: unexpected head rule {l}");
        }
        let first_block = listed.iter().position(|l| l.contains("-j REJECT") || l.contains("-j DROP"));
        if let Some(i) = first_block {
            assert!(i >= ours.len(), "{name}: a REJECT/DROP precedes our rules: {listed:?}");
        }
    }
}

fn mariadb_option(help: &str, name: &str) -> Option<String> {
    help.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(name)).then(|| it.next().unwrap_or("").to_string())
    })
}

fn db_cases() -> Vec<(String, String, Option<&'static str>, &'static str)> {
    // (name, final my.cnf text, expected bind-address, expected server-id)
    let mut v = vec![];
    let el6 = load_fixture("squirrel-server.toml");
    v.push((
        "el6-squirrel-server".into(),
        final_content(&render(&el6, PlatformId::El6), PlatformId::El6, "/etc/my.cnf"),
        None,
        "1",
    ));
    for pid in PlatformId::ALL {
        let files = render(&role_profile("database", pid), pid);
        let db = Platform::get(pid).database(None).unwrap();
        v.push((format!("{pid}-database"), final_content(&files, pid, db.config), Some("0.0.0.0"), "7"));
    }
    v
}

#[test]
fn mysql_settings_are_read_by_mariadb() {
    need("mariadbd", "mariadb-server");
    let tmp = tempfile::tempdir().unwrap();
    for (name, cnf, bind, server_id) in db_cases() {
        let p = write_temp(tmp.path(), &format!("{name}.cnf"), &cnf);
        let o =
            run(Command::new("mariadbd").arg(format!("--defaults-file={}", p.display())).args(["--help", "--verbose"]));
        assert!(o.status.success(), "{name}: mariadbd rejected the settings: {}", text(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        let want = [
            ("server-id", server_id),
            ("innodb-rollback-on-timeout", "TRUE"),
            ("innodb-lock-wait-timeout", "600"),
            ("log-bin", "mysql-bin"),
            ("binlog-format", "ROW"),
        ];
        for (k, v) in want {
            assert_eq!(mariadb_option(&help, k).as_deref(), Some(v), "{name}: {k}");
        }
        let max = if server_id == "7" { "700" } else { "350" };
        assert_eq!(mariadb_option(&help, "max-connections").as_deref(), Some(max), "{name}");
        match bind {
            Some(b) => assert_eq!(mariadb_option(&help, "bind-address").as_deref(), Some(b), "{name}"),
            None => assert!(!cnf.contains("bind-address"), "{name}: a local database must not bind all addresses"),
        }
    }
}

#[test]
fn mariadb_starts_with_the_dropin() {
    need("mariadbd", "mariadb-server");
    need("mariadb-install-db", "mariadb-server");
    need("unshare", "util-linux");
    need_root();
    let tmp = tempfile::tempdir().unwrap();
    let files = render(&role_profile("database", PlatformId::Debian12), PlatformId::Debian12);
    let cnf = final_content(&files, PlatformId::Debian12, "/etc/mysql/mariadb.conf.d/99-cloudstack.cnf");
    let p = write_temp(tmp.path(), "my.cnf", &cnf);
    let d = tmp.path().display();
    // Own network namespace: the drop-in binds 0.0.0.0:3306 without touching this machine's network.
    let script = format!(
        "ip link set lo up
         mariadb-install-db --no-defaults --user=root --datadir={d}/data --auth-root-authentication-method=socket >{d}/install.log 2>&1
         mariadbd --defaults-file={cnf} --user=root --datadir={d}/data --socket={d}/sock --pid-file={d}/pid --log-error={d}/err.log &
         for i in $(seq 1 600); do mariadb-admin --socket={d}/sock ping >/dev/null 2>&1 && break; sleep 0.1; done
         mariadb --socket={d}/sock -N -B -e 'select @@server_id, @@innodb_rollback_on_timeout, @@innodb_lock_wait_timeout, @@max_connections, @@log_bin, @@binlog_format, @@bind_address'
         mariadb-admin --socket={d}/sock shutdown",
        cnf = p.display()
    );
    let o = sh(&script, "-n");
    let log = std::fs::read_to_string(tmp.path().join("err.log")).unwrap_or_default();
    assert!(o.status.success(), "MariaDB did not start with the drop-in: {}\n{log}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let row: Vec<&str> = out.trim().split('\t').collect();
    assert_eq!(row, ["7", "1", "600", "700", "1", "ROW", "0.0.0.0"], "server variables: {out}");
}

/// exportfs reads the exports in a private mount namespace (the host's /etc/exports and /var/lib/nfs are
/// left alone); export paths are moved under a temp dir because exportfs stats them.
fn exportfs_check(name: &str, exports: &str, tmp: &Path) -> String {
    let base = tmp.join(name);
    let rewritten: String = exports
        .lines()
        .map(|l| if l.starts_with('/') { format!("{}{l}\n", base.display()) } else { format!("{l}\n") })
        .collect();
    for l in rewritten.lines().filter(|l| l.starts_with('/')) {
        std::fs::create_dir_all(l.split_whitespace().next().unwrap()).unwrap();
    }
    let file = write_temp(tmp, &format!("{name}.exports"), &rewritten);
    let state = tmp.join(format!("{name}-state"));
    std::fs::create_dir_all(&state).unwrap();
    let o = sh(
        &format!(
            "mount --bind '{}' /etc/exports; mount --bind '{}' /var/lib/nfs; exportfs -ra; cat /var/lib/nfs/etab",
            file.display(),
            state.display()
        ),
        "-m",
    );
    assert!(o.status.success() && o.stderr.is_empty(), "{name}: exportfs rejected the exports: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn exports_are_accepted_by_exportfs() {
    need("exportfs", "nfs-kernel-server");
    need_root();
    assert!(
        Path::new("/etc/exports").exists() && Path::new("/var/lib/nfs").is_dir(),
        "nfs-kernel-server is not installed"
    );
    let tmp = tempfile::tempdir().unwrap();
    let el6 = render(&load_fixture("squirrel-server.toml"), PlatformId::El6);
    let deb = render(&role_profile("nfs", PlatformId::Debian12), PlatformId::Debian12);
    let cases = [
        ("el6", final_content(&el6, PlatformId::El6, "/etc/exports"), "192.168.1.0/24"),
        ("debian", final_content(&deb, PlatformId::Debian12, "/etc/exports.d/cloudstrap.exports"), "10.30.0.0/16"),
    ];
    for (name, exports, client) in cases {
        let etab = exportfs_check(name, &exports, tmp.path());
        let entries: Vec<&str> = etab.lines().collect();
        assert_eq!(entries.len(), 2, "{name}: {etab}");
        for e in entries {
            assert!(e.contains(&format!("\t{client}(")), "{name}: export not scoped to {client}: {e}");
            for opt in ["rw", "async", "insecure", "no_root_squash", "no_subtree_check"] {
                assert!(e.split(['(', ')', ',']).any(|o| o == opt), "{name}: {opt} missing in {e}");
            }
        }
    }
}

#[test]
fn nfs_ports_are_read_by_nfsconf() {
    need("nfsconf", "nfs-common");
    let tmp = tempfile::tempdir().unwrap();
    let want = [
        ("lockd", "port", "32803"),
        ("lockd", "udp-port", "32769"),
        ("mountd", "port", "892"),
        ("statd", "port", "662"),
        ("statd", "outgoing-port", "2020"),
    ];
    // Debian/Ubuntu: our drop-in beside the distribution's nfs.conf; EL8/EL9: keys set in nfs.conf itself.
    let deb = render(&role_profile("nfs", PlatformId::Ubuntu2404), PlatformId::Ubuntu2404);
    let dropin = final_content(&deb, PlatformId::Ubuntu2404, "/etc/nfs.conf.d/cloudstrap.conf");
    let deb_conf = write_temp(tmp.path(), "deb/nfs.conf", "[general]\n[lockd]\n# port=0\n");
    write_temp(tmp.path(), "deb/nfs.conf.d/cloudstrap.conf", &dropin);
    let el = render(&role_profile("nfs", PlatformId::El9), PlatformId::El9);
    let el_conf = write_temp(tmp.path(), "el/nfs.conf", &final_content(&el, PlatformId::El9, "/etc/nfs.conf"));
    for conf in [deb_conf, el_conf] {
        for (section, key, value) in want {
            let o = run(Command::new("nfsconf").arg("--file").arg(&conf).args(["--get", section, key]));
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), value, "{}: [{section}] {key}", conf.display());
        }
    }
}

#[test]
fn firewalld_policy_is_accepted_by_firewalld() {
    need("firewall-offline-cmd", "firewalld");
    need_root();
    assert!(Path::new("/etc/firewalld").is_dir(), "firewalld is not installed (/etc/firewalld missing)");
    let tmp = tempfile::tempdir().unwrap();
    for pid in [PlatformId::El8, PlatformId::El9] {
        for role in ROLE_FIXTURES {
            let name = format!("{pid}-{role}");
            let files = render(&role_profile(role, pid), pid);
            let Some(f) = files.iter().find(|f| f.path == Path::new("/etc/firewalld/policies/cloudstrap.xml")) else {
                panic!("{name}: no firewalld policy");
            };
            let conf = tmp.path().join(&name);
            write_temp(&conf, "policies/cloudstrap.xml", &f.content);
            std::fs::copy("/etc/firewalld/firewalld.conf", conf.join("firewalld.conf")).expect("firewalld.conf");
            let o = sh(
                &format!(
                    "mount --bind '{}' /etc/firewalld; firewall-offline-cmd --check-config; firewall-offline-cmd --info-policy=cloudstrap",
                    conf.display()
                ),
                "-m",
            );
            let out = text(&o);
            assert!(o.status.success() && !out.contains("WARNING") && !out.contains("ERROR"), "{name}: {out}");
            let rich =
                out.lines().filter(|l| l.trim_start().starts_with("rule family=\"ipv4\" source address=")).count();
            assert_eq!(rich, f.content.matches("<rule ").count(), "{name}: firewalld did not load every rule: {out}");
            assert!(out.contains("target: CONTINUE") && out.contains("egress-zones: HOST"), "{name}: {out}");
        }
    }
}

#[test]
fn bridge_configuration_is_parsed() {
    need("ifquery", "ifupdown");
    need("python3", "python3-yaml");
    let tmp = tempfile::tempdir().unwrap();
    // Debian: ifupdown stanzas.
    let files = render(&role_profile("kvm-agent", PlatformId::Debian12), PlatformId::Debian12);
    let f = files.iter().find(|f| f.path == Path::new("/etc/network/interfaces.d/cloudstrap")).expect("ifupdown file");
    let p = write_temp(tmp.path(), "interfaces", &f.content);
    let o = run(Command::new("ifquery").arg("-i").arg(&p).arg("cloudbr0"));
    assert!(o.status.success(), "ifquery: {}", text(&o));
    let q = String::from_utf8_lossy(&o.stdout);
    assert!(
        q.contains("address: 10.20.0.21") && q.contains("bridge_ports: ens3") && q.contains("gateway: 10.20.0.1"),
        "{q}"
    );
    // Ubuntu: netplan YAML, structure checked with a YAML parser.
    for pid in [PlatformId::Ubuntu2204, PlatformId::Ubuntu2404] {
        let files = render(&role_profile("kvm-agent", pid), pid);
        let f = files.iter().find(|f| f.path == Path::new("/etc/netplan/99-cloudstrap.yaml")).expect("netplan file");
        assert_eq!(f.mode, 0o600);
        let p = write_temp(tmp.path(), &format!("{pid}.yaml"), &f.content);
        let script = "import sys, yaml\nn = yaml.safe_load(open(sys.argv[1]))['network']\nb = n['bridges']\n\
assert n['version'] == 2\nassert b['cloudbr0']['interfaces'] == ['ens3'], b\nassert b['cloudbr0']['addresses'] == ['10.20.0.21/24'], b\n\
assert b['cloudbr0']['routes'] == [{'to': 'default', 'via': '10.20.0.1'}], b\nassert b['cloudbr1']['interfaces'] == [], b\n\
assert n['ethernets']['ens3']['dhcp4'] is False\n";
        let o = run(Command::new("python3").arg("-c").arg(script).arg(&p));
        assert!(o.status.success(), "{pid}: netplan YAML: {}", text(&o));
    }
    // EL: ifcfg files are shell KEY=VALUE lines only.
    for pid in [PlatformId::El6, PlatformId::El8, PlatformId::El9] {
        let files = render(&role_profile("kvm-agent", pid), pid);
        let ifcfg: Vec<&RenderedFile> = files.iter().filter(|f| f.path.to_string_lossy().contains("/ifcfg-")).collect();
        assert_eq!(ifcfg.len(), 3, "{pid}");
        for f in ifcfg {
            for l in f.content.lines().filter(|l| !l.starts_with('#')) {
                let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{pid}: {l}"));
                assert!(k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'), "{pid}: key {k}");
                assert!(!v.is_empty() && !v.contains(char::is_whitespace), "{pid}: value of {k}");
            }
        }
        let br = files.iter().find(|f| f.path.ends_with("ifcfg-cloudbr0")).unwrap();
        assert!(br.content.contains("TYPE=Bridge\n") && br.content.contains("IPADDR=10.20.0.21\n"));
    }
}

#[test]
fn hosts_block_makes_the_fqdn_resolve_to_the_host_address() {
    need("getent", "libc-bin");
    need_root();
    let tmp = tempfile::tempdir().unwrap();
    // Debian's and Ubuntu's installers may map the host name to 127.0.1.1: our block comes first.
    for pid in [PlatformId::El6, PlatformId::Ubuntu2204, PlatformId::Debian12] {
        let files = render(&role_profile("all-in-one", pid), pid);
        let f = files.iter().find(|f| f.path == Path::new("/etc/hosts")).unwrap();
        let existing =
            stock_root(pid).read_opt("/etc/hosts").unwrap().unwrap() + "127.0.1.1\tcloud.lab.example.org cloud\n";
        let hosts = write_temp(tmp.path(), &format!("{pid}-hosts"), &render::merge(Some(&existing), f));
        // gethostbyname order (what `hostname --fqdn` and `getent hosts` see) is file order: our line first.
        // getaddrinfo still sorts a 127.0.1.1 mapping first; lines outside the block are the user's, so
        // preflight's net.fqdn reports that case instead of cloudstrap editing it.
        for name in ["cloud.lab.example.org", "cloud"] {
            let o = sh(&format!("mount --bind '{}' /etc/hosts; getent -s files hosts {name}", hosts.display()), "-m");
            assert!(o.status.success(), "{pid}: {}", text(&o));
            let out = String::from_utf8_lossy(&o.stdout).to_string();
            let first = out.lines().next().unwrap_or("");
            assert!(first.starts_with("192.168.50.5 "), "{pid}: {name} resolves first to {first:?}\n{out}");
        }
    }
}

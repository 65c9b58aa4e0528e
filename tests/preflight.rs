//! Preflight against fixture hosts: the real binary with --sysroot, statuses per check id, exit codes,
//! and the remedy each failure carries. The running-VM check asks libvirt's test driver through virsh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const IDS: [&str; 15] = [
    "user.root",
    "os.arch",
    "os.supported",
    "cpu.virtualization",
    "net.static-ip",
    "net.fqdn",
    "vm.none-running",
    "selinux.mode",
    "resources.memory",
    "resources.disk",
    "ports.free",
    "time.sync",
    "nfs.exports",
    "disk.target",
    "fleet.dhcp",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts").join(name)
}

/// A shipped profile ("profiles/NAME") or a test profile under tests/fixtures/preflight/.
fn profile(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = if name.starts_with("profiles/") { root.join(name) } else { root.join("tests/fixtures/preflight").join(name) };
    path.display().to_string()
}

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

fn preflight(host: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .arg("--sysroot")
        .arg(fixture(host))
        .args(["preflight", "--format", "json"])
        .args(args)
        .output()
        .expect("run cloudstrap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{host}: output is not JSON ({e}): {stdout}"));
    Run { code: out.status.code().unwrap_or(-1), json, stderr: String::from_utf8_lossy(&out.stderr).into() }
}

fn statuses(r: &Run) -> BTreeMap<String, String> {
    r.json["checks"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string())).collect()
}

fn check<'a>(r: &'a Run, id: &str) -> &'a Value {
    r.json["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id}"))
}

/// Statuses of a healthy fixture host checked for all roles without a profile.
fn healthy(el: bool) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = IDS.iter().map(|id| (id.to_string(), "pass".to_string())).collect();
    m.insert("vm.none-running".into(), "skip".into()); // libvirt is not asked in a fixture without --libvirt-uri
    m.insert("nfs.exports".into(), "skip".into()); // the host serves the exports itself
    m.insert("disk.target".into(), "skip".into()); // no [disk]: not an install onto a blank disk
    m.insert("fleet.dhcp".into(), "skip".into()); // no provisioning role
    if !el {
        m.insert("selinux.mode".into(), "skip".into());
    }
    m
}

fn with(mut m: BTreeMap<String, String>, changes: &[(&str, &str)]) -> BTreeMap<String, String> {
    for (id, st) in changes {
        assert!(m.contains_key(*id), "unknown id {id}");
        m.insert(id.to_string(), st.to_string());
    }
    m
}

/// Every warning and failure carries a remedy; passes and skips carry none. The summary adds up.
fn assert_shape(host: &str, r: &Run) {
    let checks = r.json["checks"].as_array().unwrap();
    assert_eq!(checks.iter().map(|c| c["id"].as_str().unwrap()).collect::<Vec<_>>(), IDS, "{host}: check ids and order");
    let mut count: BTreeMap<&str, u64> = BTreeMap::new();
    for c in checks {
        let st = c["status"].as_str().unwrap();
        *count.entry(st).or_default() += 1;
        assert!(!c["summary"].as_str().unwrap().is_empty(), "{host}: {} has no summary", c["id"]);
        match st {
            "fail" | "warn" => assert!(c["remedy"].as_str().is_some_and(|s| s.len() > 20), "{host}: {} {st} without remedy", c["id"]),
            "pass" | "skip" => assert!(c["remedy"].is_null(), "{host}: {} {st} with a remedy", c["id"]),
            other => panic!("{host}: bad status {other}"),
        }
    }
    for st in ["pass", "warn", "fail", "skip"] {
        assert_eq!(r.json["summary"][st].as_u64().unwrap(), *count.get(st).unwrap_or(&0), "{host}: summary.{st}");
    }
    let failed = count.get("fail").copied().unwrap_or(0) > 0;
    assert_eq!(r.code, if failed { 1 } else { 0 }, "{host}: exit code; stderr: {}", r.stderr);
}

fn remedy(r: &Run, id: &str) -> String {
    check(r, id)["remedy"].as_str().unwrap_or_default().to_string()
}

#[test]
fn healthy_platforms_pass() {
    for (host, platform, el) in [
        ("el8", "el8", true),
        ("el9", "el9", true),
        ("ubuntu-22.04", "ubuntu-22.04", false),
        ("ubuntu-24.04", "ubuntu-24.04", false),
        ("debian-12", "debian-12", false),
    ] {
        let r = preflight(host, &[]);
        assert_shape(host, &r);
        assert_eq!(r.json["platform"], platform, "{host}");
        assert_eq!(r.json["roles"], serde_json::json!(["database", "nfs", "management", "kvm-agent"]), "{host}");
        assert_eq!(statuses(&r), healthy(el), "{host}");
        assert_eq!(r.code, 0, "{host}");
    }
}

#[test]
fn the_articles_two_hosts() {
    // The shipped profiles of the article's hosts on fixtures of those hosts.
    // cloud-server.squirrel.org: CentOS 6.2, management + MySQL + NFS, CloudStack 3.0.2.
    let r = preflight("el6", &["--profile", &profile("profiles/squirrel-server.toml")]);
    assert_shape("el6", &r);
    assert_eq!(r.json["platform"], "el6");
    assert_eq!(r.json["roles"], serde_json::json!(["database", "nfs", "management"]));
    let want = with(healthy(true), &[("cpu.virtualization", "skip"), ("vm.none-running", "skip")]);
    assert_eq!(statuses(&r), want);
    assert!(check(&r, "net.fqdn")["summary"].as_str().unwrap().contains("cloud-server.squirrel.org resolves to 192.168.1.4"));
    assert!(check(&r, "os.supported")["summary"].as_str().unwrap().contains("3.0.2"));
    assert!(check(&r, "time.sync")["summary"].as_str().unwrap().contains("0.xenserver.pool.ntp.org"));

    // cloud-agent.squirrel.org: the KVM host; it mounts the server's exports (not probed in a fixture).
    let r = preflight("el6-agent", &["--profile", &profile("profiles/squirrel-agent.toml")]);
    assert_shape("el6-agent", &r);
    let mut want: BTreeMap<String, String> = IDS.iter().map(|id| (id.to_string(), "pass".to_string())).collect();
    want.insert("vm.none-running".into(), "skip".into());
    want.insert("nfs.exports".into(), "skip".into());
    want.insert("disk.target".into(), "skip".into());
    want.insert("fleet.dhcp".into(), "skip".into());
    assert_eq!(statuses(&r), want);
    assert!(check(&r, "nfs.exports")["summary"].as_str().unwrap().contains("fixture"));
}

#[test]
fn release_decides_the_supported_os() {
    let cases = [
        ("el6", "3.0.2", "pass"),
        ("el6", "4.22", "fail"),
        ("el9", "3.0.2", "fail"),
        ("el9", "4.19", "pass"),
        ("debian-12", "4.20", "fail"),
        ("debian-12", "4.22", "pass"),
        ("ubuntu-24.04", "4.20", "pass"),
        ("debian-11", "4.22", "fail"),
    ];
    for (host, release, want) in cases {
        let r = preflight(host, &["--role", "management", "--release", release]);
        assert_shape(host, &r);
        assert_eq!(check(&r, "os.supported")["status"], want, "{host} with {release}");
        if want == "fail" {
            let rem = remedy(&r, "os.supported");
            assert!(rem.contains("same distribution release and the same CloudStack version"), "{host} {release}: {rem}");
        }
    }
    let r = preflight("el9", &["--role", "management", "--release", "3.0.2"]);
    assert!(remedy(&r, "os.supported").contains("el6"), "3.0.2 runs on el6 only");
}

/// One fixture per failure mode: the check that must fail (or warn), the rest as on a healthy host,
/// and words the remedy must carry.
/// (fixture, is EL, extra arguments, statuses that differ from a healthy host, words the remedy carries)
type FailureCase = (&'static str, bool, &'static [&'static str], &'static [(&'static str, &'static str)], &'static [&'static str]);

#[test]
fn each_failure_mode_fails_its_check_with_a_remedy() {
    let cases: &[FailureCase] = &[
        ("no-vt", true, &[], &[("cpu.virtualization", "fail")], &["firmware", "reinstall", "Q8"]),
        ("vt-no-kvm", true, &[], &[("cpu.virtualization", "fail")], &["modprobe kvm_intel", "firmware"]),
        ("dhcp", false, &[], &[("net.static-ip", "fail")], &["edit /etc/netplan/00-installer-config.yaml", "dhcp4: false", "netplan try", "Q1"]),
        (
            "dhcp-el6",
            true,
            &["--profile", "profiles/squirrel-server.toml"],
            &[("net.static-ip", "fail"), ("cpu.virtualization", "skip")],
            &["/etc/sysconfig/network-scripts/ifcfg-eth0", "BOOTPROTO=static", "IPADDR=192.168.1.4", "GATEWAY=192.168.1.1"],
        ),
        ("no-domain", false, &[], &[("net.fqdn", "fail")], &["/etc/hosts", "hostname --fqdn", "Q2"]),
        ("fqdn-loopback", false, &[], &[("net.fqdn", "fail")], &["127.0.0.1", "/etc/hosts", "Q2"]),
        ("selinux-enforcing", true, &[], &[("selinux.mode", "fail")], &["setenforce permissive", "SELINUX=permissive"]),
        ("32-bit", true, &["--role", "management"], &[("os.arch", "fail"), ("cpu.virtualization", "skip")], &["64-bit", "Q1"]),
        ("el7", true, &[], &[("os.supported", "fail")], &["same distribution release"]),
        ("debian-11", false, &["--release", "4.22"], &[("os.supported", "fail")], &["debian-12"]),
        ("low-memory", true, &[], &[("resources.memory", "fail")], &["4.0 GiB"]),
        ("low-disk", false, &[], &[("resources.disk", "fail")], &["template", "Q7"]),
        ("port-8080", true, &[], &[("ports.free", "fail")], &["ss -lntup", "8080"]),
        ("not-root", true, &[], &[("user.root", "fail")], &["root", "Q1"]),
        ("no-time", false, &[], &[("time.sync", "fail")], &["chrony"]),
    ];
    for (host, el, args, changes, words) in cases {
        let args: Vec<String> = args.iter().map(|a| if a.ends_with(".toml") { profile(a) } else { a.to_string() }).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = preflight(host, &args);
        assert_shape(host, &r);
        let mut want = with(healthy(*el), changes);
        if args.contains(&"--profile") || args.contains(&"--role") {
            // Profiles and --role management leave the kvm-agent checks out.
            want.insert("vm.none-running".into(), "skip".into());
        }
        assert_eq!(statuses(&r), want, "{host}");
        assert_eq!(r.code, 1, "{host} must exit 1");
        let failing = changes.iter().find(|(_, s)| *s == "fail").unwrap().0;
        let rem = remedy(&r, failing);
        for w in *words {
            assert!(rem.contains(w), "{host}: remedy of {failing} lacks {w:?}: {rem}");
        }
    }
}

#[test]
fn fqdn_on_loopback_before_its_address_warns() {
    // Debian's `127.0.1.1 name` line above the real one: the name resolves to the host, but loopback first.
    let r = preflight("fqdn-loopback-first", &[]);
    assert_shape("fqdn-loopback-first", &r);
    assert_eq!(statuses(&r), with(healthy(false), &[("net.fqdn", "warn")]));
    assert_eq!(r.code, 0, "a warning alone does not fail preflight");
    let summary = check(&r, "net.fqdn")["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("127.0.1.1") && summary.contains("10.20.0.12"), "{summary}");
    let rem = remedy(&r, "net.fqdn");
    assert!(rem.contains("comment out") && rem.contains("10.20.0.12 deb12.cloud.example deb12"), "{rem}");
    // The healthy host, its address alone, still passes.
    assert_eq!(check(&preflight("debian-12", &[]), "net.fqdn")["status"], "pass");
}

#[test]
fn port_held_by_another_service_only_matters_for_its_role() {
    // 8080 belongs to the management role; a KVM host does not care.
    let r = preflight("port-8080", &["--role", "kvm-agent"]);
    assert_eq!(check(&r, "ports.free")["status"], "pass");
    let r = preflight("port-8080", &["--role", "management"]);
    assert_eq!(check(&r, "ports.free")["status"], "fail");
    assert!(check(&r, "ports.free")["summary"].as_str().unwrap().contains("8080/tcp"));
}

#[test]
fn roles_select_checks() {
    let r = preflight("no-vt", &["--role", "database"]);
    assert_shape("no-vt", &r);
    assert_eq!(check(&r, "cpu.virtualization")["status"], "skip", "only a KVM host needs VT");
    assert!(check(&r, "cpu.virtualization")["summary"].as_str().unwrap().contains("kvm-agent"));
    assert_eq!(r.code, 0);
    let r = preflight("el9", &["--role", "nfs", "--role", "management"]);
    assert_eq!(r.json["roles"], serde_json::json!(["nfs", "management"]));
    let r = preflight("el9", &["--role", "all-in-one"]);
    assert_eq!(r.json["roles"], serde_json::json!(["database", "nfs", "management", "kvm-agent"]));
}

fn require_virsh() {
    let ok = Command::new("virsh").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "virsh is missing: install libvirt-clients (scripts/test-env/packages/preflight.list)");
}

#[test]
fn running_domain_in_libvirt_test_driver_fails() {
    require_virsh();
    let r = preflight("el9", &["--role", "kvm-agent", "--libvirt-uri", "test:///default"]);
    assert_shape("el9", &r);
    let c = check(&r, "vm.none-running");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["summary"].as_str().unwrap().contains("test"), "the test driver's running domain is named test: {c}");
    assert!(remedy(&r, "vm.none-running").contains("Q1"));
    assert_eq!(r.code, 1);
}

#[test]
fn libvirt_without_domains_passes() {
    require_virsh();
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node.xml");
    std::fs::write(&node, "<node/>\n").unwrap();
    let uri = format!("test://{}", node.display());
    let r = preflight("el9", &["--role", "kvm-agent", "--libvirt-uri", &uri]);
    assert_shape("el9", &r);
    assert_eq!(check(&r, "vm.none-running")["status"], "pass", "{}", check(&r, "vm.none-running"));
    assert_eq!(r.code, 0);
}

#[test]
fn human_report_puts_the_remedy_under_the_failure() {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap")).arg("--sysroot").arg(fixture("no-vt")).arg("preflight").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let i = lines.iter().position(|l| l.contains("FAIL") && l.contains("cpu.virtualization")).expect(&text);
    assert!(lines[i + 1].trim_start().starts_with("->") && text.contains("firmware"), "{text}");
    assert!(text.contains("0 warn, 1 fail"), "{text}");
}

#[test]
fn bad_input_exits_2() {
    let bin = env!("CARGO_BIN_EXE_cloudstrap");
    let out = Command::new(bin).args(["preflight", "--role", "hypervisor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
    let out = Command::new(bin).args(["preflight", "--profile", "/nonexistent/profile.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/profile.toml"));
    // An invalid profile is rejected with its file, line and column.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"hypervisor\"]\n").unwrap();
    let out = Command::new(bin).arg("preflight").arg("--profile").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:5:", bad.display())), "{err}");
    assert!(out.stdout.is_empty(), "no report for rejected input");
    let out = Command::new(bin).args(["preflight", "--profile", "x.toml", "--role", "nfs"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--profile and --role exclude each other");
}

/// Run live preflight (--sysroot /) with `nfs-client.toml` inside a private network and mount namespace,
/// optionally with an rpcbind that has no mountd registered (the article's Q4 symptom).
fn preflight_in_netns(with_rpcbind: bool) -> Run {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    assert_eq!(uid, "0", "the NFS visibility test needs root (unshare of network and mount namespaces)");
    for tool in ["unshare", "ip", "rpcbind", "rpcinfo", "showmount"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map(|o| o.status.success()).unwrap_or(false);
        assert!(found, "{tool} is missing: install scripts/test-env/packages/preflight.list (rpcbind, nfs-common, iproute2, util-linux)");
    }
    let script = r#"
        ip link set lo up || exit 97
        mount -t tmpfs tmpfs /run || exit 97
        pid=
        if [ "$WITH_RPCBIND" = 1 ]; then
            rpcbind -f -w & pid=$!
            i=0
            until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do
                i=$((i+1)); if [ $i -gt 400 ]; then kill $pid; exit 98; fi; sleep 0.05
            done
        fi
        "$CS" --sysroot / preflight --format json --profile "$P"; rc=$?
        if [ -n "$pid" ]; then kill $pid; wait $pid; fi
        exit $rc
    "#;
    let out = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "sh", "-c", script])
        .env("CS", env!("CARGO_BIN_EXE_cloudstrap"))
        .env("P", profile("nfs-client.toml"))
        .env("WITH_RPCBIND", if with_rpcbind { "1" } else { "0" })
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(code == 0 || code == 1, "namespace setup failed ({code}): {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout} {stderr}"));
    Run { code, json, stderr }
}

#[test]
fn nfs_program_not_registered_points_at_name_resolution() {
    let r = preflight_in_netns(true);
    let c = check(&r, "nfs.exports");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["summary"].as_str().unwrap().contains("Program not registered"), "{c}");
    let rem = remedy(&r, "nfs.exports");
    assert!(rem.contains("showmount -e 127.0.0.1") && rem.contains("/etc/hosts") && rem.contains("Q4"), "{rem}");
    assert_eq!(r.code, 1);
}

#[test]
fn nfs_server_without_rpcbind_fails() {
    let r = preflight_in_netns(false);
    let c = check(&r, "nfs.exports");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["summary"].as_str().unwrap().contains("showmount -e 127.0.0.1 failed"), "{c}");
    assert!(remedy(&r, "nfs.exports").contains("Q5"));
}

#[test]
fn facts_of_the_articles_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap")).arg("--sysroot").arg(fixture("el6")).args(["preflight", "--facts"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["platform"], "el6");
    assert_eq!(f["os"]["pretty_name"], "CentOS release 6.2 (Final)");
    assert_eq!(f["names"]["fqdn"], "cloud-server.squirrel.org");
    assert_eq!(f["names"]["addresses"], serde_json::json!(["192.168.1.4"]));
    let eth0 = f["net"]["interfaces"].as_array().unwrap().iter().find(|i| i["name"] == "eth0").unwrap();
    assert_eq!((eth0["method"].as_str(), eth0["addresses"][0].as_str()), (Some("static"), Some("192.168.1.4")));
    assert_eq!(f["selinux"]["configured"], "permissive");
    assert_eq!(f["selinux"]["enforcing"], false);
    assert_eq!(f["time"]["services"][0]["name"], "ntpd");
    assert_eq!(f["kvm"]["state"], "usable");
    assert_eq!(f["virt_flag"], "vmx");
}

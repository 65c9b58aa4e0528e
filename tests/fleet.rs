//! The provisioning role on this machine: `[fleet]` refused at line and column where it is wrong, the fleet's
//! tree published from a real ISO (xorriso) and served by Debian's nginx with the rendered server block (a
//! host's secrets readable and deletable from its own loopback address only, its installed mark writable by
//! it alone), the rendered dnsmasq configuration accepted by dnsmasq in both DHCP modes, and `fleet status`
//! from the access log, the tree and the CloudStack API (the simulator).

#[path = "common/cloudstack.rs"]
mod common;
#[path = "common/json_shape.rs"]
mod json_shape;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cloudstrap::action::{Action, Ctx, Record};
use cloudstrap::fleet::publish::PublishFleet;
use common::*;

const ROOT_PW: &str = "Fleet-Root-Pw-1";

fn cloudstrap(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .args(args)
        .env_remove("CLOUDSTACK_ENDPOINT")
        .env_remove("CLOUDSTACK_KEY")
        .env_remove("CLOUDSTACK_SECRET")
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains(SECRET) && !all.contains(ROOT_PW), "a secret was printed: {all}");
    out
}

/// A management node at 10.99.0.1 whose fleet is two hosts at 10.99.0.21 and .22 (the nginx test gives
/// its own network namespace's loopback these three addresses).
fn node_profile(endpoint: &str, port: u16, media: &str) -> String {
    format!(
        r#"[cloudstack]
release = "4.22"
allow-http = true

[host]
roles = ["management", "database", "nfs", "provisioning"]
platform = "debian-12"
hostname = "node"
fqdn = "node.fleet.test"
address = "10.99.0.1/24"
gateway = "10.99.0.254"
dns = ["10.99.0.254"]

[database]
root-password = "Db-Root-Pw-1"
cloud-password = "Db-Cloud-Pw-1"

[nfs]
server = "10.99.0.1"
clients = "10.99.0.0/24"

[management]
endpoint = "{endpoint}"

[fleet]
interface = "lo"
subnet = "10.99.0.0/24"
http-port = {port}
media = "{media}"
root-password-file = "fleet-root"

[fleet.defaults]
interface = "ens3"
disk = "serial:target0"

[[fleet.hosts]]
name = "kvm1"
mac = "52:54:00:AA:BB:01"
address = "10.99.0.21"

[[fleet.hosts]]
name = "kvm2"
mac = "52:54:00:aa:bb:02"
address = "10.99.0.22"
"#
    )
}

/// An installer ISO stand-in with what the provisioning role takes off it (kernel, initrd, build record).
fn medium(at: &Path) {
    let tree = tempfile::tempdir().unwrap();
    for (f, body) in [("live/vmlinuz", "kernel"), ("live/initrd.img", "initrd"), ("cloudstrap/build.json", r#"{"platform": "debian-12", "release": "4.22"}"#)] {
        let p = tree.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    let o = Command::new("xorriso").args(["-as", "mkisofs", "-quiet", "-V", "CLOUDSTRAP", "-o"]).arg(at).arg(tree.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Outside a namespace: run test `name` again inside a fresh network namespace (with `sysfs`, also a mount
/// namespace whose /sys shows that network's interfaces), check it passed there, and say so with `true`.
/// Inside: `false`, the test goes on. The host's own network is never touched.
fn ran_in_namespace(name: &str, sysfs: bool) -> bool {
    if std::env::var_os("FLEET_IN_NETNS").is_some() {
        return false;
    }
    let mut c = Command::new("unshare");
    if sysfs {
        c.args(["-n", "-m", "--propagation", "private", "--", "sh", "-c", "mount -t sysfs sysfs /sys && exec \"$0\" \"$@\""]);
    } else {
        c.args(["-n", "--"]);
    }
    let out = c.arg(std::env::current_exe().unwrap()).args(["--exact", name, "--nocapture", "--test-threads=1"]).env("FLEET_IN_NETNS", "1").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "inside the namespace:\n{text}");
    true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A node's root (world-traversable, so nginx's workers reach the tree) with the profile, the hand-off's
/// keys, the ISO and fake iPXE loaders; and the publishing action the install plans.
struct Node {
    _dir: tempfile::TempDir,
    root: PathBuf,
    profile: PathBuf,
    port: u16,
}

impl Node {
    fn new(endpoint: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let etc = root.join("etc/cloudstrap");
        std::fs::create_dir_all(&etc).unwrap();
        let profile = etc.join("profile.toml");
        std::fs::write(&profile, node_profile(endpoint, port, "/var/lib/cloudstrap/cloudstrap.iso")).unwrap();
        std::fs::write(etc.join("fleet-root"), format!("{ROOT_PW}\n")).unwrap();
        std::fs::write(etc.join("api.toml"), cloudstrap::cloudstack::credentials::keys_file_text(endpoint, KEY, SECRET)).unwrap();
        medium(&root.join("var/lib/cloudstrap/cloudstrap.iso"));
        for f in ["usr/lib/ipxe/undionly.kpxe", "usr/lib/ipxe/snponly.efi"] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), format!("loader {f}")).unwrap();
        }
        Node { _dir: dir, root, profile, port }
    }

    fn action(&self) -> PublishFleet {
        let p = cloudstrap::profile::load(&self.profile).unwrap();
        PublishFleet {
            profile: p,
            profile_path: self.profile.clone(),
            media: "/var/lib/cloudstrap/cloudstrap.iso".into(),
            www: cloudstrap::profile::FLEET_WWW.into(),
            tftp: cloudstrap::profile::FLEET_TFTP.into(),
            bios_loader: "/usr/lib/ipxe/undionly.kpxe".into(),
            efi_loader: "/usr/lib/ipxe/snponly.efi".into(),
            web_user: "www-data".into(),
            base_url: format!("http://10.99.0.1:{}", self.port),
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx::live_with_files_in(&self.root, Default::default())
    }

    fn www(&self) -> PathBuf {
        self.root.join(cloudstrap::profile::FLEET_WWW.trim_start_matches('/'))
    }
}

/// nginx with the server block the install renders (document root and log moved under the node's root).
struct Nginx {
    pid: PathBuf,
}

impl Nginx {
    fn start(node: &Node) -> Nginx {
        let p = cloudstrap::profile::load(&node.profile).unwrap();
        let files = cloudstrap::render::render_all(&p, cloudstrap::platform::PlatformId::Debian12).unwrap();
        let server = files.iter().find(|f| f.path == Path::new("/etc/nginx/conf.d/cloudstrap-fleet.conf")).expect("the nginx server block is rendered");
        let run = node.root.join("run-nginx");
        std::fs::create_dir_all(&run).unwrap();
        let log = node.root.join(cloudstrap::profile::FLEET_ACCESS_LOG.trim_start_matches('/'));
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let body = server
            .content
            .replace(cloudstrap::profile::FLEET_WWW, &node.www().display().to_string())
            .replace(cloudstrap::profile::FLEET_ACCESS_LOG, &log.display().to_string());
        std::fs::write(run.join("server.conf"), body).unwrap();
        let pid = run.join("nginx.pid");
        let conf = format!(
            "user www-data;\npid {pid};\nerror_log {run}/error.log;\nevents {{}}\nhttp {{\n client_body_temp_path {run}/body;\n include {run}/server.conf;\n}}\n",
            pid = pid.display(),
            run = run.display()
        );
        std::fs::write(run.join("nginx.conf"), conf).unwrap();
        let o = Command::new("nginx").arg("-c").arg(run.join("nginx.conf")).arg("-p").arg(&run).output().unwrap();
        assert!(o.status.success(), "nginx: {}", String::from_utf8_lossy(&o.stderr));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("10.99.0.1", node.port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Nginx { pid }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pid) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// `curl` from `from` (a loopback address): (status, body).
fn curl(from: &str, method: &str, url: &str, data: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--interface", from, "-X", method, url]);
    if let Some(d) = data {
        c.args(["--data-binary", d]);
    }
    let out = String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned();
    let (body, code) = out.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn a_fleet_with_a_mac_twice_an_address_outside_the_subnet_or_in_the_pods_range_or_a_name_twice_is_refused_where_written() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/fleet-node.toml")).unwrap();
    let ok = dir.path().join("ok.toml");
    std::fs::write(&ok, &text).unwrap();
    std::fs::write(dir.path().join("secrets"), "").ok();
    let o = cloudstrap(&["profile", "check", ok.to_str().unwrap()]);
    // The shipped example names its secrets by environment variable: valid, with the variables unset here.
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", String::from_utf8_lossy(&o.stderr));
    let bad = text
        .replacen("mac = \"52:54:00:00:01:02\"", "mac = \"52:54:00:00:01:01\"", 1)
        .replacen("address = \"192.168.1.22\"", "address = \"192.168.2.22\"", 1)
        .replacen("address = \"192.168.1.23\"", "address = \"192.168.1.210\"", 1)
        .replacen("name = \"kvm3\"", "name = \"KVM1\"", 1);
    assert_ne!(bad, text);
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, &bad).unwrap();
    let o = cloudstrap(&["profile", "check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let line_of = |needle: &str| bad.lines().collect::<Vec<_>>().iter().rposition(|l| l.contains(needle)).unwrap() + 1;
    let p = path.display().to_string();
    for (needle, key, what) in [
        ("mac = \"52:54:00:00:01:01\"", "fleet.hosts[1].mac", "listed twice"),
        ("address = \"192.168.2.22\"", "fleet.hosts[1].address", "outside fleet.subnet"),
        ("address = \"192.168.1.210\"", "fleet.hosts[2].address", "inside zone.pod"),
        ("name = \"KVM1\"", "fleet.hosts[2].name", "listed twice"),
    ] {
        let at = format!("{p}:{}:", line_of(needle));
        assert!(err.lines().any(|l| l.starts_with(&at) && l.contains(key) && l.contains(what)), "{key} at {at} ({what}) in:\n{err}");
    }
    // A second [fleet] host list entry with a MAC listed twice is located on its own line, not the first's.
    assert!(err.lines().all(|l| !l.contains("fleet.hosts[0]")), "{err}");
}

#[test]
fn the_fleet_tree_is_published_and_nginx_serves_each_host_its_secrets_once_and_its_installed_mark_alone() {
    // Inside a fresh network namespace whose loopback carries the node's and the hosts' addresses.
    if ran_in_namespace("the_fleet_tree_is_published_and_nginx_serves_each_host_its_secrets_once_and_its_installed_mark_alone", false) {
        return;
    }
    for args in [vec!["link", "set", "lo", "up"], vec!["addr", "add", "10.99.0.1/24", "dev", "lo"], vec!["addr", "add", "10.99.0.21/32", "dev", "lo"], vec!["addr", "add", "10.99.0.22/32", "dev", "lo"]] {
        assert!(Command::new("ip").args(&args).status().unwrap().success(), "ip {args:?}");
    }
    let node = Node::new("http://10.99.0.1:1/client/api");
    let action = node.action();
    let ctx = node.ctx();
    assert!(!action.is_done(&ctx).unwrap());
    let mut record = Record::default();
    action.prepare(&ctx, &mut record).unwrap();
    action.execute(&ctx, &mut record).unwrap();
    assert!(action.is_done(&ctx).unwrap(), "done after it ran");
    let www = node.www();
    let mac1 = "52-54-00-aa-bb-01";
    // What every machine may read holds no secret; the secrets are the web server's, 0600.
    for f in ["boot.ipxe", &format!("hosts/{mac1}/boot.ipxe"), &format!("hosts/{mac1}/profile.toml")] {
        let t = std::fs::read_to_string(www.join(f)).unwrap();
        assert!(!t.contains(SECRET) && !t.contains(ROOT_PW) && !t.contains("Db-Root-Pw-1"), "{f}: {t}");
    }
    let secret = www.join(format!("secrets/{mac1}/root-password"));
    let m = std::fs::metadata(&secret).unwrap();
    assert_eq!(m.mode() & 0o777, 0o600);
    let www_data = nix::unistd::User::from_name("www-data").unwrap().unwrap().uid.as_raw();
    assert_eq!(m.uid(), www_data);
    assert_eq!(std::fs::read(www.join("media/vmlinuz")).unwrap(), b"kernel");
    assert_eq!(std::fs::read(node.root.join("srv/cloudstrap/tftp/ipxe-x64.efi")).unwrap(), b"loader usr/lib/ipxe/snponly.efi");
    let profile: cloudstrap::profile::Profile = toml::from_str(&std::fs::read_to_string(www.join(format!("hosts/{mac1}/profile.toml"))).unwrap()).unwrap();
    assert_eq!(profile.host.address, "10.99.0.21/24");
    assert_eq!(profile.host.platform.as_deref(), Some("debian-12"));
    assert!(profile.agent.unwrap().register);

    let _nginx = Nginx::start(&node);
    let base = format!("http://10.99.0.1:{}", node.port);
    let script = curl("10.99.0.1", "GET", &format!("{base}/hosts/{mac1}/boot.ipxe"), None);
    assert_eq!(script.0, 200);
    assert!(script.1.contains(&format!("fetch={base}/media/cloudstrap.iso")), "{}", script.1);
    let url = format!("{base}/secrets/{mac1}/root-password");
    assert_eq!(curl("10.99.0.1", "GET", &url, None).0, 403, "the node's own address is not kvm1's");
    assert_eq!(curl("10.99.0.22", "GET", &url, None).0, 403, "kvm2 cannot read kvm1's secret");
    assert_eq!(curl("10.99.0.22", "DELETE", &url, None).0, 403);
    assert_eq!(curl("10.99.0.21", "GET", &url, None), (200, ROOT_PW.to_string()));
    assert_eq!(curl("10.99.0.21", "DELETE", &url, None).0, 204);
    assert_eq!(curl("10.99.0.21", "GET", &url, None).0, 404, "read once");
    let mark = format!("{base}/state/{mac1}/installed");
    assert_eq!(curl("10.99.0.1", "GET", &mark, None).0, 404);
    assert_eq!(curl("10.99.0.22", "PUT", &mark, Some("kvm2 pretending")).0, 403);
    assert_eq!(curl("10.99.0.21", "PUT", &mark, Some("kvm1 2026-12-05T10:00:00Z")).0, 201);
    assert_eq!(curl("10.99.0.1", "GET", &mark, None), (200, "kvm1 2026-12-05T10:00:00Z".to_string()));
    assert_eq!(curl("10.99.0.1", "PUT", &format!("{base}/boot.ipxe"), Some("x")).0, 403, "nothing else is writable");

    // An installed host's secrets are not published again by a re-run; `reinstall` brings them back.
    assert!(action.is_done(&ctx).unwrap(), "a re-run has nothing to do");
    let mut record = Record::default();
    action.execute(&ctx, &mut record).unwrap();
    assert!(!secret.exists());
    action.reinstall(&ctx, "kvm1").unwrap();
    assert!(!www.join(format!("state/{mac1}/installed")).exists());
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), ROOT_PW);
    assert!(action.reinstall(&ctx, "nope").unwrap_err().to_string().contains("kvm1, kvm2"));

    // A host taken out of the fleet loses its folders.
    let text = std::fs::read_to_string(&node.profile).unwrap();
    let cut = text.find("[[fleet.hosts]]\nname = \"kvm2\"").unwrap();
    std::fs::write(&node.profile, &text[..cut]).unwrap();
    let one = node.action();
    assert!(!one.is_done(&ctx).unwrap());
    one.execute(&ctx, &mut Record::default()).unwrap();
    assert!(!www.join("hosts/52-54-00-aa-bb-02").exists() && !www.join("secrets/52-54-00-aa-bb-02").exists());
    assert!(one.is_done(&ctx).unwrap());
}

#[test]
fn dnsmasq_accepts_the_rendered_configuration_in_server_and_proxy_mode() {
    let node = Node::new("http://10.99.0.1:1/client/api");
    for mode in ["server", "proxy"] {
        let text = std::fs::read_to_string(&node.profile).unwrap().replace("root-password-file = \"fleet-root\"", &format!("root-password-file = \"fleet-root\"\ndhcp = \"{mode}\""));
        let p: cloudstrap::profile::Profile = toml::from_str(&text).unwrap();
        let files = cloudstrap::render::render_all(&p, cloudstrap::platform::PlatformId::Debian12).unwrap();
        let conf = files.iter().find(|f| f.path == Path::new("/etc/dnsmasq.d/cloudstrap-fleet.conf")).unwrap();
        let path = node.root.join(format!("dnsmasq-{mode}.conf"));
        std::fs::write(&path, &conf.content).unwrap();
        let o = Command::new("dnsmasq").arg("--test").arg(format!("--conf-file={}", path.display())).output().unwrap();
        assert!(o.status.success(), "{mode}: {}\n{}", String::from_utf8_lossy(&o.stderr), conf.content);
        assert!(conf.content.contains("dhcp-host=52:54:00:aa:bb:01,set:fleet"), "{}", conf.content);
        assert!(conf.content.contains("dhcp-ignore=tag:!known"), "{}", conf.content);
        if mode == "server" {
            assert!(conf.content.contains("dhcp-host=52:54:00:aa:bb:01,set:fleet,10.99.0.21,kvm1\n"), "{}", conf.content);
        } else {
            assert!(conf.content.contains(",proxy,") && !conf.content.contains("10.99.0.21"), "{}", conf.content);
        }
    }
    let p = cloudstrap::profile::load(&node.profile).unwrap();
    let files = cloudstrap::render::render_all(&p, cloudstrap::platform::PlatformId::Debian12).unwrap();
    let rules = files.iter().find(|f| f.path == Path::new("/etc/iptables/rules.v4")).unwrap();
    for rule in [
        "-A INPUT -i lo -m state --state NEW -p udp --dport 67 -j ACCEPT",
        "-A INPUT -i lo -s 10.99.0.0/24 -m state --state NEW -p udp --dport 69 -j ACCEPT",
        &format!("-A INPUT -i lo -s 10.99.0.0/24 -m state --state NEW -p tcp --dport {} -j ACCEPT", node.port),
    ] {
        assert!(rules.content.contains(rule), "{rule} in\n{}", rules.content);
    }
}

#[test]
fn fleet_status_reports_network_boot_install_and_the_hosts_state_in_the_zone() {
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    // The basic zone with its host 192.168.1.5 Up.
    let deploy = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .args(["zone", "deploy", "--profile", fixture("basic-zone.toml").to_str().unwrap(), "--poll-interval", "0.001", "--root"])
        .arg(root.path())
        .env("CLOUDSTACK_ENDPOINT", sim.url())
        .env("CLOUDSTACK_KEY", KEY)
        .env("CLOUDSTACK_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
    let etc = root.path().join("etc/cloudstrap");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("api.toml"), cloudstrap::cloudstack::credentials::keys_file_text(&sim.url(), KEY, SECRET)).unwrap();
    std::fs::write(etc.join("fleet-root"), ROOT_PW).unwrap();
    let text = node_profile(&sim.url(), 8090, "/var/lib/cloudstrap/cloudstrap.iso")
        .replace("10.99.0.1/24", "192.168.1.4/24")
        .replace("10.99.0.254", "192.168.1.1")
        .replace("\"10.99.0.1\"", "\"192.168.1.4\"")
        .replace("10.99.0.0/24", "192.168.1.0/24")
        .replace("interface = \"lo\"", "interface = \"eth0\"")
        .replace("10.99.0.21", "192.168.1.5")
        .replace("10.99.0.22", "192.168.1.6");
    let profile = etc.join("profile.toml");
    std::fs::write(&profile, text).unwrap();
    let www = root.path().join("srv/cloudstrap/fleet");
    std::fs::create_dir_all(www.join("state/52-54-00-aa-bb-01")).unwrap();
    std::fs::write(www.join("state/52-54-00-aa-bb-01/installed"), "kvm1 2026-12-05T10:00:00Z\n").unwrap();
    let log = root.path().join("var/log/nginx/cloudstrap-fleet.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let line = |ip: &str, path: &str, status: u16| format!("{ip} - - [05/Dec/2026:10:00:00 +0000] \"GET {path} HTTP/1.1\" {status} 10 \"-\" \"iPXE/1.0\"\n");
    let entries = [
        line("192.168.1.5", "/hosts/52-54-00-aa-bb-01/boot.ipxe", 200),
        line("192.168.1.5", "/media/cloudstrap.iso", 200),
        line("192.168.1.5", "/hosts/52-54-00-aa-bb-01/boot.ipxe", 200),
    ];
    std::fs::write(&log, entries.concat()).unwrap();
    let o = cloudstrap(&["fleet", "status", "--profile", profile.to_str().unwrap(), "--root", root.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json_shape::assert_documented("fleet-status", &o.stdout);
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    let (k1, k2) = (&hosts[0], &hosts[1]);
    assert_eq!((k1["name"].as_str(), k1["netboot"].as_bool(), k1["boot_requests"].as_u64(), k1["installer_downloads"].as_u64()), (Some("kvm1"), Some(true), Some(2), Some(1)));
    assert_eq!((k1["installed"].as_bool(), k1["registered"].as_bool(), k1["state"].as_str()), (Some(true), Some(true), Some("Up")), "{v}");
    assert_eq!((k2["netboot"].as_bool(), k2["installed"].as_bool(), k2["registered"].as_bool()), (Some(false), Some(false), Some(false)), "{v}");
    assert!(v["api_error"].is_null(), "{v}");
    let human = cloudstrap(&["fleet", "status", "--profile", profile.to_str().unwrap(), "--root", root.path().to_str().unwrap()]);
    let out = String::from_utf8_lossy(&human.stdout);
    assert!(out.lines().any(|l| l.starts_with("kvm1 ") && l.contains(" yes ") && l.trim_end().ends_with("Up")), "{out}");
    let o = cloudstrap(&["fleet", "reinstall", "nope", "--profile", profile.to_str().unwrap(), "--root", root.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn preflight_finds_another_dhcp_server_on_the_provisioning_network() {
    if ran_in_namespace("preflight_finds_another_dhcp_server_on_the_provisioning_network", true) {
        return;
    }
    // The node's interface `prov` (its address 10.99.0.1) faces `lan` in another network namespace, where
    // another DHCP server may run.
    let mut holder = Command::new("unshare").args(["-n", "--", "sleep", "60"]).spawn().unwrap();
    let pid = holder.id().to_string();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let ip = |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success(), "ip {args:?}");
    let lan = |args: &[&str]| assert!(Command::new("nsenter").args(["-t", &pid, "-n"]).args(args).status().unwrap().success(), "{args:?}");
    ip(&["link", "set", "lo", "up"]);
    ip(&["link", "add", "prov", "type", "veth", "peer", "name", "lan", "netns", &pid]);
    ip(&["addr", "add", "10.99.0.1/24", "dev", "prov"]);
    ip(&["link", "set", "prov", "up"]);
    lan(&["ip", "addr", "add", "10.99.0.250/24", "dev", "lan"]);
    lan(&["ip", "link", "set", "lan", "up"]);
    use cloudstrap::host::dhcp::{probe, DhcpFacts};
    let wait = std::time::Duration::from_secs(4);
    let none = DhcpFacts::Offers { interface: "prov".into(), servers: vec![] };
    assert_eq!(probe("prov", wait), none, "no server yet");
    let dir = tempfile::tempdir().unwrap();
    let leases = format!("--dhcp-leasefile={}", dir.path().join("leases").display());
    let pidfile = dir.path().join("dnsmasq.pid");
    let pid_arg = format!("--pid-file={}", pidfile.display());
    lan(&["dnsmasq", "--conf-file=/dev/null", "--port=0", "--interface=lan", "--bind-interfaces", "--dhcp-range=10.99.0.100,10.99.0.150,12h", &leases, &pid_arg]);
    let found = probe("prov", wait);
    let node = Node::new("http://10.99.0.1:1/client/api");
    let profile = std::fs::read_to_string(&node.profile).unwrap().replace("interface = \"lo\"", "interface = \"prov\"");
    std::fs::write(&node.profile, &profile).unwrap();
    let pf = cloudstrap(&["preflight", "--profile", node.profile.to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&pf.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&pf.stdout)));
    let _ = Command::new("kill").arg(std::fs::read_to_string(&pidfile).unwrap().trim()).status();
    let _ = holder.kill();
    assert_eq!(found, DhcpFacts::Offers { interface: "prov".into(), servers: vec!["10.99.0.250".into()] });
    let checks = report["checks"].as_array().unwrap_or_else(|| panic!("{report}"));
    let check = checks.iter().find(|c| c["id"] == "fleet.dhcp").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(check["status"], "fail", "{check}");
    assert!(check["summary"].as_str().unwrap().contains("10.99.0.250") && check["remedy"].as_str().unwrap().contains("fleet.dhcp = \"proxy\""), "{check}");
}

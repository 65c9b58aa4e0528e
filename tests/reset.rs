//! `cloudstrap reset` and `cloudstrap restore` against the machine's MariaDB, with the CloudStack setup
//! commands and the service managers played by the stand-ins in tests/standins.

#[path = "standins/harness.rs"]
mod harness;
#[path = "common/json_shape.rs"]
mod json_shape;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use harness::*;

const PASSWORD: &str = "Cl0ud#pw";

fn bin() -> PathBuf {
    env!("CARGO_BIN_EXE_cloudstrap").into()
}

/// The lab root as a real chroot: the host's /usr/{bin,lib,lib64,share} and MariaDB's socket directory
/// bound read-only, the stand-ins bound at their own path (the PATH cloudstrap passes on finds them inside
/// too), the setup commands linked into its /usr/sbin, and its own host path linking back to its `/`, so
/// the stand-ins' CLOUDSTACK_STANDIN_ROOT means the same files inside and out. reset runs the service
/// manager and the setup commands in it. Unmounted (lazily, so nothing below is ever deleted through a
/// mount) before the directory is removed.
struct ChrootMounts(Vec<PathBuf>);

impl Drop for ChrootMounts {
    fn drop(&mut self) {
        for m in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

fn make_chroot(root: &Path) -> ChrootMounts {
    let mut mounts = ChrootMounts(vec![]);
    let mut bind = |src: &Path, rel: &str| {
        let dst = root.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(&dst).unwrap();
        let out = Command::new("mount").arg("--bind").arg(src).arg(&dst).output().unwrap();
        assert!(out.status.success(), "reset's lab binds directories into a chroot and needs root: {}", text(&out));
        mounts.0.push(dst.clone());
        let out = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&dst).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    for d in ["bin", "lib", "lib64", "share"] {
        if Path::new("/usr").join(d).is_dir() {
            bind(&Path::new("/usr").join(d), &format!("usr/{d}"));
        }
    }
    bind(Path::new("/run/mysqld"), "run/mysqld");
    let standins = standins_dir();
    bind(&standins, standins.to_str().unwrap());
    for l in ["bin", "lib", "lib64", "sbin"] {
        std::os::unix::fs::symlink(format!("usr/{l}"), root.join(l)).unwrap();
    }
    std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
    for cmd in ["cloudstack-setup-databases", "cloudstack-setup-management", "cloud-setup-databases", "cloud-setup-management"] {
        std::os::unix::fs::symlink(standins.join(cmd), root.join("usr/sbin").join(cmd)).unwrap();
    }
    std::fs::create_dir_all(root.join("dev")).unwrap();
    let null = Command::new("mknod").args(["-m", "666"]).arg(root.join("dev/null")).args(["c", "1", "3"]).output().unwrap();
    assert!(null.status.success(), "{}", text(&null));
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let inside = root.join(root.strip_prefix("/").unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/", &inside).unwrap();
    mounts
}

struct Lab {
    _chroot: ChrootMounts,
    root: tempfile::TempDir,
    prefix: String,
    user: String,
    env: Vec<(String, String)>,
    profile: PathBuf,
    _guard: DbGuard,
}

impl Lab {
    fn cloud(&self) -> String {
        format!("{}cloud", self.prefix)
    }
    fn usage(&self) -> String {
        format!("{}cloud_usage", self.prefix)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }
    fn cloudstrap(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--root").arg(self.root.path()).args(args).stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
    fn reset(&self, extra: &[&str]) -> Output {
        // A bounded wait: a test that breaks the API probe fails in a minute instead of hanging.
        let mut args = vec!["reset", "--yes", "--api-timeout", "60", "--profile", self.profile.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.cloudstrap(&args)
    }
    fn service(&self, name: &str) -> serde_json::Value {
        services(self.root.path())[name].clone()
    }
    /// Every row of every table of both databases, in a stable order.
    fn rows(&self) -> String {
        let mut out = String::new();
        for db in [self.cloud(), self.usage()] {
            let tables = sql(&format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{db}' ORDER BY table_name"
            ));
            for t in tables.lines() {
                out.push_str(&format!("== {db}.{t}\n{}\n", sql(&format!("SELECT * FROM `{db}`.`{t}` ORDER BY 1"))));
            }
        }
        out
    }
    fn backups(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.path("var/lib/cloudstrap/backups"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// An installed management server (stand-ins) with seeded databases, both services running, a receipt,
/// and a profile whose API endpoint is a local HTTP responder.
fn lab(name: &str, release: &str, platform: &str, roles: &str) -> Lab {
    lab_with(name, release, platform, roles, &api_responder(), "")
}

/// As `lab`, with the profile's API endpoint and extra profile text given.
fn lab_with(name: &str, release: &str, platform: &str, roles: &str, endpoint: &str, extra_profile: &str) -> Lab {
    require_mariadb();
    let prefix = prefix(name);
    let user = format!("{prefix}cloud");
    let guard = DbGuard { prefix: prefix.clone(), users: vec![user.clone()] };
    let root = tempfile::tempdir().unwrap();
    let chroot = make_chroot(root.path());
    let mut env = standin_env(root.path(), release, &prefix);
    let usage_unit = if release == "3.0.2" { "cloud-usage" } else { "cloudstack-usage" };
    env.push(("CLOUDSTACK_STANDIN_UNITS".into(), usage_unit.into()));
    env.push(("PATH".into(), format!("{}:{}", standins_dir().display(), path_with_service_standins())));

    let (setup_db, setup_mgmt) =
        if release == "3.0.2" { ("cloud-setup-databases", "cloud-setup-management") } else { ("cloudstack-setup-databases", "cloudstack-setup-management") };
    let cred = format!("{user}:{PASSWORD}@localhost");
    let out = run_standin(setup_db, &[&cred, "--deploy-as=root:", "-e", "file", "-m", "mgmt-k", "-k", "db-k", "-i", "127.0.0.1"], &env);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let out = run_standin(setup_mgmt, &[], &env);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let st = Command::new(standins_dir().join("bin/systemctl"))
        .args(["start", usage_unit])
        .env("CLOUDSTACK_STANDIN_ROOT", root.path())
        .env("CLOUDSTACK_STANDIN_UNITS", usage_unit)
        .status()
        .unwrap();
    assert!(st.success());

    // What an operator's first try left behind: a zone-ish configuration, a used template, usage records.
    let cloud = format!("{prefix}cloud");
    let usage = format!("{prefix}cloud_usage");
    sql(&format!(
        "INSERT INTO `{cloud}`.configuration (instance, name, value) VALUES ('DEFAULT', 'zone.wizard', 'it''s \"quoted\" \\\\ ü'), \
         ('DEFAULT', 'guest.domain.suffix', 'cloud.internal'); \
         UPDATE `{cloud}`.vm_template SET url = 'http://mirror/systemvm.qcow2.bz2', uuid = 'u-3' WHERE id = 3; \
         UPDATE `{cloud}`.user SET api_key = 'AK', secret_key = 'SK' WHERE id = 2; \
         INSERT INTO `{usage}`.cloud_usage (zone_id, account_id, domain_id, description, usage_display, usage_type, raw_usage, start_date, end_date) \
         VALUES (1, 2, 1, 'vm running', '24 Hrs', 1, 24, '2026-11-01', '2026-11-02'), (1, 2, 1, 'volume', '10 GB', 6, 10.5, '2026-11-01', '2026-11-02');"
    ));
    std::fs::create_dir_all(root.path().join("var/lib/cloudstrap")).unwrap();
    std::fs::write(root.path().join("var/lib/cloudstrap/receipt.json"), "{\"actions\": []}\n").unwrap();

    let profile = root.path().join("profile.toml");
    // Root reaches MariaDB by unix socket here, which accepts any password; the profile still gives one.
    std::fs::write(root.path().join("db-root.pw"), "root-pw-unused\n").unwrap();
    std::fs::write(root.path().join("db-cloud.pw"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(
        &profile,
        format!(
            "[cloudstack]\nrelease = \"{release}\"\n\n[host]\nroles = [{roles}]\nplatform = \"{platform}\"\n\
             hostname = \"csreset\"\nfqdn = \"csreset.example.org\"\naddress = \"10.99.0.4/24\"\ngateway = \"10.99.0.1\"\n\n\
             [nfs]\nserver = \"10.99.0.4\"\nclients = \"10.99.0.0/24\"\n\n\
             [database]\nroot-password-file = \"db-root.pw\"\ncloud-password-file = \"db-cloud.pw\"\n\n\
             [management]\nendpoint = \"{endpoint}\"\n{extra_profile}"
        ),
    )
    .unwrap();
    Lab { _chroot: chroot, root, prefix, user, env, profile, _guard: guard }
}

/// A local HTTP server that answers every request with 401 and the API's error document, as the
/// management server answers an unsigned call.
fn api_responder() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 2048];
            let _ = conn.read(&mut buf);
            let body = r#"{"listcapabilitiesresponse":{"uuidList":[],"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}"#;
            let head = format!("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body.as_bytes());
        }
    });
    format!("http://{addr}/client/api")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn reset_backs_up_recreates_and_restore_brings_back_the_exact_rows() {
    let lab = lab("full", "4.22", "debian-12", "\"all-in-one\"");
    let before = lab.rows();
    assert!(before.contains("zone.wizard") && before.contains("volume"), "seed missing: {before}");
    let log = lab.path("cloudstrap.log");

    // Watch every command line while the reset runs: the database password must never be on one.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut dumps, mut leaks) = (0, Vec::new());
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(raw) = std::fs::read(e.path().join("cmdline")) else { continue };
                    let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                    if line.starts_with("mysqldump ") {
                        dumps += 1;
                    }
                    if line.contains(PASSWORD) || line.contains("mgmt-k") {
                        leaks.push(line);
                    }
                }
            }
            (dumps, leaks)
        })
    };
    let out = lab.reset(&["--log-file", log.to_str().unwrap(), "--format", "json"]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (dumps, leaks) = sampler.join().unwrap();
    eprintln!("{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json_shape::assert_documented("reset", &out.stdout);
    // The fixture's secret files are 0644: said, as install and profile check say it.
    assert!(String::from_utf8_lossy(&out.stderr).contains("db-cloud.pw is readable by group or others (mode 0644)"), "{}", text(&out));
    let rows_reported: u64 = report["databases"].as_array().unwrap().iter().map(|d| d["rows"].as_u64().unwrap()).sum();
    assert!(report["outcome"] == "reset" && rows_reported > 0, "{report}");
    assert!(leaks.is_empty(), "secret on a command line: {leaks:?}");
    eprintln!("mysqldump seen in {dumps} samples");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("mysqldump") && log_text.contains("cloudstack-setup-databases"), "{log_text}");
    assert!(!log_text.contains(PASSWORD) && !text(&out).contains(PASSWORD), "password in the log or output");

    // Recreated: fresh databases, the cloud user still logs in, services running, no reset state left.
    let after = lab.rows();
    assert!(!after.contains("zone.wizard") && !after.contains("volume"), "{after}");
    assert_eq!(sql(&format!("SELECT max(id) FROM `{}`.vm_template WHERE type='SYSTEM' AND hypervisor_type='KVM'", lab.cloud())), "3");
    assert_eq!(sql(&format!("SELECT count(*) FROM `{}`.cloud_usage", lab.usage())), "0");
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    assert_eq!(lab.service("cloudstack-usage")["active"], true);
    assert_eq!(lab.service("cloudstack-usage")["stops"], 1);
    assert!(!lab.path("var/lib/cloudstrap/reset-state.json").exists());

    // The backup: private, checksummed, complete.
    let backups = lab.backups();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let b = &backups[0];
    assert_eq!(mode(b), 0o700);
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(b.join("manifest.json")).unwrap()).unwrap();
    let names: Vec<&str> = manifest["databases"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec![lab.cloud(), lab.usage()]);
    let files: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        vec!["/etc/cloudstack/management/db.properties", "/etc/cloudstack/management/key", "/var/lib/cloudstrap/receipt.json"]
    );
    for d in manifest["databases"].as_array().unwrap() {
        let p = b.join(d["file"].as_str().unwrap());
        assert_eq!(mode(&p), 0o600);
        let mut sql_text = String::new();
        bzip2::read::MultiBzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_string(&mut sql_text).unwrap();
        assert!(sql_text.trim_end().lines().last().unwrap().starts_with("-- Dump completed"));
    }
    let check = Command::new("sha256sum").args(["-c", "--quiet", "SHA256SUMS"]).current_dir(b).output().unwrap();
    assert!(check.status.success(), "sha256sum -c: {}", text(&check));

    // Restore: the exact rows come back, and the files, with what they replaced kept aside.
    let dbp = lab.path("etc/cloudstack/management/db.properties");
    let original = std::fs::read_to_string(b.join("files/etc/cloudstack/management/db.properties")).unwrap();
    std::fs::write(&dbp, "# changed after the reset\n").unwrap();
    let out = lab.cloudstrap(&["restore", b.to_str().unwrap(), "--yes", "--profile", lab.profile.to_str().unwrap(), "--format", "json"]);
    eprintln!("{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json_shape::assert_documented("restore", &out.stdout);
    assert_eq!(report["files"].as_array().map(Vec::len), Some(3), "{report}");
    assert_eq!(lab.rows(), before);
    assert_eq!(std::fs::read_to_string(&dbp).unwrap(), original);
    assert_eq!(mode(&dbp), 0o640);
    let kept: Vec<_> = std::fs::read_dir(dbp.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("db.properties.cloudstrap-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read_to_string(kept[0].path()).unwrap(), "# changed after the reset\n");
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    let login = Command::new("mysql")
        .arg(format!("--user={}", lab.user))
        .args(["-N", "-e", "SELECT 1"])
        .env("MYSQL_PWD", PASSWORD)
        .output()
        .unwrap();
    assert!(login.status.success(), "cloud user after restore: {}", text(&login));
}

#[test]
fn restore_refuses_a_backup_whose_checksum_does_not_match() {
    let lab = lab("badsum", "4.22", "debian-12", "\"management\", \"database\"");
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let b = &lab.backups()[0];
    sql(&format!("INSERT INTO `{}`.configuration (instance, name, value) VALUES ('DEFAULT', 'after', '1')", lab.cloud()));
    let now = lab.rows();
    let out = lab.cloudstrap(&["restore", b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "restore without a terminal or --yes: {}", text(&out));
    assert_eq!(lab.rows(), now);
    let dump = b.join(format!("db/{}.sql.bz2", lab.usage()));
    let mut data = std::fs::read(&dump).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&dump, data).unwrap();
    let out = lab.cloudstrap(&["restore", b.to_str().unwrap(), "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("does not match its checksum") && text(&out).contains("nothing was changed"), "{}", text(&out));
    assert_eq!(lab.rows(), now);
}

/// The data and services as they were, after a reset that failed before dropping anything.
fn assert_untouched(lab: &Lab, before: &str, out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(text(out).contains("nothing was dropped and the services were started again"), "{}", text(out));
    assert_eq!(lab.rows(), before, "data changed");
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    assert_eq!(lab.service("cloudstack-usage")["active"], true);
    assert!(!lab.path("var/lib/cloudstrap/reset-state.json").exists());
}

/// A reset refused before it stopped anything: every login is tried first.
fn assert_stopped_nothing(lab: &Lab, before: &str, out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    assert!(text(out).contains("cannot log in to the database") && text(out).contains("nothing was changed"), "{}", text(out));
    assert_eq!(lab.rows(), before, "data changed");
    assert_eq!(lab.service("cloudstack-management")["stops"], 0, "a service was stopped");
    assert_eq!(lab.service("cloudstack-usage")["stops"], 0, "a service was stopped");
    assert!(!lab.path("var/lib/cloudstrap/reset-state.json").exists());
}

#[test]
fn wrong_root_password_is_found_before_anything_stops() {
    let lab = lab("badroot", "4.22", "debian-12", "\"all-in-one\"");
    // Over TCP root has no password login here (socket only), so the profile's root password is refused.
    let dbp = lab.path("etc/cloudstack/management/db.properties");
    let t = std::fs::read_to_string(&dbp).unwrap().replace("db.cloud.host=localhost", "db.cloud.host=127.0.0.1");
    std::fs::write(&dbp, t).unwrap();
    let before = lab.rows();
    let out = lab.reset(&[]);
    assert_stopped_nothing(&lab, &before, &out);
    assert!(text(&out).contains("root account (database.root-password)") && text(&out).contains("Access denied"), "{}", text(&out));
    assert!(!text(&out).contains("root-pw-unused"), "{}", text(&out));
    assert!(lab.backups().is_empty());
}

#[test]
fn restore_tries_the_root_login_before_it_stops_anything() {
    let lab = lab("restorelogin", "4.22", "debian-12", "\"all-in-one\"");
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let b = lab.backups()[0].clone();
    // The backup's db.properties (which restore follows) names the server over TCP, where root has no
    // password login here: its checksum is updated so the backup still verifies.
    let rel = "files/etc/cloudstack/management/db.properties";
    let t = std::fs::read_to_string(b.join(rel)).unwrap().replace("db.cloud.host=localhost", "db.cloud.host=127.0.0.1");
    std::fs::write(b.join(rel), &t).unwrap();
    use sha2::Digest;
    let sum = hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let mpath = b.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    for f in manifest["files"].as_array_mut().unwrap() {
        if f["file"] == rel {
            f["sha256"] = sum.clone().into();
        }
    }
    std::fs::write(&mpath, manifest.to_string()).unwrap();
    let stops = lab.service("cloudstack-management")["stops"].clone();
    let now = lab.rows();
    let out = lab.cloudstrap(&["restore", b.to_str().unwrap(), "--yes", "--profile", lab.profile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot log in to the database as its root account") && text(&out).contains("nothing was changed"), "{}", text(&out));
    assert_eq!(lab.service("cloudstack-management")["stops"], stops, "a service was stopped");
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    assert_eq!(lab.rows(), now);
}

/// A directory with a `mysqldump` that runs the real one through `filter` (a shell pipeline stage),
/// after writing its environment to `env.txt` beside it.
fn mysqldump_wrapper(filter: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let real = String::from_utf8(Command::new("sh").args(["-c", "command -v mysqldump"]).output().unwrap().stdout).unwrap();
    let script = format!(
        "#!/bin/bash\nset -o pipefail\nenv > '{}'\n{} \"$@\" | {filter}\n",
        dir.path().join("env.txt").display(),
        real.trim()
    );
    let p = dir.path().join("mysqldump");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

impl Lab {
    /// `reset --yes` with `dir` first on PATH and extra variables set.
    fn reset_with(&self, dir: &Path, extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--root").arg(self.root.path()).args(["reset", "--yes", "--api-timeout", "60", "--profile", self.profile.to_str().unwrap()]);
        for (k, v) in &self.env {
            let v = if k == "PATH" { format!("{}:{v}", dir.display()) } else { v.clone() };
            cmd.env(k, v);
        }
        cmd.envs(extra_env.iter().map(|(k, v)| (*k, *v)));
        cmd.stdin(Stdio::null()).output().unwrap()
    }
}

#[test]
fn an_incomplete_dump_is_refused_and_nothing_is_dropped() {
    let lab = lab("rowsmissing", "4.22", "debian-12", "\"all-in-one\"");
    // The root password comes from the environment: no child process may see it.
    let profile = std::fs::read_to_string(&lab.profile).unwrap().replace("root-password-file = \"db-root.pw\"", "root-password-env = \"T_RESET_ROOT_PW\"");
    std::fs::write(&lab.profile, profile).unwrap();
    let before = lab.rows();
    // One row line of the first multi-row INSERT goes missing; the statement and mysqldump's last line stay.
    let wrapper = mysqldump_wrapper("sed '0,/^(.*),$/{/^(.*),$/d}'");
    let out = lab.reset_with(wrapper.path(), &[("T_RESET_ROOT_PW", "Env-Root-Pw-51")]);
    eprintln!("{}", text(&out));
    assert_untouched(&lab, &before, &out);
    assert!(text(&out).contains("is incomplete: it holds") && text(&out).contains("the database had"), "{}", text(&out));
    assert!(lab.backups().is_empty(), "{:?}", lab.backups());
    let env = std::fs::read_to_string(wrapper.path().join("env.txt")).unwrap();
    assert!(env.contains("PATH=") && !env.contains("T_RESET_ROOT_PW") && !env.contains("Env-Root-Pw-51"), "{env}");

    // The same reset with the real mysqldump goes through.
    let out = lab.reset_with(Path::new("/nonexistent"), &[("T_RESET_ROOT_PW", "Env-Root-Pw-51")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!lab.rows().contains("zone.wizard"));
    let b = &lab.backups()[0];
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(b.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["databases"][0]["rows"]["configuration"].as_u64().unwrap() >= 2, "{manifest}");
}

#[test]
fn a_killed_reset_leaves_no_secret_file_in_a_shared_directory() {
    let lab = lab("killed", "4.22", "debian-12", "\"all-in-one\"");
    let before = lab.rows();
    let shared = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A mysqldump that announces itself and hangs: the reset is killed while its option file is in use.
    let marker = dir.path().join("dumping");
    let p = dir.path().join("mysqldump");
    std::fs::write(&p, format!("#!/bin/sh\ntouch '{}'\nexec sleep 60\n", marker.display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("--root").arg(lab.root.path()).args(["reset", "--yes", "--profile", lab.profile.to_str().unwrap()]);
    for (k, v) in &lab.env {
        let v = if k == "PATH" { format!("{}:{v}", dir.path().display()) } else { v.clone() };
        cmd.env(k, v);
    }
    cmd.env("TMPDIR", shared.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().unwrap();
    let mut waited = 0;
    while !marker.exists() && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert!(marker.exists(), "the reset never reached the dump");
    let private = lab.path("run/cloudstrap");
    let held: Vec<_> = std::fs::read_dir(&private).unwrap().flatten().map(|e| e.path()).collect();
    assert!(!held.is_empty(), "the option file should exist while mysqldump runs");
    assert_eq!(mode(&private), 0o700);
    // kill -9 the whole group (cloudstrap and the hanging mysqldump): no destructor runs.
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(shared.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "files left in the shared temporary directory: {left:?}");
    assert!(held.iter().all(|p| p.exists()), "the killed run's file stays until the next run");

    // The next run cleans them up, rolls the interrupted reset back and completes a fresh one.
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("rolling it back"), "{}", text(&out));
    assert!(held.iter().all(|p| !p.exists()), "a killed run's secret file survived the next run");
    assert_eq!(std::fs::read_dir(&private).unwrap().count(), 0);
    assert_ne!(lab.rows(), before);
}

#[test]
fn a_restore_that_fails_half_way_says_where_it_stopped_and_shows_no_row_data() {
    let lab = lab("halfrestore", "4.22", "debian-12", "\"all-in-one\"");
    sql(&format!("UPDATE `{}`.user SET secret_key = 'Sk-{}-restore-secret', api_key = 'Ak-{}-restore' WHERE id = 2", lab.cloud(), "x".repeat(150), "y".repeat(150)));
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let b = lab.backups()[0].clone();
    let after_reset = lab.rows();

    // The backup's second database breaks in its middle, right where cloud.user-like rows are: the
    // checksums are made to match, as if the dump had been written that way.
    let mpath = b.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    let rel = manifest["databases"][0]["file"].as_str().unwrap().to_string();
    let dump = b.join(&rel);
    let mut sql_text = String::new();
    bzip2::read::MultiBzDecoder::new(std::fs::File::open(&dump).unwrap()).read_to_string(&mut sql_text).unwrap();
    assert!(sql_text.contains("restore-secret"));
    let broken = sql_text.replacen("INSERT INTO `user` VALUES", "INSERT INTO `user` VALUESS", 1);
    assert_ne!(broken, sql_text);
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(broken.as_bytes()).unwrap();
    let data = enc.finish().unwrap();
    std::fs::write(&dump, &data).unwrap();
    use sha2::Digest;
    manifest["databases"][0]["sha256"] = hex::encode(sha2::Sha256::digest(&data)).into();
    std::fs::write(&mpath, manifest.to_string()).unwrap();
    let sums = std::fs::read_to_string(b.join("SHA256SUMS")).unwrap();
    let sums: String = sums.lines().map(|l| if l.ends_with(&rel) { format!("{}  {rel}\n", manifest["databases"][0]["sha256"].as_str().unwrap()) } else { format!("{l}\n") }).collect();
    std::fs::write(b.join("SHA256SUMS"), sums).unwrap();

    let out = lab.cloudstrap(&["restore", b.to_str().unwrap(), "--yes", "--profile", lab.profile.to_str().unwrap()]);
    let t = text(&out);
    eprintln!("{t}");
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(!t.contains("restore-secret") && !t.contains("Ak-y") && !t.contains("xxxxxxxxxx"), "row data in the error: {t}");
    assert!(t.lines().all(|l| l.len() < 2000), "an uncut line: {t}");
    assert!(t.contains("ERROR 1064") && t.contains("at line"), "{t}");
    assert!(t.contains(&format!("{} was dropped and is partly loaded", lab.cloud())), "{t}");
    assert!(t.contains(&format!("{} not touched", lab.usage())), "{t}");
    assert!(t.contains("services are stopped") && t.contains(&format!("cloudstrap restore {}", b.display())), "{t}");
    // What it says is so: cloud lacks its user rows, cloud_usage is as after the reset.
    assert_eq!(sql(&format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}' AND table_name = 'user'", lab.cloud())), "1");
    assert_eq!(lab.service("cloudstack-management")["active"], false);
    let usage_now: String = lab.rows().split("== ").filter(|s| s.starts_with(&lab.usage())).collect();
    let usage_then: String = after_reset.split("== ").filter(|s| s.starts_with(&lab.usage())).collect();
    assert_eq!(usage_now, usage_then);
}

#[test]
fn reset_in_a_root_runs_the_roots_service_manager_and_setup_commands_not_the_hosts() {
    let lab = lab("rootcmds", "4.22", "debian-12", "\"all-in-one\"");
    // Decoys first on this machine's PATH: each one that runs leaves a mark and fails.
    let decoys = tempfile::tempdir().unwrap();
    let mark = decoys.path().join("ran");
    for name in ["systemctl", "service", "cloudstack-setup-databases", "cloudstack-setup-management"] {
        let p = decoys.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho {name} >> '{}'\nexit 1\n", mark.display())).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = lab.reset_with(decoys.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!mark.exists(), "the host's commands ran: {}", std::fs::read_to_string(&mark).unwrap_or_default());
    assert!(!lab.rows().contains("zone.wizard"));
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    assert_eq!(lab.service("cloudstack-usage")["stops"], 1);

    // Without the setup commands in the root, nothing stops, whatever this machine's PATH holds.
    std::fs::remove_file(lab.path("usr/sbin/cloudstack-setup-databases")).unwrap();
    let before = lab.rows();
    let out = lab.reset_with(decoys.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cloudstack-setup-databases is not installed (not found in"), "{}", text(&out));
    assert_eq!(lab.rows(), before);
    assert_eq!(lab.service("cloudstack-usage")["stops"], 1);
    assert!(!mark.exists());
}

#[test]
fn wrong_database_credentials_drop_nothing() {
    let lab = lab("badcred", "4.22", "debian-12", "\"all-in-one\"");
    sql(&format!("ALTER USER '{0}'@'localhost' IDENTIFIED BY 'changed-behind-our-back'; ALTER USER '{0}'@'%' IDENTIFIED BY 'changed-behind-our-back'", lab.user));
    let before = lab.rows();
    let out = lab.reset(&[]);
    assert_stopped_nothing(&lab, &before, &out);
    assert!(text(&out).contains("Access denied") && text(&out).contains("as the cloud user"), "{}", text(&out));
    assert!(lab.backups().is_empty(), "a failed backup was left behind: {:?}", lab.backups());
}

#[test]
fn database_down_drops_nothing() {
    let lab = lab("down", "4.22", "debian-12", "\"all-in-one\"");
    // The server as seen through db.properties does not answer: a loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dbp = lab.path("etc/cloudstack/management/db.properties");
    let t = std::fs::read_to_string(&dbp)
        .unwrap()
        .replace("db.cloud.host=localhost", "db.cloud.host=127.0.0.1")
        .replace("db.cloud.port=3306", &format!("db.cloud.port={port}"));
    std::fs::write(&dbp, t).unwrap();
    let before = lab.rows();
    let out = lab.reset(&[]);
    assert_stopped_nothing(&lab, &before, &out);
    assert!(text(&out).contains("Can't connect"), "{}", text(&out));
}

#[test]
fn full_backup_filesystem_drops_nothing() {
    let lab = lab("full_fs", "4.22", "debian-12", "\"all-in-one\"");
    // Enough incompressible rows that the dump cannot fit in a 64 KiB filesystem.
    sql(&format!(
        "INSERT INTO `{}`.configuration (instance, name, value) SELECT 'DEFAULT', concat('filler.', seq), \
         concat(sha2(seq, 512), sha2(seq + 1, 512), sha2(seq + 2, 512)) FROM `{0}`.seq_1_to_3000",
        lab.cloud()
    ));
    let mnt = tempfile::tempdir().unwrap();
    let m = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"]).arg(mnt.path()).output().unwrap();
    assert!(m.status.success(), "this test mounts a tmpfs and needs root: {}", text(&m));
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(mnt.path().to_path_buf());
    let before = lab.rows();
    let out = lab.reset(&["--backup-dir", mnt.path().to_str().unwrap()]);
    assert_untouched(&lab, &before, &out);
    assert!(text(&out).contains("No space left on device"), "{}", text(&out));
    assert_eq!(std::fs::read_dir(mnt.path()).unwrap().count(), 0, "partial backup left on the full filesystem");
}

#[test]
fn unwritable_backup_location_changes_nothing() {
    let lab = lab("unwritable", "4.22", "debian-12", "\"all-in-one\"");
    let file = lab.path("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let before = lab.rows();
    let out = lab.reset(&["--backup-dir", file.join("backups").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot create the backup directory") && text(&out).contains("nothing was changed"));
    assert_eq!(lab.rows(), before);
    assert_eq!(lab.service("cloudstack-management")["stops"], 0, "services were stopped");
}

#[test]
fn without_a_terminal_or_yes_it_refuses_with_exit_3() {
    let lab = lab("noterm", "4.22", "debian-12", "\"all-in-one\"");
    let before = lab.rows();
    let out = lab.cloudstrap(&["reset", "--profile", lab.profile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("--yes") && text(&out).contains("nothing was changed"), "{}", text(&out));
    assert!(text(&out).contains("cloudstrap reset will"), "the plan is shown first: {}", text(&out));
    assert_eq!(lab.rows(), before);
    assert_eq!(lab.service("cloudstack-management")["stops"], 0);
    assert!(lab.backups().is_empty());
}

#[test]
fn typed_host_name_confirms_and_a_wrong_one_cancels() {
    let lab = lab("typed", "4.22", "debian-12", "\"all-in-one\"");
    let before = lab.rows();
    // `script` gives cloudstrap a terminal; its stdin feeds what the operator types.
    let run = |typed: &str| {
        let mut line = format!("'{}' --root '{}' reset --profile '{}'", bin().display(), lab.root.path().display(), lab.profile.display());
        line.push_str(" ; echo EXIT=$?");
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in &lab.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("script (util-linux) is needed for this test");
        child.stdin.take().unwrap().write_all(format!("{typed}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run("wrong-host");
    assert!(out.contains("Type the host name (csreset)") && out.contains("EXIT=3"), "{out}");
    assert_eq!(lab.rows(), before);
    let out = run("csreset");
    assert!(out.contains("EXIT=0"), "{out}");
    assert_ne!(lab.rows(), before);
}

#[test]
fn refuses_hosts_without_the_management_or_database_role() {
    let lab = lab("roles", "4.22", "debian-12", "\"kvm-agent\"");
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("neither the management nor the database role"), "{}", text(&out));
    let db_only = lab.path("db-only.toml");
    std::fs::write(&db_only, std::fs::read_to_string(&lab.profile).unwrap().replace("\"kvm-agent\"", "\"database\"")).unwrap();
    let out = lab.cloudstrap(&["reset", "--yes", "--profile", db_only.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not the management role"), "{}", text(&out));
    assert_eq!(lab.service("cloudstack-management")["stops"], 0);
}

#[test]
fn an_interrupted_reset_resumes_from_its_verified_backup() {
    let lab = lab("resume", "4.22", "debian-12", "\"all-in-one\"");
    let before = lab.rows();
    // The setup command fails after the backup (here: it is a 4.20 that does not know --force-recreate).
    let mut broken = lab.env.clone();
    broken.retain(|(k, _)| k != "CLOUDSTACK_STANDIN_RELEASE");
    broken.push(("CLOUDSTACK_STANDIN_RELEASE".into(), "4.20".into()));
    let mut cmd = Command::new(bin());
    cmd.arg("--root").arg(lab.root.path()).args(["reset", "--yes", "--profile", lab.profile.to_str().unwrap()]).envs(broken);
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("run `cloudstrap reset` again to finish"), "{}", text(&out));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.path("var/lib/cloudstrap/reset-state.json")).unwrap()).unwrap();
    assert_eq!(state["phase"], "recreating");
    assert_eq!(lab.rows(), before, "the failed setup command changed nothing");

    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("resume an interrupted reset"), "{}", text(&out));
    assert_eq!(lab.backups().len(), 1, "resuming must reuse the verified backup");
    assert!(!lab.rows().contains("zone.wizard"));
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    assert!(!lab.path("var/lib/cloudstrap/reset-state.json").exists());
}

#[test]
fn an_interrupted_reset_that_dropped_nothing_is_rolled_back_first() {
    let lab = lab("rollback", "4.22", "debian-12", "\"all-in-one\"");
    // As a reset killed while dumping leaves the host: services stopped, a partial backup, the state file.
    let partial = lab.path("var/lib/cloudstrap/backups/20261125T000000Z");
    std::fs::create_dir_all(partial.join("db")).unwrap();
    std::fs::write(partial.join("db/x.sql.partial"), "half").unwrap();
    for unit in ["cloudstack-usage", "cloudstack-management"] {
        let st = Command::new(standins_dir().join("bin/systemctl"))
            .args(["stop", unit])
            .env("CLOUDSTACK_STANDIN_ROOT", lab.root.path())
            .status()
            .unwrap();
        assert!(st.success());
    }
    let state = serde_json::json!({
        "phase": "dumping", "backup_dir": partial, "started": "2026-11-25T00:00:00Z", "release": "4.22",
        "services": [{"name": "cloudstack-management", "was_active": true}, {"name": "cloudstack-usage", "was_active": true}]
    });
    std::fs::write(lab.path("var/lib/cloudstrap/reset-state.json"), state.to_string()).unwrap();

    // Refusing the new reset still leaves the host rolled back: services running, no partial backup.
    let out = lab.cloudstrap(&["reset", "--profile", lab.profile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("rolling it back"), "{}", text(&out));
    assert!(!partial.exists());
    assert_eq!(lab.service("cloudstack-management")["active"], true);
    assert_eq!(lab.service("cloudstack-usage")["active"], true);
    assert!(!lab.path("var/lib/cloudstrap/reset-state.json").exists());
    assert!(lab.rows().contains("zone.wizard"));
}

#[test]
fn release_3_0_2_on_el6_uses_sysv_and_recreates_without_the_flag() {
    let lab = lab("el6", "3.0.2", "el6", "\"management\", \"database\"");
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("cloud-setup-databases") && !text(&out).contains("--force-recreate"), "{}", text(&out));
    assert!(!lab.rows().contains("zone.wizard"));
    assert_eq!(lab.service("cloud-management")["active"], true);
    assert_eq!(lab.service("cloud-usage")["stops"], 1);
    let b = &lab.backups()[0];
    assert!(b.join("files/etc/cloud/management/db.properties").is_file());
}

#[test]
fn secrets_come_from_the_profile_when_db_properties_cannot_be_read() {
    let lab = lab("secrets", "4.22", "debian-12", "\"all-in-one\"");
    // As on a real host: values encrypted with jasypt, which cloudstrap does not read.
    let dbp = lab.path("etc/cloudstack/management/db.properties");
    let t: String = std::fs::read_to_string(&dbp).unwrap().lines().filter(|l| !l.starts_with("db.cloud.encryption.scheme")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&dbp, t).unwrap();
    let before = lab.rows();
    let out = lab.reset(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("jasypt") && text(&out).contains("database-key"), "{}", text(&out));
    assert!(!text(&out).contains("ENC("), "{}", text(&out));
    assert_eq!(lab.rows(), before);
    assert_eq!(lab.service("cloudstack-management")["stops"], 0);
    assert!(lab.backups().is_empty());

    let mut profile = std::fs::read_to_string(&lab.profile).unwrap();
    profile = profile.replace("[database]\n", "[database]\nmanagement-key-env = \"T_RESET_MGMT_KEY\"\ndatabase-key = \"db-k2\"\n");
    std::fs::write(&lab.profile, profile).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("--root").arg(lab.root.path()).args(["reset", "--yes", "--profile", lab.profile.to_str().unwrap()]);
    cmd.envs(lab.env.iter().cloned()).env("T_RESET_MGMT_KEY", "mgmt-k2").stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!lab.rows().contains("zone.wizard"));
    let props = properties(&dbp);
    assert_eq!(standin_decode(&props["db.cloud.password"], "mgmt-k2"), PASSWORD);
    assert_eq!(standin_decode(&props["db.cloud.encrypt.secret"], "mgmt-k2"), "db-k2");
    assert_eq!(std::fs::read_to_string(lab.path("etc/cloudstack/management/key")).unwrap(), "mgmt-k2");
}

#[test]
fn without_a_profile_it_reads_db_properties_and_the_databases_version() {
    let lab = lab("noprofile", "4.22", "debian-12", "\"all-in-one\"");
    let mut cmd = Command::new(bin());
    cmd.arg("--root").arg(lab.root.path()).args(["reset", "--yes", "--api-timeout", "60"]);
    cmd.envs(lab.env.iter().cloned()).env("CLOUDSTACK_ENDPOINT", api_responder()).stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("(CloudStack 4.22)") && text(&out).contains("--force-recreate"), "{}", text(&out));
    assert!(!lab.rows().contains("zone.wizard"));
    // Recreated with the same secrets it read: the password still decodes with the key file's key.
    let props = properties(&lab.path("etc/cloudstack/management/db.properties"));
    assert_eq!(standin_decode(&props["db.cloud.password"], "mgmt-k"), PASSWORD);
    assert_eq!(standin_decode(&props["db.cloud.encrypt.secret"], "mgmt-k"), "db-k");
}

#[test]
fn reset_hands_off_again_and_deploys_the_profiles_zone() {
    // The management server after the restart, on its fresh database: default admin password, no zone.
    let sim = cloudstack_simulator::start(
        "127.0.0.1:0",
        cloudstack_simulator::Simulator::new(
            cloudstack_simulator::Config { job_polls: 0, host_up_polls: 0, systemvm_polls: 0, ..Default::default() },
            Box::new(cloudstack_simulator::MemoryStore),
        )
        .unwrap(),
    )
    .unwrap();
    let extra = "admin-password-env = \"T_RESET_ADMIN_PW\"\n\n\
        [zone]\nname = \"ZoneR\"\ntype = \"basic\"\ndns = [\"8.8.8.8\"]\ninternal-dns = [\"10.99.0.1\"]\n\n\
        [zone.pod]\nname = \"Pod1\"\ngateway = \"10.99.0.1\"\nnetmask = \"255.255.255.0\"\nstart-ip = \"10.99.0.100\"\nend-ip = \"10.99.0.120\"\n\n\
        [zone.guest]\ngateway = \"10.99.0.1\"\nnetmask = \"255.255.255.0\"\nstart-ip = \"10.99.0.150\"\nend-ip = \"10.99.0.199\"\n\n\
        [zone.cluster]\nname = \"Cluster1\"\n";
    let lab = lab_with("handoff", "4.22", "debian-12", "\"all-in-one\"", &sim.url(), extra);
    let mut cmd = Command::new(bin());
    cmd.arg("--root").arg(lab.root.path()).args(["reset", "--yes", "--profile", lab.profile.to_str().unwrap()]);
    cmd.envs(lab.env.iter().cloned()).env("T_RESET_ADMIN_PW", "Adm1n-after-reset").stdin(Stdio::null());
    let out = cmd.output().unwrap();
    eprintln!("{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("Adm1n-after-reset"), "admin password in the output");
    let zones = sim.sim.objects("zone");
    assert_eq!(zones.len(), 1, "{zones:?}");
    assert_eq!((zones[0]["name"].as_str(), zones[0]["allocationstate"].as_str()), (Some("ZoneR"), Some("Enabled")));
    cloudstrap::cloudstack::Client::login(&sim.url(), "admin", "Adm1n-after-reset", "/", Default::default()).expect("the profile's admin password works");
    let keys = lab.path(cloudstrap::cloudstack::credentials::KEYS_FILE.trim_start_matches('/'));
    assert_eq!(mode(&keys), 0o600, "the new API keys are stored for root");
    assert!(!lab.path("var/lib/cloudstrap/reset-state.json").exists());
}

//! `Secrets::resolve`: inline values, `*-file` (relative to the profile, trailing newline trimmed), `*-env`;
//! unreadable files and unset variables come back as located errors that never show a value.

use std::fs;
use std::path::Path;

use cloudstrap::profile::{self, Secrets};

const PROFILE: &str = r#"[cloudstack]
release = "4.22"

[host]
roles = ["all-in-one"]
hostname = "cloud"
fqdn = "cloud.example.org"
address = "192.168.10.10/24"
gateway = "192.168.10.1"

[database]
root-password-file = "secrets/db-root"
cloud-password-env = "TEST_CLOUD_PW"
management-key = "Inline-Mgmt-Key"

[nfs]
server = "192.168.10.10"
clients = "192.168.10.0/24"

[management]
admin-password-file = "/ABSOLUTE"

[[zone.hosts]]
address = "192.168.10.10"
password-env = "TEST_HOST_PW"
"#;

fn zone_tail() -> &'static str {
    r#"
[zone]
name = "z"
type = "basic"
dns = ["192.168.10.1"]
internal-dns = ["192.168.10.1"]
[zone.pod]
name = "p"
gateway = "192.168.10.1"
netmask = "255.255.255.0"
start-ip = "192.168.10.200"
end-ip = "192.168.10.210"
[zone.guest]
gateway = "192.168.10.1"
netmask = "255.255.255.0"
start-ip = "192.168.10.100"
end-ip = "192.168.10.110"
[zone.cluster]
name = "c"
"#
}

fn write_profile(dir: &Path, admin_file: &Path) -> std::path::PathBuf {
    let text = PROFILE.replace("/ABSOLUTE", &admin_file.display().to_string()).replace("[[zone.hosts]]", &format!("{}\n[[zone.hosts]]", zone_tail()));
    let p = dir.join("p.toml");
    fs::write(&p, text).unwrap();
    p
}

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
}

#[test]
fn resolves_inline_file_and_env() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("secrets")).unwrap();
    fs::write(dir.path().join("secrets/db-root"), "From-File-Root\n").unwrap();
    let admin = dir.path().join("admin.pw");
    fs::write(&admin, "Admin-Pass-1\r\n").unwrap();
    let path = write_profile(dir.path(), &admin);
    let p = profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let s = Secrets::resolve_with(&p, dir.path(), env_of(&[("TEST_CLOUD_PW", "From-Env-Cloud"), ("TEST_HOST_PW", "Host-Pw")])).unwrap();
    assert_eq!(s.db_root.as_ref().unwrap().expose(), "From-File-Root");
    assert_eq!(s.db_cloud.as_ref().unwrap().expose(), "From-Env-Cloud");
    assert_eq!(s.management_key.as_ref().unwrap().expose(), "Inline-Mgmt-Key");
    assert_eq!(s.admin_password.as_ref().unwrap().expose(), "Admin-Pass-1");
    assert_eq!(s.zone_host_passwords.len(), 1);
    assert_eq!(s.zone_host_passwords[0].as_ref().unwrap().expose(), "Host-Pw");
    assert!(s.database_key.is_none() && s.api_secret.is_none() && s.agent_root_password.is_none());
    // Debug output and the redactor never show values.
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("From-File-Root") && !dbg.contains("Host-Pw"), "{dbg}");
    let r = s.redactor();
    assert_eq!(r.redact("pw From-Env-Cloud and Host-Pw"), "pw ******** and ********");
}

#[test]
fn missing_file_and_unset_env_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.pw");
    fs::write(&admin, "Admin-Pass-1").unwrap();
    let path = write_profile(dir.path(), &admin);
    let p = profile::load(&path).unwrap();
    let e = Secrets::resolve_with(&p, dir.path(), env_of(&[("TEST_HOST_PW", "Host-Pw")])).unwrap_err();
    let f = path.display().to_string();
    let want_file = format!(
        "{f}:12:22: database.root-password-file: {} cannot be read: no such file (expected a readable file holding the secret)",
        dir.path().join("secrets/db-root").display()
    );
    let want_env = format!("{f}:13:22: database.cloud-password-env: environment variable TEST_CLOUD_PW is not set (expected it to hold the secret)");
    assert_eq!(e.problems, vec![want_file, want_env]);
}

#[test]
fn file_secret_rejected_by_setup_rules_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("secrets")).unwrap();
    fs::write(dir.path().join("secrets/db-root"), "bad pass:word\n").unwrap();
    let admin = dir.path().join("admin.pw");
    fs::write(&admin, "Admin-Pass-1").unwrap();
    let path = write_profile(dir.path(), &admin);
    let p = profile::load(&path).unwrap();
    let e = Secrets::resolve_with(&p, dir.path(), env_of(&[("TEST_CLOUD_PW", "ok-pw"), ("TEST_HOST_PW", "x")])).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("database.root-password-file: the secret it gives contains a space"), "{msg}");
    assert!(!msg.contains("bad pass"), "{msg}");
}

#[test]
fn process_environment_is_read_by_resolve() {
    // PATH is always set; use it as the "secret" of a non-setup field to exercise the real lookup.
    let dir = tempfile::tempdir().unwrap();
    let text = PROFILE
        .replace("admin-password-file = \"/ABSOLUTE\"", "admin-password-env = \"PATH\"")
        .replace("[[zone.hosts]]\naddress = \"192.168.10.10\"\npassword-env = \"TEST_HOST_PW\"\n", "")
        .replace("root-password-file = \"secrets/db-root\"", "root-password = \"Inline-Root\"")
        .replace("cloud-password-env = \"TEST_CLOUD_PW\"", "cloud-password = \"Inline-Cloud\"");
    let path = dir.path().join("p.toml");
    fs::write(&path, text).unwrap();
    let p = profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let s = Secrets::resolve(&p, dir.path()).unwrap();
    assert_eq!(s.admin_password.unwrap().expose(), std::env::var("PATH").unwrap());
}

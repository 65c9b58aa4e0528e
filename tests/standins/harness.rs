//! Test helpers around the CloudStack setup-command stand-ins and the machine's MariaDB.
//! Include with `#[path = "standins/harness.rs"] mod harness;` from a test crate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cloudstrap::run::{python_script_cmd, Output, Redactor};

pub fn standins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins")
}

/// Fails the test with a clear message when MariaDB or its client is missing (CI installs and starts it).
pub fn require_mariadb() {
    let ok = Command::new("mysqladmin").arg("ping").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "MariaDB is not answering on its unix socket (or the mysql client is missing): run \
         `bash scripts/test-env/services/mariadb.sh` (packages: scripts/test-env/packages/reset.list)"
    );
    let ok = Command::new("python3").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "python3 is missing: the CloudStack stand-ins need it (scripts/test-env/packages/reset.list)");
}

/// A database-name prefix unique to this test and process, e.g. `t_reset_seed_1234_`.
pub fn prefix(test: &str) -> String {
    format!("t_{}_{}_", test, std::process::id())
}

/// Run SQL as the server's root (unix socket); panics with the server's message on failure.
pub fn sql(query: &str) -> String {
    let out = Command::new("mysql").args(["-N", "-B", "-e", query]).output().expect("run mysql");
    assert!(out.status.success(), "mysql -e {query:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Databases of this prefix and the given users are dropped when the guard goes.
pub struct DbGuard {
    pub prefix: String,
    pub users: Vec<String>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        let dbs = sql(&format!(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{}%'",
            self.prefix.replace('_', "\\_")
        ));
        for db in dbs.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("mysql").args(["-e", &format!("DROP DATABASE IF EXISTS `{db}`")]).status();
        }
        for u in &self.users {
            let _ = Command::new("mysql")
                .args(["-e", &format!("DROP USER IF EXISTS '{u}'@'localhost'; DROP USER IF EXISTS '{u}'@'%'")])
                .status();
        }
    }
}

/// Environment that points the stand-ins at a root directory, a release and a database prefix.
pub fn standin_env(root: &Path, release: &str, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("CLOUDSTACK_STANDIN_ROOT".into(), root.display().to_string()),
        ("CLOUDSTACK_STANDIN_RELEASE".into(), release.into()),
        ("CLOUDSTACK_STANDIN_DB_PREFIX".into(), prefix.into()),
        ("CLOUDSTACK_STANDIN_ALLOW_NONROOT".into(), "1".into()),
    ]
}

/// Run a stand-in (e.g. "cloudstack-setup-databases") through the launcher the installer uses.
pub fn run_standin(name: &str, args: &[&str], env: &[(String, String)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    // The argv file goes into the stand-ins' root, as cloudstrap puts it into the root it works on.
    let root = env.iter().find(|(k, _)| k == "CLOUDSTACK_STANDIN_ROOT").map(|(_, v)| PathBuf::from(v)).expect("CLOUDSTACK_STANDIN_ROOT in env");
    let (mut cmd, _argfile) = python_script_cmd(&standins_dir().join(name), &args, &root).expect("argv file");
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run(&Redactor::default()).expect("start the stand-in")
}

/// `PATH` with the systemctl/service stand-ins first.
pub fn path_with_service_standins() -> String {
    format!("{}:{}", standins_dir().join("bin").display(), std::env::var("PATH").unwrap_or_default())
}

/// The stand-ins' service state (ROOT/var/lib/cloudstack-standin/services.json).
pub fn services(root: &Path) -> serde_json::Value {
    let p = root.join("var/lib/cloudstack-standin/services.json");
    match std::fs::read_to_string(&p) {
        Ok(s) => serde_json::from_str(&s).expect("services.json"),
        Err(_) => serde_json::json!({}),
    }
}

/// Decode a value the stand-in encoded (`ENC(...)`, scheme cloudstrap-standin-1) with the management key.
pub fn standin_decode(value: &str, key: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let inner = value.strip_prefix("ENC(").and_then(|v| v.strip_suffix(')')).expect("ENC(...)");
    let data = base64::engine::general_purpose::STANDARD.decode(inner).expect("base64");
    let mut stream = Vec::new();
    let mut block = 0u32;
    while stream.len() < data.len() {
        stream.extend_from_slice(&sha2::Sha256::digest(format!("{key}:{block}").as_bytes()));
        block += 1;
    }
    String::from_utf8(data.iter().zip(stream).map(|(a, b)| a ^ b).collect()).expect("utf-8")
}

/// key=value pairs of a properties file.
pub fn properties(path: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

//! Secrets stay secret while the engine provisions a real database and runs CloudStack's setup-databases
//! (the Python stand-in under tests/standins, taking passwords on its argv like the real one): a thread
//! samples every process's /proc/PID/cmdline throughout, and afterwards the log, the receipt and the
//! progress output are searched. None may contain a password or key.

mod engine_support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudstrap::action::database::{AdminLogin, CloudUser, DbConn};
use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::setup::{Arg, SetupCommand};
use cloudstrap::action::{Ctx, Secret};
use cloudstrap::run::Redactor;
use engine_support::*;

const ROOT_PW: &str = "R0ot#Eng-sec%91";
const CLOUD_PW: &str = "Cl0ud#Eng-sec%27";
const MGMT_KEY: &str = "MgmtKey-5e1d9a";
const DB_KEY: &str = "DbKey-77f0c3";

fn sample_cmdlines(stop: Arc<AtomicBool>, seen: Arc<Mutex<Vec<String>>>) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                if !e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                if let Ok(b) = std::fs::read(e.path().join("cmdline")) {
                    if !b.is_empty() {
                        seen.lock().unwrap().push(String::from_utf8_lossy(&b).replace('\0', " "));
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn no_secret_in_argv_log_or_receipt_during_database_setup() {
    require_mariadb();
    require("python3", "python3");
    mysql_root(
        "DROP USER IF EXISTS 'engsec_root'@'localhost'; DROP USER IF EXISTS 'engsec_cloud'@'localhost'; DROP USER IF EXISTS 'engsec_cloud'@'%'; \
         DROP DATABASE IF EXISTS engsec_cloud; DROP DATABASE IF EXISTS engsec_cloud_usage; \
         CREATE USER 'engsec_root'@'localhost' IDENTIFIED VIA unix_socket; GRANT ALL ON *.* TO 'engsec_root'@'localhost' WITH GRANT OPTION;",
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("install.log");
    cloudstrap::log::set_file(Some(log.clone()));
    // The stand-in writes below this root and prefixes its database names (see tests/standins/README.md).

    let mut red = Redactor::default();
    for s in [ROOT_PW, CLOUD_PW, MGMT_KEY, DB_KEY] {
        red.add(s);
    }
    let mut ctx = Ctx::live_with_files_in(dir.path(), red);
    ctx.env = standin_env(dir.path(), "engsec_");
    let conn = DbConn { host: "localhost".into(), port: 3306, socket: None };
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/cloudstack-setup-databases");
    let conf = Path::new("/etc/cloudstack/management");
    let setup = SetupCommand {
        program: standin.display().to_string(),
        args: vec![
            Arg::Secret(Secret::new(format!("engsec_cloud:{CLOUD_PW}@localhost"))),
            Arg::Secret(Secret::new(format!("--deploy-as=engsec_root:{ROOT_PW}"))),
            Arg::Plain("-e".into()),
            Arg::Plain("file".into()),
            Arg::Plain("-m".into()),
            Arg::Secret(Secret::new(MGMT_KEY)),
            Arg::Plain("-k".into()),
            Arg::Secret(Secret::new(DB_KEY)),
            Arg::Plain("-i".into()),
            Arg::Plain("127.0.0.1".into()),
        ],
        creates: vec![conf.join("db.properties"), conf.join("key")],
        success_text: Some("successfully initialized database".into()),
        timeout: Duration::from_secs(300),
        recreate: None,
    };
    let regrant = CloudUser {
        conn: conn.clone(),
        admin_user: "engsec_root".into(),
        admin_password: Secret::new(ROOT_PW),
        user: "engsec_cloud".into(),
        password: Secret::new(CLOUD_PW),
        hosts: vec!["localhost".into(), "%".into()],
        databases: vec!["engsec_cloud".into(), "engsec_cloud_usage".into()],
    };
    let plan = vec![
        Step { action: Box::new(AdminLogin { conn, user: "engsec_root".into(), password: Secret::new(ROOT_PW) }), after: vec![] },
        Step { action: Box::new(setup), after: vec![0] },
        Step { action: Box::new(regrant), after: vec![1] },
    ];

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || sample_cmdlines(stop, seen))
    };
    let out = Captured::default();
    let result = execute(&plan, &ctx, Receipt::new("debian-12", vec!["management".into()]), &out.lines(), &Options { workers: 2, kill_after: None });
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let s = result.unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()));
    // The stand-in already grants PROCESS (upstream's script does not, apache/cloudstack#8240), so the
    // grant step may find nothing to do; the two before it must have run.
    assert!(s.executed >= 2 && s.executed + s.already_done == 3, "{}", out.text());
    assert!(mysql_root("SHOW GRANTS FOR 'engsec_cloud'@'%'").contains("PROCESS"));

    // The stand-in really ran: its files exist and the databases are there.
    assert!(dir.path().join("etc/cloudstack/management/db.properties").exists());
    assert_eq!(mysql_root("SHOW DATABASES LIKE 'engsec_cloud%'").lines().count(), 2);

    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|c| c.contains("runpy")), "the sampler never caught the setup command running ({} samples)", seen.len());
    let logged = std::fs::read_to_string(&log).unwrap();
    let receipt = std::fs::read_to_string(dir.path().join("var/lib/cloudstrap/receipt.json")).unwrap();
    for secret in [ROOT_PW, CLOUD_PW, MGMT_KEY, DB_KEY] {
        assert!(!seen.iter().any(|c| c.contains(secret)), "a process's command line held a secret");
        assert!(!logged.contains(secret), "the log holds a secret");
        assert!(!receipt.contains(secret), "the receipt holds a secret");
        assert!(!out.text().contains(secret), "the progress output holds a secret");
    }
    // The 0600 argv file is gone once the command ran.
    assert_eq!(std::fs::read_dir("/run/cloudstrap").map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("setup-argv")).count()).unwrap_or(0), 0);

    // A re-run is a no-op.
    let s2 = execute(&plan, &ctx, Receipt::new("debian-12", vec!["management".into()]), &out.lines(), &Options { workers: 2, kill_after: None }).unwrap();
    assert_eq!((s2.executed, s2.already_done), (0, 3));
    mysql_root(
        "DROP USER IF EXISTS 'engsec_root'@'localhost'; DROP USER IF EXISTS 'engsec_cloud'@'localhost'; DROP USER IF EXISTS 'engsec_cloud'@'%'; \
         DROP DATABASE IF EXISTS engsec_cloud; DROP DATABASE IF EXISTS engsec_cloud_usage;",
    );
}

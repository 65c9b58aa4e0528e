//! Database provisioning against the real MariaDB: an administrator that only logs in by socket gets a
//! working password login; the cloud user gets its password and grants (PROCESS included); a re-run is a
//! no-op; no password reaches the log or the receipt.

mod engine_support;

use cloudstrap::action::database::{AdminLogin, CloudUser, DbConn};
use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::{Action, Ctx, Secret};
use cloudstrap::run::Redactor;
use engine_support::*;

const ADMIN: &str = "engdb_root";
const CLOUD: &str = "engdb_cloud";
const ADMIN_PW: &str = "Adm1n\"pw;#x$Y";
const CLOUD_PW: &str = "Cl0ud-pw=#\"z%";

fn conn() -> DbConn {
    DbConn { host: "localhost".into(), port: 3306, socket: None }
}

fn steps() -> Vec<Step> {
    let admin = AdminLogin { conn: conn(), user: ADMIN.into(), password: Secret::new(ADMIN_PW) };
    let cloud = CloudUser {
        conn: conn(),
        admin_user: ADMIN.into(),
        admin_password: Secret::new(ADMIN_PW),
        user: CLOUD.into(),
        password: Secret::new(CLOUD_PW),
        hosts: vec!["localhost".into(), "%".into()],
        databases: vec!["engdb_cloud".into(), "engdb_cloud_usage".into()],
    };
    vec![Step { action: Box::new(admin), after: vec![] }, Step { action: Box::new(cloud), after: vec![0] }]
}

/// Run `sql` as `user` with `password` over TCP, the way CloudStack connects.
fn as_user(user: &str, password: &str, sql: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    std::fs::write(&f, format!("[client]\nuser={user}\npassword=\"{}\"\nhost=127.0.0.1\nprotocol=TCP\n", password.replace('"', "\\\""))).unwrap();
    std::process::Command::new("mysql")
        .arg(format!("--defaults-extra-file={}", f.display()))
        .args(["--batch", "--skip-column-names", "-e", sql])
        .output()
        .unwrap()
}

#[test]
fn database_provisioning_is_real_and_idempotent() {
    require_mariadb();
    // A socket-only administrator, like root under auth_socket/unix_socket.
    mysql_root(&format!(
        "DROP USER IF EXISTS '{ADMIN}'@'localhost'; DROP USER IF EXISTS '{CLOUD}'@'localhost'; DROP USER IF EXISTS '{CLOUD}'@'%'; \
         DROP DATABASE IF EXISTS engdb_cloud; DROP DATABASE IF EXISTS engdb_cloud_usage; \
         CREATE USER '{ADMIN}'@'localhost' IDENTIFIED VIA unix_socket; GRANT ALL ON *.* TO '{ADMIN}'@'localhost' WITH GRANT OPTION;"
    ));
    assert!(!as_user(ADMIN, ADMIN_PW, "SELECT 1").status.success(), "the administrator must start without a password login");

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("install.log");
    cloudstrap::log::set_file(Some(log.clone()));
    let mut red = Redactor::default();
    red.add(ADMIN_PW);
    red.add(CLOUD_PW);
    let ctx = Ctx::live_with_files_in(dir.path(), red);
    let plan = steps();
    assert!(!plan[0].action.is_done(&ctx).unwrap());

    let out = Captured::default();
    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["database".into()]), &out.lines(), &Options { workers: 2, kill_after: None }).unwrap();
    assert_eq!((s.executed, s.already_done), (2, 0), "first run: {}", out.text());

    // The administrator logs in with its password over TCP, and still by socket.
    assert!(as_user(ADMIN, ADMIN_PW, "SELECT 1").status.success());
    // The cloud user logs in, has PROCESS and owns its databases.
    let grants = as_user(CLOUD, CLOUD_PW, "SHOW GRANTS");
    assert!(grants.status.success(), "{}", String::from_utf8_lossy(&grants.stderr));
    let g = String::from_utf8_lossy(&grants.stdout);
    assert!(g.contains("GRANT PROCESS ON *.*"), "{g}");
    assert!(g.contains("GRANT ALL PRIVILEGES ON `engdb_cloud`.*") && g.contains("GRANT ALL PRIVILEGES ON `engdb_cloud_usage`.*"), "{g}");
    let create = as_user(CLOUD, CLOUD_PW, "CREATE DATABASE engdb_cloud; CREATE TABLE engdb_cloud.t (i INT); SELECT COUNT(*) FROM information_schema.processlist");
    assert!(create.status.success(), "{}", String::from_utf8_lossy(&create.stderr));

    // A re-run changes nothing.
    let s2 = execute(&plan, &ctx, Receipt::new("debian-12", vec!["database".into()]), &out.lines(), &Options { workers: 2, kill_after: None }).unwrap();
    assert_eq!((s2.executed, s2.already_done), (0, 2));

    // No secret in the log or the receipt.
    let logged = std::fs::read_to_string(&log).unwrap();
    let receipt = std::fs::read_to_string(dir.path().join("var/lib/cloudstrap/receipt.json")).unwrap();
    for secret in [ADMIN_PW, CLOUD_PW] {
        assert!(!logged.contains(secret), "secret in the log");
        assert!(!receipt.contains(secret), "secret in the receipt");
        assert!(!out.text().contains(secret), "secret in the progress output");
    }
    assert!(receipt.contains("\"added\": [\n") && receipt.contains("\"%\""), "the receipt records the accounts created:\n{receipt}");

    // Revert drops the accounts the action created.
    if std::env::var_os("ENGINE_TEST_SHOW").is_some() {
        eprintln!("{logged}\n{receipt}\n{}", out.text());
    }
    cloudstrap::action::executor::revert(&plan, &ctx).unwrap();
    assert_eq!(mysql_root(&format!("SELECT COUNT(*) FROM mysql.user WHERE user = '{CLOUD}'")).trim(), "0");
    mysql_root(&format!("DROP USER IF EXISTS '{ADMIN}'@'localhost'; DROP DATABASE IF EXISTS engdb_cloud;"));
}

#[test]
fn wrong_root_password_and_no_socket_login_fails_clearly() {
    require_mariadb();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::live_with_files_in(dir.path(), Redactor::default());
    // A socket that does not exist: neither login path works, and the error says what to do.
    let a = AdminLogin {
        conn: DbConn { host: "localhost".into(), port: 3306, socket: Some("/nonexistent/mysqld.sock".into()) },
        user: "engdb_nobody".into(),
        password: Secret::new("not-the-password"),
    };
    assert!(!a.is_done(&ctx).unwrap());
    let err = a.execute(&ctx, &mut Default::default()).unwrap_err().to_string();
    assert!(err.contains("root-password"), "{err}");
    assert!(!err.contains("not-the-password"));
}

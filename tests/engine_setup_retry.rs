//! setup-databases interrupted halfway (4.21 and later then refuse the `cloud` database they find) is
//! retried with --force-recreate, but only when that database did not exist before cloudstrap's first
//! attempt: a database that was there before is never dropped. Real MariaDB, the Python stand-in.

mod engine_support;

use std::path::Path;
use std::time::Duration;

use cloudstrap::action::database::DbConn;
use cloudstrap::action::setup::{Arg, Recreate, SetupCommand};
use cloudstrap::action::{Action, Ctx, Record, Secret};
use cloudstrap::run::Redactor;
use engine_support::*;

const ROOT_PW: &str = "Retry-Root-41";
const CLOUD_PW: &str = "Retry-Cloud-42";

fn setup(recreate: bool) -> SetupCommand {
    let conn = DbConn { host: "localhost".into(), port: 3306, socket: None };
    SetupCommand {
        program: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/cloudstack-setup-databases").display().to_string(),
        args: vec![
            Arg::Secret(Secret::new(format!("engrc_cloud:{CLOUD_PW}@localhost"))),
            Arg::Secret(Secret::new(format!("--deploy-as=engrc_root:{ROOT_PW}"))),
            Arg::Plain("-e".into()),
            Arg::Plain("file".into()),
            Arg::Plain("-m".into()),
            Arg::Secret(Secret::new("retry-mgmt-key")),
            Arg::Plain("-k".into()),
            Arg::Secret(Secret::new("retry-db-key")),
        ],
        creates: vec!["/etc/cloudstack/management/db.properties".into()],
        success_text: Some("successfully initialized database".into()),
        timeout: Duration::from_secs(300),
        recreate: recreate.then(|| Recreate {
            conn,
            user: "engrc_root".into(),
            password: Secret::new(ROOT_PW),
            database: "engrc_cloud".into(),
            flag: "--force-recreate".into(),
        }),
    }
}

fn reset_db() {
    mysql_root(
        "DROP USER IF EXISTS 'engrc_root'@'localhost'; DROP USER IF EXISTS 'engrc_cloud'@'localhost'; DROP USER IF EXISTS 'engrc_cloud'@'%'; \
         DROP DATABASE IF EXISTS engrc_cloud; DROP DATABASE IF EXISTS engrc_cloud_usage;",
    );
}

#[test]
fn interrupted_setup_databases_is_retried_with_force_recreate_and_only_then() {
    require_mariadb();
    require("python3", "python3");
    reset_db();
    mysql_root(&format!("CREATE USER 'engrc_root'@'localhost' IDENTIFIED BY '{ROOT_PW}'; GRANT ALL ON *.* TO 'engrc_root'@'localhost' WITH GRANT OPTION;"));
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = Ctx::live_with_files_in(dir.path(), Redactor::default());
    ctx.env = standin_env(dir.path(), "engrc_");

    // First attempt: no database yet; then it is "killed" after creating the database.
    let cmd = setup(true);
    let mut record = Record::default();
    cmd.prepare(&ctx, &mut record).unwrap();
    mysql_root("CREATE DATABASE engrc_cloud; CREATE DATABASE engrc_cloud_usage;");
    // Without the retry rule the 4.22 script refuses.
    let plain = setup(false).execute(&ctx, &mut Record::default()).unwrap_err().to_string();
    assert!(plain.contains("--force-recreate"), "{plain}");
    // The resumed attempt, with the first attempt's record, passes the flag and succeeds.
    cmd.execute(&ctx, &mut record).unwrap();
    assert!(cmd.is_done(&ctx).unwrap());

    // A database that existed before cloudstrap started is not recreated.
    std::fs::remove_dir_all(dir.path().join("var/lib/cloudstrap")).unwrap();
    let mut before = Record::default();
    cmd.prepare(&ctx, &mut before).unwrap();
    assert_eq!(before.previous.as_deref(), Some("database existed before"));
    let e = cmd.execute(&ctx, &mut before).unwrap_err().to_string();
    assert!(e.contains("already exist") || e.contains("--force-recreate"), "{e}");
    assert!(!e.contains(ROOT_PW) && !e.contains(CLOUD_PW));
    reset_db();
}

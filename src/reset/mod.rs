//! `cloudstrap reset` and `cloudstrap restore`: start CloudStack over without losing anything.
//!
//! reset: show the plan, have the host's name typed (or `--yes`), stop the management and usage servers,
//! dump `cloud` and `cloud_usage` (plus db.properties, the key file and the receipt) into a timestamped,
//! checksummed backup, verify it, then drop and recreate the databases through the release's own
//! `cloudstack-setup-databases` (`--force-recreate` from 4.21), re-run `cloudstack-setup-management`, start
//! the services, wait for the API and re-run the hand-off. A state file records the phase, so a run that
//! stops half-way is rolled back (nothing dropped yet) or resumed (backup verified) by the next run.
//! restore: verify a backup's checksums, then put its databases and files back.

mod backup;
pub mod confirm;
mod context;
pub mod dbprops;
mod dump;
mod flow;
mod restore;
mod services;
mod state;

use std::path::PathBuf;

pub use backup::Manifest;
pub use context::live_hostname;
pub use state::{Phase, ResetState, STATE_PATH};

#[derive(Debug, Clone)]
pub struct ResetOptions {
    /// Do not ask for the host's name to be typed.
    pub yes: bool,
    /// Directory below which the timestamped backup is made (default /var/lib/cloudstrap/backups under --root).
    pub backup_dir: Option<PathBuf>,
    /// The profile this host was installed from: roles, release, database secrets, API endpoint, hand-off.
    pub profile: Option<PathBuf>,
    /// How long to wait for the management server's API after the restart.
    pub api_timeout: u64,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// A backup directory made by `cloudstrap reset`.
    pub backup: PathBuf,
    /// Do not ask for the host's name to be typed.
    pub yes: bool,
    /// The profile (for the database root password, platform and host name).
    pub profile: Option<PathBuf>,
}

/// What went wrong, and which exit code of the contract it maps to.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Bad input or a host reset does not apply to; nothing was changed.
    #[error("{0}")]
    Input(String),
    /// The operator did not confirm; nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

pub use flow::reset;
pub use restore::restore;

/// One database a reset backed up, or a restore put back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseSummary {
    pub name: String,
    pub tables: usize,
    pub rows: u64,
}

impl DatabaseSummary {
    fn of(m: &Manifest) -> Vec<DatabaseSummary> {
        m.databases.iter().map(|d| DatabaseSummary { name: d.name.clone(), tables: d.rows.len(), rows: d.rows.values().sum() }).collect()
    }
}

/// What a reset did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResetReport {
    /// The verified backup of the previous databases (`cloudstrap restore` takes it).
    pub backup: PathBuf,
    /// It finished a reset an earlier run had started.
    pub resumed: bool,
    /// The databases backed up, then dropped and created afresh.
    pub databases: Vec<DatabaseSummary>,
    /// The admin password and API keys were set again from the profile.
    pub handed_off: bool,
    /// The profile's zone deployed again (its id).
    pub zone_id: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub backup: PathBuf,
    /// The databases put back, with the rows they hold again.
    pub databases: Vec<DatabaseSummary>,
    /// The files put back (in-system paths).
    pub files: Vec<PathBuf>,
}

/// `uninstall --purge-data`: reset's verified backup of the databases of `dbs` that exist, then their drop.
/// Root logs in over the local socket with this machine's clients (as reset does for --root); the dumps go
/// into a new directory `uninstall-<time>` below `backups` (a host path) with a manifest and a copy of
/// `db_properties` (in-system), and the whole backup is verified before anything is dropped. Returns the
/// databases dropped and the backup directory (none when there was no database to purge).
pub fn purge_databases(root: &std::path::Path, db_properties: &std::path::Path, dbs: &[String], backups: &std::path::Path) -> Result<(Vec<String>, Option<PathBuf>), String> {
    let conn = crate::db::Client::new(crate::db::Login { user: "root".into(), password: None, host: "localhost".into(), port: 3306, ..crate::db::Login::default() }, root);
    let listed = conn.query("SELECT schema_name FROM information_schema.schemata;").map_err(|e| format!("the database server cannot be asked which databases exist: {e}"))?;
    let present: Vec<&str> = dbs.iter().map(String::as_str).filter(|d| listed.lines().any(|l| l.trim() == *d)).collect();
    if present.is_empty() {
        return Ok((vec![], None));
    }
    let stamp = format!("uninstall-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let dir = &backup::create_dir(backups, &stamp).map_err(|e| format!("cannot create the backup directory: {e}; nothing was dropped"))?;
    step(&format!("Backing up {} into {} (verified before anything is dropped)", present.join(" and "), dir.display()));
    dump_verified(&conn, &live_hostname(&crate::host::Sysroot::new(root)), db_properties, &present, dir)
        .map_err(|e| format!("the backup of the databases failed, nothing was dropped: {e}"))?;
    for db in &present {
        step(&format!("Dropping database {db}"));
        conn.query(&format!("DROP DATABASE {};", crate::mysql_text::sql_ident(db))).map_err(|e| format!("dropping {db}: {e} (its backup is in {})", dir.display()))?;
    }
    Ok((present.iter().map(|d| d.to_string()).collect(), Some(dir.clone())))
}

/// Reset's verified backup on its own: `dbs` dumped into `dir` with a manifest (and a copy of
/// `db_properties` when there is one), then the whole backup verified. Nothing is dropped here.
fn dump_verified(conn: &crate::db::Client, host: &str, db_properties: &std::path::Path, dbs: &[&str], dir: &std::path::Path) -> Result<(), String> {
    let root = &conn.secret_root;
    let redactor = crate::run::Redactor::default();
    let mut manifest = Manifest {
        format: 1,
        created: chrono::Utc::now().to_rfc3339(),
        host: host.to_string(),
        release: String::new(),
        db_properties: db_properties.to_path_buf(),
        services: vec![],
        databases: flow::dump_databases(conn, dbs, dir, &redactor)?,
        files: vec![],
    };
    let actual = crate::host::Sysroot::new(root).path(db_properties);
    if actual.exists() {
        manifest.files.push(backup::add_file(dir, db_properties, &actual).map_err(|e| e.to_string())?);
    }
    manifest.save(dir).map_err(|e| e.to_string())?;
    Manifest::load(dir).and_then(|m| m.verify(dir)).map_err(|e| e.to_string())
}

/// Progress lines for the operator (and in the log).
fn step(msg: &str) {
    crate::log::line(msg);
    crate::console::line(&format!("==> {msg}"));
}

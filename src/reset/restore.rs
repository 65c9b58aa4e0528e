//! `cloudstrap restore BACKUP`: check every checksum first, then stop the services, put the databases and
//! the files (db.properties, key, receipt) back, and start again what ran when the backup was made.

use std::path::Path;

use super::backup::{self, Manifest};
use super::context::{self, init_system, live_hostname, load_profile};
use super::dbprops::DbProperties;
use crate::db::{Client, Login};
use crate::mysql_text::{sql_ident, sql_string};
use super::services::Services;
use super::{confirm::confirm, dump, step, DatabaseSummary, ResetError, RestoreOptions, RestoreReport};
use crate::host::Site;
use crate::host::Sysroot;
use crate::profile::Secrets;

/// A line for the operator (stdout, or stderr under `--format json`).
macro_rules! say {
    ($($t:tt)*) => { crate::console::line(&format!($($t)*)) };
}

pub fn restore(args: &RestoreOptions, site: &Site) -> Result<RestoreReport, ResetError> {
    let dir = args.backup.as_path();
    let manifest = Manifest::load(dir).map_err(|e| ResetError::Input(e.to_string()))?;
    step(&format!("Verifying {} (checksums, complete dumps)", dir.display()));
    manifest
        .verify(dir)
        .map_err(|e| ResetError::Failed(format!("the backup does not verify: {e}; nothing was changed")))?;

    let profile = match &args.profile {
        Some(p) => Some(load_profile(p)?),
        None => None,
    };
    let profile_dir = args.profile.as_deref().and_then(Path::parent).unwrap_or(Path::new("."));
    let rooted = Sysroot::new(&site.root);

    // Where the databases live and who owns them: the backup's own db.properties.
    let props_entry = manifest
        .files
        .iter()
        .find(|f| f.path == manifest.db_properties)
        .ok_or_else(|| ResetError::Failed(format!("{}: the backup holds no db.properties", dir.display())))?;
    let props = DbProperties::load(&backup::safe_join(dir, &props_entry.file).map_err(|e| ResetError::Failed(e.to_string()))?)
        .map_err(|e| ResetError::Failed(e.to_string()))?;
    let row = context::release_row(&manifest.release)?;
    let key_path = Path::new(row.paths.management_conf_dir).join("key");
    let mgmt_key = manifest
        .files
        .iter()
        .find(|f| f.path == key_path)
        .and_then(|f| backup::safe_join(dir, &f.file).ok())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|k| k.trim_end_matches(['\n', '\r']).to_string());
    let secrets = match &profile {
        Some(p) => Secrets::resolve(p, profile_dir).map_err(|e| ResetError::Input(e.to_string()))?,
        None => Secrets::default(),
    };
    let root_password = secrets.db_root.as_ref().map(|s| s.expose().to_string());
    let bad = |e: super::dbprops::DbPropsError| ResetError::Failed(e.to_string());
    let admin = Client::new(Login { user: "root".into(), password: root_password.clone(), host: props.host().map_err(bad)?.to_string(), port: props.port().map_err(bad)?, ..Login::default() }, &site.root);
    // The cloud user is put back with the password db.properties holds, when cloudstrap can read it.
    let cloud_password = props.secret("db.cloud.password", mgmt_key.as_deref(), "cloud-password").ok();
    let mut redactor = admin.redactor.clone();
    for s in [&cloud_password, &mgmt_key].into_iter().flatten() {
        redactor.add(s.clone());
    }

    let hostname = match &profile {
        Some(p) => p.host.hostname.clone(),
        None => live_hostname(&site.sysroot()),
    };
    let services = Services::for_release(init_system(profile.as_ref(), &site.sysroot(), row), row, &site.root);
    say!("cloudstrap restore will, on {hostname}:");
    say!("  1. stop {}", services.names.join(" and "));
    say!(
        "  2. replace databases {} with the backup of {}",
        manifest.databases.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(" and "),
        manifest.created
    );
    say!(
        "  3. put back {} (each current file is kept beside it as FILE.cloudstrap-<time>)",
        manifest.files.iter().map(|f| f.path.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    say!("  4. start the services that ran when the backup was made");
    confirm(&hostname, args.yes, "restore it")?;

    // The root login the restore needs, tried before anything stops.
    admin.query("SELECT 1;").map_err(|e| {
        let e = crate::mysql_text::client_error(&redactor.redact(&e.to_string()));
        ResetError::Failed(format!("cannot log in to the database as its root account (database.root-password): {e}; nothing was changed"))
    })?;
    let now = services.snapshot().map_err(|e| ResetError::Failed(e.to_string()))?;
    step(&format!("Stopping {}", services.names.join(" and ")));
    services.stop(&now).map_err(|e| ResetError::Failed(e.to_string()))?;

    for (i, d) in manifest.databases.iter().enumerate() {
        step(&format!("Restoring database {}", d.name));
        let sql = backup::safe_join(dir, &d.file).map_err(|e| ResetError::Failed(e.to_string()))?;
        let failed = |dropped: bool, e: String| {
            ResetError::Failed(format!("{}; {}", redactor.redact(&e), state_after_failure(&manifest, i, dropped, &admin, dir)))
        };
        admin.query(&format!("DROP DATABASE IF EXISTS {};", sql_ident(&d.name))).map_err(|e| failed(false, e.to_string()))?;
        load_dump(&admin, &sql).map_err(|e| failed(true, format!("restoring {}: {e}", d.name)))?;
        if !d.rows.is_empty() {
            let now = admin.table_rows(&d.name).map_err(|e| failed(true, format!("counting the rows of {}: {e}", d.name)))?;
            if now != d.rows {
                return Err(failed(true, format!("{} does not hold the backup's rows after loading it", d.name)));
            }
        }
    }
    if let (Some(pw), Ok(user)) = (&cloud_password, props.cloud_user()) {
        step(&format!("Making sure database user {user} exists with its grants"));
        let mut sql = String::new();
        for host in ["localhost", "%"] {
            let who = format!("{}@{}", sql_string(user), sql_string(host));
            sql.push_str(&format!("CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {};\n", sql_string(pw)));
            sql.push_str(&format!("ALTER USER {who} IDENTIFIED BY {};\n", sql_string(pw)));
            for d in &manifest.databases {
                sql.push_str(&format!("GRANT ALL ON {}.* TO {who};\n", sql_ident(&d.name)));
            }
            sql.push_str(&format!("GRANT PROCESS ON *.* TO {who};\n"));
        }
        admin.query(&sql).map_err(|e| ResetError::Failed(redactor.redact(&e.to_string())))?;
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    for f in &manifest.files {
        let target = rooted.path(&f.path);
        step(&format!("Putting back {}", f.path.display()));
        crate::atomic_file::keep_beside(&target, &format!("cloudstrap-{stamp}")).map_err(|e| ResetError::Failed(format!("backing up {}: {e}", target.display())))?;
        let data = std::fs::read(backup::safe_join(dir, &f.file).map_err(|e| ResetError::Failed(e.to_string()))?)
            .map_err(|e| ResetError::Failed(format!("{}: {e}", f.file)))?;
        crate::atomic_file::replace(&target, &data, f.mode).map_err(|e| ResetError::Failed(format!("writing {}: {e}", target.display())))?;
    }
    step("Starting the services that ran when the backup was made");
    services.start(&manifest.services, false).map_err(|e| ResetError::Failed(e.to_string()))?;
    step(&format!("Restore done from {}", dir.display()));
    Ok(RestoreReport { backup: dir.to_path_buf(), databases: DatabaseSummary::of(&manifest), files: manifest.files.iter().map(|f| f.path.clone()).collect() })
}

/// Feed a compressed dump to `mysql`, streaming (dumps can be large).
fn load_dump(conn: &Client, path: &Path) -> Result<(), String> {
    let mut reader = dump::open_sql(path).map_err(|e| e.to_string())?;
    conn.load(&mut reader).map_err(|e| match e {
        crate::db::DbError::Input(e) => format!("reading {}: {e}", path.display()),
        e => e.to_string(),
    })
}

/// Exactly where a restore that failed on database number `failed` left the host, and how to finish.
fn state_after_failure(manifest: &Manifest, failed: usize, dropped: bool, admin: &Client, dir: &Path) -> String {
    let names = |range: &[super::backup::DatabaseEntry]| range.iter().map(|d| d.name.clone()).collect::<Vec<_>>().join(" and ");
    let d = &manifest.databases[failed];
    let mut parts = vec![];
    if failed > 0 {
        parts.push(format!("{} restored from the backup", names(&manifest.databases[..failed])));
    }
    if dropped {
        // How far the load got, table by table, against the rows the backup holds.
        let loaded = match admin.table_rows(&d.name) {
            Ok(now) if !d.rows.is_empty() => {
                let whole = d.rows.iter().filter(|(t, n)| now.get(*t) == Some(n)).count();
                format!("{whole} of its {} tables hold their rows", d.rows.len())
            }
            Ok(now) => format!("{} tables loaded", now.len()),
            Err(_) => "how far it got cannot be read".into(),
        };
        parts.push(format!("{} was dropped and is partly loaded ({loaded})", d.name));
    } else {
        parts.push(format!("{} is as it was", d.name));
    }
    if failed + 1 < manifest.databases.len() {
        parts.push(format!("{} not touched", names(&manifest.databases[failed + 1..])));
    }
    format!(
        "the databases now: {}; the services are stopped and no file was put back. The backup is intact (verified \
         before anything was dropped): fix the cause and run `cloudstrap restore {}` again, which drops and reloads \
         every database",
        parts.join(", "),
        dir.display()
    )
}

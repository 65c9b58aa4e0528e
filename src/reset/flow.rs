//! The reset itself, phase by phase, with the state file written before each phase starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::backup::{self, Manifest};
use super::context::{self, Context};
use super::services::Services;
use super::state::{self, Phase, ResetState};
use super::{confirm::confirm, dump, step, DatabaseSummary, ResetError, ResetOptions, ResetReport};
use crate::cloudstack::{credentials, handoff, zone, Auth, Client, Options};
use crate::host::Site;
use crate::run::{python_script_cmd, python_script_cmd_in_root};

/// A line for the operator (stdout, or stderr under `--format json`).
macro_rules! say {
    ($($t:tt)*) => { crate::console::line(&format!($($t)*)) };
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> ResetError + '_ {
    move |e| ResetError::Failed(format!("{what}: {e}"))
}

pub fn reset(args: &ResetOptions, site: &Site) -> Result<ResetReport, ResetError> {
    let previous = state::load(&site.root).map_err(failed("cannot read the reset state"))?;
    let mut ctx = Context::gather(site, args.profile.as_deref(), previous.as_ref().map(|s| s.release.as_str()))?;
    let services = ctx.services();
    let (setup_db, setup_mgmt) = (ctx.row.commands.setup_databases, ctx.row.commands.setup_management);

    // An earlier reset that stopped before dropping anything is undone; one that got further is resumed.
    let resumed = previous.as_ref().is_some_and(|st| !st.phase.nothing_dropped());
    let resume = match previous {
        Some(st) if st.phase.nothing_dropped() => {
            step(&format!("An interrupted reset (started {}) had not dropped anything: rolling it back", st.started));
            roll_back(&ctx.root, &services, &st)?;
            None
        }
        other => other,
    };

    let cloud_db = ctx.props.cloud_db().to_string();
    let usage_db = ctx.props.usage_db().to_string();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let backup_parent = match &args.backup_dir {
        Some(d) => d.clone(),
        None => ctx.host_path(context::BACKUPS),
    };
    let force = if ctx.row.force_recreate { " --force-recreate" } else { "" };
    let do_handoff = handoff_wanted(&ctx);
    let has_zone = ctx.profile.as_ref().is_some_and(|p| p.zone.is_some());

    match &resume {
        Some(st) => say!(
            "cloudstrap reset will resume an interrupted reset of {} (CloudStack {}), stopped at phase {:?}; its \
             verified backup is {}.",
            ctx.hostname,
            ctx.release,
            st.phase,
            st.backup_dir.display()
        ),
        None => {
            say!("cloudstrap reset will, on {} (CloudStack {}):", ctx.hostname, ctx.release);
            say!("  1. stop {}", services.names.join(" and "));
            say!(
                "  2. back up databases {cloud_db} and {usage_db} (mysqldump --single-transaction, bzip2, sha256) with \
                 db.properties, the key file and the receipt into {}/{stamp}",
                backup_parent.display()
            );
            say!("  3. check the backup is complete, then drop and recreate both databases with {setup_db}{force}");
            say!("  4. run {setup_mgmt}, start the services and wait for the API at {}", ctx.endpoint());
            match (do_handoff, has_zone) {
                (true, true) => say!("  5. hand off again from the profile: admin password, API keys, then deploy its zone"),
                (true, false) => say!("  5. hand off again from the profile: admin password and API keys"),
                (false, true) => say!("  (the profile's zone is not deployed again: it gives no management.admin-password)"),
                (false, false) => {}
            }
            say!("Everything in {cloud_db} and {usage_db} is replaced by an empty CloudStack database.");
        }
    }
    confirm(&ctx.hostname, args.yes, "reset it")?;
    // Both setup commands must be there before anything stops.
    ctx.find_command(setup_db)?;
    ctx.find_command(setup_mgmt)?;

    let mgmt_key = ctx.management_key()?;
    let cloud = ctx.cloud_conn(mgmt_key.as_deref())?;
    let db_key = ctx.database_key(mgmt_key.as_deref())?;
    // Every login the reset will use, tried before anything stops: the dump's and the recreation's.
    for (conn, who) in [(&cloud, "the cloud user (database.cloud-password or db.properties)"), (&ctx.admin, "the database root account (database.root-password)")] {
        conn.query("SELECT 1;").map_err(|e| {
            let e = crate::mysql_text::client_error(&ctx.redactor.redact(&e.to_string()));
            ResetError::Failed(format!("cannot log in to the database as {who}: {e}; nothing was changed"))
        })?;
    }

    let mut st = match resume {
        Some(st) => st,
        None => {
            // Made before anything stops, so an unwritable backup location changes nothing.
            let dir = backup::create_dir(&backup_parent, &stamp)
                .map_err(|e| ResetError::Failed(format!("cannot create the backup directory: {e}; nothing was changed")))?;
            let services_now = services.snapshot().map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                ResetError::Failed(format!("cannot tell which services run: {e}; nothing was changed"))
            })?;
            let st = ResetState {
                phase: Phase::Stopping,
                backup_dir: dir,
                started: chrono::Utc::now().to_rfc3339(),
                release: ctx.release.clone(),
                services: services_now,
            };
            if let Err(e) = state::save(&ctx.root, &st) {
                let _ = std::fs::remove_dir_all(&st.backup_dir);
                return Err(ResetError::Failed(format!("cannot write the reset state: {e}; nothing was changed")));
            }
            if let Err(e) = back_up(&ctx, &services, &st, &cloud, &[&cloud_db, &usage_db]) {
                let _ = std::fs::remove_dir_all(&st.backup_dir);
                let restarted = roll_back(&ctx.root, &services, &st);
                let tail = match restarted {
                    Ok(()) => "nothing was dropped and the services were started again".to_string(),
                    Err(r) => format!("nothing was dropped, but starting the services again failed: {r}"),
                };
                return Err(ResetError::Failed(format!("the backup failed: {e}; {tail}")));
            }
            let mut st = st;
            st.phase = Phase::Verified;
            save(&ctx.root, &st)?;
            step(&format!("Backup complete and verified: {}", st.backup_dir.display()));
            st
        }
    };

    let dir = st.backup_dir.display().to_string();
    let resume_hint = move || format!("run `cloudstrap reset` again to finish, or `cloudstrap restore {dir}` to go back");

    if st.phase <= Phase::Recreating {
        st.phase = Phase::Recreating;
        save(&ctx.root, &st)?;
        step(&format!("Recreating {cloud_db} and {usage_db} with {setup_db}{force}"));
        let mut argv = vec![
            format!("{}:{}@{}:{}", cloud.login.user, cloud.login.password.as_deref().unwrap_or(""), cloud.login.host, cloud.login.port),
            format!("--deploy-as={}:{}", ctx.admin.login.user, ctx.admin.login.password.as_deref().unwrap_or("")),
            "-e".into(),
            ctx.props.encryption_type().to_string(),
            "-m".into(),
            mgmt_key.clone().unwrap_or_else(|| "password".into()),
            "-k".into(),
            db_key.clone(),
            "-i".into(),
            ctx.management_ip(),
        ];
        if !force.is_empty() {
            argv.push("--force-recreate".into());
        }
        run_setup(&ctx, setup_db, &argv).map_err(|e| ResetError::Failed(format!("{e}; {}", resume_hint())))?;
    }
    if st.phase <= Phase::ManagementSetup {
        st.phase = Phase::ManagementSetup;
        save(&ctx.root, &st)?;
        step(&format!("Setting up the management server with {setup_mgmt}"));
        run_setup(&ctx, setup_mgmt, &[]).map_err(|e| ResetError::Failed(format!("{e}; {}", resume_hint())))?;
    }
    if st.phase <= Phase::Starting {
        st.phase = Phase::Starting;
        save(&ctx.root, &st)?;
        step(&format!("Starting {}", services.names.join(" and ")));
        services.start(&st.services, true).map_err(|e| ResetError::Failed(format!("{e}; {}", resume_hint())))?;
    }
    if st.phase <= Phase::WaitingForApi {
        st.phase = Phase::WaitingForApi;
        save(&ctx.root, &st)?;
        step(&format!("Waiting for the API at {}", ctx.endpoint()));
        let wait = Duration::from_secs(args.api_timeout);
        handoff::wait_for_api(&ctx.endpoint(), &ctx.root, ctx.row.paths.management_log, wait, Duration::from_secs(2), step)
            .map_err(|e| ResetError::Failed(format!("{}; {}", ctx.redactor.redact(&e.to_string()), resume_hint())))?;
    }
    let mut zone_id = None;
    if st.phase <= Phase::HandOff && do_handoff {
        st.phase = Phase::HandOff;
        save(&ctx.root, &st)?;
        zone_id = hand_off(&ctx, Duration::from_secs(args.api_timeout))
            .map_err(|e| ResetError::Failed(format!("{}; {}", ctx.redactor.redact(&e), resume_hint())))?;
    }
    state::clear(&ctx.root).map_err(failed("cannot remove the reset state"))?;
    step(&format!(
        "Reset done: fresh {cloud_db} and {usage_db}. The previous data is in {} (`cloudstrap restore {}` puts it back).",
        st.backup_dir.display(),
        st.backup_dir.display()
    ));
    let databases = Manifest::load(&st.backup_dir).map(|m| DatabaseSummary::of(&m)).unwrap_or_default();
    Ok(ResetReport { backup: st.backup_dir.clone(), resumed, databases, handed_off: do_handoff, zone_id })
}

fn save(root: &Path, st: &ResetState) -> Result<(), ResetError> {
    state::save(root, st).map_err(failed("cannot write the reset state"))
}

/// Stop the services, dump both databases, copy the files, write and verify the manifest.
fn back_up(
    ctx: &Context,
    services: &Services,
    st: &ResetState,
    conn: &crate::db::Client,
    dbs: &[&str],
) -> Result<(), String> {
    step(&format!("Stopping {}", services.names.join(" and ")));
    services.stop(&st.services).map_err(|e| e.to_string())?;
    let mut st = st.clone();
    st.phase = Phase::Dumping;
    state::save(&ctx.root, &st).map_err(|e| format!("cannot write the reset state: {e}"))?;

    let dir = &st.backup_dir;
    let mut manifest = Manifest {
        format: 1,
        created: chrono::Utc::now().to_rfc3339(),
        host: ctx.hostname.clone(),
        release: ctx.release.clone(),
        db_properties: ctx.db_properties.clone(),
        services: st.services.clone(),
        databases: vec![],
        files: vec![],
    };
    manifest.databases = dump_databases(conn, dbs, dir, &ctx.redactor)?;
    let wanted: Vec<PathBuf> = vec![ctx.db_properties.clone(), ctx.key_file(), PathBuf::from(context::RECEIPT)];
    for host_path in wanted {
        let actual = ctx.host_path(&host_path);
        if actual.exists() {
            let entry = backup::add_file(dir, &host_path, &actual).map_err(|e| e.to_string())?;
            manifest.files.push(entry);
        }
    }
    manifest.save(dir).map_err(|e| e.to_string())?;
    step("Verifying the backup (checksums, complete dumps, every table's rows against the database)");
    Manifest::load(dir).and_then(|m| m.verify(dir)).map_err(|e| e.to_string())?;
    Ok(())
}

/// Dump each of `dbs` into `dir`/db/ with its rows per table. The rows are counted before and after the
/// dump: with the services stopped nothing writes, so equal counts mean the dump's snapshot held exactly
/// these (the manifest's verification checks them against the dump).
pub(super) fn dump_databases(conn: &crate::db::Client, dbs: &[&str], dir: &Path, redactor: &crate::run::Redactor) -> Result<Vec<backup::DatabaseEntry>, String> {
    let mut out = vec![];
    for db in dbs {
        step(&format!("Dumping {db}"));
        let file = format!("db/{db}.sql.bz2");
        let count = || conn.table_rows(db).map_err(|e| redactor.redact(&format!("counting the rows of {db}: {e}")));
        let rows = count()?;
        let d = dump::dump_database(conn, db, &dir.join(&file)).map_err(|e| redactor.redact(&e.to_string()))?;
        let after = count()?;
        if let Some(t) = rows.keys().chain(after.keys()).find(|t| rows.get(*t) != after.get(*t)) {
            let n = |m: &dump::RowCounts| m.get(t).copied().unwrap_or(0);
            return Err(format!(
                "{db}.{t} changed while it was dumped ({} rows before, {} after): something still writes to the database",
                n(&rows),
                n(&after)
            ));
        }
        out.push(backup::DatabaseEntry { name: db.to_string(), file, sha256: d.sha256, bytes: d.bytes, rows });
    }
    Ok(out)
}

/// Undo a reset that dropped nothing: start what ran before, forget the state, drop a backup that never
/// completed.
fn roll_back(root: &Path, services: &Services, st: &ResetState) -> Result<(), ResetError> {
    services.start(&st.services, false).map_err(|e| ResetError::Failed(e.to_string()))?;
    if !st.backup_dir.join(backup::MANIFEST).exists() {
        let _ = std::fs::remove_dir_all(&st.backup_dir);
    }
    state::clear(root).map_err(failed("cannot remove the reset state"))
}

/// Run one of the release's Python setup commands with its arguments kept off the process list.
fn run_setup(ctx: &Context, name: &str, argv: &[String]) -> Result<(), String> {
    let script = ctx.find_command(name).map_err(|e| e.to_string())?;
    let made = if ctx.root == Path::new("/") { python_script_cmd(&script, argv, &ctx.root) } else { python_script_cmd_in_root(&ctx.root, &script, argv) };
    let (cmd, _argfile) = made.map_err(|e| format!("{name}: {e}"))?;
    let out = cmd.timeout(Duration::from_secs(1800)).run(&ctx.redactor).map_err(|e| e.to_string())?;
    crate::log::line(&format!("{name} output:\n{}{}", out.stdout, out.stderr));
    if out.status != 0 {
        let text = format!("{}{}", out.stdout, out.stderr);
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('*')).collect();
        let tail = tail[tail.len().saturating_sub(4)..].join(" / ");
        return Err(format!("{name} failed (status {}): {tail}", out.status));
    }
    Ok(())
}

/// Whether the profile asks for a hand-off: it gives the admin password the hand-off sets (and, with a
/// zone, the zone to deploy again).
fn handoff_wanted(ctx: &Context) -> bool {
    ctx.secrets.admin_password.is_some()
}

/// The hand-off after the restart: the admin password and API keys on the fresh database (the keys stored
/// before the reset no longer work there), then the profile's zone.
fn hand_off(ctx: &Context, api_wait: Duration) -> Result<Option<String>, String> {
    let profile = ctx.profile.as_ref().ok_or("the hand-off needs --profile")?;
    let mut opts = handoff::HandoffOptions::from_profile(profile, &ctx.profile_dir, &ctx.root).map_err(|e| format!("hand-off: {e}"))?;
    opts.api_wait = api_wait;
    handoff::run(&opts, &mut |l| step(l)).map_err(|e| format!("hand-off: {e}"))?;
    if profile.zone.is_none() {
        return Ok(None);
    }
    let creds = credentials::stored(&ctx.root)
        .map_err(|e| format!("zone deploy: {e}"))?
        .ok_or("zone deploy: the hand-off stored no API keys")?;
    let client = Client::new(&creds.endpoint, Auth::Keys { api_key: creds.api_key, secret: creds.secret }, Options::for_profile(profile))
        .map_err(|e| format!("zone deploy: {e}"))?;
    let dopts = zone::DeployOptions { profile_dir: ctx.profile_dir.clone(), ..zone::DeployOptions::default() };
    let d = zone::deploy(&client, profile, &dopts, &mut |s| step(&format!("zone: {s}"))).map_err(|e| format!("zone deploy: {e}"))?;
    step(&format!("Zone {} deployed again", d.zone_id));
    Ok(Some(d.zone_id))
}

//! `cloudstrap uninstall`: undo an install from its receipt alone (no profile, no plan). Every action
//! recorded typed undos ([`Undo`]) as it changed the host; they are applied newest first (the receipt's
//! plan order reversed, which keeps every step before what it waited for), reloads that must see the
//! files put back (exportfs, firewall-cmd) last. Every failure is collected, none stops the rest.
//!
//! The CloudStack databases and storage contents are data: kept, unless `purge_data`, and then only after
//! reset's verified dump. Each undone entry becomes pending again in the receipt (saved after each one),
//! so an interrupted uninstall resumes and a second one has nothing to do.

use std::path::{Path, PathBuf};

use crate::action::receipt::{self, now, Receipt, ReceiptError, State};
use crate::action::undo::Undo;
use crate::action::{Ctx, Record};

/// Where the management server's database settings are (they name the databases to purge).
const DB_PROPERTIES: &str = "/etc/cloudstack/management/db.properties";
/// The receipt step that creates the CloudStack databases.
const SETUP_DATABASES: &str = "setup:cloudstack-setup-databases";

/// One receipt entry to undo.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its position in the receipt.
    pub index: usize,
    pub description: String,
    pub undo: Vec<Undo>,
}

/// What an uninstall will do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Newest first.
    pub steps: Vec<Step>,
    /// Entries recorded by a cloudstrap that kept no undo records: they cannot be undone from the receipt.
    pub unrecorded: Vec<String>,
    /// Entries that changed nothing to undo (waits): only marked pending.
    pub settled: Vec<usize>,
    /// Databases dumped, verified and dropped first (only with `purge_data`).
    pub purge_databases: Vec<String>,
    pub purge_data: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.unrecorded.is_empty()
    }

    /// The lines shown before asking.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![];
        for db in &self.purge_databases {
            out.push(format!("dump database {db} (verified backup), then drop it"));
        }
        for s in &self.steps {
            out.push(format!("undo: {}", s.description));
            for u in s.undo.iter().rev() {
                out.push(format!("    {}", u.describe()));
            }
        }
        for u in &self.unrecorded {
            out.push(format!("cannot undo (recorded without undo records): {u}"));
        }
        if !self.purge_data {
            out.push("the CloudStack databases and storage contents are kept (--purge-data removes them after a verified dump)".into());
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// The operator did not confirm.
    #[error("{0}")]
    Refused(String),
    /// Something stopped the uninstall before it changed anything (the purge's dump failed).
    #[error("{0}")]
    Failed(String),
}

/// What the uninstall did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub undone: usize,
    /// "what: why" of every undo that failed; those stay in the receipt for the next uninstall.
    pub failed: Vec<String>,
    /// What cloudstrap leaves as it is (server-side state, data).
    pub kept: Vec<String>,
    /// Where the purge's verified dump is (under --root).
    pub backup: Option<PathBuf>,
}

/// Whether an entry is cloudstrap's to undo: it made (or started making) the change.
fn owned(state: State) -> bool {
    matches!(state, State::Done | State::Running | State::Failed)
}

/// The context an uninstall of the host under `root` works in (live for "/", else an image root in chroot).
pub fn context(root: &Path) -> Ctx {
    Ctx::for_root(root, crate::run::Redactor::default())
}

/// What uninstalling the host under `ctx.root` would do, from its receipt.
pub fn plan(ctx: &Ctx, purge_data: bool) -> Result<Plan, UninstallError> {
    let Some(rec) = Receipt::load(&receipt::path(ctx))? else { return Ok(Plan { purge_data, ..Plan::default() }) };
    let mut p = Plan { purge_data, ..Plan::default() };
    for (index, e) in rec.actions.iter().enumerate().rev() {
        if !owned(e.state) {
            continue;
        }
        if e.record.undo.is_empty() {
            let legacy = e.record.backup.is_some() || e.record.created || !e.record.added.is_empty() || e.record.previous.is_some();
            if legacy {
                p.unrecorded.push(e.description.clone());
            } else {
                p.settled.push(index);
            }
            continue;
        }
        p.steps.push(Step { index, description: e.description.clone(), undo: e.record.undo.clone() });
    }
    if purge_data && rec.actions.iter().any(|e| e.id == SETUP_DATABASES && owned(e.state)) {
        let props = crate::reset::dbprops::DbProperties::load(&ctx.path(DB_PROPERTIES)).ok();
        let (cloud, usage) = props.as_ref().map(|d| (d.cloud_db().to_string(), d.usage_db().to_string())).unwrap_or(("cloud".into(), "cloud_usage".into()));
        p.purge_databases = vec![cloud, usage];
    }
    Ok(p)
}

/// Carry out `plan` on the host under `ctx.root`. `say` gets a line per step.
pub fn execute(ctx: &Ctx, plan: &Plan, say: &mut dyn FnMut(&str)) -> Result<Report, UninstallError> {
    let rpath = receipt::path(ctx);
    let Some(mut rec) = Receipt::load(&rpath)? else { return Ok(Report::default()) };
    let mut report = Report::default();
    if !plan.purge_databases.is_empty() {
        report.backup = purge_databases(ctx, &plan.purge_databases, say)?;
    }
    let save = |rec: &Receipt, report: &mut Report| {
        if let Err(e) = rec.save(&rpath) {
            report.failed.push(format!("writing the receipt: {e}"));
        }
    };
    // Reloads and service starts wait until every file is back; (entry, undo) so a failed one stays in its entry.
    let mut refresh: Vec<(usize, Undo)> = vec![];
    for s in &plan.steps {
        say(&format!("Undoing: {}", s.description));
        let mut left = vec![];
        for u in s.undo.iter().rev() {
            if let Undo::Kept { what } = u {
                report.kept.push(what.clone());
            } else {
                let (now, after) = u.split();
                refresh.extend(after.map(|a| (s.index, a)));
                let Some(now) = now else { continue };
                if let Err(e) = now.apply(ctx, plan.purge_data) {
                    let why = ctx.redactor.redact(&e.to_string());
                    report.failed.push(format!("{}: could not {}: {why}", s.description, now.describe()));
                    left.insert(0, now);
                }
            }
        }
        settle(&mut rec.actions[s.index], left);
        rec.complete = false;
        save(&rec, &mut report);
        report.undone += 1;
    }
    // Removing packages can take files back out that were restored before it (a purge deletes conffiles
    // it adopted): each path ends as its oldest record says it was before cloudstrap came.
    for u in first_state_of_each_file(plan) {
        if let Err(e) = u.apply(ctx, plan.purge_data) {
            let e = ctx.redactor.redact(&e.to_string());
            if !report.failed.iter().any(|f| f.contains(&u.describe())) {
                report.failed.push(format!("could not {}: {e}", u.describe()));
            }
        }
    }
    for (index, u) in refresh {
        if let Err(e) = u.apply(ctx, plan.purge_data) {
            let e = ctx.redactor.redact(&e.to_string());
            let entry = &mut rec.actions[index];
            report.failed.push(format!("{}: could not {}: {e}", entry.description, u.describe()));
            entry.record.undo.push(u);
            entry.state = State::Done;
        }
    }
    // Entries without anything to undo (waits) are no longer done either.
    for &i in &plan.settled {
        settle(&mut rec.actions[i], vec![]);
    }
    rec.uninstalled = Some(now());
    save(&rec, &mut report);
    Ok(report)
}

/// Per file, the oldest restore or removal among the plan's undos: what the file was before the install.
fn first_state_of_each_file(plan: &Plan) -> Vec<Undo> {
    let mut seen = std::collections::BTreeMap::new();
    for s in plan.steps.iter().rev() {
        for u in &s.undo {
            if let Undo::RestoreFile { path, .. } | Undo::RemoveFile { path } = u {
                seen.entry(path.clone()).or_insert_with(|| u.clone());
            }
        }
    }
    seen.into_values().collect()
}

/// An entry after its undos ran: pending with nothing recorded when all succeeded, else still done with
/// the undos left to do.
fn settle(entry: &mut crate::action::receipt::Entry, left: Vec<Undo>) {
    entry.at = Some(now());
    if left.is_empty() {
        entry.state = State::Pending;
        entry.record = Record::default();
        entry.error = None;
    } else {
        entry.state = State::Done;
        entry.record = Record { undo: left, ..Record::default() };
        entry.error = Some("uninstall could not undo all of it".into());
    }
}

/// Stop the management and usage servers, then reset's verified dump and the drop of the databases.
/// Returns the backup directory (in-system path), if there was a database to back up.
fn purge_databases(ctx: &Ctx, dbs: &[String], say: &mut dyn FnMut(&str)) -> Result<Option<PathBuf>, UninstallError> {
    if ctx.live {
        for svc in ["cloudstack-management", "cloudstack-usage"] {
            // Nothing may write while the rows are counted and dumped; a unit that is not there is fine.
            let _ = ctx.run(&ctx.cmd("systemctl").arg("stop").arg(svc));
        }
    }
    let backups = ctx.path(Path::new(crate::action::STATE_DIR).join("backups"));
    let (dropped, dir) = crate::reset::purge_databases(&ctx.root, Path::new(DB_PROPERTIES), dbs, &backups).map_err(|e| UninstallError::Failed(format!("{e}; nothing was undone")))?;
    let Some(dir) = dir else {
        say("No CloudStack database to purge (none is there)");
        return Ok(None);
    };
    let shown = Path::new("/").join(dir.strip_prefix(&ctx.root).unwrap_or(&dir));
    say(&format!("Dropped {} after the verified backup in {}", dropped.join(" and "), shown.display()));
    Ok(Some(shown))
}

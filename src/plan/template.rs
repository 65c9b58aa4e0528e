//! The system VM template steps: the seeding of secondary storage (`template::fetch`, with the template
//! id from the profile or the id a fresh database gives it, so it needs no database), then the database
//! row, once setup-databases created it. From 4.20 the management package bundles the template: the seed
//! then waits for that package and copies its file, downloading nothing; before 4.20, or with an explicit
//! `template.url`, it downloads, overlapping with the package installs.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::action::executor::Step;
use crate::action::mount::OnNfsMount;
use crate::action::progress::Download;
use crate::action::undo::Undo;
use crate::action::{Action, ActionError, Ctx, Record, Secret};
use crate::platform::Release;
use crate::profile::Profile;
use crate::template::layout::Layout;
use crate::template::{ChecksumSpec, DbOptions, FetchOptions};

use super::PlanSecrets;

/// The SYSTEM KVM template's id in a freshly created 4.x database (upstream's lookup gives it too).
pub const FRESH_DATABASE_ID: u32 = 3;

/// Adds the template steps; `secondary_dir` is the step that creates secondary storage, `mgmt_packages`
/// the one that installs the management package (which may bundle the template).
#[allow(clippy::too_many_arguments)]
pub fn plan(
    steps: &mut Vec<Step>,
    profile: &Profile,
    release: &Release,
    secondary_dir: usize,
    mgmt_packages: Option<usize>,
    setup_db: Option<usize>,
    secrets: &PlanSecrets,
) {
    let Some(nfs) = &profile.nfs else { return };
    let mut after = vec![secondary_dir];
    if let (Some(pk), true) = (mgmt_packages, bundled_dir(profile, release).is_some()) {
        after.push(pk);
    }
    plan_into(steps, profile, release, PathBuf::from(&nfs.secondary), None, after, setup_db, secrets);
}

/// The package's template directory to seed from: the release's (4.20+), unless the profile names a URL.
fn bundled_dir(profile: &Profile, release: &Release) -> Option<PathBuf> {
    let explicit = profile.template.as_ref().is_some_and(|t| t.url.is_some());
    release.template.bundled_dir.filter(|_| !explicit).map(PathBuf::from)
}

/// The same steps for secondary storage on another host: each runs with its NFS export mounted at
/// `nfs.secondary-mount` and unmounted after; `nfs_client` is the step that installs the NFS client.
pub fn plan_remote(steps: &mut Vec<Step>, profile: &Profile, release: &Release, nfs_client: usize, setup_db: Option<usize>, secrets: &PlanSecrets) {
    let Some(nfs) = &profile.nfs else { return };
    let source = format!("{}:{}", nfs.server, nfs.secondary);
    plan_into(steps, profile, release, PathBuf::from(&nfs.secondary_mount), Some(source), vec![nfs_client], setup_db, secrets);
}

#[allow(clippy::too_many_arguments)]
fn plan_into(
    steps: &mut Vec<Step>,
    profile: &Profile,
    release: &Release,
    dest: PathBuf,
    mount: Option<String>,
    first_after: Vec<usize>,
    setup_db: Option<usize>,
    secrets: &PlanSecrets,
) {
    let wrap = |a: Box<dyn Action>| -> Box<dyn Action> {
        match &mount {
            Some(source) => Box::new(OnNfsMount { source: source.clone(), target: dest.clone(), inner: a }),
            None => a,
        }
    };
    let t = profile.template.clone().unwrap_or(crate::profile::Template { url: None, checksum: None, id: None });
    let url = t.url.unwrap_or_else(|| release.template.url.to_string());
    let checksum = match (&t.checksum, release.template.checksum_url) {
        (Some(c), _) => c.parse().map(ChecksumSpec::Given).unwrap_or(ChecksumSpec::Probe),
        (None, Some(list)) => ChecksumSpec::File(list.to_string()),
        (None, None) => ChecksumSpec::Probe,
    };
    let id = t.id.unwrap_or(FRESH_DATABASE_ID);
    let bundled = bundled_dir(profile, release);
    let seed = SeedTemplate { url: url.clone(), bundled, dest: dest.clone(), id, checksum, allow_http: profile.cloudstack.allow_http };
    steps.push(Step { action: wrap(Box::new(seed)), after: first_after });
    let seeded = steps.len() - 1;
    if let (Some(sdb), Some(root)) = (setup_db, &secrets.db_root) {
        let (host, port) = profile.database.as_ref().map(|d| (d.host.clone(), d.port)).unwrap_or_else(|| ("localhost".into(), 3306));
        let record = RecordTemplate { dest: dest.clone(), id, url, root_password: root.clone(), host, port };
        steps.push(Step { action: wrap(Box::new(record)), after: vec![seeded, sdb] });
    }
}

pub struct SeedTemplate {
    pub url: String,
    /// The management package's template directory (in-system path): its file is used when there.
    pub bundled: Option<PathBuf>,
    /// In-system path of secondary storage.
    pub dest: PathBuf,
    pub id: u32,
    pub checksum: ChecksumSpec,
    pub allow_http: bool,
}

/// The engine's download bar behind the template pipeline's progress interface.
struct Bar(Mutex<Option<Box<dyn Download>>>, Option<std::sync::Arc<dyn crate::action::progress::Progress>>);

impl crate::template::Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        if let Some(p) = &self.1 {
            *self.0.lock().unwrap() = Some(p.download(what, total));
        }
    }
    fn set(&self, done: u64) {
        if let Some(d) = self.0.lock().unwrap().as_ref() {
            d.set_position(done);
        }
    }
    fn note(&self, msg: &str) {
        crate::log::line(&format!("template: {msg}"));
    }
    fn finish(&self, summary: &str) {
        if let Some(d) = self.0.lock().unwrap().take() {
            d.finish();
        }
        crate::log::line(&format!("template: {summary}"));
    }
}

impl Action for SeedTemplate {
    fn id(&self) -> String {
        format!("template:{}", self.id)
    }

    fn describe(&self) -> String {
        let from = match &self.bundled {
            Some(dir) => format!("the file bundled in {} (else {})", dir.display(), self.url),
            None => self.url.clone(),
        };
        format!("Seed the system VM template from {from} into {}/template/tmpl/1/{}", self.dest.display(), self.id)
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(ctx.path(Layout { dest: self.dest.clone(), id: self.id }.dir().join("template.properties")).exists())
    }

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        // Templates are data on shared storage: kept, like the databases.
        record.undo = vec![Undo::Kept { what: format!("the system VM template under {} (data)", self.dest.display()) }];
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let opts = FetchOptions {
            url: self.url.clone(),
            bundled: self.bundled.as_ref().map(|d| ctx.path(d)),
            dest: ctx.path(&self.dest),
            checksum: self.checksum.clone(),
            id: Some(self.id),
            db: None,
            force: false,
            allow_http: self.allow_http,
            threads: None,
            retry: Default::default(),
        };
        let bar = Bar(Mutex::new(None), ctx.progress.clone());
        let installed = crate::template::fetch(&opts, &bar).map_err(|e| ActionError::Failed(format!("template: {e}")))?;
        let from = match &installed.origin {
            // The in-system path, not the one below --root.
            crate::template::Origin::Bundled(f) => format!("bundled {}", self.bundled.as_ref().and_then(|d| f.file_name().map(|n| d.join(n))).unwrap_or_else(|| f.clone()).display()),
            crate::template::Origin::Mirror(u) => format!("downloaded {u}"),
        };
        crate::log::line(&format!("template: seeded from {from}"));
        record.note = Some(format!("uuid {}, {from}", installed.uuid));
        Ok(())
    }

}

/// Point the database row at the seeded template (uuid, url).
pub struct RecordTemplate {
    pub dest: PathBuf,
    pub id: u32,
    pub url: String,
    pub root_password: Secret,
    /// The database server (the profile's `database.host` and `.port`; it may be another host).
    pub host: String,
    pub port: u16,
}

impl RecordTemplate {
    fn uuid(&self, ctx: &Ctx) -> Result<String, ActionError> {
        let dir = ctx.path(Layout { dest: self.dest.clone(), id: self.id }.dir());
        let rd = std::fs::read_dir(&dir).map_err(|e| ActionError::io(&dir, e))?;
        rd.filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".qcow2")).map(str::to_string))
            .next()
            .ok_or_else(|| ActionError::Failed(format!("no template file in {}", dir.display())))
    }
    fn db(&self) -> DbOptions {
        let mut d = DbOptions::local_root();
        d.password = Some(self.root_password.expose().to_string());
        d.host = self.host.clone();
        d.port = self.port;
        d
    }
}

impl Action for RecordTemplate {
    fn id(&self) -> String {
        format!("template-row:{}", self.id)
    }

    fn describe(&self) -> String {
        format!("Record the seeded template in cloud.vm_template (id {})", self.id)
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let uuid = self.uuid(ctx)?;
        Ok(crate::action::stamp::read(ctx, "template-row").as_deref() == Some(uuid.as_str()))
    }

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![Undo::Stamp { name: "template-row".into() }];
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let db = self.db();
        let found = db.system_template_id().map_err(|e| ActionError::Failed(format!("template id lookup: {e}")))?;
        if found != self.id {
            return Err(ActionError::Failed(format!(
                "the database's SYSTEM KVM template is id {found}, the template was seeded as id {}: set template.id = {found} in the profile and run install again",
                self.id
            )));
        }
        let uuid = self.uuid(ctx)?;
        db.record_template(self.id, &uuid, &self.url).map_err(|e| ActionError::Failed(format!("template row: {e}")))?;
        crate::action::stamp::write(ctx, "template-row", &uuid)
    }

}

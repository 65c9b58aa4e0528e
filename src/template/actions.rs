//! The template as install actions (see [`crate::action::Action`]), for the engine's plan: [`SeedTemplate`]
//! fills secondary storage (from the management package's bundled file or a download), [`RecordTemplate`]
//! points the database row at it once setup-databases created the row.

use std::path::PathBuf;

use crate::action::undo::Undo;
use crate::action::{Action, ActionError, Ctx, Record, Secret};

use super::layout::Layout;
use super::{ChecksumSpec, DbOptions, FetchOptions};

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
        let silent = crate::action::progress::Silent;
        let progress: &dyn crate::action::progress::Progress = ctx.progress.as_deref().unwrap_or(&silent);
        let installed = super::fetch(&opts, progress).map_err(|e| ActionError::Failed(format!("template: {e}")))?;
        let from = match &installed.origin {
            // The in-system path, not the one below --root.
            super::Origin::Bundled(f) => format!("bundled {}", self.bundled.as_ref().and_then(|d| f.file_name().map(|n| d.join(n))).unwrap_or_else(|| f.clone()).display()),
            super::Origin::Mirror(u) => format!("downloaded {u}"),
        };
        crate::log::line(&format!("template: seeded from {from}"));
        record.note = Some(format!("uuid {}, {from}", installed.uuid));
        Ok(())
    }

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        // Templates are data on shared storage: kept, like the databases.
        record.undo = vec![Undo::Kept { what: format!("the system VM template under {} (data)", self.dest.display()) }];
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

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![Undo::Stamp { name: "template-row".into() }];
        Ok(())
    }
}

//! Publish the NFS exports (`exportfs -ra`) and check they are visible (`showmount -e`).
//! /etc/exports itself is a rendered file with a managed block.

use std::path::PathBuf;

use super::undo::Undo;
use super::{stamp, Action, ActionError, Ctx, Record};

pub struct ExportFs {
    pub exports: Vec<PathBuf>,
    /// The exports files (/etc/exports, /etc/exports.d/...): exported again when one changed.
    pub files: Vec<PathBuf>,
}

impl ExportFs {
    fn listed(&self, text: &str) -> bool {
        self.exports.iter().all(|e| text.lines().any(|l| l.split_whitespace().next() == Some(&e.display().to_string())))
    }
}

impl Action for ExportFs {
    fn id(&self) -> String {
        "exportfs".into()
    }

    fn describe(&self) -> String {
        format!("Export {} (exportfs -ra) and check showmount lists them", self.exports.iter().map(|e| e.display().to_string()).collect::<Vec<_>>().join(" "))
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let out = ctx.run(&ctx.cmd("exportfs").arg("-v"))?;
        let fresh = stamp::read(ctx, "exportfs").as_deref() == Some(stamp::files_digest(ctx, &self.files).as_str());
        Ok(out.status == 0 && self.listed(&out.stdout) && fresh)
    }

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        // exportfs -ra again once /etc/exports is back (uninstall runs it last).
        record.undo = vec![Undo::Exportfs, Undo::Stamp { name: "exportfs".into() }];
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        ctx.run_ok(&ctx.cmd("exportfs").arg("-ra"))?;
        stamp::write(ctx, "exportfs", &stamp::files_digest(ctx, &self.files))
    }

    fn verify(&self, ctx: &Ctx) -> Result<(), ActionError> {
        let out = ctx.run_ok(&ctx.cmd("showmount").args(["-e", "127.0.0.1"]))?;
        if self.listed(&out.stdout.lines().skip(1).collect::<Vec<_>>().join("\n")) {
            Ok(())
        } else {
            Err(ActionError::Failed(format!("showmount -e 127.0.0.1 does not list every export:\n{}", out.stdout.trim())))
        }
    }

}

//! Create directories (NFS exports, mount points).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::{Action, ActionError, Ctx, Record};

pub struct CreateDirs {
    pub dirs: Vec<PathBuf>,
    pub mode: u32,
}

impl Action for CreateDirs {
    fn id(&self) -> String {
        format!("dirs:{}", self.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(","))
    }

    fn describe(&self) -> String {
        format!("Create directories {}", self.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" "))
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(self.dirs.iter().all(|d| {
            std::fs::metadata(ctx.path(d)).map(|m| m.is_dir() && m.permissions().mode() & 0o7777 == self.mode).unwrap_or(false)
        }))
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let mut created: Vec<String> = vec![];
        for d in &self.dirs {
            for m in super::undo::missing_dirs(ctx, d) {
                if !created.contains(&m) {
                    created.push(m);
                }
            }
        }
        if !created.is_empty() {
            record.undo = vec![super::undo::Undo::RemoveEmptyDirs { paths: created, data: true }];
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        for d in &self.dirs {
            let host = ctx.path(d);
            std::fs::create_dir_all(&host).map_err(|e| ActionError::io(&host, e))?;
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(self.mode)).map_err(|e| ActionError::io(&host, e))?;
        }
        Ok(())
    }

}

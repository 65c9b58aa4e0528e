//! Run an action on an NFS export mounted for its duration: the management role seeds the system VM
//! template into a secondary storage that lives on another host by mounting its export (upstream's
//! procedure), doing the work, and unmounting again, so nothing stays mounted after the install.
//!
//! Done means this wrapper finished once for this export (a stamp): checking the inner action would
//! need the export mounted, and a re-run on a finished host must not mount anything.

use std::path::{Path, PathBuf};

use super::{stamp, Action, ActionError, Ctx, Record};

pub struct OnNfsMount {
    /// "server:/export/secondary".
    pub source: String,
    /// In-system mount point (profile `nfs.secondary-mount`).
    pub target: PathBuf,
    pub inner: Box<dyn Action>,
}

/// Whether `dir` (a host path) is a mount point now, from /proc/self/mountinfo (field 5, octal escapes).
pub fn is_mount_point(dir: &Path) -> bool {
    let want = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| {
            t.lines().any(|l| {
                l.split(' ').nth(4).is_some_and(|m| m.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\") == want)
            })
        })
        .unwrap_or(false)
}

impl OnNfsMount {
    fn stamp_name(&self) -> String {
        format!("on-mount-{}", self.inner.id())
    }
    fn stamp_value(&self) -> String {
        super::digest(format!("{}\0{}", self.source, self.target.display()).as_bytes())
    }
    fn umount(&self, ctx: &Ctx) -> Result<(), ActionError> {
        ctx.run_ok(&ctx.cmd("umount").arg(self.target.display().to_string()))?;
        Ok(())
    }
}

impl Action for OnNfsMount {
    fn id(&self) -> String {
        // The inner action's id: the receipt entry stays the same whichever way the storage is reached.
        self.inner.id()
    }

    fn describe(&self) -> String {
        format!("{} (on {} mounted at {}, unmounted after)", self.inner.describe(), self.source, self.target.display())
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(stamp::read(ctx, &self.stamp_name()).as_deref() == Some(self.stamp_value().as_str()))
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let host = ctx.path(&self.target);
        // The mount point this creates goes (if empty) and the stamp is forgotten, after the inner undo.
        let mut mine = vec![super::undo::Undo::Stamp { name: self.stamp_name() }];
        let dirs = super::undo::missing_dirs(ctx, &self.target);
        if !dirs.is_empty() {
            mine.insert(0, super::undo::Undo::RemoveEmptyDirs { paths: dirs, data: false });
        }
        std::fs::create_dir_all(&host).map_err(|e| ActionError::io(&host, e))?;
        // A run killed while mounted leaves the export mounted: use it, and unmount at the end as usual.
        if !is_mount_point(&host) {
            ctx.run_ok(&ctx.cmd("mount").args(["-t", "nfs"]).arg(&self.source).arg(self.target.display().to_string()))?;
        }
        let work = (|| -> Result<(), ActionError> {
            if !self.inner.is_done(ctx)? {
                self.inner.prepare(ctx, record)?;
                self.inner.execute(ctx, record)?;
                self.inner.verify(ctx)?;
            }
            Ok(())
        })();
        let unmounted = self.umount(ctx);
        for u in mine.into_iter().rev() {
            if !record.undo.contains(&u) {
                record.undo.insert(0, u);
            }
        }
        work?;
        unmounted?;
        stamp::write(ctx, &self.stamp_name(), &self.stamp_value())
    }

    fn exclusive(&self) -> Option<&'static str> {
        // Two of these side by side would unmount the export under each other.
        Some("secondary-mount")
    }

}

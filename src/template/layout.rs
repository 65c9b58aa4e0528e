//! Where a template lives on secondary storage, exactly as upstream's `cloud-install-sys-tmplt` lays it
//! out (`template/tmpl/1/<id>/<uuid>.qcow2` + `template.properties`), and how it gets there without ever
//! showing a half-made directory: everything is built in a staging directory outside `template/` (the
//! secondary storage VM registers whatever `find <store>/template -name template.properties` finds, so a
//! run killed before the last step must leave nothing there) on the same file system, then renamed into
//! place in one step.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Staging directories `<id>-<uuid>` live here, below the store's root and outside `template/`.
const STAGING_DIR: &str = ".cloudstrap-staging";
/// Templates `--force` replaced: one per id.
const BACKUP_DIR: &str = ".cloudstrap-backup";

#[derive(Debug, Clone)]
pub struct Layout {
    /// The secondary storage mount.
    pub dest: PathBuf,
    pub id: u32,
}

impl Layout {
    /// `<dest>/template/tmpl/1`: account 1 (system) owns the system VM template.
    pub fn parent(&self) -> PathBuf {
        self.dest.join("template").join("tmpl").join("1")
    }

    /// `<dest>/template/tmpl/1/<id>`.
    pub fn dir(&self) -> PathBuf {
        self.parent().join(self.id.to_string())
    }

    /// `<dest>/.cloudstrap-staging`.
    pub fn staging_root(&self) -> PathBuf {
        self.dest.join(STAGING_DIR)
    }

    pub fn staging(&self, uuid: &str) -> PathBuf {
        self.staging_root().join(format!("{}-{uuid}", self.id))
    }

    /// Where `--force` moves a template it replaces: outside the template tree, so the secondary storage
    /// VM never sees it, on the same file system, so the move is a rename.
    pub fn backup(&self, stamp: &str) -> PathBuf {
        self.dest.join(BACKUP_DIR).join(format!("{}{stamp}", self.backup_prefix()))
    }

    fn backup_prefix(&self) -> String {
        format!("template-tmpl-1-{}-", self.id)
    }

    /// Backups of this id other than `keep` (older `--force` runs): removed once a new one is made.
    pub fn other_backups(&self, keep: &Path) -> Vec<PathBuf> {
        let prefix = self.backup_prefix();
        let Ok(rd) = fs::read_dir(self.dest.join(BACKUP_DIR)) else { return vec![] };
        rd.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix) && e.path() != keep)
            .map(|e| e.path())
            .collect()
    }

    /// A template directory with anything in it counts as an existing template.
    pub fn existing(&self) -> bool {
        fs::read_dir(self.dir()).map(|mut d| d.next().is_some()).unwrap_or(false)
    }

    /// Staging directories for this id left by a run that was killed.
    pub fn stale_staging(&self) -> Vec<PathBuf> {
        let prefix = format!("{}-", self.id);
        let Ok(rd) = fs::read_dir(self.staging_root()) else { return vec![] };
        rd.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    }
}

/// Create `path` and any missing parents; return the directories created, deepest last, so a failed
/// run can take back exactly what it made.
pub fn create_dirs(path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut missing = vec![];
    let mut cur = Some(path);
    while let Some(p) = cur {
        if p.exists() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    missing.reverse();
    let mut created = vec![];
    for d in missing {
        match fs::create_dir(&d) {
            Ok(()) => created.push(d),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

/// Remove directories this run created, deepest first, only while they are empty.
pub fn remove_created(created: &[PathBuf]) {
    for d in created.iter().rev() {
        if fs::remove_dir(d).is_err() {
            break;
        }
    }
}

pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The keys upstream writes, in upstream's order.
pub fn properties(id: u32, filename: &str, size: u64, virtual_size: u64) -> String {
    format!(
        "filename={filename}\n\
         description=SystemVM Template\n\
         hvm=false\n\
         size={size}\n\
         qcow2=true\n\
         id={id}\n\
         public=true\n\
         qcow2.filename={filename}\n\
         uniquename=routing-{id}\n\
         qcow2.virtualsize={virtual_size}\n\
         virtualsize={virtual_size}\n\
         qcow2.size={size}\n"
    )
}

/// Put `staging` at `dir`. When `dir` exists it is first moved to `backup` (its parent created);
/// on Linux the two are swapped atomically (RENAME_EXCHANGE), so the template directory never goes
/// missing, and the old one is then moved to `backup`. Returns where the old one went.
pub fn install(staging: &Path, dir: &Path, backup: Option<&Path>) -> io::Result<Option<PathBuf>> {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let Some(backup) = backup.filter(|_| dir.exists()) else {
        // No old template (an empty directory counts as none: remove it).
        if dir.exists() {
            fs::remove_dir(dir)?;
        }
        fs::rename(staging, dir)?;
        fsync_dir(parent)?;
        return Ok(None);
    };
    if let Some(bp) = backup.parent() {
        fs::create_dir_all(bp)?;
    }
    let swapped = exchange(staging, dir);
    match swapped {
        // `staging` now holds the old template.
        Ok(()) => fs::rename(staging, backup)?,
        // File systems without RENAME_EXCHANGE (NFS among them): two renames.
        Err(_) => {
            fs::rename(dir, backup)?;
            fs::rename(staging, dir)?;
        }
    }
    fsync_dir(parent)?;
    Ok(Some(backup.to_path_buf()))
}

/// Swap two paths atomically (renameat2 with RENAME_EXCHANGE). Called through the raw system call because
/// nix only wraps renameat2 for glibc, and the static musl build must keep working.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    const RENAME_EXCHANGE: nix::libc::c_uint = 1 << 1;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let r = unsafe {
        nix::libc::syscall(nix::libc::SYS_renameat2, nix::libc::AT_FDCWD, a.as_ptr(), nix::libc::AT_FDCWD, b.as_ptr(), RENAME_EXCHANGE)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_have_every_upstream_key() {
        let p = properties(3, "u.qcow2", 100, 2048);
        let keys: Vec<&str> = p.lines().map(|l| l.split_once('=').unwrap().0).collect();
        assert_eq!(
            keys,
            [
                "filename",
                "description",
                "hvm",
                "size",
                "qcow2",
                "id",
                "public",
                "qcow2.filename",
                "uniquename",
                "qcow2.virtualsize",
                "virtualsize",
                "qcow2.size"
            ]
        );
        assert!(p.contains("uniquename=routing-3\n") && p.contains("qcow2.virtualsize=2048\n"));
    }

    #[test]
    fn install_swaps_and_backs_up() {
        let t = tempfile::tempdir().unwrap();
        let l = Layout { dest: t.path().to_path_buf(), id: 7 };
        let created = create_dirs(&l.parent()).unwrap();
        assert_eq!(created.len(), 3);
        create_dirs(&l.staging_root()).unwrap();
        assert!(!l.staging("a").starts_with(t.path().join("template")));
        let s = l.staging("a");
        fs::create_dir(&s).unwrap();
        fs::write(s.join("new"), "1").unwrap();
        assert_eq!(install(&s, &l.dir(), Some(&l.backup("x"))).unwrap(), None);
        assert!(l.existing());
        let s2 = l.staging("b");
        fs::create_dir(&s2).unwrap();
        fs::write(s2.join("newer"), "2").unwrap();
        assert!(l.stale_staging().contains(&s2));
        let b = install(&s2, &l.dir(), Some(&l.backup("x"))).unwrap().unwrap();
        assert!(l.dir().join("newer").exists() && b.join("new").exists() && !s2.exists());
        assert!(l.stale_staging().is_empty());
        assert!(l.other_backups(&b).is_empty());
        fs::create_dir_all(l.backup("w")).unwrap();
        fs::create_dir_all(Layout { dest: t.path().to_path_buf(), id: 70 }.backup("w")).unwrap();
        assert_eq!(l.other_backups(&b), [l.backup("w")]);
    }
}

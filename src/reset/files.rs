//! Small file helpers: private copies, backups of files we overwrite (atomic writes: crate::atomic_file).

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Copy `from` to a new file `to` with `mode`, fsynced.
pub fn copy_private(from: &Path, to: &Path, mode: u32) -> std::io::Result<()> {
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.sync_all()
}

/// Before overwriting `path`, keep its current content as `path.cloudstrap-<stamp>` (0600). None when absent.
pub fn backup_existing(path: &Path, stamp: &str) -> std::io::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".cloudstrap-{stamp}"));
    let to = path.with_file_name(name);
    copy_private(path, &to, 0o600)?;
    Ok(Some(to))
}

/// Create a directory (and parents) with mode 0700 for the last component.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

//! Small file helpers: atomic writes, private copies, backups of files we overwrite.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Write through a temp file in the same directory, fsync, then rename over `path`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".cloudstrap-").tempfile_in(dir)?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

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

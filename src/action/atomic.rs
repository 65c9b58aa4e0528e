//! Atomic file replacement (temp file, fsync, rename, fsync of the directory) and backups of what is replaced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{digest, ActionError, Ctx, STATE_DIR};

/// Replace `path` with `bytes` (mode `mode`) atomically; see [`crate::atomic_file::replace`].
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ActionError> {
    crate::atomic_file::replace(path, bytes, mode).map_err(|e| ActionError::io(path, e))
}

/// Save the current content of in-system file `abs` under /var/lib/cloudstrap/backups/, named by its content
/// digest so a resumed run makes the identical backup and two different contents never overwrite each other.
/// Returns the in-system path of the backup.
pub fn backup(ctx: &Ctx, abs: &Path) -> Result<String, ActionError> {
    let host = ctx.path(abs);
    let bytes = std::fs::read(&host).map_err(|e| ActionError::io(&host, e))?;
    let mode = std::fs::metadata(&host).map_err(|e| ActionError::io(&host, e))?.permissions().mode() & 0o7777;
    backup_bytes(ctx, abs, &bytes, mode)
}

/// Save `bytes` (mode `mode`), the content in-system file `abs` had, as [`backup`] does.
pub fn backup_bytes(ctx: &Ctx, abs: &Path, bytes: &[u8], mode: u32) -> Result<String, ActionError> {
    let rel = abs.strip_prefix("/").unwrap_or(abs);
    let name = format!("{}.{}", rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), digest(bytes));
    let in_system: PathBuf = Path::new(STATE_DIR).join("backups").join(rel.parent().unwrap_or(Path::new(""))).join(name);
    let backups_root = ctx.path(Path::new(STATE_DIR).join("backups"));
    std::fs::create_dir_all(&backups_root).map_err(|e| ActionError::io(&backups_root, e))?;
    // Backups may hold secrets of the files they copy: keep the tree root-only.
    std::fs::set_permissions(&backups_root, std::fs::Permissions::from_mode(0o700)).map_err(|e| ActionError::io(&backups_root, e))?;
    let dest = ctx.path(&in_system);
    if std::fs::read(&dest).ok().as_deref() != Some(bytes) {
        write_atomic(&dest, bytes, mode)?;
    }
    Ok(in_system.display().to_string())
}

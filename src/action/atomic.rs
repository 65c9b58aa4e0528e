//! The actions' side of `crate::atomic_file`: its errors as action errors, its store at
//! /var/lib/cloudstrap/backups below the context's root.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
    let in_system = Path::new(STATE_DIR).join("backups");
    let store = ctx.path(&in_system);
    let kept = crate::atomic_file::keep_in_store(&store, &in_system, abs, bytes, mode, &digest(bytes)).map_err(|e| ActionError::io(&store, e))?;
    Ok(kept.display().to_string())
}

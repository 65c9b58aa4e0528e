//! Writing the files the hand-off leaves for root: atomically, 0600, the previous version backed up.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Write `content` to `path` (mode 0600, parent directories 0700 when created). An existing file with
/// other content is first copied to `PATH.cloudstrap-bak-TIMESTAMP` (0600); the new content goes to a
/// temporary file that is synced and renamed over the target. Returns the backup, if one was made.
pub fn write_private(path: &Path, content: &str) -> std::io::Result<Option<PathBuf>> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other(format!("{} has no parent directory", path.display())))?;
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut backup = None;
    match std::fs::read(path) {
        Ok(old) if old == content.as_bytes() => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            return Ok(None);
        }
        Ok(old) => {
            let b = PathBuf::from(format!("{}.cloudstrap-bak-{}", path.display(), chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&b)?;
            f.write_all(&old)?;
            f.sync_all()?;
            backup = Some(b);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    crate::atomic_file::replace(path, content.as_bytes(), 0o600)?;
    Ok(backup)
}

/// `abs` (an absolute path as on the host) below `root`.
pub fn under_root(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_atomic_with_backup() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/keys");
        assert_eq!(write_private(&p, "one").unwrap(), None);
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(p.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(write_private(&p, "one").unwrap(), None);
        let b = write_private(&p, "two").unwrap().expect("backup");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "one");
        assert_eq!(std::fs::metadata(&b).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
    }
}

//! Replacing a file atomically: the one way cloudstrap writes a file a service or a later run may read.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Replace `path` with `bytes` (mode `mode`, exactly: the umask does not narrow it) so a reader sees the old
/// or the new file, never a mix, even across a power cut: temp file in the same directory, fsync, rename,
/// fsync of the directory. Missing parent directories are created.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).ok_or_else(|| std::io::Error::other(format!("{} has no parent directory", path.display())))?;
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A fresh, unpredictable name opened with O_EXCL: a symlink planted in the directory cannot redirect the
    // write, and the temp file is removed if anything below fails.
    let mut f = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".cloudstrap-tmp").tempfile_in(dir)?;
    f.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(bytes)?;
    f.as_file().sync_all()?;
    f.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_with_the_exact_mode_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/f.conf");
        replace(&p, b"one", 0o600).unwrap();
        replace(&p, b"two", 0o640).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(d.path().join("sub")).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        replace(&p, b"old", 0o644).unwrap();
        // The target is a directory now: rename fails, the temp file is cleaned up.
        let dir_target = d.path().join("dir");
        std::fs::create_dir_all(dir_target.join("x")).unwrap();
        assert!(replace(&dir_target, b"new", 0o644).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
    }
}

//! Replacing files and keeping what they held: the one way cloudstrap writes a file a service or a later
//! run may read ([`replace`]), and the two places a replaced file's content is kept:
//! - [`keep_in_store`]: the install's backups, named by content digest in one root-only tree, so a resumed
//!   run makes the identical backup and the receipt's undo records can name them;
//! - [`keep_beside`]: an operator-facing copy next to the file (`FILE.TAG`, 0600), when a command replaces
//!   a file the operator may want back by hand (restore's `db.properties.cloudstrap-<time>`, a saved
//!   profile's `.bak`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// Copy `from` to a new file `to` with `mode`, fsynced (parents created).
pub fn copy_private(from: &Path, to: &Path, mode: u32) -> std::io::Result<()> {
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.sync_all()
}

/// Before `path` is replaced, keep its content as `PATH.TAG` (0600: it may hold secrets; an older copy with
/// the same tag is replaced). None when there is no file.
pub fn keep_beside(path: &Path, tag: &str) -> std::io::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}"));
    let to = path.with_file_name(name);
    replace(&to, &std::fs::read(path)?, 0o600)?;
    Ok(Some(to))
}

/// Keep `bytes` (mode `mode`), the content of in-system file `abs`, in the store at host directory `store`
/// (in-system `store_in_system`), under `store/<abs's directory>/<name>.<digest>`; the store is made
/// root-only. Returns the in-system path of the copy; an identical copy already there is reused.
pub fn keep_in_store(store: &Path, store_in_system: &Path, abs: &Path, bytes: &[u8], mode: u32, digest: &str) -> std::io::Result<PathBuf> {
    let rel = abs.strip_prefix("/").unwrap_or(abs);
    let name = format!("{}.{digest}", rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    let sub = rel.parent().unwrap_or(Path::new("")).join(name);
    std::fs::create_dir_all(store)?;
    // Backups may hold secrets of the files they copy.
    std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o700))?;
    let dest = store.join(&sub);
    if std::fs::read(&dest).ok().as_deref() != Some(bytes) {
        replace(&dest, bytes, mode)?;
    }
    Ok(store_in_system.join(sub))
}

/// Create a directory (and parents) with mode 0700 for the last component.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(path)
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

    #[test]
    fn a_copy_kept_beside_is_private_and_a_store_copy_is_reused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db.properties");
        assert_eq!(keep_beside(&p, "bak").unwrap(), None);
        replace(&p, b"secret=1", 0o644).unwrap();
        let kept = keep_beside(&p, "cloudstrap-1").unwrap().unwrap();
        assert_eq!((std::fs::read(&kept).unwrap(), std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777), (b"secret=1".to_vec(), 0o600));
        let store = d.path().join("store");
        let a = keep_in_store(&store, Path::new("/var/lib/x"), Path::new("/etc/a.conf"), b"x", 0o640, "d1").unwrap();
        let b = keep_in_store(&store, Path::new("/var/lib/x"), Path::new("/etc/a.conf"), b"x", 0o640, "d1").unwrap();
        assert_eq!((a.clone(), b), (PathBuf::from("/var/lib/x/etc/a.conf.d1"), PathBuf::from("/var/lib/x/etc/a.conf.d1")));
        assert_eq!(std::fs::metadata(&store).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

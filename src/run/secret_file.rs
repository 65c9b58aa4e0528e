//! 0600 files that carry secrets to a command, in a private 0700 directory below the root the command
//! runs in (never a shared temporary directory). A file is removed when dropped; files left behind by a
//! process that was killed are removed by the next one that creates such a file.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where secret files live, as the command sees it (below the root the command runs in).
pub const SECRET_DIR: &str = "/run/cloudstrap";

/// A file readable by root only, holding a secret for one command; removed when dropped.
/// Created below `root` (so a command in `chroot root` sees it at [`SecretFile::inner_path`]).
#[derive(Debug)]
pub struct SecretFile {
    host_path: PathBuf,
    inner_path: PathBuf,
}

impl SecretFile {
    /// Write `content` to a fresh 0600 file in `<root>/run/cloudstrap/`, named `HINT.PID.RANDOM`.
    pub fn create(root: &Path, name_hint: &str, content: &[u8]) -> std::io::Result<SecretFile> {
        let inner_dir = Path::new(SECRET_DIR);
        let dir = private_dir(root)?;
        sweep(&dir);
        let name = format!("{name_hint}.{}.{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let host_path = dir.join(&name);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&host_path)?;
        let written = f.write_all(content).and_then(|_| f.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&host_path);
            return Err(e);
        }
        Ok(SecretFile { host_path, inner_path: inner_dir.join(name) })
    }

    /// The path as the command sees it (inside the chroot when there is one).
    pub fn inner_path(&self) -> &Path {
        &self.inner_path
    }

    pub fn host_path(&self) -> &Path {
        &self.host_path
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.host_path);
    }
}

/// `<root>/run/cloudstrap`, created 0700 (and made 0700 again if someone widened it).
pub fn private_dir(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(SECRET_DIR.trim_start_matches('/'));
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Remove the secret files of processes that no longer run (a `kill -9` skips every destructor).
pub fn sweep(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let mut parts = name.rsplitn(3, '.');
        let (_random, pid) = (parts.next(), parts.next().and_then(|p| p.parse::<u32>().ok()));
        let Some(pid) = pid else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_dead_processes_are_swept_and_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = private_dir(root.path()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        // A pid above the kernel's pid_max never runs.
        let stale = dir.join("mysql-client.99999999.0123abcd");
        std::fs::write(&stale, "password=x").unwrap();
        let mine = SecretFile::create(root.path(), "setup-argv", b"[]").unwrap();
        assert!(!stale.exists(), "a dead process's secret file survived");
        assert!(mine.host_path().exists());
        assert_eq!(std::fs::metadata(mine.host_path()).unwrap().permissions().mode() & 0o777, 0o600);
        let p = mine.host_path().to_path_buf();
        drop(mine);
        assert!(!p.exists());
    }
}

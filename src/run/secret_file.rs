//! 0600 files that carry secrets to a command, below the root the command runs in.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file readable by root only, holding a secret for one command; removed when dropped.
/// Created below `root` (so a command in `chroot root` sees it at [`SecretFile::inner_path`]).
#[derive(Debug)]
pub struct SecretFile {
    host_path: PathBuf,
    inner_path: PathBuf,
}

impl SecretFile {
    /// Write `content` to a fresh 0600 file in `<root>/run/cloudstrap/`.
    pub fn create(root: &Path, name_hint: &str, content: &[u8]) -> std::io::Result<SecretFile> {
        let inner_dir = Path::new("/run/cloudstrap");
        let dir = root.join(inner_dir.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let name = format!("{name_hint}.{}.{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let host_path = dir.join(&name);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&host_path)?;
        f.write_all(content)?;
        f.sync_all()?;
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

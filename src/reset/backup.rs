//! A backup directory: the two database dumps, copies of db.properties, the key file and the receipt, a
//! manifest with their sha256 sums, and a SHA256SUMS file that `sha256sum -c` reads.
//!
//! ```text
//! <dir>/manifest.json
//! <dir>/SHA256SUMS
//! <dir>/db/<database>.sql.bz2
//! <dir>/files/etc/cloudstack/management/db.properties   (the path as on the host)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dump::{self, DumpError};
use super::services::ServiceState;

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseEntry {
    pub name: String,
    /// Relative to the backup directory.
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    /// Rows per table as the database held them when it was dumped (empty in backups made before this
    /// was recorded).
    #[serde(default)]
    pub rows: dump::RowCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Absolute path on the host (below --root).
    pub path: PathBuf,
    pub file: String,
    pub sha256: String,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created: String,
    pub host: String,
    pub release: String,
    /// Where db.properties lives on the host (it names the databases and their server).
    pub db_properties: PathBuf,
    pub services: Vec<ServiceState>,
    pub databases: Vec<DatabaseEntry>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{dir}: not a cloudstrap backup ({source})")]
    NoManifest { dir: PathBuf, source: std::io::Error },
    #[error("{dir}/manifest.json: {source}")]
    BadManifest { dir: PathBuf, source: serde_json::Error },
    #[error("{0}")]
    Dump(#[from] DumpError),
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: unsafe name in the manifest")]
    UnsafeName { path: String },
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Manifest, BackupError> {
        let text = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|source| BackupError::NoManifest { dir: dir.into(), source })?;
        serde_json::from_str(&text).map_err(|source| BackupError::BadManifest { dir: dir.into(), source })
    }

    pub fn save(&self, dir: &Path) -> Result<(), BackupError> {
        let text = serde_json::to_string_pretty(self).expect("manifest serializes") + "\n";
        let path = dir.join(MANIFEST);
        crate::atomic_file::replace(&path, text.as_bytes(), 0o600).map_err(|source| BackupError::Write { path, source })?;
        let sums: String = self
            .databases
            .iter()
            .map(|d| (&d.sha256, &d.file))
            .chain(self.files.iter().map(|f| (&f.sha256, &f.file)))
            .map(|(h, f)| format!("{h}  {f}\n"))
            .collect();
        let path = dir.join("SHA256SUMS");
        crate::atomic_file::replace(&path, sums.as_bytes(), 0o600).map_err(|source| BackupError::Write { path, source })
    }

    /// Every file is present and matches its sum, and every dump is complete.
    pub fn verify(&self, dir: &Path) -> Result<(), BackupError> {
        for d in &self.databases {
            let rows = (!d.rows.is_empty()).then_some(&d.rows);
            dump::verify_dump(&safe_join(dir, &d.file)?, &d.sha256, rows)?;
        }
        for f in &self.files {
            let p = safe_join(dir, &f.file)?;
            let actual = dump::sha256_file(&p)?;
            if actual != f.sha256 {
                return Err(DumpError::Checksum { path: p, actual, expected: f.sha256.clone() }.into());
            }
        }
        Ok(())
    }
}

/// `dir/rel`, refusing names that climb out of the backup.
pub fn safe_join(dir: &Path, rel: &str) -> Result<PathBuf, BackupError> {
    let p = Path::new(rel);
    if p.is_absolute() || p.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        return Err(BackupError::UnsafeName { path: rel.into() });
    }
    Ok(dir.join(p))
}

/// Copy a host file (at `host_path`, found at `actual` below --root) into the backup.
pub fn add_file(dir: &Path, host_path: &Path, actual: &Path) -> Result<FileEntry, BackupError> {
    use std::os::unix::fs::PermissionsExt;
    let rel = format!("files/{}", host_path.strip_prefix("/").unwrap_or(host_path).display());
    let dest = safe_join(dir, &rel)?;
    crate::atomic_file::copy_private(actual, &dest, 0o600).map_err(|source| BackupError::Write { path: dest.clone(), source })?;
    let mode = std::fs::metadata(actual).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o600);
    Ok(FileEntry { path: host_path.into(), file: rel, sha256: dump::sha256_file(&dest)?, mode })
}

/// A new timestamped directory (0700) below `parent`.
pub fn create_dir(parent: &Path, stamp: &str) -> Result<PathBuf, BackupError> {
    for n in 0..100 {
        let dir = if n == 0 { parent.join(stamp) } else { parent.join(format!("{stamp}-{n}")) };
        match crate::atomic_file::create_private_dir(&dir) {
            Ok(()) => {
                crate::atomic_file::create_private_dir(&dir.join("db")).map_err(|source| BackupError::Write { path: dir.join("db"), source })?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(BackupError::Write { path: dir, source }),
        }
    }
    Err(BackupError::Write { path: parent.join(stamp), source: std::io::Error::other("too many backups with this timestamp") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_backup() {
        let d = Path::new("/b");
        assert!(safe_join(d, "files/etc/x").is_ok());
        assert!(safe_join(d, "../etc/shadow").is_err());
        assert!(safe_join(d, "/etc/shadow").is_err());
    }

    #[test]
    fn a_changed_file_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("db.properties");
        std::fs::write(&src, "a=b\n").unwrap();
        let b = create_dir(&dir.path().join("backups"), "20261125T000000Z").unwrap();
        let entry = add_file(&b, Path::new("/etc/cloudstack/management/db.properties"), &src).unwrap();
        let m = Manifest {
            format: 1,
            created: "now".into(),
            host: "h".into(),
            release: "4.22".into(),
            db_properties: "/etc/cloudstack/management/db.properties".into(),
            services: vec![],
            databases: vec![],
            files: vec![entry.clone()],
        };
        m.save(&b).unwrap();
        Manifest::load(&b).unwrap().verify(&b).unwrap();
        std::fs::write(b.join(&entry.file), "a=c\n").unwrap();
        assert!(Manifest::load(&b).unwrap().verify(&b).is_err());
        let sums = std::fs::read_to_string(b.join("SHA256SUMS")).unwrap();
        assert!(sums.contains("files/etc/cloudstack/management/db.properties"));
    }
}

//! What installing the rendered files would change: each file compared with the current one under a root,
//! combined exactly as the install combines them (`merge`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{merge, RenderedFile};
use crate::host::Sysroot;

/// What installing one file would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    Create,
    Update,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    pub what: String,
    pub status: ChangeStatus,
    #[serde(skip)]
    pub old: Option<String>,
    #[serde(skip)]
    pub new: String,
    /// Unified diff from the current to the new content (empty when unchanged).
    pub diff: String,
}

/// Unified diff of one file, labelled with its path.
fn unified(path: &Path, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let label = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&label, &format!("{label} (cloudstrap)"))
        .to_string()
}

/// Compare every rendered file with the current file under `root`.
pub fn file_changes(files: &[RenderedFile], root: &Sysroot) -> std::io::Result<Vec<FileChange>> {
    files
        .iter()
        .map(|f| {
            let old = root
                .read_opt(&f.path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", root.path(&f.path).display())))?;
            let new = merge(old.as_deref(), f);
            let status = match &old {
                None => ChangeStatus::Create,
                Some(o) if *o == new => ChangeStatus::Unchanged,
                Some(_) => ChangeStatus::Update,
            };
            let diff = unified(&f.path, old.as_deref().unwrap_or(""), &new);
            Ok(FileChange { path: f.path.clone(), what: f.what.clone(), status, old, new, diff })
        })
        .collect()
}


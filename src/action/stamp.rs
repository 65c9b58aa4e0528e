//! Stamps: small files under /var/lib/cloudstrap/stamps/ recording the digest of the configuration a
//! service was last (re)started with, or a repository last refreshed with. A changed digest means the step
//! is due again, which also holds when a run was killed between writing a file and restarting its service.

use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::{digest, ActionError, Ctx, STATE_DIR};

fn stamp_path(ctx: &Ctx, name: &str) -> PathBuf {
    let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    ctx.path(Path::new(STATE_DIR).join("stamps").join(safe))
}

/// Digest of the current content of in-system files (a missing file counts as such).
pub fn files_digest(ctx: &Ctx, files: &[PathBuf]) -> String {
    let mut all = Vec::new();
    for f in files {
        all.extend_from_slice(f.display().to_string().as_bytes());
        all.push(0);
        match std::fs::read(ctx.path(f)) {
            Ok(b) => all.extend_from_slice(&b),
            Err(_) => all.extend_from_slice(b"\x00missing"),
        }
        all.push(0);
    }
    digest(&all)
}

pub fn read(ctx: &Ctx, name: &str) -> Option<String> {
    std::fs::read_to_string(stamp_path(ctx, name)).ok().map(|s| s.trim().to_string())
}

pub fn write(ctx: &Ctx, name: &str, value: &str) -> Result<(), ActionError> {
    write_atomic(&stamp_path(ctx, name), format!("{value}\n").as_bytes(), 0o600)
}

pub fn remove(ctx: &Ctx, name: &str) {
    let _ = std::fs::remove_file(stamp_path(ctx, name));
}

//! Saving the answers as a profile that `cloudstrap install --profile FILE --yes` replays. Secrets go to
//! 0600 files in a 0700 directory beside the profile (`NAME.secrets/`), referenced by `*-file`, unless
//! the operator asked to keep them inline (then the profile itself is 0600). Files are written atomically,
//! and a file that is replaced is first copied to `FILE.bak`.

use std::path::{Path, PathBuf};

use crate::action::atomic::write_atomic;
use crate::profile::{secret_refs, Profile};

#[derive(Debug, thiserror::Error)]
#[error("could not save {}: {reason}", path.display())]
pub struct SaveError {
    pub path: PathBuf,
    pub reason: String,
}

fn err(path: &Path, e: impl ToString) -> SaveError {
    SaveError { path: path.to_path_buf(), reason: e.to_string() }
}

/// The inline and file slots of the secret at `path`.
fn slots<'a>(p: &'a mut Profile, path: &str) -> Option<(&'a mut Option<String>, &'a mut Option<PathBuf>)> {
    Some(match path {
        "database.root-password" => {
            let d = p.database.as_mut()?;
            (&mut d.root_password, &mut d.root_password_file)
        }
        "database.cloud-password" => {
            let d = p.database.as_mut()?;
            (&mut d.cloud_password, &mut d.cloud_password_file)
        }
        "database.management-key" => {
            let d = p.database.as_mut()?;
            (&mut d.management_key, &mut d.management_key_file)
        }
        "database.database-key" => {
            let d = p.database.as_mut()?;
            (&mut d.database_key, &mut d.database_key_file)
        }
        "management.admin-password" => {
            let m = p.management.as_mut()?;
            (&mut m.admin_password, &mut m.admin_password_file)
        }
        "management.secret-key" => {
            let m = p.management.as_mut()?;
            (&mut m.secret_key, &mut m.secret_key_file)
        }
        "agent.root-password" => {
            let a = p.agent.as_mut()?;
            (&mut a.root_password, &mut a.root_password_file)
        }
        "disk.root-password" => {
            let d = p.disk.as_mut()?;
            (&mut d.root_password, &mut d.root_password_file)
        }
        other => {
            let i: usize = other.strip_prefix("zone.hosts[")?.split(']').next()?.parse().ok()?;
            let h = p.zone.as_mut()?.hosts.get_mut(i)?;
            (&mut h.password, &mut h.password_file)
        }
    })
}

/// The directory beside `profile` that holds its secrets: `cloud.toml` -> `cloud.secrets`.
pub fn secrets_dir(profile: &Path) -> PathBuf {
    let stem = profile.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "profile".into());
    profile.with_file_name(format!("{stem}.secrets"))
}

/// What gets written: the profile text and, unless inline, each secret file (relative name, value).
pub fn prepare(p: &Profile, path: &Path, inline: bool) -> (Profile, Vec<(PathBuf, String)>) {
    let mut out = p.clone();
    out.origin = None;
    let mut files = Vec::new();
    if inline {
        return (out, files);
    }
    let dir_name = PathBuf::from(secrets_dir(path).file_name().unwrap_or_default());
    let moved: Vec<(String, String)> =
        secret_refs(p).into_iter().filter_map(|r| r.inline.map(|v| (r.path.clone(), v.to_string()))).collect();
    for (key, value) in moved {
        let rel = dir_name.join(key.replace(['.', '['], "-").replace(']', ""));
        if let Some((inline_slot, file_slot)) = slots(&mut out, &key) {
            *inline_slot = None;
            *file_slot = Some(rel.clone());
            files.push((rel, value));
        }
    }
    (out, files)
}

/// The profile file's text.
pub fn render(p: &Profile) -> String {
    format!(
        "#:schema {}\n# Saved by the cloudstrap guided install. Replay it with:\n#   cloudstrap install --profile THIS-FILE --yes\n{}",
        crate::profile::INSTALLED_SCHEMA,
        p.to_toml()
    )
}

/// Write the profile (and its secret files) at `path`; returns the saved profile.
pub fn save(p: &Profile, path: &Path, inline: bool) -> Result<Profile, SaveError> {
    use std::os::unix::fs::PermissionsExt;
    let (saved, files) = prepare(p, path, inline);
    let path = &std::path::absolute(path).map_err(|e| err(path, e))?;
    let base = path.parent().unwrap_or(Path::new("/"));
    if !files.is_empty() {
        let dir = secrets_dir(path);
        std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| err(&dir, e))?;
    }
    for (rel, value) in &files {
        let f = base.join(rel);
        backup(&f)?;
        write_atomic(&f, format!("{value}\n").as_bytes(), 0o600).map_err(|e| err(&f, e))?;
    }
    backup(path)?;
    let mode = if inline { 0o600 } else { 0o644 };
    write_atomic(path, render(&saved).as_bytes(), mode).map_err(|e| err(path, e))?;
    Ok(saved)
}

/// Keep what a file held before it is replaced: `FILE.bak` (0600: secrets stay private).
fn backup(path: &Path) -> Result<(), SaveError> {
    crate::atomic_file::keep_beside(path, "bak").map(|_| ()).map_err(|e| err(path, e))
}

//! The secrets a plan needs, resolved from the profile (inline, `*-file` or `*-env`).
//! Seam: this is the engine's own resolver until `profile::Secrets::resolve` is on main; then `resolve`
//! delegates to it.

use std::path::{Path, PathBuf};

use crate::action::Secret;
use crate::profile::Profile;
use crate::run::Redactor;

#[derive(Debug, Clone, Default)]
pub struct PlanSecrets {
    pub db_root: Option<Secret>,
    pub db_cloud: Option<Secret>,
    pub management_key: Option<Secret>,
    pub database_key: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: cannot read {path}: {source}")]
    File { key: String, path: PathBuf, source: std::io::Error },
    #[error("{key}: environment variable {var} is not set")]
    Env { key: String, var: String },
}

fn one(key: &str, inline: &Option<String>, file: &Option<PathBuf>, env: &Option<String>, dir: &Path) -> Result<Option<Secret>, SecretError> {
    if let Some(v) = inline {
        return Ok(Some(Secret::new(v.clone())));
    }
    if let Some(f) = file {
        let path = if f.is_absolute() { f.clone() } else { dir.join(f) };
        let text = std::fs::read_to_string(&path).map_err(|source| SecretError::File { key: format!("{key}-file"), path, source })?;
        return Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']).to_string())));
    }
    if let Some(var) = env {
        return std::env::var(var).map(|v| Some(Secret::new(v))).map_err(|_| SecretError::Env { key: format!("{key}-env"), var: var.clone() });
    }
    Ok(None)
}

impl PlanSecrets {
    /// Resolve against the profile's directory (relative `*-file` paths).
    pub fn resolve(profile: &Profile, profile_dir: &Path) -> Result<PlanSecrets, SecretError> {
        let Some(db) = &profile.database else { return Ok(PlanSecrets::default()) };
        Ok(PlanSecrets {
            db_root: one("database.root-password", &db.root_password, &db.root_password_file, &db.root_password_env, profile_dir)?,
            db_cloud: one("database.cloud-password", &db.cloud_password, &db.cloud_password_file, &db.cloud_password_env, profile_dir)?,
            management_key: one("database.management-key", &db.management_key, &db.management_key_file, &db.management_key_env, profile_dir)?,
            database_key: one("database.database-key", &db.database_key, &db.database_key_file, &db.database_key_env, profile_dir)?,
        })
    }

    /// A redactor that masks every one of them.
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::default();
        for s in [&self.db_root, &self.db_cloud, &self.management_key, &self.database_key].into_iter().flatten() {
            r.add(s.expose());
        }
        r
    }
}

//! Secret values of a profile, resolved from inline values, `*-file` references (relative to the profile's
//! directory, one trailing newline trimmed) or `*-env` variables. Values never reach Debug output or errors.

use std::fmt;
use std::path::Path;

use super::rules;
use super::validate::{secret_refs, SecretRef};
use super::Profile;

/// A secret value. Debug shows nothing of it; `expose` is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// Every secret the profile gives, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub db_root: Option<Secret>,
    pub db_cloud: Option<Secret>,
    pub management_key: Option<Secret>,
    pub database_key: Option<Secret>,
    pub admin_password: Option<Secret>,
    pub api_secret: Option<Secret>,
    pub agent_root_password: Option<Secret>,
    /// By position in `zone.hosts`.
    pub zone_host_passwords: Vec<Option<Secret>>,
}

/// Every secret that could not be resolved, one located line each.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct SecretError {
    pub problems: Vec<String>,
}

impl Secrets {
    /// Resolve every secret of `p`; relative `*-file` paths are taken from `profile_dir`.
    pub fn resolve(p: &Profile, profile_dir: &Path) -> Result<Secrets, SecretError> {
        Secrets::resolve_with(p, profile_dir, |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// As `resolve`, with the environment given (tests, the guided install).
    pub fn resolve_with(p: &Profile, profile_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Secrets, SecretError> {
        let mut out = Secrets::default();
        let mut problems = Vec::new();
        if let Some(z) = &p.zone {
            out.zone_host_passwords = vec![None; z.hosts.len()];
        }
        for r in secret_refs(p) {
            match one(p, &r, profile_dir, &env) {
                Ok(None) => {}
                Ok(Some(v)) => out.set(&r.path, v),
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(SecretError { problems })
        }
    }

    /// Resolve only the secret at `path` (e.g. "management.secret-key", "zone.hosts[0].password"), for a
    /// command that needs just that one; `None` when the profile gives none. Errors are located as `resolve`'s.
    pub fn resolve_one(p: &Profile, path: &str, profile_dir: &Path) -> Result<Option<Secret>, String> {
        let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        match secret_refs(p).into_iter().find(|r| r.path == path) {
            Some(r) => one(p, &r, profile_dir, &env),
            None => Ok(None),
        }
    }

    fn set(&mut self, path: &str, v: Secret) {
        match path {
            "database.root-password" => self.db_root = Some(v),
            "database.cloud-password" => self.db_cloud = Some(v),
            "database.management-key" => self.management_key = Some(v),
            "database.database-key" => self.database_key = Some(v),
            "management.admin-password" => self.admin_password = Some(v),
            "management.secret-key" => self.api_secret = Some(v),
            "agent.root-password" => self.agent_root_password = Some(v),
            other => {
                let i = other.strip_prefix("zone.hosts[").and_then(|r| r.split(']').next()).and_then(|n| n.parse::<usize>().ok());
                if let Some(slot) = i.and_then(|i| self.zone_host_passwords.get_mut(i)) {
                    *slot = Some(v);
                }
            }
        }
    }

    /// Every resolved value, for a `run::Redactor`.
    pub fn values(&self) -> Vec<&str> {
        [&self.db_root, &self.db_cloud, &self.management_key, &self.database_key, &self.admin_password, &self.api_secret, &self.agent_root_password]
            .into_iter()
            .chain(self.zone_host_passwords.iter())
            .flatten()
            .map(Secret::expose)
            .collect()
    }

    /// A redactor that hides every resolved value.
    pub fn redactor(&self) -> crate::run::Redactor {
        let mut r = crate::run::Redactor::default();
        for v in self.values() {
            r.add(v);
        }
        r
    }
}

fn one(p: &Profile, r: &SecretRef<'_>, dir: &Path, env: &impl Fn(&str) -> Option<String>) -> Result<Option<Secret>, String> {
    let (value, key) = if let Some(v) = r.inline {
        (v.to_string(), r.path.clone())
    } else if let Some(f) = r.file {
        let key = format!("{}-file", r.path);
        let path = if f.is_absolute() { f.to_path_buf() } else { dir.join(f) };
        let mut text = std::fs::read_to_string(&path)
            .map_err(|e| p.locate(&key, format!("cannot read {}: {} (expected a readable file holding the secret)", path.display(), io_reason(&e))))?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        (text, key)
    } else if let Some(name) = r.env {
        let key = format!("{}-env", r.path);
        crate::run::withhold_env(name);
        let v = env(name).ok_or_else(|| p.locate(&key, format!("environment variable {name} is not set (expected it to hold the secret)")))?;
        (v, key)
    } else {
        return Ok(None);
    };
    let rule = if r.setup_rules { rules::setup_password(&value) } else { rules::secret(&value) };
    rule.map_err(|m| p.locate(&key, format!("the secret it gives {m}")))?;
    Ok(Some(Secret(value)))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

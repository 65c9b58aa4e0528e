//! Secret values of a profile, resolved from inline values, `*-file` references (relative to the profile's
//! directory, one trailing newline trimmed) or `*-env` variables. Values never reach Debug output or errors.

use std::fmt;
use std::path::Path;

use super::{regular_file, rules};
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
    /// The installed system's root password (`disk install`).
    pub disk_root_password: Option<Secret>,
    /// The root password of the hosts the fleet installs.
    pub fleet_root_password: Option<Secret>,
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
            "disk.root-password" => self.disk_root_password = Some(v),
            "fleet.root-password" => self.fleet_root_password = Some(v),
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
        [&self.db_root, &self.db_cloud, &self.management_key, &self.database_key, &self.admin_password, &self.api_secret, &self.agent_root_password, &self.disk_root_password, &self.fleet_root_password]
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

/// How a secret given by reference fails to resolve.
enum Unusable {
    /// It cannot work as written (a file missing, empty or not a file, a variable set to a bad value).
    Error(String),
    /// The variable it names is not set: it may be supplied when the profile is used.
    Unset(String),
}

fn one(p: &Profile, r: &SecretRef<'_>, dir: &Path, env: &impl Fn(&str) -> Option<String>) -> Result<Option<Secret>, String> {
    resolve_ref(p, r, dir, env).map_err(|u| match u {
        Unusable::Error(m) | Unusable::Unset(m) => m,
    })
}

fn resolve_ref(p: &Profile, r: &SecretRef<'_>, dir: &Path, env: &impl Fn(&str) -> Option<String>) -> Result<Option<Secret>, Unusable> {
    let (value, key) = if let Some(v) = r.inline {
        (v.to_string(), r.path.clone())
    } else if let Some(f) = r.file {
        let key = format!("{}-file", r.path);
        let path = if f.is_absolute() { f.to_path_buf() } else { dir.join(f) };
        // A password typed where the file name goes must not be printed back: name the file only when
        // the value looks like a path.
        let shown = if looks_like_path(f) { path.display().to_string() } else { "the file it names".to_string() };
        let bytes = regular_file::read(&path, regular_file::SECRET_MAX).map_err(|e| {
            let why = match e {
                regular_file::ReadError::Io(e) => format!("cannot be read: {}", io_reason(&e)),
                other => other.to_string(),
            };
            Unusable::Error(p.locate(&key, format!("{shown} {why} (expected a readable file holding the secret)")))
        })?;
        let mut text = String::from_utf8(bytes)
            .map_err(|_| Unusable::Error(p.locate(&key, format!("{shown} is not UTF-8 text (expected a file holding the secret)"))))?;
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
        let shown = if looks_like_variable(name) { format!("environment variable {name}") } else { "the environment variable it names".to_string() };
        let v = env(name).ok_or_else(|| Unusable::Unset(p.locate(&key, format!("{shown} is not set (expected it to hold the secret)"))))?;
        (v, key)
    } else {
        return Ok(None);
    };
    let rule = if r.setup_rules { rules::setup_password(&value) } else { rules::secret(&value) };
    rule.map_err(|m| Unusable::Error(p.locate(&key, format!("the secret it gives {m}"))))?;
    Ok(Some(Secret(value)))
}

/// What `profile check` reports about the secrets given by reference.
#[derive(Debug, Default)]
pub struct SecretReport {
    /// Secrets that cannot work as written: the profile would not install.
    pub errors: Vec<String>,
    /// Variables not set here, to be supplied where the profile is used.
    pub unset: Vec<String>,
    /// Secret files group or others may read.
    pub exposed: Vec<String>,
}

impl Secrets {
    /// Check every `*-file` and `*-env` secret of `p` as `resolve` would read it, without keeping a value.
    pub fn check(p: &Profile, profile_dir: &Path) -> SecretReport {
        use std::os::unix::fs::PermissionsExt;
        let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        let mut report = SecretReport::default();
        for r in secret_refs(p).iter().filter(|r| r.inline.is_none()) {
            match resolve_ref(p, r, profile_dir, &env) {
                Ok(_) => {}
                Err(Unusable::Error(m)) => report.errors.push(m),
                Err(Unusable::Unset(m)) => report.unset.push(m),
            }
            if let Some(f) = r.file {
                let path = if f.is_absolute() { f.to_path_buf() } else { profile_dir.join(f) };
                if let Ok(meta) = std::fs::metadata(&path) {
                    let mode = meta.permissions().mode() & 0o777;
                    if meta.is_file() && mode & 0o077 != 0 {
                        report.exposed.push(p.locate(
                            &format!("{}-file", r.path),
                            format!("{} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display()),
                        ));
                    }
                }
            }
        }
        report
    }
}

/// A file reference with a directory part or an extension reads as a path; a bare word may be a password.
fn looks_like_path(f: &Path) -> bool {
    let s = f.to_string_lossy();
    s.contains('/') || s.contains('.')
}

/// Environment variables are conventionally upper case; a mixed-case word with digits may be a password.
fn looks_like_variable(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Key paths of inline secret values in a (possibly invalid) profile text.
pub fn inline_secret_keys(text: &str) -> Vec<String> {
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    let mut out = Vec::new();
    walk(doc.get_ref(), "", &mut out);
    out
}

fn walk(t: &toml::de::DeTable<'_>, path: &str, out: &mut Vec<String>) {
    use toml::de::DeValue;
    for (k, v) in t.iter() {
        let p = super::spans::join(path, k.get_ref());
        match v.get_ref() {
            DeValue::Table(t) => walk(t, &p, out),
            DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    if let DeValue::Table(t) = e.get_ref() {
                        walk(t, &super::spans::index(&p, i), out);
                    }
                }
            }
            DeValue::String(_) if crate::profile::is_secret_key(k.get_ref()) => out.push(p),
            _ => {}
        }
    }
}

//! Where API credentials come from: `--profile` ([management]: endpoint, api-key, secret-key /
//! secret-key-file / secret-key-env), else the environment the Python `cs` client and CloudMonkey
//! users already set (`CLOUDSTACK_ENDPOINT`, `CLOUDSTACK_KEY`, `CLOUDSTACK_SECRET`), else the keys
//! the install hand-off stored (/etc/cloudstrap/api.toml under --root).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::files;
use crate::profile::Profile;

/// The keys file the hand-off writes (0600, root only); its [management] section reads like a profile's.
pub const KEYS_FILE: &str = "/etc/cloudstrap/api.toml";

#[derive(Clone, PartialEq)]
pub struct Credentials {
    pub endpoint: String,
    pub api_key: String,
    pub secret: String,
    /// Where they came from, for messages ("the environment", a file name).
    pub source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials {{ endpoint: {:?}, api_key: {:?}, secret: <hidden>, source: {:?} }}", self.endpoint, self.api_key, self.source)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct KeysFile {
    management: StoredManagement,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct StoredManagement {
    endpoint: String,
    api_key: String,
    secret_key: String,
}

/// The text of the keys file.
pub fn keys_file_text(endpoint: &str, api_key: &str, secret: &str) -> String {
    let body = toml::to_string(&KeysFile {
        management: StoredManagement { endpoint: endpoint.into(), api_key: api_key.into(), secret_key: secret.into() },
    })
    .unwrap_or_default();
    format!("# Written by cloudstrap: API keys of the CloudStack admin user. Keep it 0600.\n{body}")
}

/// Read the stored keys under `root`, if the file exists.
pub fn stored(root: &Path) -> Result<Option<Credentials>, ApiError> {
    let path = files::under_root(root, KEYS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ApiError::Input(format!("cannot read {}: {e}", path.display()))),
    };
    // toml's error text quotes the offending line, which may hold the secret: say only where.
    let k: KeysFile = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(1);
        ApiError::Input(format!("{}:{at}: not a cloudstrap keys file (expected [management] endpoint, api-key, secret-key)", path.display()))
    })?;
    Ok(Some(Credentials {
        endpoint: k.management.endpoint,
        api_key: k.management.api_key,
        secret: k.management.secret_key,
        source: path.display().to_string(),
    }))
}

/// The profile's secret at `key` (inline, `*-file` relative to `base`, or `*-env`), through the profile's own
/// resolver, so errors are located (FILE:LINE:COL) and never show the value. Each command resolves only the
/// secrets it needs (`zone deploy` on an operator's machine has no database passwords to give).
pub fn secret_value(profile: &Profile, base: &Path, key: &str) -> Result<Option<String>, ApiError> {
    crate::profile::Secrets::resolve_one(profile, key, base).map(|s| s.map(|s| s.expose().to_string())).map_err(ApiError::Input)
}

/// The API endpoint a profile names, else port 8080 of management.host, else of this host's address.
pub fn profile_endpoint(profile: &Profile) -> String {
    let m = profile.management.as_ref();
    if let Some(e) = m.and_then(|m| m.endpoint.clone()) {
        return e;
    }
    let host = m.and_then(|m| m.host.as_deref()).unwrap_or_else(|| profile.host.ip());
    format!("http://{host}:8080/client/api")
}

/// Credentials from a profile; without keys in it, the stored keys (for the profile's endpoint).
pub fn from_profile(profile: &Profile, profile_path: &Path, root: &Path) -> Result<Credentials, ApiError> {
    let base = profile_path.parent().unwrap_or(Path::new("."));
    let endpoint = profile_endpoint(profile);
    if let Some(m) = &profile.management {
        let secret = secret_value(profile, base, "management.secret-key")?;
        match (&m.api_key, secret) {
            (Some(k), Some(s)) => return Ok(Credentials { endpoint, api_key: k.clone(), secret: s, source: profile_path.display().to_string() }),
            (Some(_), None) => {
                return Err(ApiError::Input(format!(
                    "{}: management.api-key is set but no secret: add management.secret-key, secret-key-file or secret-key-env",
                    profile_path.display()
                )))
            }
            (None, Some(_)) => {
                return Err(ApiError::Input(format!("{}: management has a secret key but no api-key", profile_path.display())))
            }
            (None, None) => {}
        }
    }
    match stored(root)? {
        Some(c) => Ok(Credentials { endpoint, ..c }),
        None => Err(ApiError::Input(format!(
            "{}: no API keys: set management.api-key and management.secret-key-file (or -env), or run the install hand-off, which stores them in {KEYS_FILE}",
            profile_path.display()
        ))),
    }
}

/// Credentials from the environment, when `CLOUDSTACK_ENDPOINT` is set.
pub fn from_env() -> Result<Option<Credentials>, ApiError> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (e, k, s) = (get("CLOUDSTACK_ENDPOINT"), get("CLOUDSTACK_KEY"), get("CLOUDSTACK_SECRET"));
    match (e, k, s) {
        (None, None, None) => Ok(None),
        (Some(endpoint), Some(api_key), Some(secret)) => Ok(Some(Credentials { endpoint, api_key, secret, source: "the environment".into() })),
        (e, k, s) => {
            let missing: Vec<&str> = [("CLOUDSTACK_ENDPOINT", e.is_none()), ("CLOUDSTACK_KEY", k.is_none()), ("CLOUDSTACK_SECRET", s.is_none())]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n)
                .collect();
            Err(ApiError::Input(format!("incomplete API credentials in the environment: {} not set", missing.join(", "))))
        }
    }
}

/// The credentials a command uses: the profile's when one is given, else the environment's, else the stored ones.
pub fn resolve(profile: Option<(&Profile, &Path)>, root: &Path) -> Result<Credentials, ApiError> {
    if let Some((p, path)) = profile {
        return from_profile(p, path, root);
    }
    if let Some(c) = from_env()? {
        return Ok(c);
    }
    stored(root)?.ok_or_else(|| {
        ApiError::Input(format!(
            "no API credentials: set CLOUDSTACK_ENDPOINT, CLOUDSTACK_KEY and CLOUDSTACK_SECRET, pass --profile, or run the install hand-off (it stores keys in {KEYS_FILE})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_round_trip_and_errors_hide_the_secret() {
        let d = tempfile::tempdir().unwrap();
        files::write_private(&files::under_root(d.path(), KEYS_FILE), &keys_file_text("http://h:8080/client/api", "K", "S3CRET")).unwrap();
        let c = stored(d.path()).unwrap().unwrap();
        assert_eq!((c.endpoint.as_str(), c.api_key.as_str(), c.secret.as_str()), ("http://h:8080/client/api", "K", "S3CRET"));
        assert!(!format!("{c:?}").contains("S3CRET"));
        std::fs::write(files::under_root(d.path(), KEYS_FILE), "[management]\nsecret-key = \"S3CRET\"\nbroken = = \n").unwrap();
        let e = stored(d.path()).unwrap_err().to_string();
        assert!(!e.contains("S3CRET") && e.contains("api.toml:"), "{e}");
    }
}

//! Reading CloudStack's db.properties: where the databases are, who connects, and (when cloudstrap can read
//! the encoding) the secrets needed to re-run `cloudstack-setup-databases` exactly as before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::Digest;

/// The encoding the test stand-ins write (see tests/standins/README.md). Upstream encrypts with jasypt,
/// which cloudstrap does not read: on such a host the secrets come from the profile.
pub const STANDIN_SCHEME: &str = "cloudstrap-standin-1";

#[derive(Debug, thiserror::Error)]
pub enum DbPropsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {key} is missing")]
    Missing { path: PathBuf, key: &'static str },
    #[error("{path}: {key} is not a port number")]
    Port { path: PathBuf, key: &'static str },
    #[error(
        "{path}: {key} is encrypted with jasypt, which cloudstrap does not read; give the secret in the profile \
         ([database] {profile_key}) with --profile"
    )]
    Encrypted { path: PathBuf, key: &'static str, profile_key: &'static str },
    #[error("{path}: {key} does not decode with the management key (wrong key file?)")]
    Decode { path: PathBuf, key: &'static str },
}

/// The parsed file; values are kept as written (ENC(...) included).
#[derive(Debug, Clone)]
pub struct DbProperties {
    pub path: PathBuf,
    pub values: BTreeMap<String, String>,
}

impl DbProperties {
    pub fn load(path: &Path) -> Result<DbProperties, DbPropsError> {
        let text = std::fs::read_to_string(path).map_err(|source| DbPropsError::Read { path: path.into(), source })?;
        Ok(DbProperties::parse(path, &text))
    }

    pub fn parse(path: &Path, text: &str) -> DbProperties {
        let values = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect();
        DbProperties { path: path.into(), values }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn require(&self, key: &'static str) -> Result<&str, DbPropsError> {
        self.get(key).ok_or(DbPropsError::Missing { path: self.path.clone(), key })
    }

    pub fn cloud_user(&self) -> Result<&str, DbPropsError> {
        self.require("db.cloud.username")
    }
    pub fn host(&self) -> Result<&str, DbPropsError> {
        self.require("db.cloud.host")
    }
    pub fn port(&self) -> Result<u16, DbPropsError> {
        match self.get("db.cloud.port") {
            None => Ok(3306),
            Some(p) => p.parse().map_err(|_| DbPropsError::Port { path: self.path.clone(), key: "db.cloud.port" }),
        }
    }
    pub fn cloud_db(&self) -> &str {
        self.get("db.cloud.name").unwrap_or("cloud")
    }
    pub fn usage_db(&self) -> &str {
        self.get("db.usage.name").unwrap_or("cloud_usage")
    }
    /// `file`, `web` or `env` (upstream's -e); `file` when absent.
    pub fn encryption_type(&self) -> &str {
        self.get("db.cloud.encryption.type").unwrap_or("file")
    }
    pub fn node_ip(&self) -> Option<&str> {
        self.get("cluster.node.IP")
    }

    /// A secret value: plain text, or ENC(...) decoded with the management key when the encoding is the
    /// one cloudstrap reads.
    pub fn secret(&self, key: &'static str, mgmt_key: Option<&str>, profile_key: &'static str) -> Result<String, DbPropsError> {
        let raw = self.values.get(key).map(String::as_str).unwrap_or("");
        let Some(inner) = raw.strip_prefix("ENC(").and_then(|v| v.strip_suffix(')')) else {
            return Ok(raw.to_string());
        };
        let encrypted = || DbPropsError::Encrypted { path: self.path.clone(), key, profile_key };
        if self.get("db.cloud.encryption.scheme") != Some(STANDIN_SCHEME) {
            return Err(encrypted());
        }
        let mgmt_key = mgmt_key.ok_or_else(encrypted)?;
        standin_decode(inner, mgmt_key).ok_or(DbPropsError::Decode { path: self.path.clone(), key })
    }
}

/// Inverse of the stand-in's encoding: base64, then XOR with sha256("KEY:0") || sha256("KEY:1") || ...
pub fn standin_decode(b64: &str, key: &str) -> Option<String> {
    let data = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let mut stream = Vec::with_capacity(data.len() + 32);
    let mut block = 0u32;
    while stream.len() < data.len() {
        stream.extend_from_slice(&sha2::Sha256::digest(format!("{key}:{block}").as_bytes()));
        block += 1;
    }
    String::from_utf8(data.iter().zip(stream).map(|(a, b)| a ^ b).collect()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_decodes_the_standin_encoding() {
        // "pw" encoded by tests/standins with key "k": base64(b"pw" ^ sha256(b"k:0")[..2]).
        let stream = sha2::Sha256::digest(b"k:0");
        let enc = base64::engine::general_purpose::STANDARD.encode([b'p' ^ stream[0], b'w' ^ stream[1]]);
        let text = format!(
            "# c\ndb.cloud.username=cloud\ndb.cloud.password=ENC({enc})\ndb.cloud.host=db1\ndb.cloud.port=3307\n\
             db.cloud.encryption.scheme={STANDIN_SCHEME}\ndb.cloud.name=x_cloud\n"
        );
        let p = DbProperties::parse(Path::new("/etc/db.properties"), &text);
        assert_eq!(p.cloud_user().unwrap(), "cloud");
        assert_eq!(p.port().unwrap(), 3307);
        assert_eq!(p.cloud_db(), "x_cloud");
        assert_eq!(p.usage_db(), "cloud_usage");
        assert_eq!(p.encryption_type(), "file");
        assert_eq!(p.secret("db.cloud.password", Some("k"), "cloud-password").unwrap(), "pw");
        assert!(p.secret("db.cloud.password", None, "cloud-password").is_err());
    }

    #[test]
    fn jasypt_values_ask_for_the_profile_without_echoing_them() {
        let p = DbProperties::parse(Path::new("/x/db.properties"), "db.cloud.password=ENC(c2VjcmV0)\n");
        let e = p.secret("db.cloud.password", Some("k"), "cloud-password").unwrap_err().to_string();
        assert!(e.contains("jasypt") && e.contains("cloud-password") && !e.contains("c2VjcmV0"), "{e}");
    }
}

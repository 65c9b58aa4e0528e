//! Everything reset and restore need to know before they change anything: the profile, the release, the
//! host's roles and name, db.properties and the credentials, the service names, the setup commands.
//! Gathering it is read-only, so every refusal here leaves the host as it was.

use std::path::{Path, PathBuf};

use super::dbprops::DbProperties;
use super::mysql::Conn;
use super::services::{Init, Services};
use super::ResetError;
use crate::cli::Global;
use crate::host::Sysroot;
use crate::profile::{Profile, Role};
use crate::run::{Cmd, Redactor};

pub const RECEIPT: &str = "/var/lib/cloudstrap/receipt.json";
pub const BACKUPS: &str = "/var/lib/cloudstrap/backups";

/// The release's configuration directory (3.0.2 used the `cloud` names).
pub fn conf_dir(release: &str) -> &'static str {
    if release == "3.0.2" {
        "/etc/cloud/management"
    } else {
        "/etc/cloudstack/management"
    }
}

/// `(setup-databases, setup-management)` command names of a release.
pub fn setup_commands(release: &str) -> (&'static str, &'static str) {
    if release == "3.0.2" {
        ("cloud-setup-databases", "cloud-setup-management")
    } else {
        ("cloudstack-setup-databases", "cloudstack-setup-management")
    }
}

/// True from 4.21, where setup-databases refuses existing databases without `--force-recreate`.
pub fn needs_force_recreate(release: &str) -> bool {
    let mut parts = release.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (4, 21)
}

pub struct Context {
    pub root: PathBuf,
    pub profile: Option<Profile>,
    pub release: String,
    pub hostname: String,
    /// db.properties as on the host, e.g. /etc/cloudstack/management/db.properties.
    pub db_properties: PathBuf,
    pub props: DbProperties,
    pub init: Init,
    pub redactor: Redactor,
    /// The database's root account (for the release's `--deploy-as`).
    pub admin: Conn,
    /// Relative `*-file` secrets of the profile are found from here.
    pub profile_dir: PathBuf,
}

impl Context {
    pub fn gather(global: &Global, profile_path: Option<&Path>, release_hint: Option<&str>) -> Result<Context, ResetError> {
        let root = global.root.clone();
        let sysroot = global.sysroot();
        let profile = match profile_path {
            Some(p) => Some(Profile::load(p).map_err(|e| ResetError::Input(format!("{}: {e}", p.display())))?),
            None => None,
        };
        let rooted = Sysroot::new(&root);
        let release = match (&profile, release_hint) {
            (Some(p), _) => p.cloudstack.release.clone(),
            (None, Some(r)) => r.to_string(),
            (None, None) => detect_release(&rooted)?,
        };
        let db_properties = PathBuf::from(conf_dir(&release)).join("db.properties");
        check_roles(profile.as_ref(), &rooted, &db_properties)?;
        let props = DbProperties::load(&rooted.path(&db_properties)).map_err(|e| {
            ResetError::Failed(format!("{e} (is the CloudStack management server installed and set up on this host?)"))
        })?;
        let hostname = match &profile {
            Some(p) => p.host.hostname.clone(),
            None => live_hostname(&sysroot),
        };
        let init = init_system(profile.as_ref(), &sysroot, &release);
        let dir = profile_path.and_then(Path::parent).unwrap_or(Path::new("."));
        let root_password = match &profile {
            Some(Profile { database: Some(db), .. }) => {
                secret(&db.root_password, &db.root_password_file, &db.root_password_env, dir, "database.root-password")?
            }
            _ => None,
        };
        let mut redactor = Redactor::default();
        if let Some(pw) = &root_password {
            redactor.add(pw.clone());
        }
        let admin = Conn {
            user: "root".into(),
            password: root_password,
            host: props.host().map_err(|e| ResetError::Failed(e.to_string()))?.to_string(),
            port: props.port().map_err(|e| ResetError::Failed(e.to_string()))?,
            socket: None,
        };
        Ok(Context { root, profile, release, hostname, db_properties, props, init, redactor, admin, profile_dir: dir.to_path_buf() })
    }

    /// A path on the host, below --root.
    pub fn host_path(&self, abs: impl AsRef<Path>) -> PathBuf {
        Sysroot::new(&self.root).path(abs)
    }

    pub fn services(&self) -> Services {
        Services::for_release(self.init, &self.release)
    }

    pub fn key_file(&self) -> PathBuf {
        PathBuf::from(conf_dir(&self.release)).join("key")
    }

    /// The management key: the key file (`-e file`), the profile, or `CLOUD_SECRET_KEY` (`-e env`).
    pub fn management_key(&mut self) -> Result<Option<String>, ResetError> {
        let from_profile = match &self.profile {
            Some(Profile { database: Some(db), .. }) => secret(
                &db.management_key,
                &db.management_key_file,
                &db.management_key_env,
                &self.profile_dir,
                "database.management-key",
            )?,
            _ => None,
        };
        let key = match from_profile {
            Some(k) => Some(k),
            None => match std::fs::read_to_string(self.host_path(self.key_file())) {
                Ok(k) => Some(k.trim_end_matches(['\n', '\r']).to_string()),
                Err(_) => std::env::var("CLOUD_SECRET_KEY").ok(),
            },
        };
        if let Some(k) = &key {
            self.redactor.add(k.clone());
        }
        Ok(key)
    }

    /// The cloud user's connection, password from the profile or db.properties.
    pub fn cloud_conn(&mut self, mgmt_key: Option<&str>) -> Result<Conn, ResetError> {
        let from_profile = match &self.profile {
            Some(Profile { database: Some(db), .. }) => {
                secret(&db.cloud_password, &db.cloud_password_file, &db.cloud_password_env, &self.profile_dir, "database.cloud-password")?
            }
            _ => None,
        };
        let password = match from_profile {
            Some(p) => p,
            None => self.props.secret("db.cloud.password", mgmt_key, "cloud-password").map_err(|e| ResetError::Failed(e.to_string()))?,
        };
        self.redactor.add(password.clone());
        let e = |e: super::dbprops::DbPropsError| ResetError::Failed(e.to_string());
        Ok(Conn {
            user: self.props.cloud_user().map_err(e)?.to_string(),
            password: Some(password).filter(|p| !p.is_empty()),
            host: self.props.host().map_err(e)?.to_string(),
            port: self.props.port().map_err(e)?,
            socket: None,
        })
    }

    /// The database key (`-k`), from the profile or db.properties.
    pub fn database_key(&mut self, mgmt_key: Option<&str>) -> Result<String, ResetError> {
        let from_profile = match &self.profile {
            Some(Profile { database: Some(db), .. }) => {
                secret(&db.database_key, &db.database_key_file, &db.database_key_env, &self.profile_dir, "database.database-key")?
            }
            _ => None,
        };
        let key = match from_profile {
            Some(k) => k,
            None => self
                .props
                .secret("db.cloud.encrypt.secret", mgmt_key, "database-key")
                .map_err(|e| ResetError::Failed(e.to_string()))?,
        };
        self.redactor.add(key.clone());
        Ok(key)
    }

    /// The management server's address for `-i`.
    pub fn management_ip(&self) -> String {
        if let Some(ip) = self.props.node_ip() {
            return ip.to_string();
        }
        match &self.profile {
            Some(p) => p.host.address.split('/').next().unwrap_or("127.0.0.1").to_string(),
            None => "127.0.0.1".into(),
        }
    }

    /// The API endpoint to wait for.
    pub fn endpoint(&self) -> String {
        if let Some(e) = self.profile.as_ref().and_then(|p| p.management.as_ref()).and_then(|m| m.endpoint.clone()) {
            return e;
        }
        format!("http://{}:8080/client/api", self.props.node_ip().unwrap_or("127.0.0.1"))
    }

    /// A command on PATH (the setup commands are installed by the release's packages).
    pub fn find_command(&self, name: &str) -> Result<PathBuf, ResetError> {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| ResetError::Failed(format!("{name} is not installed (not found on PATH): is the CloudStack management package installed?")))
    }
}

/// Reset runs where the management server runs: it stops it and drives the release's setup commands.
fn check_roles(profile: Option<&Profile>, rooted: &Sysroot, db_properties: &Path) -> Result<(), ResetError> {
    match profile {
        Some(p) if p.has_role(Role::Management) => Ok(()),
        Some(p) if p.has_role(Role::Database) => Err(ResetError::Input(
            "this host has the database role but not the management role: reset the databases from the management \
             server (run `cloudstrap reset` there), which stops the management server first and runs the release's \
             setup commands against this database"
                .into(),
        )),
        Some(p) => Err(ResetError::Input(format!(
            "this host has neither the management nor the database role (roles: {}): there is no CloudStack \
             database or management server here to reset",
            p.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        ))),
        None if rooted.exists(db_properties) => Ok(()),
        None => Err(ResetError::Input(format!(
            "{} does not exist: this host does not look like a CloudStack management server; give --profile \
             if it is one",
            rooted.path(db_properties).display()
        ))),
    }
}

/// The installed release, when no profile says it: 3.0.2 kept its files under /etc/cloud; otherwise ask
/// the package manager.
fn detect_release(rooted: &Sysroot) -> Result<String, ResetError> {
    if rooted.exists("/etc/cloud/management/db.properties") && !rooted.exists("/etc/cloudstack/management/db.properties") {
        return Ok("3.0.2".into());
    }
    let queries = [
        Cmd::new("dpkg-query").args(["-W", "-f=${Version}", "cloudstack-management"]),
        Cmd::new("rpm").args(["-q", "--qf", "%{VERSION}", "cloudstack-management"]),
    ];
    for q in queries {
        if let Ok(out) = q.run(&Redactor::default()) {
            let v = out.stdout.trim();
            if out.status == 0 && v.split('.').take(2).all(|p| p.parse::<u32>().is_ok()) && v.contains('.') {
                return Ok(v.split('.').take(2).collect::<Vec<_>>().join("."));
            }
        }
    }
    Err(ResetError::Input(
        "cannot tell which CloudStack release is installed (no cloudstack-management package found): give --profile".into(),
    ))
}

pub(super) fn live_hostname(sysroot: &Sysroot) -> String {
    for p in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(Some(h)) = sysroot.read_opt(p) {
            let h = h.trim();
            if !h.is_empty() {
                return h.split('.').next().unwrap_or(h).to_string();
            }
        }
    }
    nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into())
}

/// systemd everywhere except EL6 (and CloudStack 3.0.2, which only ran there).
pub(super) fn init_system(profile: Option<&Profile>, sysroot: &Sysroot, release: &str) -> Init {
    let platform = profile.and_then(|p| p.host.platform.clone());
    let el6 = match platform.as_deref() {
        Some(p) => p == "el6",
        None => {
            release == "3.0.2"
                || sysroot.read_opt("/etc/redhat-release").ok().flatten().is_some_and(|r| r.contains("release 6"))
        }
    };
    if el6 {
        Init::SysV
    } else {
        Init::Systemd
    }
}

/// A profile secret given inline, in a file or in an environment variable.
/// (Stands in for `profile::Secrets::resolve` until it lands.)
pub(super) fn secret(inline: &Option<String>, file: &Option<PathBuf>, env: &Option<String>, dir: &Path, key: &str) -> Result<Option<String>, ResetError> {
    if let Some(v) = inline {
        return Ok(Some(v.clone()));
    }
    if let Some(f) = file {
        let path = if f.is_absolute() { f.clone() } else { dir.join(f) };
        return std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| ResetError::Input(format!("{key}-file: cannot read {}: {e}", path.display())));
    }
    if let Some(name) = env {
        return std::env::var(name)
            .map(Some)
            .map_err(|_| ResetError::Input(format!("{key}-env: environment variable {name} is not set")));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_recreate_from_4_21() {
        assert!(!needs_force_recreate("3.0.2"));
        assert!(!needs_force_recreate("4.19"));
        assert!(!needs_force_recreate("4.20"));
        assert!(needs_force_recreate("4.21"));
        assert!(needs_force_recreate("4.22.0.1"));
    }
}

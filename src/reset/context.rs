//! Everything reset and restore need to know before they change anything: the profile, the release, the
//! host's roles and name, db.properties and the credentials, the service names, the setup commands.
//! Gathering it is read-only, so every refusal here leaves the host as it was.

use std::path::{Path, PathBuf};

use super::dbprops::DbProperties;
use crate::db::{Client, Login};
use super::services::Services;
use super::ResetError;
use crate::host::Site;
use crate::host::Sysroot;
use crate::platform::{InitSystem, Platform, PlatformId, Release};
use crate::profile::{Profile, Role, Secrets};
use crate::run::{Cmd, Redactor};

pub const RECEIPT: &str = "/var/lib/cloudstrap/receipt.json";
pub const BACKUPS: &str = "/var/lib/cloudstrap/backups";

/// The row of a release line, or why cloudstrap cannot reset it.
pub fn release_row(line: &str) -> Result<&'static Release, ResetError> {
    Release::get(line).ok_or_else(|| {
        ResetError::Input(format!(
            "CloudStack {line} is not a release line cloudstrap knows (known: {})",
            Release::lines().join(", ")
        ))
    })
}

pub struct Context {
    pub root: PathBuf,
    pub profile: Option<Profile>,
    pub release: String,
    pub row: &'static Release,
    pub hostname: String,
    /// db.properties as on the host, e.g. /etc/cloudstack/management/db.properties.
    pub db_properties: PathBuf,
    pub props: DbProperties,
    pub init: InitSystem,
    pub redactor: Redactor,
    /// The database's root account (for the release's `--deploy-as`).
    pub admin: Client,
    /// Relative `*-file` secrets of the profile are found from here.
    pub profile_dir: PathBuf,
    /// The profile's secrets (none without a profile).
    pub secrets: Secrets,
}

impl Context {
    pub fn gather(site: &Site, profile_path: Option<&Path>, release_hint: Option<&str>) -> Result<Context, ResetError> {
        let root = site.root.clone();
        let sysroot = site.sysroot();
        let profile = match profile_path {
            Some(p) => Some(load_profile(p)?),
            None => None,
        };
        let rooted = Sysroot::new(&root);
        let release = match (&profile, release_hint) {
            (Some(p), _) => p.cloudstack.release.clone(),
            (None, Some(r)) => r.to_string(),
            (None, None) => detect_release(&rooted)?,
        };
        let row = release_row(&release)?;
        let db_properties = PathBuf::from(row.paths.management_conf_dir).join("db.properties");
        check_roles(profile.as_ref(), &rooted, &db_properties)?;
        let props = DbProperties::load(&rooted.path(&db_properties)).map_err(|e| {
            ResetError::Failed(format!("{e} (is the CloudStack management server installed and set up on this host?)"))
        })?;
        let hostname = match &profile {
            Some(p) => p.host.hostname.clone(),
            None => live_hostname(&sysroot),
        };
        let init = init_system(profile.as_ref(), &sysroot, row);
        let dir = profile_path.and_then(Path::parent).unwrap_or(Path::new("."));
        let secrets = match &profile {
            Some(p) => Secrets::resolve(p, dir).map_err(|e| ResetError::Input(e.to_string()))?,
            None => Secrets::default(),
        };
        for w in profile.as_ref().map(|p| Secrets::check(p, dir).exposed).unwrap_or_default() {
            eprintln!("warning: {w}");
        }
        let root_password = secrets.db_root.as_ref().map(|s| s.expose().to_string());
        let redactor = secrets.redactor();
        let admin = Client::new(Login { user: "root".into(), password: root_password, host: props.host().map_err(|e| ResetError::Failed(e.to_string()))?.to_string(), port: props.port().map_err(|e| ResetError::Failed(e.to_string()))?, ..Login::default() }, &root);
        Ok(Context { root, profile, release, row, hostname, db_properties, props, init, redactor, admin, profile_dir: dir.to_path_buf(), secrets })
    }

    /// A path on the host, below --root.
    pub fn host_path(&self, abs: impl AsRef<Path>) -> PathBuf {
        Sysroot::new(&self.root).path(abs)
    }

    pub fn services(&self) -> Services {
        Services::for_release(self.init, self.row, &self.root)
    }

    pub fn key_file(&self) -> PathBuf {
        PathBuf::from(self.row.paths.management_conf_dir).join("key")
    }

    /// The management key: the key file (`-e file`), the profile, or `CLOUD_SECRET_KEY` (`-e env`).
    pub fn management_key(&mut self) -> Result<Option<String>, ResetError> {
        let from_profile = self.secrets.management_key.as_ref().map(|s| s.expose().to_string());
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
    pub fn cloud_conn(&mut self, mgmt_key: Option<&str>) -> Result<Client, ResetError> {
        let from_profile = self.secrets.db_cloud.as_ref().map(|s| s.expose().to_string());
        let password = match from_profile {
            Some(p) => p,
            None => self.props.secret("db.cloud.password", mgmt_key, "cloud-password").map_err(|e| ResetError::Failed(e.to_string()))?,
        };
        self.redactor.add(password.clone());
        let e = |e: super::dbprops::DbPropsError| ResetError::Failed(e.to_string());
        Ok(Client::new(Login { user: self.props.cloud_user().map_err(e)?.to_string(), password: Some(password).filter(|p| !p.is_empty()), host: self.props.host().map_err(e)?.to_string(), port: self.props.port().map_err(e)?, ..Login::default() }, &self.root))
    }

    /// The database key (`-k`), from the profile or db.properties.
    pub fn database_key(&mut self, mgmt_key: Option<&str>) -> Result<String, ResetError> {
        let from_profile = self.secrets.database_key.as_ref().map(|s| s.expose().to_string());
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
            Some(p) => p.host.ip().to_string(),
            None => "127.0.0.1".into(),
        }
    }

    /// The API endpoint to wait for: the profile's; else `CLOUDSTACK_ENDPOINT` (as the `cs` client and
    /// CloudMonkey users set it); else this management server's own.
    pub fn endpoint(&self) -> String {
        match &self.profile {
            Some(p) => crate::cloudstack::credentials::profile_endpoint(p),
            None => std::env::var("CLOUDSTACK_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| format!("http://{}:8080/client/api", self.props.node_ip().unwrap_or("127.0.0.1"))),
        }
    }

    /// A setup command (installed by the release's packages), as the root sees it: on this machine's PATH
    /// for `/`, otherwise in the root's own system directories (never this machine's).
    pub fn find_command(&self, name: &str) -> Result<PathBuf, ResetError> {
        let found = if self.root == Path::new("/") {
            std::env::var_os("PATH").iter().flat_map(std::env::split_paths).map(|d| d.join(name)).find(|p| p.is_file())
        } else {
            SYSTEM_PATH.iter().map(|d| Path::new(d).join(name)).find(|p| self.host_path(p).is_file())
        };
        found.ok_or_else(|| {
            let where_ = if self.root == Path::new("/") { "on PATH".to_string() } else { format!("in {} ({})", self.root.display(), SYSTEM_PATH.join(":")) };
            ResetError::Failed(format!("{name} is not installed (not found {where_}): is the CloudStack management package installed?"))
        })
    }
}

/// Where a root's system commands live (what a root shell's PATH holds).
const SYSTEM_PATH: [&str; 6] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

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
    // Last, the schema version the database itself records (cloud.version), read as db.properties' user.
    if let Some(v) = release_from_database(rooted) {
        return Ok(v);
    }
    Err(ResetError::Input(
        "cannot tell which CloudStack release is installed (no cloudstack-management package, and the cloud \
         database's version table could not be read): give --profile"
            .into(),
    ))
}

fn release_from_database(rooted: &Sysroot) -> Option<String> {
    let conf = Path::new("/etc/cloudstack/management");
    let props = DbProperties::load(&rooted.path(conf.join("db.properties"))).ok()?;
    let key = std::fs::read_to_string(rooted.path(conf.join("key"))).ok().map(|k| k.trim_end_matches(['\n', '\r']).to_string());
    let password = props.secret("db.cloud.password", key.as_deref(), "cloud-password").ok()?;
    let conn = Client::new(Login { user: props.cloud_user().ok()?.to_string(), password: Some(password).filter(|p| !p.is_empty()), host: props.host().ok()?.to_string(), port: props.port().ok()?, ..Login::default() }, rooted.root());
    let sql = format!("SELECT version FROM {}.version ORDER BY id DESC LIMIT 1;", crate::mysql_text::sql_ident(props.cloud_db()));
    let v = conn.query(&sql).ok()?;
    let parts: Vec<&str> = v.trim().split('.').take(2).collect();
    (parts.len() == 2 && parts.iter().all(|p| p.parse::<u32>().is_ok())).then(|| parts.join("."))
}

pub fn live_hostname(sysroot: &Sysroot) -> String {
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

/// The platform's init system: the profile's platform, else the detected one; when neither is known,
/// SysV for the EL6-only 3.x lines and systemd otherwise.
pub(super) fn init_system(profile: Option<&Profile>, sysroot: &Sysroot, release: &Release) -> InitSystem {
    let id = profile
        .and_then(|p| p.host.platform.as_deref())
        .and_then(|p| p.parse::<PlatformId>().ok())
        .or_else(|| crate::host::detect_platform(sysroot).ok());
    match id {
        Some(id) => Platform::get(id).init,
        None if release.is_legacy() => InitSystem::SysV,
        None => InitSystem::Systemd,
    }
}

/// Load and validate a profile; its errors name file, line, column and key.
pub(super) fn load_profile(path: &Path) -> Result<Profile, ResetError> {
    crate::profile::load(path).map_err(|e| ResetError::Input(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_release_lines_are_refused() {
        assert!(release_row("4.22").is_ok());
        assert!(matches!(release_row("5.0"), Err(ResetError::Input(m)) if m.contains("known: 3.0.2")));
    }
}

//! The plan: the actions `install` runs for a profile on a platform, in order, with the dependencies
//! that let independent chains overlap. Computed from the profile, the platform row, the release row
//! and the rendered files; `cloudstrap plan`, `install --dry-run` and `install` all take exactly this
//! plan, hand-off included.
//!
//! Lanes (one function each; a lane waits only for the named steps it needs from another, see
//! [`builder::StepId`]):
//! - host: SELinux, base packages (time, firewall), host-wide files, time service, firewall;
//! - database: server packages, drop-in, service, port, administrator login, cloud user;
//! - nfs: packages, files, export directories, services, exports;
//! - repository (shared by management and kvm-agent): repository file and key;
//! - management: packages, files, setup-databases (after the database lane), cloud user grants again
//!   (setup-databases recreates the user without PROCESS), setup-management, API answers;
//! - kvm-agent: packages, libvirt files, sockets masked, AppArmor, libvirtd;
//! - template: download into secondary storage as soon as its directory exists (not after package
//!   installs), then its database row once setup-databases ran; secondary storage on another host is
//!   mounted (`nfs.secondary-mount`) around each of the two, after the NFS client is installed;
//! - provisioning: dnsmasq, nginx and the iPXE loaders, their files and services;
//! - hand-off: the management server's API (keys, zone) and the agent's registration, after everything;
//!   then the fleet's network install is published (its hosts' answers need the hand-off's API keys).

pub mod builder;
mod database;
mod handoff;
mod host;
mod kvm_agent;
mod management;
mod nfs;
mod provisioning;
mod repository;
pub mod template;
pub mod view;

use std::path::Path;

use crate::action::database::DbConn;
use crate::action::executor::Step;
use crate::action::file::{FileSpec, MergeFn};
use crate::action::packages::PackageManager;
use crate::action::service::Init;
use crate::action::Secret;
use crate::platform::{Platform, PlatformId, Release};
use crate::profile::{Profile, Role};

pub use builder::{Lane, StepId, StepInfo};
pub use crate::profile::Secrets as PlanSecrets;

/// Everything a plan is computed from.
pub struct PlanInput<'a> {
    pub profile: &'a Profile,
    /// Where the profile was read from: the hand-off resolves its secrets relative to it.
    pub profile_path: &'a Path,
    pub platform: &'static Platform,
    pub release: &'static Release,
    /// The rendered files, in render order.
    pub files: Vec<FileSpec>,
    pub merge: MergeFn,
    pub secrets: &'a PlanSecrets,
    /// The root is the running system (see `action::Ctx::live`): runtime steps are planned only then.
    pub live: bool,
    /// Management and database keys cloudstrap generated earlier (read back from the root), so a resumed
    /// or repeated install uses the same ones.
    pub generated_keys: GeneratedKeys,
}

/// Keys cloudstrap generates when the profile gives none, kept 0600 under /var/lib/cloudstrap/secrets/.
#[derive(Debug, Clone)]
pub struct GeneratedKeys {
    pub management: Secret,
    pub database: Secret,
}

pub const MANAGEMENT_KEY_FILE: &str = "/var/lib/cloudstrap/secrets/management.key";
pub const DATABASE_KEY_FILE: &str = "/var/lib/cloudstrap/secrets/database.key";

impl GeneratedKeys {
    /// The keys stored under `root`, or new random ones.
    pub fn load_or_new(root: &Path) -> GeneratedKeys {
        let read = |p: &str| {
            std::fs::read_to_string(root.join(p.trim_start_matches('/'))).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
        };
        let new = || uuid::Uuid::new_v4().simple().to_string();
        GeneratedKeys {
            management: Secret::new(read(MANAGEMENT_KEY_FILE).unwrap_or_else(new)),
            database: Secret::new(read(DATABASE_KEY_FILE).unwrap_or_else(new)),
        }
    }
}

/// The whole install for one host: the rendered files and every step, hand-off included.
pub struct Plan {
    pub platform: PlatformId,
    pub release: &'static str,
    pub roles: Vec<Role>,
    /// The rendered files the plan writes (for the diffs `cloudstrap plan` shows).
    pub files: Vec<FileSpec>,
    pub steps: Vec<Step>,
    /// Lane and name of each step, by position.
    pub info: Vec<StepInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Profile(String),
}

/// What every lane reads: the input and the facts derived from it once.
struct Lanes<'a> {
    input: &'a PlanInput<'a>,
    roles: Vec<Role>,
    /// The database server the management server and the template row talk to.
    conn: DbConn,
    /// The repository file, written by the repository lane only (for roles that use it).
    repo_path: &'static str,
}

impl Lanes<'_> {
    fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The platform's package manager and init system, straight from its table row.
    fn pm(&self) -> PackageManager {
        self.input.platform.package_manager
    }
    fn init(&self) -> Init {
        self.input.platform.init
    }

    /// The rendered files of a role (`None`: host-wide), without the repository file.
    fn files_for(&self, role: Option<Role>) -> Vec<FileSpec> {
        self.input.files.iter().filter(|f| f.role == role && f.path != Path::new(self.repo_path)).cloned().collect()
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Compute the plan: every lane in order, then the hand-off.
pub fn build(input: &PlanInput) -> Result<Plan, PlanError> {
    let p = input.platform;
    let db_row = input.profile.database.as_ref();
    let l = Lanes {
        input,
        roles: input.profile.roles(),
        conn: DbConn {
            host: db_row.map(|d| d.host.clone()).unwrap_or_else(|| "localhost".into()),
            port: db_row.map(|d| d.port).unwrap_or(3306),
            socket: None,
        },
        repo_path: match p.repo {
            crate::platform::RepoForm::Yum { path, .. } | crate::platform::RepoForm::Apt { path, .. } => path,
        },
    };
    let mut b = builder::Builder::default();
    host::lane(&mut b, &l);
    if l.has(Role::Database) {
        database::lane(&mut b, &l)?;
    }
    if l.has(Role::Nfs) {
        nfs::lane(&mut b, &l)?;
    }
    if l.has(Role::Management) || l.has(Role::KvmAgent) {
        repository::lane(&mut b, &l);
    }
    if l.has(Role::Management) {
        management::lane(&mut b, &l)?;
    }
    if l.has(Role::KvmAgent) {
        kvm_agent::lane(&mut b, &l);
    }
    if l.has(Role::Provisioning) {
        provisioning::lane(&mut b, &l)?;
    }
    if input.live {
        template::lane(&mut b, &l);
        handoff::lane(&mut b, &l)?;
        if l.has(Role::Provisioning) {
            provisioning::publish(&mut b, &l)?;
        }
    }
    Ok(Plan {
        platform: p.id,
        release: input.release.line,
        roles: l.roles,
        files: input.files.clone(),
        steps: b.steps,
        info: b.info,
    })
}

//! The plan: the actions `install` runs for a profile on a platform, in order, with the dependencies
//! that let independent chains overlap. Computed from the profile, the platform row, the release row
//! and the rendered files; `cloudstrap plan` and `install --dry-run` show exactly this list.
//!
//! Lanes (each a chain; a lane waits only for what it needs from another):
//! - host: SELinux, base packages (time, firewall), host-wide files, time service, firewall;
//! - database: server packages, drop-in, service, port, administrator login, cloud user;
//! - nfs: packages, files, export directories, services, exports;
//! - management: repository, packages, files, setup-databases (after the database lane), cloud user
//!   grants again (setup-databases recreates the user without PROCESS), setup-management, API answers;
//! - kvm-agent: repository, packages, libvirt files, sockets masked, AppArmor, libvirtd;
//! - template: download into secondary storage as soon as its directory exists (not after package
//!   installs), then its database row once setup-databases ran; secondary storage on another host is
//!   mounted (`nfs.secondary-mount`) around each of the two, after the NFS client is installed.

pub mod template;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::action::apparmor::DisableProfiles;
use crate::action::database::{AdminLogin, CloudUser, DbConn};
use crate::action::dirs::CreateDirs;
use crate::action::executor::Step;
use crate::action::file::{FileKind, FileSpec, MergeFn, WriteFile};
use crate::action::firewall::{ApplyFirewall, Backend};
use crate::action::nfs::ExportFs;
use crate::action::packages::{InstallPackages, PackageManager};
use crate::action::repo::{ConfigureRepo, RepoKey};
use crate::action::selinux::SetSelinux;
use crate::action::service::{Init, Service};
use crate::action::setup::{Arg, Recreate, SetupCommand};
use crate::action::wait::{Target, WaitFor};
use crate::action::{Action, Secret};
use crate::platform::{AccessControl, Firewall, InitSystem, NfsPorts, Platform, PlatformId, Release, RepoForm};
use crate::profile::{Profile, Role};

pub use crate::profile::Secrets as PlanSecrets;

/// Everything a plan is computed from.
pub struct PlanInput<'a> {
    pub profile: &'a Profile,
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

pub struct Plan {
    pub platform: PlatformId,
    pub roles: Vec<Role>,
    pub steps: Vec<Step>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Profile(String),
}

/// Builds the step list; `add` returns the new step's index for later `after` lists.
struct Builder {
    steps: Vec<Step>,
}

impl Builder {
    fn add(&mut self, action: impl Action + 'static, after: &[Option<usize>]) -> usize {
        let mut deps: Vec<usize> = after.iter().flatten().copied().collect();
        deps.sort_unstable();
        deps.dedup();
        self.steps.push(Step { action: Box::new(action), after: deps });
        self.steps.len() - 1
    }
}

fn manager(p: &Platform) -> PackageManager {
    match p.package_manager {
        crate::platform::PackageManager::Apt => PackageManager::Apt,
        crate::platform::PackageManager::Yum => PackageManager::Yum,
        crate::platform::PackageManager::Dnf => PackageManager::Dnf,
    }
}

fn init(p: &Platform) -> Init {
    match p.init {
        InitSystem::Systemd => Init::Systemd,
        InitSystem::SysV => Init::SysV,
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The address part of "192.168.1.4/24".
fn host_ip(profile: &Profile) -> String {
    profile.host.address.split('/').next().unwrap_or("").to_string()
}

/// Compute the plan.
pub fn build(input: &PlanInput) -> Result<Plan, PlanError> {
    let p = input.platform;
    let profile = input.profile;
    let roles = profile.roles();
    let pm = manager(p);
    let init = init(p);
    let mut b = Builder { steps: vec![] };
    let files_for = |role: Option<Role>| -> Vec<FileSpec> { input.files.iter().filter(|f| f.role == role).cloned().collect() };
    let paths_of = |files: &[FileSpec]| -> Vec<PathBuf> { files.iter().map(|f| f.path.clone()).collect() };
    let add_files = |b: &mut Builder, files: &[FileSpec], after: &[Option<usize>]| -> Option<usize> {
        let mut last = None;
        for f in files {
            let mut deps = after.to_vec();
            deps.push(last);
            last = Some(b.add(WriteFile::new(f.clone(), input.merge), &deps));
        }
        last.or_else(|| after.iter().flatten().max().copied())
    };

    // Host lane.
    let mut host_last = None;
    let needs_selinux_off = roles.iter().any(|r| matches!(r, Role::Management | Role::KvmAgent));
    if let (AccessControl::Selinux { .. }, true) = (p.access_control, needs_selinux_off) {
        host_last = Some(b.add(SetSelinux { mode: "permissive".into() }, &[]));
    }
    let base_pkgs = b.add(InstallPackages { manager: pm, packages: strs(p.base.packages), purpose: "base".into() }, &[host_last]);
    let repo_path = match p.repo {
        RepoForm::Yum { path, .. } | RepoForm::Apt { path, .. } => path,
    };
    // The repository file belongs to the repository step (written only for roles that use it).
    let host_files: Vec<FileSpec> = files_for(None).into_iter().filter(|f| f.path != Path::new(repo_path)).collect();
    let host_files_done = add_files(&mut b, &host_files, &[Some(base_pkgs)]);
    let time = b.add(Service::run(init, p.time.service, vec![PathBuf::from(p.time.path)], input.live), &[host_files_done]);
    let fw_service = b.add(Service::run(init, p.firewall.service(), vec![], input.live), &[host_files_done]);
    let mut firewall = Some(fw_service);
    if input.live {
        let backend = match p.firewall {
            Firewall::IptablesFile { path, chain: "INPUT", .. } => Backend::IptablesFile { file: path.into(), chain: "INPUT".into() },
            f => Backend::Reload { file: f.path().into(), argv: strs(f.reload()) },
        };
        firewall = Some(b.add(ApplyFirewall { backend }, &[Some(fw_service)]));
    }
    let _ = time;

    // Database lane.
    let db_row = profile.database.as_ref();
    let mut db_ready = None;
    let local_db = roles.contains(&Role::Database);
    let conn = DbConn {
        host: db_row.map(|d| d.host.clone()).unwrap_or_else(|| "localhost".into()),
        port: db_row.map(|d| d.port).unwrap_or(3306),
        socket: None,
    };
    if local_db {
        let server = p
            .database(db_row.and_then(|d| d.server.as_deref()))
            .ok_or_else(|| PlanError::Profile(format!("database.server: not packaged on {}", p.name)))?;
        let pk = b.add(InstallPackages { manager: pm, packages: strs(server.packages), purpose: "database server".into() }, &[]);
        let f = add_files(&mut b, &files_for(Some(Role::Database)), &[Some(pk)]);
        let svc = b.add(Service::run(init, server.service(), vec![PathBuf::from(server.config)], input.live), &[f]);
        db_ready = Some(svc);
        if input.live {
            let w = b.add(WaitFor { target: Target::Port { host: "127.0.0.1".into(), port: conn.port }, timeout: Duration::from_secs(120) }, &[Some(svc)]);
            let root_pw = input.secrets.db_root.clone().ok_or_else(|| PlanError::Profile("database.root-password: required for the database role".into()))?;
            let login = b.add(AdminLogin { conn: conn.clone(), user: "root".into(), password: root_pw.clone() }, &[Some(w)]);
            db_ready = Some(login);
            if let Some(cloud_pw) = &input.secrets.db_cloud {
                db_ready = Some(b.add(cloud_user(db_row, &conn, &root_pw, cloud_pw), &[Some(login)]));
            }
        }
    }

    // NFS lane.
    let mut secondary_dir = None;
    if roles.contains(&Role::Nfs) {
        let nfs = profile.nfs.as_ref().ok_or_else(|| PlanError::Profile("nfs: the nfs role needs an [nfs] section".into()))?;
        let pk = b.add(InstallPackages { manager: pm, packages: strs(p.nfs_server.packages), purpose: "NFS server".into() }, &[]);
        let nfs_files = files_for(Some(Role::Nfs));
        let f = add_files(&mut b, &nfs_files, &[Some(pk)]);
        // Plain directories need no package: the template download can start right away.
        let dirs = b.add(CreateDirs { dirs: vec![nfs.primary.clone().into(), nfs.secondary.clone().into()], mode: 0o755 }, &[]);
        secondary_dir = Some(dirs);
        let mut config = paths_of(&nfs_files);
        if let NfsPorts::Sysconfig { path } = p.nfs.ports {
            config.push(path.into());
        }
        let mut last = Some(dirs);
        for s in p.nfs_server.services {
            last = Some(b.add(Service::run(init, *s, if *s == "rpcbind" { vec![] } else { config.clone() }, input.live), &[f, last]));
        }
        if input.live {
            let files = nfs_files.iter().filter(|f| f.path.starts_with("/etc/exports")).map(|f| f.path.clone()).collect();
            b.add(ExportFs { exports: vec![nfs.primary.clone().into(), nfs.secondary.clone().into()], files }, &[last, firewall]);
        }
    }

    // Repository (shared by management and kvm-agent).
    let mut repo = None;
    if roles.iter().any(|r| matches!(r, Role::Management | Role::KvmAgent)) {
        let (repo_file, key) = match p.repo {
            RepoForm::Yum { path, .. } => (path, None),
            RepoForm::Apt { path, keyring, .. } => (
                path,
                Some(RepoKey {
                    source: profile.cloudstack.gpg_key.clone().unwrap_or_else(|| "https://download.cloudstack.org/release.asc".into()),
                    dest: keyring.into(),
                }),
            ),
        };
        let repo_files: Vec<FileSpec> = input.files.iter().filter(|f| f.path == Path::new(repo_file)).cloned().collect();
        let rf = add_files(&mut b, &repo_files, &[Some(base_pkgs)]);
        repo = Some(b.add(ConfigureRepo { name: "cloudstack".into(), manager: pm, repo_file: repo_file.into(), key }, &[rf]));
    }
    let not_repo = |files: Vec<FileSpec>| -> Vec<FileSpec> { files.into_iter().filter(|f| f.path != Path::new(repo_path)).collect() };

    // Management lane.
    let mut setup_db = None;
    let mut mgmt_packages = None;
    if roles.contains(&Role::Management) {
        let mut pkgs = strs(p.management.packages);
        pkgs.extend(strs(input.release.management.packages));
        let pk = b.add(InstallPackages { manager: pm, packages: pkgs, purpose: "management server".into() }, &[repo]);
        mgmt_packages = Some(pk);
        let f = add_files(&mut b, &not_repo(files_for(Some(Role::Management))), &[Some(pk)]);
        let cloud_pw = input.secrets.db_cloud.clone().ok_or_else(|| PlanError::Profile("database.cloud-password: required for the management role".into()))?;
        let mut key_steps = vec![];
        let mgmt_key = match &input.secrets.management_key {
            Some(k) => k.clone(),
            None => {
                key_steps.push(Some(b.add(secret_file(MANAGEMENT_KEY_FILE, &input.generated_keys.management), &[])));
                input.generated_keys.management.clone()
            }
        };
        let db_key = match &input.secrets.database_key {
            Some(k) => k.clone(),
            None => {
                key_steps.push(Some(b.add(secret_file(DATABASE_KEY_FILE, &input.generated_keys.database), &[])));
                input.generated_keys.database.clone()
            }
        };
        let conf_dir = PathBuf::from(input.release.paths.management_conf_dir);
        let mut args = vec![Arg::Secret(Secret::new(format!(
            "{}:{}@{}{}",
            db_row.map(|d| d.cloud_user.as_str()).unwrap_or("cloud"),
            cloud_pw.expose(),
            conn.host,
            if conn.port == 3306 { String::new() } else { format!(":{}", conn.port) }
        )))];
        match &input.secrets.db_root {
            Some(root) => args.push(Arg::Secret(Secret::new(format!("--deploy-as=root:{}", root.expose())))),
            None => args.push(Arg::Plain("--schema-only".into())),
        }
        args.extend([Arg::Plain("-e".into()), Arg::Plain("file".into()), Arg::Plain("-m".into()), Arg::Secret(mgmt_key)]);
        args.extend([Arg::Plain("-k".into()), Arg::Secret(db_key), Arg::Plain("-i".into()), Arg::Plain(host_ip(profile))]);
        let mut deps = vec![f, db_ready];
        deps.extend(key_steps);
        // Both setup commands talk to the database server (and setup-management to the service manager):
        // in an image root they are left for the booted host, or a chroot would reach the build host's
        // own server through the shared network.
        if input.live {
            let sdb = b.add(
                SetupCommand {
                    program: input.release.commands.setup_databases.into(),
                    args,
                    creates: vec![conf_dir.join("db.properties"), conf_dir.join("key")],
                    success_text: Some("successfully initialized database".into()),
                    timeout: Duration::from_secs(1800),
                    recreate: match (&input.secrets.db_root, input.release.force_recreate) {
                        (Some(root), true) => Some(Recreate {
                            conn: conn.clone(),
                            user: "root".into(),
                            password: root.clone(),
                            database: "cloud".into(),
                            flag: "--force-recreate".into(),
                        }),
                        _ => None,
                    },
                },
                &deps,
            );
            setup_db = Some(sdb);
            let mut after_db = sdb;
            if let (true, Some(root)) = (local_db, &input.secrets.db_root) {
                // setup-databases recreates the cloud user with its own grants, without PROCESS.
                let cu = cloud_user(db_row, &conn, root, &cloud_pw);
                after_db = b.add(RegrantAfterSetup(cu), &[Some(sdb)]);
            }
            let mut margs = vec![];
            if profile.management.as_ref().is_some_and(|m| m.https) {
                margs.push(Arg::Plain("--https".into()));
            }
            let sm = b.add(
                SetupCommand {
                    program: input.release.commands.setup_management.into(),
                    args: margs,
                    creates: vec![],
                    success_text: Some("Management Server setup is Done".into()),
                    timeout: Duration::from_secs(1800),
                    recreate: None,
                },
                &[Some(after_db), firewall],
            );
            let url = format!("http://{}:8080/client/api", "127.0.0.1");
            // The API hand-off (`cloudstack::actions::install_steps`) follows the whole plan.
            b.add(WaitFor { target: Target::Url(url), timeout: Duration::from_secs(900) }, &[Some(sm)]);
        }
    }

    // KVM agent lane.
    if roles.contains(&Role::KvmAgent) {
        let mut pkgs = strs(p.kvm_agent.packages);
        pkgs.extend(strs(input.release.kvm_agent.packages));
        let pk = b.add(InstallPackages { manager: pm, packages: pkgs, purpose: "KVM agent".into() }, &[repo]);
        let agent_files = not_repo(files_for(Some(Role::KvmAgent)));
        let f = add_files(&mut b, &agent_files, &[Some(pk)]);
        let mut last = f;
        if init == Init::Systemd {
            for s in p.libvirt.masked_sockets {
                last = Some(b.add(Service::mask(*s, input.live), &[last]));
            }
        }
        if let AccessControl::AppArmor { disable_dir, profile_dir, libvirt_profiles } = p.access_control {
            last = Some(b.add(
                DisableProfiles { disable_dir: disable_dir.into(), profile_dir: profile_dir.into(), profiles: strs(libvirt_profiles) },
                &[last],
            ));
        }
        let lv = p.libvirt;
        let config = vec![lv.daemon_conf.into(), lv.client_conf.into(), lv.qemu_conf.into(), lv.defaults.into()];
        b.add(Service::run(init, lv.service, config, input.live), &[last, firewall]);
    }

    // Template lane: starts once the secondary directory exists; only the row waits for the database.
    if let (Some(dir), true, true) = (secondary_dir, roles.contains(&Role::Management), input.live) {
        template::plan(&mut b.steps, profile, input.release, dir, mgmt_packages, setup_db, input.secrets);
    } else if let (Some(client), true) = (mgmt_packages, input.live) {
        // Secondary storage on another host: mount its export (the NFS client comes with the management
        // packages) around the template steps.
        template::plan_remote(&mut b.steps, profile, input.release, client, setup_db, input.secrets);
    }

    Ok(Plan { platform: p.id, roles, steps: b.steps })
}

fn cloud_user(db_row: Option<&crate::profile::Database>, conn: &DbConn, root: &Secret, cloud: &Secret) -> CloudUser {
    CloudUser {
        conn: conn.clone(),
        admin_user: "root".into(),
        admin_password: root.clone(),
        user: db_row.map(|d| d.cloud_user.clone()).unwrap_or_else(|| "cloud".into()),
        password: cloud.clone(),
        hosts: vec!["localhost".into(), "%".into()],
        databases: vec!["cloud".into(), "cloud_usage".into()],
    }
}

fn secret_file(path: &str, value: &Secret) -> WriteFile {
    fn whole(_: Option<&str>, spec: &FileSpec) -> String {
        spec.content.clone()
    }
    let spec = FileSpec {
        path: path.into(),
        content: format!("{}\n", value.expose()),
        mode: 0o600,
        kind: FileKind::Whole,
        role: None,
        what: "generated key".into(),
    };
    WriteFile::new(spec, whole)
}

/// The cloud user's grants checked again after setup-databases (a distinct step id from the first).
struct RegrantAfterSetup(CloudUser);

impl Action for RegrantAfterSetup {
    fn id(&self) -> String {
        format!("{}:after-setup", self.0.id())
    }
    fn describe(&self) -> String {
        format!("{} (again after setup-databases)", self.0.describe())
    }
    fn is_done(&self, ctx: &crate::action::Ctx) -> Result<bool, crate::action::ActionError> {
        self.0.is_done(ctx)
    }
    fn prepare(&self, ctx: &crate::action::Ctx, r: &mut crate::action::Record) -> Result<(), crate::action::ActionError> {
        self.0.prepare(ctx, r)
    }
    fn execute(&self, ctx: &crate::action::Ctx, r: &mut crate::action::Record) -> Result<(), crate::action::ActionError> {
        self.0.execute(ctx, r)
    }
}

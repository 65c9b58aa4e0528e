//! One `Platform` row per distribution: what to install, which services to run, which files to
//! configure and in which format. Consumers (render, engine, preflight) read fields; they never
//! match on `PlatformId` themselves.

use super::PlatformId;
use super::Role;

/// Distribution family (decides package naming conventions and default file layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RHEL, CentOS, Rocky, Alma, Oracle Linux.
    Rhel,
    /// Debian and Ubuntu.
    Debian,
}

/// The package manager and how to drive it without prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageManager {
    Yum,
    Dnf,
    Apt,
}

impl PackageManager {
    /// The command an operator types to install a package ("yum install", "apt install").
    pub fn install_hint(self) -> &'static str {
        match self {
            PackageManager::Yum => "yum install",
            PackageManager::Dnf => "dnf install",
            PackageManager::Apt => "apt install",
        }
    }

    /// The package manager's program, as undo records name it.
    pub fn program(self) -> &'static str {
        match self {
            PackageManager::Yum => "yum",
            PackageManager::Dnf => "dnf",
            PackageManager::Apt => "apt-get",
        }
    }

    /// argv installing `packages` without prompts. Apt keeps the user's changed configuration files
    /// (`--force-confold`) and waits for a package manager run by someone else (unattended-upgrades)
    /// instead of failing; it also needs `env`.
    pub fn install_argv(self, packages: &[String]) -> Vec<String> {
        let head: &[&str] = match self {
            PackageManager::Apt => &[
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "-o",
                "Dpkg::Options::=--force-confold",
                "-o",
                "DPkg::Lock::Timeout=600",
            ],
            m => &[m.program(), "-y", "install"],
        };
        argv(head, packages)
    }

    /// argv removing `packages` without prompts.
    pub fn remove_argv(self, packages: &[String]) -> Vec<String> {
        let head: &[&str] = match self {
            PackageManager::Apt => &["apt-get", "remove", "-y", "-q"],
            m => &[m.program(), "-y", "remove"],
        };
        argv(head, packages)
    }

    /// argv refreshing the package index after a repository was added.
    pub fn refresh_argv(self) -> Vec<String> {
        let head: &[&str] = match self {
            PackageManager::Apt => &["apt-get", "update", "-q"],
            m => &[m.program(), "-y", "makecache"],
        };
        argv(head, &[])
    }

    /// Environment the package manager needs to never prompt.
    pub fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            PackageManager::Apt => &[("DEBIAN_FRONTEND", "noninteractive")],
            _ => &[],
        }
    }
}

fn argv(head: &[&str], tail: &[String]) -> Vec<String> {
    head.iter().map(|s| s.to_string()).chain(tail.iter().cloned()).collect()
}

/// What to do with a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceVerb {
    Enable,
    Disable,
    Start,
    Stop,
    Restart,
    Mask,
    Unmask,
    /// Exits 0 when the service is running.
    IsActive,
}

/// The init system, and the commands that start and enable a service with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitSystem {
    /// SysV init scripts driven by `service` and `chkconfig` (EL6).
    SysV,
    Systemd,
}

impl InitSystem {
    /// What an operator types to start `service` now and at every boot.
    pub fn enable_now_hint(self, service: &str) -> String {
        match self {
            InitSystem::SysV => format!("`service {service} restart; chkconfig {service} on`"),
            InitSystem::Systemd => format!("`systemctl enable --now {service}`"),
        }
    }

    /// argv doing `verb` to `service`; `None` where this init system has no such thing (masking on SysV,
    /// where nothing is socket-activated).
    pub fn argv(self, verb: ServiceVerb, service: &str) -> Option<Vec<String>> {
        use ServiceVerb::*;
        let v: Vec<&str> = match (self, verb) {
            (InitSystem::Systemd, IsActive) => vec!["systemctl", "is-active", "--quiet", service],
            (InitSystem::Systemd, verb) => vec!["systemctl", systemctl_verb(verb), service],
            (InitSystem::SysV, Enable) => vec!["chkconfig", service, "on"],
            (InitSystem::SysV, Disable) => vec!["chkconfig", service, "off"],
            (InitSystem::SysV, Start) => vec!["service", service, "start"],
            (InitSystem::SysV, Stop) => vec!["service", service, "stop"],
            (InitSystem::SysV, Restart) => vec!["service", service, "restart"],
            (InitSystem::SysV, IsActive) => vec!["service", service, "status"],
            (InitSystem::SysV, Mask | Unmask) => return None,
        };
        Some(v.into_iter().map(String::from).collect())
    }

    /// argv that exits 0 when `service` is running.
    pub fn status_argv(self, service: &str) -> Vec<String> {
        self.argv(ServiceVerb::IsActive, service).expect("every init system tells whether a service runs")
    }
}

fn systemctl_verb(verb: ServiceVerb) -> &'static str {
    match verb {
        ServiceVerb::Enable => "enable",
        ServiceVerb::Disable => "disable",
        ServiceVerb::Start => "start",
        ServiceVerb::Stop => "stop",
        ServiceVerb::Restart => "restart",
        ServiceVerb::Mask => "mask",
        ServiceVerb::Unmask => "unmask",
        ServiceVerb::IsActive => "is-active",
    }
}

/// How the host firewall is configured. The rendered rules allow each role's ports from the
/// configured networks only and come before any REJECT/DROP the user already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firewall {
    /// An iptables-restore file loaded at boot; our rules are a managed block at the top of `chain`
    /// in its `*filter` table (EL6 iptables service, Debian iptables-persistent, Ubuntu ufw's before.rules).
    IptablesFile {
        path: &'static str,
        /// Chain our `-A` rules go to: `INPUT`, or `ufw-before-input` for ufw.
        chain: &'static str,
        package: &'static str,
        service: &'static str,
        /// argv that reloads the rules from the file.
        reload: &'static [&'static str],
    },
    /// firewalld (EL8/EL9): a policy object from ANY zone to HOST, priority before zone rules, whose rich
    /// rules accept our ports from our networks only and leave everything else to the zones (target CONTINUE).
    /// Needs firewalld 0.9 or later (RHEL 8.3+).
    FirewalldPolicy {
        path: &'static str,
        package: &'static str,
        service: &'static str,
        reload: &'static [&'static str],
    },
}

impl Firewall {
    pub fn package(&self) -> &'static str {
        match self {
            Firewall::IptablesFile { package, .. } | Firewall::FirewalldPolicy { package, .. } => package,
        }
    }
    pub fn service(&self) -> &'static str {
        match self {
            Firewall::IptablesFile { service, .. } | Firewall::FirewalldPolicy { service, .. } => service,
        }
    }
    pub fn path(&self) -> &'static str {
        match self {
            Firewall::IptablesFile { path, .. } | Firewall::FirewalldPolicy { path, .. } => path,
        }
    }
    pub fn reload(&self) -> &'static [&'static str] {
        match self {
            Firewall::IptablesFile { reload, .. } | Firewall::FirewalldPolicy { reload, .. } => reload,
        }
    }
}

/// Mandatory access control and what CloudStack needs relaxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessControl {
    /// `SELINUX=permissive` is set in `config` (key in place) and `setenforce permissive` run.
    Selinux { config: &'static str },
    /// These AppArmor profiles are linked into `disable_dir` and unloaded with `apparmor_parser -R`
    /// (kvm-agent role: libvirt must reach NFS primary storage and the system VM images).
    AppArmor { disable_dir: &'static str, profile_dir: &'static str, libvirt_profiles: &'static [&'static str] },
}

/// How static addresses and bridges are configured (rendered only with `agent.configure-bridges`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkConfig {
    /// `ifcfg-<name>` files in `dir` (network-scripts; NetworkManager reads them through ifcfg-rh on EL8/EL9).
    Ifcfg { dir: &'static str },
    /// A netplan YAML file (mode 0600) with `bridges:`.
    Netplan { path: &'static str },
    /// An ifupdown stanza file, sourced by Debian's default /etc/network/interfaces; needs bridge-utils.
    Ifupdown { path: &'static str },
}

/// Time service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeService {
    pub kind: TimeKind,
    pub package: &'static str,
    pub service: &'static str,
    /// File holding our `server` lines.
    pub path: &'static str,
    /// `true`: `path` is a drop-in of ours (whole file); `false`: a managed block at the end of the
    /// distribution's config file.
    pub dropin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    Ntpd,
    Chrony,
}

/// Where the NFS server's fixed ports are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsPorts {
    /// EL6 `/etc/sysconfig/nfs`: `LOCKD_TCPPORT=...` shell variables, set in place.
    Sysconfig { path: &'static str },
    /// nfs-utils 2.x `/etc/nfs.conf` sections `[lockd] [mountd] [statd]`: a drop-in in `dropin` when this
    /// nfs-utils reads /etc/nfs.conf.d, otherwise keys set in place in `path`.
    NfsConf { path: &'static str, dropin: Option<&'static str> },
}

/// NFS server layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfsLayout {
    /// The exports file (a managed block there when there is no drop-in directory).
    pub exports: &'static str,
    /// Our own exports file when nfs-utils reads /etc/exports.d (1.2.8+).
    pub exports_dropin: Option<&'static str>,
    pub ports: NfsPorts,
    /// NFSv4 id mapping; `Domain` set in place in its `[General]` section.
    pub idmapd: &'static str,
}

/// Packages and services of one role (OS side; the CloudStack packages come from the `Release`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSpec {
    /// Installed in this order, before the release's packages for the role.
    pub packages: &'static [&'static str],
    /// Enabled and started in this order, before the release's services for the role.
    pub services: &'static [&'static str],
}

/// The provisioning role (network installs of the fleet's hosts): Debian's or EL's own dnsmasq (DHCP and
/// TFTP), iPXE loaders, nginx, and xorriso to take the installer's kernel and initrd off its ISO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provisioning {
    pub spec: RoleSpec,
    /// iPXE for BIOS machines whose firmware is not iPXE already (chained through its PXE stack).
    pub bios_loader: &'static str,
    /// iPXE for x86-64 UEFI machines (using the firmware's network driver).
    pub efi_loader: &'static str,
    /// Our dnsmasq drop-in (the packaged dnsmasq.conf reads the directory).
    pub dnsmasq_conf: &'static str,
    /// Our nginx server block.
    pub nginx_conf: &'static str,
    /// The user nginx's workers run as: it owns the directories hosts write to.
    pub web_user: &'static str,
}

const DEB_PROVISIONING: Provisioning = Provisioning {
    spec: RoleSpec { packages: &["dnsmasq", "ipxe", "nginx", "xorriso"], services: &["dnsmasq", "nginx"] },
    bios_loader: "/usr/lib/ipxe/undionly.kpxe",
    efi_loader: "/usr/lib/ipxe/snponly.efi",
    dnsmasq_conf: "/etc/dnsmasq.d/cloudstrap-fleet.conf",
    nginx_conf: "/etc/nginx/conf.d/cloudstrap-fleet.conf",
    web_user: "www-data",
};

const EL_PROVISIONING: Provisioning = Provisioning {
    spec: RoleSpec { packages: &["dnsmasq", "ipxe-bootimgs-x86", "nginx", "xorriso"], services: &["dnsmasq", "nginx"] },
    bios_loader: "/usr/share/ipxe/undionly.kpxe",
    efi_loader: "/usr/share/ipxe/ipxe-snponly-x86_64.efi",
    dnsmasq_conf: "/etc/dnsmasq.d/cloudstrap-fleet.conf",
    nginx_conf: "/etc/nginx/conf.d/cloudstrap-fleet.conf",
    web_user: "nginx",
};

/// Database server flavour a profile can ask for (`database.server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFlavour {
    Mysql,
    Mariadb,
}

impl DatabaseServer {
    pub fn service(&self) -> &'static str {
        self.services[0]
    }
}

impl DbFlavour {
    pub fn as_str(self) -> &'static str {
        match self {
            DbFlavour::Mysql => "mysql",
            DbFlavour::Mariadb => "mariadb",
        }
    }
}

/// One installable database server on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseServer {
    pub flavour: DbFlavour,
    pub packages: &'static [&'static str],
    /// Its service (one name, as a slice so it doubles as a `RoleSpec`).
    pub services: &'static [&'static str],
    /// File holding the `[mysqld]` settings CloudStack needs.
    pub config: &'static str,
    /// `true`: `config` is our drop-in (whole file, must sort after the distribution's own server file so
    /// our `bind-address` wins); `false`: a managed block at the end of the distribution's my.cnf (EL6).
    pub dropin: bool,
}

/// libvirt on a KVM host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Libvirt {
    pub service: &'static str,
    /// libvirtd.conf: `listen_tcp`, `tcp_port`, `auth_tcp` ... set in place.
    pub daemon_conf: &'static str,
    /// libvirt.conf (client): `remote_mode = "legacy"` set in place when `remote_mode_legacy`.
    pub client_conf: &'static str,
    pub remote_mode_legacy: bool,
    /// qemu.conf: `vnc_listen` set in place.
    pub qemu_conf: &'static str,
    /// Defaults file holding `LIBVIRTD_ARGS="--listen"`, set in place.
    pub defaults: &'static str,
    /// Socket units to mask so libvirtd runs as a daemon with `--listen` (empty: not socket-activated).
    pub masked_sockets: &'static [&'static str],
}

/// Where CloudStack packages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoForm {
    /// A yum/dnf `.repo` file; default baseurl `<base>/el/<el_major>/<X.Y>/`.
    Yum { path: &'static str, el_major: u8 },
    /// An apt source line `deb [signed-by=<keyring>] <base>/<distro> <codename> <X.Y>`; the key (ASCII armoured)
    /// is fetched to `keyring` by the installer.
    Apt { path: &'static str, keyring: &'static str, distro: &'static str, codename: &'static str },
}

/// How a distribution names itself in os-release: an `ID` among `ids` (or an `ID_LIKE` among `like`), and a
/// `VERSION_ID` equal to `version` or whose major number is `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsRelease {
    pub ids: &'static [&'static str],
    pub like: &'static [&'static str],
    pub version: &'static str,
}

impl OsRelease {
    pub fn matches(&self, id: &str, id_like: &[String], version_id: &str) -> bool {
        let named = self.ids.contains(&id) || id_like.iter().any(|l| self.like.contains(&l.as_str()));
        named && (version_id == self.version || version_id.split('.').next() == Some(self.version))
    }
}

/// RHEL and its rebuilds (EL6's redhat-release is read as `rhel`/`centos`/... too).
const EL_IDS: &[&str] = &["rhel", "centos", "rocky", "almalinux", "ol", "redhat"];
const EL_LIKE: &[&str] = &["rhel", "centos"];
const fn el(version: &'static str) -> OsRelease {
    OsRelease { ids: EL_IDS, like: EL_LIKE, version }
}

/// A distribution, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub id: PlatformId,
    /// Name shown to users.
    pub name: &'static str,
    pub family: Family,
    pub package_manager: PackageManager,
    pub init: InitSystem,
    pub firewall: Firewall,
    pub access_control: AccessControl,
    pub network: NetworkConfig,
    pub time: TimeService,
    pub nfs: NfsLayout,
    /// Installable database servers; the first is the default when `database.server` is not given.
    pub databases: &'static [DatabaseServer],
    /// Packages every role needs (time service, firewall tooling).
    pub base: RoleSpec,
    /// NFS server role.
    pub nfs_server: RoleSpec,
    /// Management role (OS side: NFS client to mount secondary storage for template seeding).
    pub management: RoleSpec,
    /// KVM agent role (OS side: hypervisor, libvirt, NFS client).
    pub kvm_agent: RoleSpec,
    /// Provisioning role; `None` where cloudstrap does not offer it (EL6).
    pub provisioning: Option<Provisioning>,
    pub libvirt: Libvirt,
    pub repo: RepoForm,
    /// Drop-in directory for sudoers (`#includedir` in the stock sudoers on every supported platform).
    pub sudoers_dir: &'static str,
    pub hosts: &'static str,
    /// Shell-style file whose `HOSTNAME=` key holds the persistent host name (EL6's /etc/sysconfig/network);
    /// `None` where systemd keeps it and the installer runs `hostnamectl set-hostname`.
    pub hostname_file: Option<&'static str>,
    /// How the distribution names itself (host detection).
    pub os_release: OsRelease,
    /// How an operator makes an interface's address static here (preflight's remedy): `{dev}`, `{address}`
    /// (with prefix), `{ip}`, `{gateway}` and `{file}` (the interface's configuration file) are filled in.
    pub static_address_howto: &'static str,
    /// CloudStack release lines with packages for this platform.
    pub releases: &'static [&'static str],
}

impl Platform {
    /// The row for `id`.
    pub fn get(id: PlatformId) -> &'static Platform {
        PLATFORMS.iter().find(|p| p.id == id).expect("every PlatformId has a row")
    }

    /// The database server for an optional `database.server` ("mysql" / "mariadb"); `None` when the
    /// flavour asked for is not packaged here.
    pub fn database(&self, wanted: Option<&str>) -> Option<&'static DatabaseServer> {
        match wanted {
            None => self.databases.first(),
            Some(w) => self.databases.iter().find(|d| d.flavour.as_str() == w),
        }
    }

    /// OS packages and services of a concrete role (database: the default server; see `database`).
    /// `Role::AllInOne` gives the base spec; expand it with `Profile::roles` first.
    pub fn role(&self, role: Role) -> RoleSpec {
        match role {
            Role::Database => {
                let db = self.databases[0];
                RoleSpec { packages: db.packages, services: db.services }
            }
            Role::Nfs => self.nfs_server,
            Role::Management => self.management,
            Role::KvmAgent => self.kvm_agent,
            Role::Provisioning => self.provisioning.map(|p| p.spec).unwrap_or(RoleSpec { packages: &[], services: &[] }),
            Role::AllInOne => self.base,
        }
    }

    pub fn supports_release(&self, line: &str) -> bool {
        self.releases.contains(&line)
    }
}

const IFCFG_DIR: &str = "/etc/sysconfig/network-scripts";
const EXPORTS: &str = "/etc/exports";
const EXPORTS_DROPIN: Option<&str> = Some("/etc/exports.d/cloudstrap.exports");
const IDMAPD: &str = "/etc/idmapd.conf";
const SUDOERS_DIR: &str = "/etc/sudoers.d";
const HOSTS: &str = "/etc/hosts";
const LIBVIRT_SOCKETS: &[&str] =
    &["libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket", "libvirtd-tls.socket", "libvirtd-tcp.socket"];
const APPARMOR_LIBVIRT: &[&str] = &["usr.sbin.libvirtd", "usr.lib.libvirt.virt-aa-helper"];

const EL_DATABASES: &[DatabaseServer] = &[
    DatabaseServer {
        flavour: DbFlavour::Mysql,
        packages: &["mysql-server"],
        services: &["mysqld"],
        config: "/etc/my.cnf.d/cloudstack.cnf",
        dropin: true,
    },
    DatabaseServer {
        flavour: DbFlavour::Mariadb,
        packages: &["mariadb-server"],
        services: &["mariadb"],
        config: "/etc/my.cnf.d/cloudstack.cnf",
        dropin: true,
    },
];

// Ubuntu's MySQL reads conf.d before mysql.conf.d (whose mysqld.cnf binds 127.0.0.1), and MariaDB's
// mariadb.conf.d/50-server.cnf does the same: our files sort after those so bind-address is ours.
const UBUNTU_DATABASES: &[DatabaseServer] = &[
    DatabaseServer {
        flavour: DbFlavour::Mysql,
        packages: &["mysql-server"],
        services: &["mysql"],
        config: "/etc/mysql/mysql.conf.d/zz-cloudstack.cnf",
        dropin: true,
    },
    DatabaseServer {
        flavour: DbFlavour::Mariadb,
        packages: &["mariadb-server"],
        services: &["mariadb"],
        config: "/etc/mysql/mariadb.conf.d/99-cloudstack.cnf",
        dropin: true,
    },
];

const EL_FIREWALLD: Firewall = Firewall::FirewalldPolicy {
    path: "/etc/firewalld/policies/cloudstrap.xml",
    package: "firewalld",
    service: "firewalld",
    reload: &["firewall-cmd", "--reload"],
};

const UFW: Firewall = Firewall::IptablesFile {
    path: "/etc/ufw/before.rules",
    chain: "ufw-before-input",
    package: "ufw",
    service: "ufw",
    reload: &["ufw", "reload"],
};

const CHRONY_EL: TimeService = TimeService {
    kind: TimeKind::Chrony,
    package: "chrony",
    service: "chronyd",
    path: "/etc/chrony.conf",
    dropin: false,
};
// Debian and Ubuntu's chrony.conf reads `sourcedir /etc/chrony/sources.d`.
const CHRONY_DEB: TimeService = TimeService {
    kind: TimeKind::Chrony,
    package: "chrony",
    service: "chrony",
    path: "/etc/chrony/sources.d/cloudstrap.sources",
    dropin: true,
};

const NFS_EL8: NfsLayout = NfsLayout {
    exports: EXPORTS,
    exports_dropin: EXPORTS_DROPIN,
    // nfs.conf.d support in EL8's nfs-utils 2.3 is absent and unverified in EL9's 2.5: keys in place.
    ports: NfsPorts::NfsConf { path: "/etc/nfs.conf", dropin: None },
    idmapd: IDMAPD,
};
const NFS_DEB: NfsLayout = NfsLayout {
    exports: EXPORTS,
    exports_dropin: EXPORTS_DROPIN,
    ports: NfsPorts::NfsConf { path: "/etc/nfs.conf", dropin: Some("/etc/nfs.conf.d/cloudstrap.conf") },
    idmapd: IDMAPD,
};

/// libvirt of a platform: the file its defaults (`LIBVIRTD_ARGS`) live in and whether clients need legacy remote mode.
const fn libvirt(defaults: &'static str, remote_mode_legacy: bool) -> Libvirt {
    Libvirt {
        service: "libvirtd",
        daemon_conf: "/etc/libvirt/libvirtd.conf",
        client_conf: "/etc/libvirt/libvirt.conf",
        remote_mode_legacy,
        qemu_conf: "/etc/libvirt/qemu.conf",
        defaults,
        masked_sockets: LIBVIRT_SOCKETS,
    }
}

const fn el_libvirt(remote_mode_legacy: bool) -> Libvirt {
    libvirt("/etc/sysconfig/libvirtd", remote_mode_legacy)
}

const fn deb_libvirt(remote_mode_legacy: bool) -> Libvirt {
    libvirt("/etc/default/libvirtd", remote_mode_legacy)
}

const EL_BASE: RoleSpec = RoleSpec { packages: &["chrony", "firewalld"], services: &["chronyd", "firewalld"] };
const EL_NFS: RoleSpec = RoleSpec { packages: &["nfs-utils", "rpcbind"], services: &["rpcbind", "nfs-server"] };
const EL_MGMT: RoleSpec = RoleSpec { packages: &["nfs-utils"], services: &[] };
// EPEL carries dependencies of cloudstack-agent on EL.
const EL_KVM: RoleSpec =
    RoleSpec { packages: &["epel-release", "qemu-kvm", "libvirt", "nfs-utils"], services: &["libvirtd"] };
const DEB_NFS: RoleSpec =
    RoleSpec { packages: &["nfs-kernel-server", "rpcbind"], services: &["rpcbind", "nfs-server"] };
const DEB_MGMT: RoleSpec = RoleSpec { packages: &["nfs-common"], services: &[] };
const DEB_KVM: RoleSpec = RoleSpec {
    packages: &["qemu-system-x86", "libvirt-daemon-system", "nfs-common", "bridge-utils"],
    services: &["libvirtd"],
};

/// EL8; the EL9 row in `PLATFORMS` names only what differs from it.
const EL8: Platform = Platform {
    id: PlatformId::El8,
    name: "RHEL 8 and rebuilds (Rocky, Alma, Oracle)",
    family: Family::Rhel,
    package_manager: PackageManager::Dnf,
    init: InitSystem::Systemd,
    firewall: EL_FIREWALLD,
    access_control: AccessControl::Selinux { config: "/etc/selinux/config" },
    network: NetworkConfig::Ifcfg { dir: IFCFG_DIR },
    time: CHRONY_EL,
    nfs: NFS_EL8,
    databases: EL_DATABASES,
    base: EL_BASE,
    nfs_server: EL_NFS,
    management: EL_MGMT,
    kvm_agent: EL_KVM,
    // EL8 names the package ipxe-bootimgs and ships no SNP-only build.
    provisioning: Some(Provisioning {
        spec: RoleSpec { packages: &["dnsmasq", "ipxe-bootimgs", "nginx", "xorriso"], services: &["dnsmasq", "nginx"] },
        efi_loader: "/usr/share/ipxe/ipxe-x86_64.efi",
        ..EL_PROVISIONING
    }),
    libvirt: el_libvirt(false),
    repo: RepoForm::Yum { path: "/etc/yum.repos.d/cloudstack.repo", el_major: 8 },
    sudoers_dir: SUDOERS_DIR,
    hosts: HOSTS,
    hostname_file: None,
    os_release: el("8"),
    static_address_howto: "`nmcli con mod {dev} ipv4.method manual ipv4.addresses {address} ipv4.gateway {gateway} ipv4.dns <dns>` \
        (stored in /etc/NetworkManager/system-connections/{dev}.nmconnection, or ifcfg-{dev} on el8), then `nmcli con up {dev}`",
    releases: &["4.19", "4.20", "4.21", "4.22"],
};

/// Ubuntu 22.04; the 24.04 row in `PLATFORMS` names only what differs from it.
const UBUNTU_2204: Platform = Platform {
    id: PlatformId::Ubuntu2204,
    name: "Ubuntu 22.04 LTS",
    family: Family::Debian,
    package_manager: PackageManager::Apt,
    init: InitSystem::Systemd,
    firewall: UFW,
    access_control: AccessControl::AppArmor {
        disable_dir: "/etc/apparmor.d/disable",
        profile_dir: "/etc/apparmor.d",
        libvirt_profiles: APPARMOR_LIBVIRT,
    },
    network: NetworkConfig::Netplan { path: "/etc/netplan/99-cloudstrap.yaml" },
    time: CHRONY_DEB,
    nfs: NFS_DEB,
    databases: UBUNTU_DATABASES,
    base: RoleSpec { packages: &["chrony", "ufw"], services: &["chrony"] },
    nfs_server: DEB_NFS,
    management: DEB_MGMT,
    kvm_agent: RoleSpec {
        packages: &["qemu-kvm", "libvirt-daemon-system", "nfs-common", "bridge-utils"],
        services: &["libvirtd"],
    },
    provisioning: Some(DEB_PROVISIONING),
    libvirt: deb_libvirt(false),
    repo: RepoForm::Apt {
        path: "/etc/apt/sources.list.d/cloudstack.list",
        keyring: "/etc/apt/keyrings/cloudstack.asc",
        distro: "ubuntu",
        codename: "jammy",
    },
    sudoers_dir: SUDOERS_DIR,
    hosts: HOSTS,
    hostname_file: None,
    os_release: OsRelease { ids: &["ubuntu"], like: &[], version: "22.04" },
    static_address_howto: "edit {file}: `dhcp4: false`, `addresses: [{address}]`, `routes: [{to: default, via: {gateway}}]`, \
        `nameservers: {addresses: [<dns>]}`; then `netplan try` (rolls back unless confirmed)",
    releases: &["4.19", "4.20", "4.21", "4.22"],
};

/// Every supported platform.
pub static PLATFORMS: [Platform; 6] = [
    Platform {
        id: PlatformId::El6,
        name: "CentOS/RHEL 6",
        family: Family::Rhel,
        package_manager: PackageManager::Yum,
        init: InitSystem::SysV,
        firewall: Firewall::IptablesFile {
            path: "/etc/sysconfig/iptables",
            chain: "INPUT",
            package: "iptables",
            service: "iptables",
            reload: &["service", "iptables", "restart"],
        },
        access_control: AccessControl::Selinux { config: "/etc/selinux/config" },
        network: NetworkConfig::Ifcfg { dir: IFCFG_DIR },
        time: TimeService {
            kind: TimeKind::Ntpd,
            package: "ntp",
            service: "ntpd",
            path: "/etc/ntp.conf",
            dropin: false,
        },
        nfs: NfsLayout {
            exports: EXPORTS,
            // EL6's nfs-utils 1.2.3 predates /etc/exports.d.
            exports_dropin: None,
            ports: NfsPorts::Sysconfig { path: "/etc/sysconfig/nfs" },
            idmapd: IDMAPD,
        },
        databases: &[DatabaseServer {
            flavour: DbFlavour::Mysql,
            packages: &["mysql-server"],
            services: &["mysqld"],
            config: "/etc/my.cnf",
            dropin: false,
        }],
        base: RoleSpec { packages: &["ntp", "iptables"], services: &["ntpd", "iptables"] },
        nfs_server: RoleSpec { packages: &["nfs-utils", "rpcbind"], services: &["rpcbind", "nfs"] },
        management: RoleSpec { packages: &["nfs-utils"], services: &[] },
        kvm_agent: RoleSpec { packages: &["qemu-kvm", "libvirt", "nfs-utils"], services: &["libvirtd"] },
        provisioning: None,
        libvirt: Libvirt {
            service: "libvirtd",
            daemon_conf: "/etc/libvirt/libvirtd.conf",
            client_conf: "/etc/libvirt/libvirt.conf",
            remote_mode_legacy: false,
            qemu_conf: "/etc/libvirt/qemu.conf",
            defaults: "/etc/sysconfig/libvirtd",
            masked_sockets: &[],
        },
        repo: RepoForm::Yum { path: "/etc/yum.repos.d/cloudstack.repo", el_major: 6 },
        sudoers_dir: SUDOERS_DIR,
        hosts: HOSTS,
        hostname_file: Some("/etc/sysconfig/network"),
        os_release: el("6"),
        static_address_howto: "edit /etc/sysconfig/network-scripts/ifcfg-{dev}: BOOTPROTO=static, IPADDR={ip}, NETMASK=<mask>, \
            GATEWAY={gateway}, ONBOOT=yes, DNS1=<dns>; then `service network restart`",
        releases: &["3.0.2"],
    },
    EL8,
    Platform {
        id: PlatformId::El9,
        name: "RHEL 9 and rebuilds (Rocky, Alma, Oracle)",
        libvirt: el_libvirt(true),
        provisioning: Some(EL_PROVISIONING),
        repo: RepoForm::Yum { path: "/etc/yum.repos.d/cloudstack.repo", el_major: 9 },
        os_release: el("9"),
        ..EL8
    },
    UBUNTU_2204,
    Platform {
        id: PlatformId::Ubuntu2404,
        name: "Ubuntu 24.04 LTS",
        kvm_agent: DEB_KVM,
        libvirt: deb_libvirt(true),
        repo: RepoForm::Apt {
            path: "/etc/apt/sources.list.d/cloudstack.list",
            keyring: "/etc/apt/keyrings/cloudstack.asc",
            distro: "ubuntu",
            codename: "noble",
        },
        os_release: OsRelease { ids: &["ubuntu"], like: &[], version: "24.04" },
        ..UBUNTU_2204
    },
    Platform {
        id: PlatformId::Debian12,
        name: "Debian 12 (bookworm)",
        family: Family::Debian,
        package_manager: PackageManager::Apt,
        init: InitSystem::Systemd,
        // Debian has no firewall enabled by default; iptables-persistent loads rules.v4 at boot.
        firewall: Firewall::IptablesFile {
            path: "/etc/iptables/rules.v4",
            chain: "INPUT",
            package: "iptables-persistent",
            service: "netfilter-persistent",
            reload: &["netfilter-persistent", "reload"],
        },
        // Debian enables AppArmor since 10 and libvirt ships the same profiles as on Ubuntu.
        access_control: AccessControl::AppArmor {
            disable_dir: "/etc/apparmor.d/disable",
            profile_dir: "/etc/apparmor.d",
            libvirt_profiles: APPARMOR_LIBVIRT,
        },
        network: NetworkConfig::Ifupdown { path: "/etc/network/interfaces.d/cloudstrap" },
        time: CHRONY_DEB,
        nfs: NFS_DEB,
        // Debian 12 packages no MySQL server.
        databases: &[DatabaseServer {
            flavour: DbFlavour::Mariadb,
            packages: &["mariadb-server"],
            services: &["mariadb"],
            config: "/etc/mysql/mariadb.conf.d/99-cloudstack.cnf",
            dropin: true,
        }],
        base: RoleSpec {
            packages: &["chrony", "iptables", "iptables-persistent"],
            services: &["chrony", "netfilter-persistent"],
        },
        nfs_server: DEB_NFS,
        management: DEB_MGMT,
        kvm_agent: DEB_KVM,
        provisioning: Some(DEB_PROVISIONING),
        libvirt: deb_libvirt(false),
        repo: RepoForm::Apt {
            path: "/etc/apt/sources.list.d/cloudstack.list",
            keyring: "/etc/apt/keyrings/cloudstack.asc",
            distro: "debian",
            codename: "bookworm",
        },
        sudoers_dir: SUDOERS_DIR,
        hosts: HOSTS,
        hostname_file: None,
        os_release: OsRelease { ids: &["debian"], like: &[], version: "12" },
        static_address_howto: "edit /etc/network/interfaces: `iface {dev} inet static` with `address {address}` and \
            `gateway {gateway}` (DNS in /etc/resolv.conf); then `ifdown {dev} && ifup {dev}` from the console",
        releases: &["4.22"],
    },
];

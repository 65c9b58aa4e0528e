//! The data preflight judges by: what each role needs (memory, disk, ports), and the remedies filled in from
//! the platform rows (which releases run where is the platform table's). Change the tables, not the checks.

use crate::platform::{Family, Platform, PlatformId};
use crate::platform::Role;

const GIB: u64 = 1 << 30;

/// Memory a role needs (upstream's minimum system requirements: 4 GB for the management server and
/// for a KVM host). A host with "4 GB" reports a little less as MemTotal, hence the 90 % allowance.
pub fn memory_minimum(role: Role) -> u64 {
    match role {
        Role::Management | Role::KvmAgent => 4 * GIB,
        Role::Database => GIB,
        Role::Nfs | Role::Provisioning => GIB / 2,
        Role::AllInOne => 4 * GIB,
    }
}
pub const MEMORY_ALLOWANCE_PERCENT: u64 = 90;
/// Management server and KVM agent on one host: the JVM and the guests share the memory.
pub const MEMORY_SHARED_WARN: u64 = 8 * GIB;

/// A free-space requirement on the filesystem holding `path`.
#[derive(Debug, Clone)]
pub struct DiskNeed {
    pub path: String,
    pub fail_below: u64,
    pub warn_below: u64,
    pub what: &'static str,
}

/// Free space each role needs, and where. `primary`/`secondary` are the NFS export paths.
pub fn disk_needs(role: Role, primary: &str, secondary: &str) -> Vec<DiskNeed> {
    match role {
        Role::Management => vec![DiskNeed { path: "/var".into(), fail_below: 5 * GIB, warn_below: 20 * GIB, what: "packages and management logs" }],
        Role::Database => vec![DiskNeed { path: "/var/lib".into(), fail_below: 2 * GIB, warn_below: 10 * GIB, what: "the cloud databases" }],
        Role::Nfs => vec![
            DiskNeed {
                path: secondary.into(),
                fail_below: 10 * GIB,
                warn_below: 100 * GIB,
                what: "secondary storage: the system VM template, templates, ISOs, snapshots",
            },
            DiskNeed { path: primary.into(), fail_below: 10 * GIB, warn_below: 50 * GIB, what: "primary storage: VM disks" },
        ],
        Role::KvmAgent => vec![DiskNeed { path: "/".into(), fail_below: 10 * GIB, warn_below: 36 * GIB, what: "the KVM host system" }],
        Role::Provisioning => vec![DiskNeed { path: "/srv".into(), fail_below: 2 * GIB, warn_below: 5 * GIB, what: "the installer ISO the fleet boots from" }],
        Role::AllInOne => vec![],
    }
}

/// Who may hold a port: the role's own service (then the port counts as ours).
#[derive(Debug, Clone, Copy)]
pub struct PortNeed {
    pub port: u16,
    pub tcp: bool,
    pub udp: bool,
    pub what: &'static str,
    /// Process names of the role's own service.
    pub owners: &'static [&'static str],
    /// Held by the kernel (no process) when the service is the in-kernel NFS server.
    pub kernel: bool,
}

const fn p(port: u16, tcp: bool, udp: bool, what: &'static str, owners: &'static [&'static str], kernel: bool) -> PortNeed {
    PortNeed { port, tcp, udp, what, owners, kernel }
}

const JAVA: &[&str] = &["java"];

pub fn port_needs(role: Role) -> &'static [PortNeed] {
    const MGMT: &[PortNeed] = &[
        p(8080, true, false, "UI and API", JAVA, false),
        p(8250, true, false, "agents and system VMs", JAVA, false),
        p(9090, true, false, "management cluster", JAVA, false),
    ];
    const DB: &[PortNeed] = &[p(3306, true, false, "database", &["mysqld", "mariadbd"], false)];
    const NFS: &[PortNeed] = &[
        p(111, true, true, "rpcbind", &["rpcbind", "portmap"], false),
        p(2049, true, false, "nfsd", &["ganesha.nfsd"], true),
        p(892, true, true, "mountd", &["rpc.mountd", "ganesha.nfsd"], false),
        p(875, true, true, "rquotad", &["rpc.rquotad", "ganesha.nfsd"], false),
        p(662, true, true, "statd", &["rpc.statd"], false),
        p(32803, true, false, "lockd", &[], true),
        p(32769, false, true, "lockd", &[], true),
    ];
    const KVM: &[PortNeed] = &[p(16509, true, false, "libvirtd", &["libvirtd", "virtproxyd"], false)];
    const PROVISIONING: &[PortNeed] = &[p(67, false, true, "DHCP", &["dnsmasq"], false), p(69, false, true, "TFTP", &["dnsmasq"], false)];
    match role {
        Role::Management => MGMT,
        Role::Database => DB,
        Role::Nfs => NFS,
        Role::KvmAgent => KVM,
        Role::Provisioning => PROVISIONING,
        Role::AllInOne => &[],
    }
}

/// How to make the primary interface static: the platform row's recipe filled in. `file` is the
/// configuration file found for the interface, when there is one.
pub fn static_ip_howto(platform: Option<PlatformId>, dev: &str, file: Option<&str>, address: &str, gateway: &str) -> String {
    let ip = address.split('/').next().unwrap_or(address);
    match platform {
        Some(id) => {
            let file = file.map(String::from).unwrap_or_else(|| format!("the file that configures {dev}"));
            Platform::get(id)
                .static_address_howto
                .replace("{dev}", dev)
                .replace("{address}", address)
                .replace("{ip}", ip)
                .replace("{gateway}", gateway)
                .replace("{file}", &file)
        }
        None => format!("configure {dev} ({}) with the static address {address} and gateway {gateway} in the distribution's network configuration", file.unwrap_or("its configuration file")),
    }
}

/// How to install and start the platform's time service.
pub fn time_howto(platform: Option<PlatformId>, servers: &[String]) -> String {
    let list = servers.join(", ");
    match platform.map(Platform::get) {
        Some(p) => format!(
            "`{} {}`, put `server` lines for {list} in {}, {}",
            p.package_manager.install_hint(),
            p.time.package,
            p.time.path,
            p.init.enable_now_hint(p.time.service)
        ),
        None => format!("install chrony (or ntpd) with servers {list} and start it at boot"),
    }
}

pub fn is_el(platform: Option<PlatformId>) -> bool {
    platform.is_some_and(|id| Platform::get(id).family == Family::Rhel)
}

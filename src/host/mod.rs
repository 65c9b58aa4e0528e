//! Host facts: everything known about the machine, read through a [`Sysroot`] so every probe also runs
//! against fixture trees. Slow probes (libvirt, showmount, the resolver, chronyc) run in parallel threads
//! with short timeouts.
//!
//! A fixture sysroot may carry `.cloudstrap-fixture/` with facts a directory tree cannot express:
//! `euid` (the user id preflight runs as) and `disk` (free space per mount point, see [`resources`]).

mod cpu;
mod names;
mod network;
mod nfs;
mod os;
mod ports;
pub mod dhcp;
pub mod resources;
mod selinux;
mod sysroot;
mod time;
mod vms;

use std::path::PathBuf;
use std::time::Duration;

pub use cpu::Kvm;
pub use names::{lookup_hosts, NameFacts};
pub use network::{IfaceConfig, Method, NetFacts};
pub use nfs::NfsFacts;
pub use os::{detect_platform, os_info, platform_of, OsError, OsInfo};
pub use ports::{PortUse, Proto};
pub use resources::DiskSpace;
pub use selinux::SelinuxFacts;
pub use sysroot::{Site, Sysroot};
pub use time::{TimeFacts, TimeService};
pub use vms::VmFacts;

use crate::platform::PlatformId;

/// libvirt's system URI, asked when none is given.
pub const DEFAULT_LIBVIRT_URI: &str = "qemu:///system";

/// What to gather beyond the files.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    /// libvirt URI to ask for running VMs. None: qemu:///system on a live root, not asked in a fixture.
    pub libvirt_uri: Option<String>,
    /// Ask libvirt at all (only a future KVM host needs it).
    pub probe_vms: bool,
    /// NFS server whose exports to list (live root only).
    pub nfs_server: Option<String>,
    /// Paths (as on the host) whose filesystem's free space to measure.
    pub disk_paths: Vec<PathBuf>,
    /// List the block devices (`lsblk`; live root only): for an install onto a disk.
    pub block_devices: bool,
    /// Ask for DHCP offers on this interface (live root only): the provisioning role's network.
    pub dhcp_interface: Option<String>,
    /// Limit for each slow probe (external commands, the resolver).
    pub timeout: Duration,
}

impl Default for GatherOptions {
    fn default() -> Self {
        GatherOptions {
            libvirt_uri: None,
            probe_vms: true,
            nfs_server: None,
            disk_paths: vec![PathBuf::from("/")],
            block_devices: false,
            dhcp_interface: None,
            timeout: Duration::from_secs(3),
        }
    }
}

/// Everything preflight and the installer know about the host (`preflight --facts` prints it as JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostFacts {
    /// Effective user id preflight runs as.
    pub euid: u32,
    pub os: Option<OsInfo>,
    #[serde(serialize_with = "platform_json")]
    pub platform: Result<PlatformId, OsError>,
    pub arch: Option<String>,
    /// "vmx" or "svm" when the CPU advertises it.
    pub virt_flag: Option<&'static str>,
    pub kvm: Kvm,
    pub memory_bytes: Option<u64>,
    pub disks: Vec<DiskSpace>,
    pub names: NameFacts,
    pub net: NetFacts,
    pub selinux: SelinuxFacts,
    pub vms: VmFacts,
    /// qemu/kvm processes running (VMs outside libvirt count too).
    pub qemu_processes: Vec<String>,
    /// Listening TCP and bound UDP ports; None when proc/net/tcp cannot be read.
    pub ports: Option<Vec<PortUse>>,
    pub time: TimeFacts,
    pub nfs: NfsFacts,
    /// DHCP servers answering on the provisioning network.
    pub dhcp: dhcp::DhcpFacts,
    /// `lsblk --json` of the machine when asked for (an install onto a disk); the reason when not read.
    pub block_devices: Result<String, String>,
    /// True when read from the running system's own root.
    pub live: bool,
}

/// The `lsblk` columns the disk install reads (`disk::devices::parse`).
pub const LSBLK_COLUMNS: &str = "NAME,PATH,SIZE,TYPE,FSTYPE,LABEL,MOUNTPOINTS,PTTYPE,SERIAL,RM,RO";

impl HostFacts {
    /// Gather every fact. Never fails: what cannot be read is recorded as unknown.
    pub fn gather(sys: &Sysroot, opts: &GatherOptions) -> HostFacts {
        let live = sys.is_live();
        std::thread::scope(|s| {
            let vms = s.spawn(|| {
                let uri = opts.libvirt_uri.clone().or_else(|| live.then(|| DEFAULT_LIBVIRT_URI.to_string()));
                match uri {
                    _ if !opts.probe_vms => VmFacts::NotProbed { reason: "no role here runs virtual machines".into() },
                    None => VmFacts::NotProbed { reason: "not asked in a fixture sysroot (give --libvirt-uri)".into() },
                    Some(uri) => match vms::running_domains(&uri, opts.timeout) {
                        Ok(running) => VmFacts::Listed { uri, running },
                        Err(reason) => VmFacts::Unknown { uri, reason },
                    },
                }
            });
            let nfs = s.spawn(|| match &opts.nfs_server {
                None => NfsFacts::NotAsked { reason: "no NFS server to ask".into() },
                Some(_) if !live => NfsFacts::NotAsked { reason: "showmount is not run against a fixture sysroot".into() },
                Some(server) => nfs::exports(server, opts.timeout),
            });
            let names = s.spawn(|| names::name_facts(sys, opts.timeout));
            let procs = s.spawn(|| ports::process_names(sys));
            let ports = s.spawn(|| ports::ports_in_use(sys));
            let dhcp = s.spawn(|| match (&opts.dhcp_interface, live) {
                (None, _) => dhcp::DhcpFacts::NotProbed { reason: "no provisioning network".into() },
                (Some(_), false) => dhcp::DhcpFacts::NotProbed { reason: "no DHCP probe from a fixture sysroot".into() },
                // Servers ping an address before they offer it (dnsmasq for 3 s): the wait covers that.
                (Some(i), true) => dhcp::probe(i, Duration::from_secs(4)),
            });
            let os = os_info(sys);
            let platform = os.as_ref().ok_or(OsError::Unknown).and_then(platform_of);
            let procs = procs.join().unwrap_or_default();
            let qemu_processes = procs.iter().filter(|c| c.starts_with("qemu-system") || *c == "qemu-kvm").cloned().collect();
            let time_procs = procs.clone();
            let time = s.spawn(move || time::time_facts(sys, &time_procs, opts.timeout));
            HostFacts {
                euid: euid(sys),
                os,
                platform,
                arch: cpu::arch(sys),
                virt_flag: cpu::virt_flag(sys),
                kvm: cpu::kvm(sys),
                memory_bytes: resources::memory_total(sys),
                disks: resources::disk_space(sys, &opts.disk_paths),
                net: network::net_facts(sys),
                selinux: selinux::selinux(sys),
                qemu_processes,
                time: time.join().expect("time probe panicked"),
                names: names.join().expect("name probe panicked"),
                vms: vms.join().expect("libvirt probe panicked"),
                ports: ports.join().expect("port probe panicked"),
                nfs: nfs.join().expect("nfs probe panicked"),
                dhcp: dhcp.join().expect("dhcp probe panicked"),
                block_devices: match (opts.block_devices, live) {
                    (false, _) => Err("not asked (no [disk] in the profile)".into()),
                    (true, false) => Err("lsblk is not run against a fixture sysroot".into()),
                    (true, true) => crate::run::Cmd::new("lsblk")
                        .args(["--json", "--bytes", "--output", LSBLK_COLUMNS])
                        .timeout(opts.timeout)
                        .run_ok(&Default::default())
                        .map(|o| o.stdout)
                        .map_err(|e| e.to_string()),
                },
                live,
            }
        })
    }
}

/// The platform id, or the reason there is none.
fn platform_json<S: serde::Serializer>(p: &Result<PlatformId, OsError>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Ok(id) => s.serialize_str(id.as_str()),
        Err(e) => s.serialize_str(&format!("unsupported: {e}")),
    }
}

/// The effective uid; a fixture may state it in `.cloudstrap-fixture/euid`.
fn euid(sys: &Sysroot) -> u32 {
    if !sys.is_live() {
        if let Ok(Some(t)) = sys.read_opt("/.cloudstrap-fixture/euid") {
            if let Ok(n) = t.trim().parse() {
                return n;
            }
        }
    }
    nix::unistd::geteuid().as_raw()
}

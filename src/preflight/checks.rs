//! The checks: each has a stable id, the roles it applies to, and a probe over the host facts that
//! returns a status, a one-line summary and, for warnings and failures, the remedy operators learned
//! the hard way (the seed article's Q1-Q8 are cited where they apply).

use std::net::IpAddr;

use super::support::{self, DiskNeed};
use super::{Options, Status};
use crate::host::resources::human;
use crate::host::{HostFacts, Kvm, Method, NfsFacts, OsError, Proto, VmFacts};
use crate::platform::{Platform, PlatformId};
use crate::profile::Role;

/// What a probe found.
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub remedy: Option<String>,
}

fn pass(s: impl Into<String>) -> Outcome {
    Outcome { status: Status::Pass, summary: s.into(), remedy: None }
}
fn skip(s: impl Into<String>) -> Outcome {
    Outcome { status: Status::Skip, summary: s.into(), remedy: None }
}
fn warn(s: impl Into<String>, r: impl Into<String>) -> Outcome {
    Outcome { status: Status::Warn, summary: s.into(), remedy: Some(r.into()) }
}
fn fail(s: impl Into<String>, r: impl Into<String>) -> Outcome {
    Outcome { status: Status::Fail, summary: s.into(), remedy: Some(r.into()) }
}

/// What every probe sees.
pub struct Ctx<'a> {
    pub facts: &'a HostFacts,
    pub opts: &'a Options,
    pub platform: Option<PlatformId>,
    pub release: Option<&'a str>,
}

impl Ctx<'_> {
    fn has(&self, r: Role) -> bool {
        self.opts.roles.contains(&r)
    }
}

pub struct Check {
    pub id: &'static str,
    pub roles: &'static [Role],
    pub probe: fn(&Ctx) -> Outcome,
}

const ALL: &[Role] = &[Role::Database, Role::Nfs, Role::Management, Role::KvmAgent];

pub const CHECKS: &[Check] = &[
    Check { id: "user.root", roles: ALL, probe: user_root },
    Check { id: "os.arch", roles: ALL, probe: os_arch },
    Check { id: "os.supported", roles: ALL, probe: os_supported },
    Check { id: "cpu.virtualization", roles: &[Role::KvmAgent], probe: cpu_virtualization },
    Check { id: "net.static-ip", roles: ALL, probe: net_static_ip },
    Check { id: "net.fqdn", roles: ALL, probe: net_fqdn },
    Check { id: "vm.none-running", roles: &[Role::KvmAgent], probe: vm_none_running },
    Check { id: "selinux.mode", roles: ALL, probe: selinux_mode },
    Check { id: "resources.memory", roles: ALL, probe: resources_memory },
    Check { id: "resources.disk", roles: ALL, probe: resources_disk },
    Check { id: "ports.free", roles: ALL, probe: ports_free },
    Check { id: "time.sync", roles: ALL, probe: time_sync },
    Check { id: "nfs.exports", roles: &[Role::Management, Role::KvmAgent], probe: nfs_exports },
    Check { id: "disk.target", roles: ALL, probe: disk_target },
    Check { id: "fleet.dhcp", roles: &[Role::Provisioning], probe: fleet_dhcp },
];

/// The provisioning network's DHCP: in server mode no other server may answer the fleet's machines (they
/// would race this node's dnsmasq); in proxy mode one must (it gives the addresses).
fn fleet_dhcp(c: &Ctx) -> Outcome {
    use crate::host::dhcp::DhcpFacts;
    use crate::profile::FleetDhcp;
    let Some(f) = c.opts.profile.as_ref().and_then(|p| p.fleet.as_ref()) else {
        return skip("no [fleet] in the profile");
    };
    match (&c.facts.dhcp, f.dhcp) {
        (DhcpFacts::NotProbed { reason }, _) => skip(format!("not probed: {reason}")),
        (DhcpFacts::Failed { interface, reason }, _) => warn(
            format!("could not ask for DHCP offers on {interface}: {reason}"),
            format!("check by hand that {} answers the fleet's machines on {interface} (e.g. `nmap --script broadcast-dhcp-discover -e {interface}`)", if f.dhcp == FleetDhcp::Server { "no other DHCP server" } else { "another DHCP server" }),
        ),
        (DhcpFacts::Offers { interface, servers }, FleetDhcp::Server) if !servers.is_empty() => fail(
            format!("another DHCP server answers on {interface}: {}", servers.join(", ")),
            "two servers would race to answer the fleet's machines: set fleet.dhcp = \"proxy\" (that server keeps giving the addresses, this node adds the network boot), or stop it on this network",
        ),
        (DhcpFacts::Offers { interface, .. }, FleetDhcp::Server) => pass(format!("no other DHCP server answers on {interface}: this node's dnsmasq gives the fleet its addresses")),
        (DhcpFacts::Offers { interface, servers }, FleetDhcp::Proxy) if servers.is_empty() => fail(
            format!("no DHCP server answers on {interface}, and fleet.dhcp = \"proxy\" leaves the addresses to one"),
            "set fleet.dhcp = \"server\" (this node's dnsmasq gives each listed MAC its address), or start the network's DHCP server",
        ),
        (DhcpFacts::Offers { interface, servers }, FleetDhcp::Proxy) => pass(format!("{} gives addresses on {interface}; this node adds the network boot (proxy-DHCP)", servers.join(", "))),
    }
}

/// The profile's [disk] (an install onto a blank disk): it exists, is large enough, is not the medium the
/// machine runs from, and what is on it (erased only with disk.wipe = true or the operator's typed consent).
fn disk_target(c: &Ctx) -> Outcome {
    let Some(p) = c.opts.profile.as_ref().filter(|p| p.disk.is_some()) else {
        return skip("no [disk] in the profile (only for installing onto a blank disk)");
    };
    let lsblk = match &c.facts.block_devices {
        Ok(j) => j,
        Err(reason) => return skip(reason.clone()),
    };
    match crate::disk::plan(p, lsblk) {
        Err(e) => fail(e.to_string(), "name another disk in disk.device (a path, serial:SERIAL, smallest or largest); `lsblk` lists them"),
        Ok(d) if d.contents.is_empty() => pass(format!("{} ({}) is empty", d.disk.display(), crate::disk::devices::human(d.size))),
        Ok(d) if d.wipe_allowed => warn(
            format!("{} holds data that the install erases (disk.wipe = true): {}", d.disk.display(), d.contents.join("; ")),
            "make sure nothing on it is needed; the install repartitions it",
        ),
        Ok(d) => fail(
            format!("{} holds data: {}", d.disk.display(), d.contents.join("; ")),
            "set disk.wipe = true to erase it, run the install on the console to confirm by typing its name, or pick another disk",
        ),
    }
}

fn user_root(c: &Ctx) -> Outcome {
    if c.facts.euid == 0 {
        return pass("running as root");
    }
    fail(
        format!("running as uid {}, not root", c.facts.euid),
        "log in as root (or `sudo -i`) and run cloudstrap again: installing packages, writing /etc and the CloudStack \
         setup scripts all need root, and installs started as another user fail half-way (article Q1)",
    )
}

fn os_arch(c: &Ctx) -> Outcome {
    let Some(arch) = c.facts.arch.as_deref() else {
        return warn("cannot tell the architecture (no /proc/sys/kernel/arch)", "check `uname -m` prints x86_64 or aarch64");
    };
    let ok = match c.release {
        Some("3.0.2") => arch == "x86_64",
        _ => arch == "x86_64" || arch == "aarch64",
    };
    if ok {
        return pass(format!("{arch}, a 64-bit OS"));
    }
    fail(
        format!("{arch} is not a 64-bit architecture CloudStack supports"),
        "reinstall the host with a 64-bit (x86_64) edition of a supported distribution: CloudStack and KVM need a 64-bit OS (article Q1)",
    )
}

const SAME_EVERYWHERE: &str = "use the same distribution release and the same CloudStack version on every host of the cloud (article Q1)";

fn os_supported(c: &Ctx) -> Outcome {
    let name = c.facts.os.as_ref().map(|o| o.pretty_name.clone()).unwrap_or_else(|| "an unknown distribution".into());
    let supported_list = |r: &str| {
        crate::platform::release_platforms(r).map(|ps| ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
    };
    let platform = match (&c.facts.platform, c.platform) {
        (_, Some(p)) => p,
        (Err(OsError::Unknown), None) => {
            return fail(
                "cannot tell the distribution: no /etc/os-release or /etc/redhat-release",
                format!("install a supported distribution ({}); {SAME_EVERYWHERE}", c.release.map(supported_list).unwrap_or_else(crate::platform::platform_names)),
            )
        }
        _ => {
            let want = match c.release {
                Some(r) => format!("CloudStack {r} is supported here on {}", supported_list(r)),
                None => format!(
                    "cloudstrap supports {}",
                    PlatformId::ALL
                        .map(|p| format!("{p} (CloudStack {})", crate::platform::releases_for(p).join(", ")))
                        .join("; ")
                ),
            };
            return fail(format!("{name} is not a supported distribution"), format!("reinstall the host: {want}; {SAME_EVERYWHERE}"));
        }
    };
    if let Some(want) = c.opts.profile.as_ref().and_then(|p| p.host.platform.as_deref()) {
        if want != platform.as_str() {
            return fail(
                format!("the profile is written for {want} but this host runs {name} ({platform})"),
                format!("run the profile on a {want} host, or set host.platform = \"{platform}\" and review the profile; {SAME_EVERYWHERE}"),
            );
        }
    }
    match c.release {
        Some(r) => match crate::platform::release_platforms(r) {
            Some(ps) if ps.contains(&platform) => pass(format!("{name} ({platform}) is supported by CloudStack {r}")),
            Some(_) => {
                let others = crate::platform::releases_for(platform);
                fail(
                    format!("CloudStack {r} does not support {name} ({platform})"),
                    format!(
                        "CloudStack {r} runs on {}; {platform} is supported by {}: pick a matching release or reinstall the host; {SAME_EVERYWHERE}",
                        supported_list(r),
                        if others.is_empty() { "no release".to_string() } else { others.join(", ") }
                    ),
                )
            }
            None => fail(format!("unknown CloudStack release {r:?}"), format!("use one of {}", crate::platform::Release::lines().join(", "))),
        },
        None => pass(format!("{name} ({platform}) is supported by CloudStack {}", crate::platform::releases_for(platform).join(", "))),
    }
}

fn cpu_virtualization(c: &Ctx) -> Outcome {
    const REINSTALL: &str = "if the agent was installed while VT was off it will not start (see /var/log/cloudstack/agent/agent.log, \
                             /var/log/cloud/agent/ on 3.0.2): reinstall it after enabling VT (article Q8)";
    let flag = c.facts.virt_flag;
    match (&c.facts.kvm, flag) {
        (Kvm::Usable, Some(f)) => pass(format!("CPU flag {f} present and /dev/kvm usable")),
        (Kvm::Usable, None) => pass("/dev/kvm usable (the vmx/svm flag is hidden, as on nested or micro VMs)"),
        (Kvm::Missing, Some(f)) => fail(
            format!("CPU flag {f} present but /dev/kvm is missing"),
            format!(
                "load the KVM module: `modprobe {}` (and `kvm` itself); if that fails with \"Operation not supported\", enable \
                 VT-x/AMD-V in the firmware (BIOS/UEFI) setup and power-cycle; {REINSTALL}",
                if f == "svm" { "kvm_amd" } else { "kvm_intel" }
            ),
        ),
        (Kvm::Missing, None) => fail(
            "no VT-x/AMD-V CPU flag and no /dev/kvm: this host cannot run KVM guests",
            format!(
                "enable Intel VT-x or AMD-V (\"Virtualization Technology\", \"SVM Mode\") in the firmware (BIOS/UEFI) setup, power-cycle, \
                 then `modprobe kvm_intel` or `modprobe kvm_amd`; on a VM, enable nested virtualisation on its host; {REINSTALL}"
            ),
        ),
        (Kvm::Unusable(e), _) => fail(
            format!("/dev/kvm exists but cannot be opened: {e}"),
            "run as root; check `ls -l /dev/kvm` (crw-rw---- root kvm) and that no security policy blocks it",
        ),
    }
}

fn net_static_ip(c: &Ctx) -> Outcome {
    let net = &c.facts.net;
    let primary = net.primary();
    let (addr, gw) = c
        .opts
        .profile
        .as_ref()
        .map(|p| (p.host.address.clone(), p.host.gateway.clone()))
        .unwrap_or_else(|| ("<address>/<prefix>".into(), "<gateway>".into()));
    if let Some(d) = primary.iter().find(|i| i.method == Method::Dhcp) {
        return fail(
            format!("{} gets its address by DHCP ({})", d.name, d.file),
            format!(
                "CloudStack records the host's address; when a DHCP lease changes it, agents and storage break (article Q1). \
                 Make it static: {}",
                support::static_ip_howto(c.platform, &d.name, Some(&d.file), &addr, &gw)
            ),
        );
    }
    if let Some(s) = primary.iter().find(|i| i.method == Method::Static) {
        let a = if s.addresses.is_empty() { String::new() } else { format!(" {}", s.addresses.join(", ")) };
        return pass(format!("{} is static{a} ({})", s.name, s.file));
    }
    if primary.is_empty() {
        return warn(
            "no network configuration found (ifcfg, NetworkManager, netplan, ifupdown, systemd-networkd)",
            format!("make sure the primary address is static: {}", support::static_ip_howto(c.platform, "<dev>", None, &addr, &gw)),
        );
    }
    warn(
        format!("no static address on {}", primary.iter().map(|i| format!("{} ({})", i.name, i.file)).collect::<Vec<_>>().join(", ")),
        format!("give the primary interface (or its bridge) a static address: {}", support::static_ip_howto(c.platform, &primary[0].name, Some(&primary[0].file), &addr, &gw)),
    )
}

fn is_loopback(a: &IpAddr) -> bool {
    a.is_loopback()
}

fn net_fqdn(c: &Ctx) -> Outcome {
    let n = &c.facts.names;
    let (want_fqdn, want_addr, want_short) = match &c.opts.profile {
        Some(p) => (p.host.fqdn.clone(), p.host.ip().to_string(), p.host.hostname.clone()),
        // Without a profile, fill in what the host already has.
        None => {
            let short = n.hostname.as_deref().map(|h| h.split('.').next().unwrap_or(h).to_string()).unwrap_or_else(|| "<name>".into());
            let addr = c.facts.net.local_addresses.iter().find(|a| a.is_ipv4() && !a.is_loopback()).map(|a| a.to_string());
            (format!("{short}.<domain>"), addr.unwrap_or_else(|| "<address>".into()), short)
        }
    };
    let hosts_line = format!("`{want_addr} {want_fqdn} {want_short}` in /etc/hosts, above any line that maps the name to 127.0.0.1 or ::1");
    let set_name = match c.platform.and_then(|id| Platform::get(id).hostname_file) {
        Some(file) => format!("HOSTNAME={want_fqdn} in {file} and `hostname {want_fqdn}`"),
        None => format!("`hostnamectl set-hostname {want_short}`"),
    };
    let q2 = "then check `hostname --fqdn` prints the full name; it only does with the network up and the name in /etc/hosts (article Q2)";
    let Some(host) = &n.hostname else {
        return fail("the host has no name", format!("set it: {set_name}, and put {hosts_line}; {q2}"));
    };
    let Some(fqdn) = &n.fqdn else {
        return fail(format!("`hostname --fqdn` cannot resolve {host}"), format!("put {hosts_line}; {q2}"));
    };
    if !fqdn.contains('.') {
        return fail(format!("`hostname --fqdn` prints {fqdn}, which has no domain"), format!("put {hosts_line} (the full name first); {q2}"));
    }
    let non_loop: Vec<&IpAddr> = n.addresses.iter().filter(|a| !is_loopback(a)).collect();
    if non_loop.is_empty() {
        let list = n.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
        return fail(
            format!("{fqdn} resolves only to loopback ({list})"),
            format!("CloudStack hands this address to agents and system VMs: put {hosts_line}; {q2}"),
        );
    }
    // Only judge locality when some non-loopback address of the host is known.
    let local: Vec<&IpAddr> = c.facts.net.local_addresses.iter().filter(|a| !is_loopback(a)).collect();
    if !local.is_empty() && !non_loop.iter().any(|a| local.contains(a)) {
        return fail(
            format!("{fqdn} resolves to {}, which is not an address of this host", non_loop.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")),
            format!("correct the entry: {hosts_line}; {q2}"),
        );
    }
    // Debian's installer maps the name to 127.0.1.1 on hosts that had DHCP; the resolver then answers that
    // first, and whatever takes the first address (`hostname -i`, Java's getLocalHost) gets loopback.
    if let Some(first) = n.addresses.first().filter(|a| is_loopback(a)) {
        return warn(
            format!("{fqdn} resolves first to {first} and only then to {}", non_loop[0]),
            format!(
                "CloudStack may take the first address: comment out the line that maps {fqdn} to {first} in /etc/hosts and keep `{} {fqdn} {want_short}`",
                non_loop[0]
            ),
        );
    }
    if let Some(p) = &c.opts.profile {
        if !p.host.fqdn.eq_ignore_ascii_case(fqdn) {
            return warn(
                format!("`hostname --fqdn` prints {fqdn} but the profile says {}", p.host.fqdn),
                format!("the installer sets the profile's name; to do it now: {set_name} and {hosts_line}"),
            );
        }
    }
    pass(format!("{fqdn} resolves to {} ({})", non_loop[0], n.source.as_deref().unwrap_or("resolver")))
}

fn vm_none_running(c: &Ctx) -> Outcome {
    let remedy = |names: &str| {
        format!(
            "adding a host that already runs virtual machines fails (article Q1): shut down {names} (`virsh shutdown NAME`), \
             move or undefine them, and remove other hypervisor packages before this host becomes a CloudStack KVM host"
        )
    };
    let q = &c.facts.qemu_processes;
    match &c.facts.vms {
        VmFacts::Listed { uri, running } if !running.is_empty() => {
            fail(format!("{} running at {uri}: {}", plural(running.len(), "virtual machine"), running.join(", ")), remedy(&running.join(", ")))
        }
        _ if !q.is_empty() => fail(
            format!("{} running ({})", plural(q.len(), "qemu process"), q.join(", ")),
            remedy("the VMs behind those qemu processes (`ps -C qemu-system-x86_64,qemu-kvm -o pid,args` lists them)"),
        ),
        VmFacts::Listed { uri, .. } => pass(format!("no virtual machines running at {uri}")),
        VmFacts::NotProbed { reason } => skip(reason.clone()),
        VmFacts::Unknown { uri, reason } => {
            if reason.contains("not installed") {
                pass("libvirt is not installed and no qemu processes run")
            } else if reason.contains("Failed to connect socket") {
                pass(format!("libvirtd is not running ({uri}) and no qemu processes run"))
            } else {
                warn(format!("could not ask libvirt at {uri}: {reason}"), "check with `virsh list --all` that no virtual machines run on this host")
            }
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else if what.ends_with("ss") {
        format!("{n} {what}es")
    } else {
        format!("{n} {what}s")
    }
}

fn selinux_mode(c: &Ctx) -> Outcome {
    let s = &c.facts.selinux;
    let fix = "run `setenforce permissive` and set SELINUX=permissive in /etc/selinux/config (the installer does both)";
    match (s.enforcing, s.configured.as_deref()) {
        (None, None) => {
            if support::is_el(c.platform) {
                pass("SELinux is not active")
            } else {
                skip("SELinux is not used on this platform")
            }
        }
        (Some(true), _) => fail("SELinux is enforcing", format!("CloudStack's setup scripts and agent expect permissive: {fix}")),
        (_, Some("enforcing")) => warn(
            format!("SELinux is {} now but configured enforcing for the next boot", if s.enforcing == Some(false) { "permissive" } else { "off" }),
            "set SELINUX=permissive in /etc/selinux/config",
        ),
        (Some(false), _) => pass("SELinux is permissive"),
        (None, Some(m)) => pass(format!("SELinux is {m}")),
    }
}

fn resources_memory(c: &Ctx) -> Outcome {
    let Some(mem) = c.facts.memory_bytes else {
        return warn("cannot read /proc/meminfo", "check that the host has at least 4 GiB of memory");
    };
    let (role, need) = c.opts.roles.iter().map(|r| (*r, support::memory_minimum(*r))).max_by_key(|(_, m)| *m).unwrap_or((Role::Nfs, 0));
    let threshold = need / 100 * support::MEMORY_ALLOWANCE_PERCENT;
    if mem < threshold {
        return fail(
            format!("{} of memory; the {} role needs {}", human(mem), role.as_str(), human(need)),
            format!("give the host at least {} of memory, or put the roles on separate hosts", human(need)),
        );
    }
    if c.has(Role::Management) && c.has(Role::KvmAgent) && mem < support::MEMORY_SHARED_WARN / 100 * support::MEMORY_ALLOWANCE_PERCENT {
        return warn(
            format!("{} of memory for the management server and KVM guests together", human(mem)),
            format!("{} or more leaves room for guests beside the management server", human(support::MEMORY_SHARED_WARN)),
        );
    }
    pass(format!("{} of memory (needs {})", human(mem), human(need)))
}

/// Disk needs of the roles, added up per path.
pub fn disk_needs(opts: &Options) -> Vec<DiskNeed> {
    let (primary, secondary) = opts
        .profile
        .as_ref()
        .and_then(|p| p.nfs.as_ref())
        .map(|n| (n.primary.clone(), n.secondary.clone()))
        .unwrap_or_else(|| ("/export/primary".into(), "/export/secondary".into()));
    opts.roles.iter().flat_map(|r| support::disk_needs(*r, &primary, &secondary)).collect()
}

fn resources_disk(c: &Ctx) -> Outcome {
    let needs = disk_needs(c.opts);
    // Needs on one filesystem add up.
    let mut by_mount: Vec<(std::path::PathBuf, u64, u64, u64, Vec<&DiskNeed>)> = vec![];
    for need in &needs {
        let Some(d) = c.facts.disks.iter().find(|d| d.path.as_os_str() == need.path.as_str()) else {
            return warn(format!("cannot measure free space for {}", need.path), format!("make sure {} has {} free for {}", need.path, human(need.warn_below), need.what));
        };
        match by_mount.iter_mut().find(|m| m.0 == d.mount) {
            Some(m) => {
                // Minimums add up; the recommendation is the largest single one (or the sum of minimums).
                m.2 += need.fail_below;
                m.3 = m.3.max(need.warn_below).max(m.2);
                m.4.push(need);
            }
            None => by_mount.push((d.mount.clone(), d.available_bytes, need.fail_below, need.warn_below, vec![need])),
        }
    }
    let mut worst = Status::Pass;
    let mut lines = vec![];
    let mut remedies = vec![];
    for (mount, avail, fail_below, warn_below, needs) in &by_mount {
        let what = needs.iter().map(|n| format!("{} for {}", n.path, n.what)).collect::<Vec<_>>().join(", ");
        lines.push(format!("{} free on {}", human(*avail), mount.display()));
        if avail < fail_below {
            worst = Status::Fail;
            remedies.push(format!(
                "{} has {} free; {what}: together at least {} (recommended {}); grow the filesystem or move the paths to a larger disk \
                 (the system VM template step is mandatory and needs the space, article Q7)",
                mount.display(),
                human(*avail),
                human(*fail_below),
                human(*warn_below)
            ));
        } else if avail < warn_below {
            if worst == Status::Pass {
                worst = Status::Warn;
            }
            remedies.push(format!("{} has {} free; {what}: {} recommended to leave room to grow", mount.display(), human(*avail), human(*warn_below)));
        }
    }
    let summary = lines.join("; ");
    match worst {
        Status::Pass => pass(summary),
        Status::Warn => warn(summary, remedies.join("; ")),
        _ => fail(summary, remedies.join("; ")),
    }
}

fn ports_free(c: &Ctx) -> Outcome {
    let Some(ports) = &c.facts.ports else {
        return skip("cannot read /proc/net/tcp");
    };
    let mut busy = vec![];
    let mut ours = vec![];
    let mut checked = 0;
    for role in &c.opts.roles {
        for need in support::port_needs(*role) {
            for (proto, wanted) in [(Proto::Tcp, need.tcp), (Proto::Udp, need.udp)] {
                if !wanted {
                    continue;
                }
                checked += 1;
                let Some(u) = ports.iter().find(|u| u.proto == proto && u.port == need.port) else { continue };
                let label = format!("{}/{}", need.port, proto.as_str());
                match &u.process {
                    Some(p) if need.owners.contains(&p.as_str()) => ours.push(format!("{label} by {p}")),
                    None if need.kernel => ours.push(format!("{label} by the kernel")),
                    Some(p) => busy.push(format!("{label} ({}) held by {p}", need.what)),
                    None => busy.push(format!("{label} ({}) held by an unknown process", need.what)),
                }
            }
        }
    }
    if !busy.is_empty() {
        let first = busy[0].split('/').next().unwrap_or("").to_string();
        return fail(
            format!("in use: {}", busy.join(", ")),
            format!(
                "find the holder with `ss -lntup 'sport = :{first}'` (or `netstat -lntup` on el6), then stop and disable it or move it \
                 to another port; the role's own service may hold its port"
            ),
        );
    }
    if ours.is_empty() {
        pass(format!("{} of the roles free", plural(checked, "port")))
    } else {
        pass(format!("free, or held by the role's own service: {}", ours.join(", ")))
    }
}

fn time_sync(c: &Ctx) -> Outcome {
    let t = &c.facts.time;
    let servers: Vec<String> = c.opts.profile.as_ref().map(|p| p.ntp.servers.clone()).unwrap_or_else(|| crate::profile::Ntp::default().servers);
    let howto = support::time_howto(c.platform, &servers);
    let Some(s) = t.services.first() else {
        return fail(
            "no time service configured (chrony, ntpd or systemd-timesyncd)",
            format!("management server, agents and storage must agree on the time: {howto}"),
        );
    };
    let list = if s.servers.is_empty() { "its default servers".to_string() } else { s.servers.join(", ") };
    if s.running == Some(false) {
        return warn(format!("{} is configured ({list}) but not running", s.name), howto);
    }
    match t.synchronised {
        Some(true) => pass(format!("{} synchronised ({list})", s.name)),
        Some(false) => warn(
            format!("{} runs but the clock is not synchronised yet", s.name),
            "wait a few minutes and check `chronyc tracking` (or `ntpq -p`); make sure UDP 123 to the servers is open",
        ),
        None => pass(format!("{} configured ({list}); synchronisation not checked here", s.name)),
    }
}

fn nfs_exports(c: &Ctx) -> Outcome {
    if c.has(Role::Nfs) {
        return skip("this host serves the exports itself (nfs role); they exist after install");
    }
    let Some(nfs) = c.opts.profile.as_ref().and_then(|p| p.nfs.as_ref()) else {
        return skip("no NFS server configured (give --profile with an [nfs] section)");
    };
    let q4 = format!(
        "check from this host: `showmount -e {s}`; \"clnt_create: RPC: Program not registered\" for a name while the IP works means \
         name resolution: use the IP or add {s} to /etc/hosts (article Q4); \"No route to host\" means the server's firewall: its NFS \
         rules must come first in INPUT (article Q5); rpcbind and nfs must run on the server",
        s = nfs.server
    );
    match &c.facts.nfs {
        NfsFacts::NotAsked { reason } => skip(reason.clone()),
        NfsFacts::Failed { server, error } if error.contains("not installed") => {
            warn(format!("cannot ask {server}: {error}"), "install nfs-utils (EL) or nfs-common (Debian/Ubuntu), then run preflight again")
        }
        NfsFacts::Failed { server, error } => fail(format!("showmount -e {server} failed: {error}"), q4),
        NfsFacts::Exports { server, exports } => {
            let covered = |path: &str| exports.iter().any(|e| path == e || path.starts_with(&format!("{}/", e.trim_end_matches('/'))));
            let missing: Vec<&str> = [nfs.primary.as_str(), nfs.secondary.as_str()].into_iter().filter(|p| !covered(p)).collect();
            if missing.is_empty() {
                pass(format!("{server} exports {} and {}", nfs.primary, nfs.secondary))
            } else {
                fail(
                    format!("{server} does not export {} (exports: {})", missing.join(", "), if exports.is_empty() { "none".into() } else { exports.join(", ") }),
                    format!("on {server}: add the paths to /etc/exports for the storage network and run `exportfs -a`; {q4}"),
                )
            }
        }
    }
}

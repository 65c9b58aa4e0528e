//! The values templates see, derived once from the profile and the platform row. Templates only
//! substitute and loop; every decision (which networks, which ports, remote or local database) is made here.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::RenderError;
use crate::platform::{Platform, Release};
use crate::profile::{Profile, Role};

/// One firewall opening: `proto` `port` from `source`, on one interface when `interface` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub role: &'static str,
    pub proto: &'static str,
    /// iptables form: "8080" or "5900:6100".
    pub port: String,
    /// firewalld form: "8080" or "5900-6100".
    pub port_range: String,
    pub source: String,
    /// iptables `-i`: the provisioning role answers on its network's interface only.
    pub interface: Option<String>,
}

/// Ports a role opens, as the CloudStack guide and the seed article list them.
pub struct RolePorts {
    pub role: Role,
    /// (protocol, first port, last port)
    pub ports: &'static [(&'static str, u16, u16)],
}

/// Every role's inbound ports. The database opens 3306 only when it serves other hosts.
pub static ROLE_PORTS: [RolePorts; 4] = [
    RolePorts {
        role: Role::Management,
        ports: &[("tcp", 8080, 8080), ("tcp", 8250, 8250), ("tcp", 8443, 8443), ("tcp", 9090, 9090)],
    },
    RolePorts { role: Role::Database, ports: &[("tcp", 3306, 3306)] },
    RolePorts {
        role: Role::Nfs,
        ports: &[
            ("udp", 111, 111),
            ("tcp", 111, 111),
            ("tcp", 2049, 2049),
            ("tcp", 32803, 32803),
            ("udp", 32769, 32769),
            ("tcp", 892, 892),
            ("udp", 892, 892),
            ("tcp", 875, 875),
            ("udp", 875, 875),
            ("tcp", 662, 662),
            ("udp", 662, 662),
        ],
    },
    RolePorts {
        role: Role::KvmAgent,
        ports: &[
            ("tcp", 22, 22),
            ("tcp", 1798, 1798),
            ("tcp", 16509, 16509),
            ("tcp", 16514, 16514),
            ("tcp", 5900, 6100),
            ("tcp", 49152, 49216),
        ],
    },
];

#[derive(Debug, Clone, Serialize)]
pub struct HostVars {
    pub hostname: String,
    pub fqdn: String,
    pub domain: String,
    pub ip: String,
    pub prefix: u8,
    pub netmask: String,
    pub network: String,
    pub gateway: String,
    pub dns: Vec<String>,
    pub interface: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NfsVars {
    pub primary: String,
    pub secondary: String,
    pub clients: String,
    pub options: String,
    pub idmap_domain: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DbVars {
    pub server_id: u32,
    pub max_connections: u32,
    /// "0.0.0.0" when other hosts connect, otherwise absent.
    pub bind_address: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepoVars {
    /// yum baseurl or apt URL.
    pub url: String,
    /// yum `gpgkey=` value / where the apt key is fetched from.
    pub key: String,
    pub keyring: Option<String>,
    pub codename: Option<String>,
    pub component: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentVars {
    pub management_host: String,
    pub private_bridge: String,
    pub guest_bridge: String,
    pub public_bridge: String,
}

/// One host of the fleet as dnsmasq and nginx see it.
#[derive(Debug, Clone, Serialize)]
pub struct FleetHostVars {
    pub name: String,
    /// Lowercase with colons (dnsmasq) ...
    pub mac: String,
    /// ... and with hyphens (URL paths).
    pub mac_path: String,
    pub address: String,
}

/// The provisioning role's network and hosts.
#[derive(Debug, Clone, Serialize)]
pub struct FleetVars {
    pub interface: String,
    pub network: String,
    pub netmask: String,
    pub proxy: bool,
    /// This node's address, where hosts fetch from.
    pub node: String,
    pub http_port: u16,
    pub www: String,
    pub tftp: String,
    pub bios_loader: String,
    pub efi_loader: String,
    pub access_log: String,
    pub hosts: Vec<FleetHostVars>,
}

/// Everything a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct Vars {
    pub platform: &'static str,
    pub release: &'static str,
    pub legacy: bool,
    pub host: HostVars,
    pub ntp_servers: Vec<String>,
    pub rules: Vec<Rule>,
    pub nfs: Option<NfsVars>,
    pub db: Option<DbVars>,
    pub repo: RepoVars,
    pub agent: Option<AgentVars>,
    pub fleet: Option<FleetVars>,
}

const EXPORT_OPTIONS: &str = "rw,async,no_root_squash,no_subtree_check,insecure";
const DEFAULT_BASE: &str = "https://download.cloudstack.org";

fn bad(key: &str, msg: impl Into<String>) -> RenderError {
    RenderError::Profile { key: key.to_string(), msg: msg.into() }
}

fn parse_net(key: &str, s: &str) -> Result<Ipv4Net, RenderError> {
    s.parse::<Ipv4Net>().map_err(|_| bad(key, format!("{s:?} is not an IPv4 network (expected e.g. 192.168.1.0/24)")))
}

fn is_local_db_host(h: &str) -> bool {
    matches!(h, "localhost" | "127.0.0.1" | "::1")
}

/// Networks the cloud's own hosts talk from: the host's network, the storage clients, the pod.
fn cloud_networks(p: &Profile, host_net: Ipv4Net) -> Result<Vec<Ipv4Net>, RenderError> {
    let mut nets = vec![host_net];
    if let Some(nfs) = &p.nfs {
        nets.push(parse_net("nfs.clients", &nfs.clients)?.trunc());
    }
    if let Some(pod) = p.zone.as_ref().map(|z| &z.pod) {
        let gw: Ipv4Addr = pod.gateway.parse().map_err(|_| bad("zone.pod.gateway", "not an IPv4 address"))?;
        let mask: Ipv4Addr = pod.netmask.parse().map_err(|_| bad("zone.pod.netmask", "not an IPv4 netmask"))?;
        let prefix =
            ipnet::ipv4_mask_to_prefix(mask).map_err(|_| bad("zone.pod.netmask", "not a contiguous netmask"))?;
        nets.push(Ipv4Net::new(gw, prefix).expect("prefix from a mask is valid").trunc());
    }
    let mut uniq: Vec<Ipv4Net> = vec![];
    for n in nets {
        if !uniq.contains(&n) {
            uniq.push(n);
        }
    }
    Ok(uniq)
}

/// Whether this host's database serves other hosts (then it binds 0.0.0.0 and opens 3306).
pub fn database_is_remote(p: &Profile) -> bool {
    p.has_role(Role::Database)
        && (!p.has_role(Role::Management) || p.database.as_ref().is_some_and(|d| !is_local_db_host(&d.host)))
}

fn url_host(url: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string))
}

fn file_url(path_or_url: &str) -> String {
    if path_or_url.starts_with('/') {
        format!("file://{path_or_url}")
    } else {
        path_or_url.to_string()
    }
}

impl Vars {
    pub fn new(p: &Profile, platform: &'static Platform, release: &'static Release) -> Result<Vars, RenderError> {
        let addr: Ipv4Net = p.host.address.parse().map_err(|_| {
            bad(
                "host.address",
                format!("{:?} is not an IPv4 address with prefix length (e.g. 192.168.1.4/24)", p.host.address),
            )
        })?;
        let domain = p.domain().filter(|d| !d.is_empty()).ok_or_else(|| bad("host.fqdn", "must contain a domain"))?;
        let host = HostVars {
            hostname: p.host.hostname.clone(),
            fqdn: p.host.fqdn.clone(),
            domain: domain.to_string(),
            ip: addr.addr().to_string(),
            prefix: addr.prefix_len(),
            netmask: addr.netmask().to_string(),
            network: addr.trunc().to_string(),
            gateway: p.host.gateway.clone(),
            dns: p.host.dns.clone(),
            interface: p.host.interface.clone(),
        };
        let nets = cloud_networks(p, addr.trunc())?;
        let nfs = match &p.nfs {
            Some(n) => Some(NfsVars {
                primary: n.primary.clone(),
                secondary: n.secondary.clone(),
                clients: parse_net("nfs.clients", &n.clients)?.trunc().to_string(),
                options: EXPORT_OPTIONS.to_string(),
                idmap_domain: n.idmap_domain.clone().unwrap_or_else(|| domain.to_string()),
            }),
            None if p.has_role(Role::Nfs) => return Err(bad("nfs", "the nfs role needs an [nfs] section")),
            None => None,
        };
        let remote_db = database_is_remote(p);
        let mut rules = vec![];
        for rp in &ROLE_PORTS {
            if !p.has_role(rp.role) || (rp.role == Role::Database && !remote_db) {
                continue;
            }
            let sources: Vec<String> = match rp.role {
                Role::Nfs => vec![nfs.as_ref().expect("checked above").clients.clone()],
                _ => nets.iter().map(|n| n.to_string()).collect(),
            };
            for (proto, lo, hi) in rp.ports {
                for source in &sources {
                    let (port, port_range) = if lo == hi {
                        (lo.to_string(), lo.to_string())
                    } else {
                        (format!("{lo}:{hi}"), format!("{lo}-{hi}"))
                    };
                    rules.push(Rule { role: rp.role.as_str(), proto, port, port_range, source: source.clone(), interface: None });
                }
            }
        }
        let fleet = match (&p.fleet, p.has_role(Role::Provisioning)) {
            (Some(f), true) => Some(fleet_vars(f, &host, platform)?),
            (None, true) => return Err(bad("fleet", "the provisioning role needs a [fleet] section")),
            _ => None,
        };
        if let Some(f) = &fleet {
            // DHCP requests come from 0.0.0.0; TFTP and HTTP from the subnet; all on the interface only.
            let port = f.http_port.to_string();
            let net = format!("{}/{}", f.network, ipnet::ipv4_mask_to_prefix(f.netmask.parse().expect("from Ipv4Net")).expect("from Ipv4Net"));
            for (proto, port, source) in [("udp", "67".to_string(), "0.0.0.0/0".to_string()), ("udp", "69".into(), net.clone()), ("tcp", port, net)] {
                let interface = Some(f.interface.clone());
                rules.push(Rule { role: Role::Provisioning.as_str(), proto, port_range: port.clone(), port, source, interface });
            }
        }
        let db = p.has_role(Role::Database).then(|| {
            let d = p.database.clone();
            DbVars {
                server_id: d.as_ref().map_or(1, |d| d.server_id),
                max_connections: d.as_ref().map_or(350, |d| d.max_connections),
                bind_address: remote_db.then(|| "0.0.0.0".to_string()),
            }
        });
        let repo = repo_vars(p, platform, release);
        let agent = if p.has_role(Role::KvmAgent) {
            let a = p.agent.clone().unwrap_or_default();
            let mgmt = p.management.as_ref();
            let management_host = mgmt
                .and_then(|m| m.host.clone())
                .or_else(|| mgmt.and_then(|m| m.endpoint.as_deref()).and_then(url_host))
                .or_else(|| p.has_role(Role::Management).then(|| host.ip.clone()))
                .ok_or_else(|| {
                    bad(
                        "management.host",
                        "a kvm-agent host without the management role needs the management server address",
                    )
                })?;
            Some(AgentVars {
                management_host,
                public_bridge: a.public_bridge.clone().unwrap_or_else(|| a.guest_bridge.clone()),
                private_bridge: a.private_bridge,
                guest_bridge: a.guest_bridge,
            })
        } else {
            None
        };
        Ok(Vars {
            platform: platform.id.as_str(),
            release: release.line,
            legacy: release.is_legacy(),
            host,
            ntp_servers: p.ntp.servers.clone(),
            rules,
            nfs,
            db,
            repo,
            agent,
            fleet,
        })
    }
}

fn fleet_vars(f: &crate::profile::Fleet, host: &HostVars, platform: &Platform) -> Result<FleetVars, RenderError> {
    platform.provisioning.ok_or_else(|| bad("host.roles", format!("the provisioning role is not offered on {}", platform.name)))?;
    let net = parse_net("fleet.subnet", &f.subnet)?.trunc();
    let hosts = f
        .hosts
        .iter()
        .map(|h| FleetHostVars { name: h.name.clone(), mac: h.mac.to_ascii_lowercase(), mac_path: h.mac_path(), address: h.address.clone() })
        .collect();
    Ok(FleetVars {
        interface: f.interface.clone(),
        network: net.network().to_string(),
        netmask: net.netmask().to_string(),
        proxy: f.dhcp == crate::profile::FleetDhcp::Proxy,
        node: host.ip.clone(),
        http_port: f.http_port,
        www: crate::profile::FLEET_WWW.into(),
        tftp: crate::profile::FLEET_TFTP.into(),
        bios_loader: crate::profile::FLEET_BIOS_LOADER.into(),
        efi_loader: crate::profile::FLEET_EFI_LOADER.into(),
        access_log: crate::profile::FLEET_ACCESS_LOG.into(),
        hosts,
    })
}

fn repo_vars(p: &Profile, platform: &Platform, release: &Release) -> RepoVars {
    use crate::platform::RepoForm;
    let cs = &p.cloudstack;
    let key = file_url(cs.gpg_key.as_deref().unwrap_or("https://download.cloudstack.org/release.asc"));
    let given = cs.mirror.as_deref().or(cs.repository.as_deref()).map(file_url);
    match platform.repo {
        RepoForm::Yum { el_major, .. } => RepoVars {
            url: given.unwrap_or_else(|| format!("{DEFAULT_BASE}/el/{el_major}/{}/", release.repo_version)),
            key,
            keyring: None,
            codename: None,
            component: release.repo_version.to_string(),
        },
        RepoForm::Apt { keyring, distro, codename, .. } => RepoVars {
            url: given.unwrap_or_else(|| format!("{DEFAULT_BASE}/{distro}")),
            key,
            keyring: Some(keyring.to_string()),
            codename: Some(codename.to_string()),
            component: release.repo_version.to_string(),
        },
    }
}

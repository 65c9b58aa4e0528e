//! What the guided install offers as defaults, from the host's facts (read through the sysroot), and the
//! warnings an operator must see before accepting them: a DHCP address, an FQDN that does not resolve here.

use std::net::{IpAddr, Ipv4Addr};

use crate::host::{HostFacts, Kvm, Method, Sysroot};
use crate::profile::rules;

#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    /// Address with prefix length.
    pub address: Option<String>,
    pub gateway: Option<String>,
    pub dns: Vec<String>,
    pub interface: Option<String>,
    pub platform: Option<String>,
    /// The primary interface gets its address from DHCP.
    pub dhcp: bool,
    /// Where the FQDN resolves to, when it does.
    pub fqdn_addresses: Vec<IpAddr>,
    /// The answers are for another system (the installer medium's target), not this one: this host's DHCP
    /// address and name resolution are not the operator's to fix.
    pub for_another_system: bool,
}

impl Defaults {
    pub fn from_facts(facts: &HostFacts, sys: &Sysroot) -> Defaults {
        let primary = facts.net.primary();
        let static_addr = primary
            .iter()
            .filter(|i| i.method == Method::Static)
            .flat_map(|i| i.addresses.iter())
            .find(|a| a.contains('/') && rules::host_cidr(a).is_ok())
            .cloned();
        let local_v4 = facts.net.local_addresses.iter().find_map(|a| match a {
            IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_link_local() => Some(*v4),
            _ => None,
        });
        let gateway = sys.read_opt("/proc/net/route").ok().flatten().and_then(|t| default_gateway(&t));
        // Without a configured prefix, /24 is the usual host network; the operator confirms it.
        let address = static_addr.or_else(|| local_v4.map(|a| format!("{a}/24")));
        let hostname = facts.names.hostname.as_ref().map(|h| h.split('.').next().unwrap_or(h).to_string());
        let fqdn = facts.names.fqdn.clone().filter(|f| f.contains('.')).or_else(|| facts.names.hostname.clone().filter(|h| h.contains('.')));
        Defaults {
            hostname,
            fqdn,
            address,
            gateway: gateway.map(|g| g.to_string()),
            dns: nameservers(sys),
            interface: primary.first().map(|i| i.name.clone()).or_else(|| facts.net.default_interface.clone()),
            platform: facts.platform.as_ref().ok().map(|p| p.as_str().to_string()),
            dhcp: primary.iter().any(|i| i.method == Method::Dhcp),
            fqdn_addresses: facts.names.addresses.clone(),
            for_another_system: false,
        }
    }
}

/// One line about the machine for the first screen.
pub fn summary(facts: &HostFacts) -> String {
    let os = facts.os.as_ref().map(|o| o.pretty_name.clone()).unwrap_or_else(|| "an unknown distribution".into());
    let platform = match &facts.platform {
        Ok(p) => p.as_str().to_string(),
        Err(_) => "not supported".into(),
    };
    let mem = facts.memory_bytes.map(|b| format!(", {:.1} GiB memory", b as f64 / (1u64 << 30) as f64)).unwrap_or_default();
    let kvm = match facts.kvm {
        Kvm::Usable => ", /dev/kvm usable",
        Kvm::Missing => ", no /dev/kvm",
        Kvm::Unusable(_) => ", /dev/kvm not usable",
    };
    format!("This host: {os} (platform {platform}), {}{mem}{kvm}", facts.arch.clone().unwrap_or_else(|| "unknown architecture".into()))
}

/// The gateway of the default route in proc/net/route (little-endian hex).
pub fn default_gateway(route: &str) -> Option<Ipv4Addr> {
    route.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok().filter(|g| *g != 0)?;
            Some(Ipv4Addr::from(g.swap_bytes()))
        } else {
            None
        }
    })
}

/// Name servers from etc/resolv.conf (the systemd-resolved stub 127.0.0.53 is not useful to guests).
pub fn nameservers(sys: &Sysroot) -> Vec<String> {
    let text = sys.read_opt("/etc/resolv.conf").ok().flatten().unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<IpAddr>().is_ok_and(|ip| !ip.is_loopback()))
        .collect()
}

/// The network of an address with prefix ("192.168.1.4/24" -> "192.168.1.0/24").
pub fn network_of(address: &str) -> Option<String> {
    let (a, p) = rules::host_cidr(address).ok()?;
    let (lo, _) = rules::bounds(a, p);
    Some(format!("{lo}/{p}"))
}

/// Offset `n` addresses from the network start of `address`, if still inside it.
pub fn nth_in_network(address: &str, n: u32) -> Option<Ipv4Addr> {
    let (a, p) = rules::host_cidr(address).ok()?;
    let (lo, hi) = rules::bounds(a, p);
    let x = u32::from(lo).checked_add(n)?;
    (x < u32::from(hi)).then(|| Ipv4Addr::from(x))
}

/// The dotted netmask of an address with prefix.
pub fn netmask_of(address: &str) -> Option<String> {
    let (_, p) = rules::host_cidr(address).ok()?;
    let m = if p == 0 { 0 } else { u32::MAX << (32 - p as u32) };
    Some(Ipv4Addr::from(m).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_from_route_table() {
        let t = "Iface\tDestination\tGateway \tFlags\n\
                 eth0\t00000000\t0101A8C0\t0003\n\
                 eth0\t0001A8C0\t00000000\t0001\n";
        assert_eq!(default_gateway(t), Some(Ipv4Addr::new(192, 168, 1, 1)));
    }

    #[test]
    fn network_arithmetic() {
        assert_eq!(network_of("192.168.1.4/24").as_deref(), Some("192.168.1.0/24"));
        assert_eq!(nth_in_network("192.168.1.4/24", 200), Some(Ipv4Addr::new(192, 168, 1, 200)));
        assert_eq!(nth_in_network("192.168.1.4/28", 200), None);
        assert_eq!(netmask_of("10.0.0.5/16").as_deref(), Some("255.255.0.0"));
    }
}

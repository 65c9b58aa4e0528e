//! Host name and what `hostname --fqdn` would print: the canonical name of the host name and its addresses.
//! On a live root the system resolver answers, through `getent ahosts` (getaddrinfo with AI_CANONNAME and
//! nsswitch, as `hostname --fqdn` resolves); a fixture sysroot resolves through its etc/hosts only.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

use super::Sysroot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameFacts {
    /// The kernel's host name (or the configured one in a fixture).
    pub hostname: Option<String>,
    /// What `hostname --fqdn` prints: the canonical name the host name resolves to.
    pub fqdn: Option<String>,
    /// Addresses the FQDN resolves to.
    pub addresses: Vec<IpAddr>,
    /// Where the answer came from: "/etc/hosts" or "resolver"; None when the name did not resolve.
    pub source: Option<String>,
}

/// Host name: proc/sys/kernel/hostname, else etc/hostname, else EL6's HOSTNAME= in etc/sysconfig/network.
pub fn hostname(sys: &Sysroot) -> Option<String> {
    for path in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(Some(t)) = sys.read_opt(path) {
            if let Some(name) = t.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')) {
                return Some(name.to_string());
            }
        }
    }
    let net = sys.read_opt("/etc/sysconfig/network").ok()??;
    net.lines()
        .filter_map(|l| l.trim().strip_prefix("HOSTNAME="))
        .map(|v| v.trim_matches('"').to_string())
        .next()
}

/// Look a name up in hosts-file text: (canonical name, every address listed for it).
pub fn lookup_hosts(text: &str, name: &str) -> Option<(String, Vec<IpAddr>)> {
    let mut canonical = None;
    let mut addrs = vec![];
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words.next().and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
        let names: Vec<&str> = words.collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            canonical.get_or_insert_with(|| names[0].to_string());
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
    }
    canonical.map(|c| (c, addrs))
}

/// Resolve the host name the way `hostname --fqdn` does.
pub fn name_facts(sys: &Sysroot, timeout: Duration) -> NameFacts {
    let hostname = hostname(sys);
    let mut facts = NameFacts { hostname: hostname.clone(), fqdn: None, addresses: vec![], source: None };
    let Some(name) = hostname else { return facts };
    if sys.is_live() {
        if let Some((canonical, addrs)) = getent(&name, timeout) {
            facts.fqdn = Some(canonical);
            facts.addresses = addrs;
            facts.source = Some("resolver".into());
            return facts;
        }
    }
    let hosts = sys.read_opt("/etc/hosts").ok().flatten().unwrap_or_default();
    if let Some((canonical, addrs)) = lookup_hosts(&hosts, &name) {
        facts.fqdn = Some(canonical);
        facts.addresses = addrs;
        facts.source = Some("/etc/hosts".into());
    } else if sys.is_live() {
        if let Some(addrs) = resolve_with_timeout(&name, timeout) {
            facts.fqdn = Some(name);
            facts.addresses = addrs;
            facts.source = Some("resolver".into());
        }
    }
    facts
}

/// `getent ahosts NAME`: the first line carries the canonical name. None when getent is missing or the
/// name does not resolve.
fn getent(name: &str, timeout: Duration) -> Option<(String, Vec<IpAddr>)> {
    let out = crate::run::Cmd::new("getent").args(["ahosts", name]).timeout(timeout).run(&Default::default()).ok()?;
    if out.status != 0 {
        return None;
    }
    parse_getent(&out.stdout)
}

pub fn parse_getent(text: &str) -> Option<(String, Vec<IpAddr>)> {
    let mut canonical = None;
    let mut addrs: Vec<IpAddr> = vec![];
    for line in text.lines() {
        let mut w = line.split_whitespace();
        let Some(addr) = w.next().and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
        if let Some(cn) = w.nth(1) {
            canonical.get_or_insert_with(|| cn.to_string());
        }
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    Some((canonical?, addrs))
}

/// Ask the system resolver in a thread, so a dead DNS server costs at most `timeout`.
pub fn resolve_with_timeout(name: &str, timeout: Duration) -> Option<Vec<IpAddr>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = name.to_string();
    std::thread::spawn(move || {
        let res: Option<Vec<IpAddr>> = (owned.as_str(), 0u16).to_socket_addrs().ok().map(|it| {
            let mut v: Vec<IpAddr> = vec![];
            for a in it {
                if !v.contains(&a.ip()) {
                    v.push(a.ip());
                }
            }
            v
        });
        let _ = tx.send(res);
    });
    rx.recv_timeout(timeout).ok().flatten().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lookup_gives_first_name_as_canonical() {
        let hosts = "127.0.0.1 localhost localhost.localdomain\n# c\n192.168.1.4 cloud-server.squirrel.org cloud-server\n";
        let (c, a) = lookup_hosts(hosts, "cloud-server").unwrap();
        assert_eq!(c, "cloud-server.squirrel.org");
        assert_eq!(a, vec!["192.168.1.4".parse::<IpAddr>().unwrap()]);
        assert!(lookup_hosts(hosts, "other").is_none());
    }

    #[test]
    fn getent_first_line_names_the_canonical_name() {
        let out = "192.168.1.4     STREAM cloud-server.squirrel.org\n192.168.1.4     DGRAM  \n192.168.1.4     RAW    \n";
        let (c, a) = parse_getent(out).unwrap();
        assert_eq!(c, "cloud-server.squirrel.org");
        assert_eq!(a.len(), 1);
        assert!(parse_getent("").is_none());
    }
}

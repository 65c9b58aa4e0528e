//! How each interface gets its address (static or DHCP), read from every configuration style the
//! platforms use, and which addresses are local.

use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

use super::Sysroot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Static,
    Dhcp,
    /// Configured without an address of its own (a bridge port, `manual`, `disabled`).
    Other,
}

/// One interface's IPv4 configuration as a file states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfaceConfig {
    /// Interface name (or connection id when the file names no interface).
    pub name: String,
    pub method: Method,
    /// Static addresses ("192.168.1.4/24" or "192.168.1.4").
    pub addresses: Vec<String>,
    /// The file that says so, as on the host.
    pub file: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetFacts {
    pub interfaces: Vec<IfaceConfig>,
    /// The interface of the default route (proc/net/route), when known.
    pub default_interface: Option<String>,
    /// Addresses on the host's interfaces (proc/net/fib_trie, proc/net/if_inet6) plus configured static ones.
    pub local_addresses: Vec<IpAddr>,
}

impl NetFacts {
    /// Configuration of the primary interface: the default route's when known, else all non-loopback ones.
    pub fn primary(&self) -> Vec<&IfaceConfig> {
        let real: Vec<&IfaceConfig> = self.interfaces.iter().filter(|i| i.name != "lo").collect();
        if let Some(d) = &self.default_interface {
            let hit: Vec<&IfaceConfig> = real.iter().copied().filter(|i| &i.name == d).collect();
            if !hit.is_empty() {
                return hit;
            }
        }
        real
    }
}

pub fn net_facts(sys: &Sysroot) -> NetFacts {
    let mut interfaces = vec![];
    ifcfg(sys, &mut interfaces);
    nm_keyfiles(sys, &mut interfaces);
    netplan(sys, &mut interfaces);
    ifupdown(sys, &mut interfaces);
    networkd(sys, &mut interfaces);
    let default_interface = sys.read_opt("/proc/net/route").ok().flatten().and_then(|t| default_route(&t));
    let mut local_addresses = local_addresses(sys);
    for i in &interfaces {
        for a in &i.addresses {
            if let Ok(ip) = a.split('/').next().unwrap_or("").parse::<IpAddr>() {
                if !local_addresses.contains(&ip) {
                    local_addresses.push(ip);
                }
            }
        }
    }
    NetFacts { interfaces, default_interface, local_addresses }
}

fn host_path(sys: &Sysroot, p: &Path) -> String {
    format!("/{}", p.strip_prefix(sys.root()).unwrap_or(p).display())
}

fn files_with(sys: &Sysroot, dir: &str, pred: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    sys.list(dir)
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&pred))
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (host_path(sys, &p), t)))
        .collect()
}

fn unquote(v: &str) -> &str {
    v.trim().trim_matches('"').trim_matches('\'')
}

/// EL: etc/sysconfig/network-scripts/ifcfg-* with BOOTPROTO=dhcp|static|none and IPADDR.
fn ifcfg(sys: &Sysroot, out: &mut Vec<IfaceConfig>) {
    for (file, text) in files_with(sys, "/etc/sysconfig/network-scripts", |n| n.starts_with("ifcfg-") && !n.ends_with('~')) {
        let mut name = file.rsplit("ifcfg-").next().unwrap_or("").to_string();
        let (mut proto, mut addrs, mut bridge) = (String::new(), vec![], false);
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once('=') else { continue };
            let v = unquote(v);
            match k.trim() {
                "DEVICE" => name = v.to_string(),
                "BOOTPROTO" => proto = v.to_lowercase(),
                "BRIDGE" => bridge = true,
                k if k.starts_with("IPADDR") => addrs.push(v.to_string()),
                _ => {}
            }
        }
        let method = match proto.as_str() {
            "dhcp" | "bootp" => Method::Dhcp,
            _ if bridge => Method::Other,
            "static" | "none" | "" if !addrs.is_empty() => Method::Static,
            _ => Method::Other,
        };
        out.push(IfaceConfig { name, method, addresses: addrs, file });
    }
}

/// NetworkManager keyfiles: [ipv4] method=auto|manual, address1=ADDR/PREFIX[,GW].
fn nm_keyfiles(sys: &Sysroot, out: &mut Vec<IfaceConfig>) {
    for dir in ["/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections"] {
        for (file, text) in files_with(sys, dir, |n| n.ends_with(".nmconnection")) {
            let (mut section, mut id, mut iface, mut method, mut addrs) = (String::new(), String::new(), None, None, vec![]);
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    section = line.trim_matches(|c| c == '[' || c == ']').to_string();
                    continue;
                }
                let Some((k, v)) = line.split_once('=') else { continue };
                match (section.as_str(), k.trim()) {
                    ("connection", "id") => id = v.trim().to_string(),
                    ("connection", "interface-name") => iface = Some(v.trim().to_string()),
                    ("ipv4", "method") => method = Some(v.trim().to_string()),
                    ("ipv4", k) if k.starts_with("address") => addrs.push(v.split(',').next().unwrap_or("").trim().to_string()),
                    _ => {}
                }
            }
            let method = match method.as_deref() {
                Some("auto") => Method::Dhcp,
                Some("manual") => Method::Static,
                // NetworkManager's default for a connection without [ipv4] is auto.
                None => Method::Dhcp,
                _ => Method::Other,
            };
            out.push(IfaceConfig { name: iface.unwrap_or(id), method, addresses: addrs, file });
        }
    }
}

/// netplan YAML: under ethernets/bonds/bridges/vlans, `IFACE: { dhcp4: true, addresses: [...] }`.
/// A small indentation reader: netplan files are plain nested maps and lists.
fn netplan(sys: &Sysroot, out: &mut Vec<IfaceConfig>) {
    const SECTIONS: [&str; 5] = ["ethernets", "bonds", "bridges", "vlans", "wifis"];
    for dir in ["/etc/netplan", "/run/netplan", "/lib/netplan"] {
        for (file, text) in files_with(sys, dir, |n| n.ends_with(".yaml") || n.ends_with(".yml")) {
            let mut found: Vec<IfaceConfig> = vec![];
            // (indent, key) of the open maps.
            let mut stack: Vec<(usize, String)> = vec![];
            let mut in_addresses: Option<usize> = None;
            for raw in text.lines() {
                let line = raw.split(" #").next().unwrap_or("");
                if line.trim().is_empty() || line.trim_start().starts_with('#') {
                    continue;
                }
                let indent = line.len() - line.trim_start().len();
                let body = line.trim();
                if let Some(ai) = in_addresses {
                    // YAML allows a list at the same indent as its key.
                    if indent >= ai && body.starts_with('-') && !body.contains(':') {
                        if let Some(cur) = found.last_mut() {
                            cur.addresses.push(unquote(body.trim_start_matches('-')).to_string());
                        }
                        continue;
                    }
                    in_addresses = None;
                }
                while stack.last().is_some_and(|(i, _)| *i >= indent) {
                    stack.pop();
                }
                let Some((k, v)) = body.split_once(':') else { continue };
                let (k, v) = (unquote(k).to_string(), v.trim());
                let depth_section = stack.iter().position(|(_, s)| SECTIONS.contains(&s.as_str()));
                if let Some(pos) = depth_section {
                    if stack.len() == pos + 1 {
                        // A new interface under a section.
                        found.push(IfaceConfig { name: k.clone(), method: Method::Other, addresses: vec![], file: file.clone() });
                    } else if stack.len() == pos + 2 {
                        if let Some(cur) = found.last_mut() {
                            match k.as_str() {
                                "dhcp4" if matches!(v, "true" | "yes" | "on") => cur.method = Method::Dhcp,
                                "addresses" => {
                                    if v.starts_with('[') {
                                        cur.addresses.extend(
                                            v.trim_matches(|c| c == '[' || c == ']').split(',').map(unquote).filter(|s| !s.is_empty()).map(String::from),
                                        );
                                    } else {
                                        in_addresses = Some(indent);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
                if v.is_empty() {
                    stack.push((indent, k));
                }
            }
            for mut f in found {
                if f.method == Method::Other && !f.addresses.is_empty() {
                    f.method = Method::Static;
                }
                out.push(f);
            }
        }
    }
}

/// ifupdown: `iface IFACE inet dhcp|static` (+ `address`), in etc/network/interfaces and interfaces.d.
fn ifupdown(sys: &Sysroot, out: &mut Vec<IfaceConfig>) {
    let mut files: Vec<(String, String)> = vec![];
    if let Ok(Some(t)) = sys.read_opt("/etc/network/interfaces") {
        files.push(("/etc/network/interfaces".into(), t));
    }
    files.extend(files_with(sys, "/etc/network/interfaces.d", |n| !n.starts_with('.')));
    for (file, text) in files {
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["iface", name, "inet", method, ..] => {
                    let method = match *method {
                        "dhcp" | "bootp" => Method::Dhcp,
                        "static" => Method::Static,
                        _ => Method::Other,
                    };
                    out.push(IfaceConfig { name: name.to_string(), method, addresses: vec![], file: file.clone() });
                }
                ["address", a, ..] => {
                    if let Some(cur) = out.last_mut().filter(|c| c.file == file) {
                        cur.addresses.push(a.to_string());
                    }
                }
                _ => {}
            }
        }
    }
}

/// systemd-networkd: [Match] Name=, [Network] DHCP=yes|ipv4|true and Address=.
fn networkd(sys: &Sysroot, out: &mut Vec<IfaceConfig>) {
    for dir in ["/etc/systemd/network", "/run/systemd/network"] {
        for (file, text) in files_with(sys, dir, |n| n.ends_with(".network")) {
            let (mut section, mut name, mut dhcp, mut addrs) = (String::new(), None, false, vec![]);
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    section = line.to_string();
                    continue;
                }
                let Some((k, v)) = line.split_once('=') else { continue };
                match (section.as_str(), k.trim()) {
                    ("[Match]", "Name") => name = Some(v.trim().to_string()),
                    ("[Network]", "DHCP") => dhcp = matches!(v.trim(), "yes" | "true" | "ipv4" | "1"),
                    ("[Network]", "Address") | ("[Address]", "Address") => addrs.push(v.trim().to_string()),
                    _ => {}
                }
            }
            let method = if dhcp {
                Method::Dhcp
            } else if !addrs.is_empty() {
                Method::Static
            } else {
                Method::Other
            };
            let name = name.unwrap_or_else(|| file.rsplit('/').next().unwrap_or("").to_string());
            out.push(IfaceConfig { name, method, addresses: addrs, file });
        }
    }
}

/// The interface of the IPv4 default route from proc/net/route.
pub fn default_route(text: &str) -> Option<String> {
    text.lines().skip(1).find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.len() > 2 && w[1] == "00000000").then(|| w[0].to_string())
    })
}

/// Local addresses from proc/net/fib_trie (host LOCAL entries) and proc/net/if_inet6.
fn local_addresses(sys: &Sysroot) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = vec![];
    if let Ok(Some(t)) = sys.read_opt("/proc/net/fib_trie") {
        let mut last: Option<IpAddr> = None;
        for line in t.lines() {
            let l = line.trim();
            if let Some(a) = l.strip_prefix("|-- ").or_else(|| l.strip_prefix("+-- ")) {
                last = a.split('/').next().and_then(|a| a.parse().ok());
            } else if l.contains("host LOCAL") {
                if let Some(a) = last {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        }
    }
    if let Ok(Some(t)) = sys.read_opt("/proc/net/if_inet6") {
        for line in t.lines() {
            let Some(hex) = line.split_whitespace().next() else { continue };
            if hex.len() != 32 {
                continue;
            }
            let mut b = [0u8; 16];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            let a = IpAddr::from(b);
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::host::sysroot::fixture_tree as tree;

    #[test]
    fn every_style_is_read() {
        let (_d, s) = tree(&[
            ("/etc/sysconfig/network-scripts/ifcfg-eth0", "DEVICE=eth0\nBOOTPROTO=static\nIPADDR=192.168.1.4\n"),
            ("/etc/NetworkManager/system-connections/ens3.nmconnection", "[connection]\nid=x\ninterface-name=ens3\n[ipv4]\nmethod=auto\n"),
            (
                "/etc/netplan/50.yaml",
                "network:\n  version: 2\n  ethernets:\n    enp1s0:\n      dhcp4: true\n    enp2s0:\n      addresses:\n        - 10.0.0.5/24\n      routes: []\n    enp3s0:\n      addresses: [10.0.1.5/24]\n",
            ),
            ("/etc/netplan/60.yaml", "network:\n  ethernets:\n    enp4s0:\n      addresses:\n      - 10.0.2.5/24\n      nameservers:\n        addresses:\n        - 10.0.2.1\n"),
            ("/etc/network/interfaces", "auto lo\niface lo inet loopback\niface eno1 inet static\n  address 10.1.1.2/24\n"),
            ("/etc/systemd/network/10.network", "[Match]\nName=eth9\n[Network]\nDHCP=yes\n"),
        ]);
        let n = net_facts(&s);
        let m: Vec<(&str, Method)> = n.interfaces.iter().map(|i| (i.name.as_str(), i.method)).collect();
        assert_eq!(
            m,
            vec![
                ("eth0", Method::Static),
                ("ens3", Method::Dhcp),
                ("enp1s0", Method::Dhcp),
                ("enp2s0", Method::Static),
                ("enp3s0", Method::Static),
                ("enp4s0", Method::Static),
                ("lo", Method::Other),
                ("eno1", Method::Static),
                ("eth9", Method::Dhcp),
            ]
        );
        assert!(n.local_addresses.contains(&"10.0.0.5".parse().unwrap()));
        let enp4 = n.interfaces.iter().find(|i| i.name == "enp4s0").unwrap();
        assert_eq!(enp4.addresses, vec!["10.0.2.5/24"], "nameserver addresses are not interface addresses");
    }

    #[test]
    fn default_route_interface() {
        let t = "Iface\tDestination\tGateway\nens3\t0001A8C0\t00000000\nens3\t00000000\t0101A8C0\n";
        assert_eq!(default_route(t).as_deref(), Some("ens3"));
    }
}

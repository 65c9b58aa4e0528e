//! Single-value rules: each takes one answer and says what is wrong with it and what is expected.
//! `profile check` and the guided install share them, so a value is judged the same way everywhere.
//! Rules for secrets never put the value in their message.

use std::net::{IpAddr, Ipv4Addr};

pub type Rule = Result<(), String>;

/// Release lines and the platforms each supports come from preflight's table (one source of truth).
use crate::platform::{release_platforms, Release};

/// Characters `cloudstack-setup-databases` rejects in passwords (`:` breaks its user:password parsing).
pub const PASSWORD_FORBIDDEN: [(char, &str); 5] =
    [('\'', "a single quote"), (' ', "a space"), ('\\', "a backslash"), ('`', "a backtick"), (':', "a colon")];

pub fn release(s: &str) -> Rule {
    if release_platforms(s).is_some() {
        Ok(())
    } else {
        Err(format!("{s:?} is not a supported release (expected one of {})", Release::lines().join(", ")))
    }
}

pub fn platform(s: &str) -> Rule {
    s.parse::<crate::platform::PlatformId>().map(|_| ())
}

pub fn release_on_platform(release: &str, platform: &str) -> Rule {
    let (Some(ps), Ok(id)) = (release_platforms(release), platform.parse::<crate::platform::PlatformId>()) else {
        return Ok(());
    };
    if ps.contains(&id) {
        return Ok(());
    }
    let names: Vec<&str> = ps.iter().map(|p| p.as_str()).collect();
    Err(format!("CloudStack {release} does not support {platform} (expected one of {})", names.join(", ")))
}

/// A short host name: one DNS label.
pub fn hostname(s: &str) -> Rule {
    if label_ok(s) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a host name (expected one DNS label: letters, digits and '-', up to 63 characters)"))
    }
}

fn label_ok(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// A DNS name (one label or more).
pub fn dns_name(s: &str) -> Rule {
    let t = s.strip_suffix('.').unwrap_or(s);
    if !t.is_empty() && t.len() <= 253 && t.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a DNS name (expected labels of letters, digits and '-', separated by dots)"))
    }
}

/// A fully qualified name: a DNS name with a domain, whose first label is the host name when given.
pub fn fqdn(s: &str, hostname: Option<&str>) -> Rule {
    dns_name(s)?;
    let t = s.strip_suffix('.').unwrap_or(s);
    let Some((first, _)) = t.split_once('.') else {
        return Err(format!("{s:?} has no domain (expected a name like cloud-server.example.org)"));
    };
    match hostname {
        Some(h) if !first.eq_ignore_ascii_case(h) => {
            Err(format!("{s:?} does not start with the host name {h:?} (expected {h}.DOMAIN)"))
        }
        _ => Ok(()),
    }
}

pub fn ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse::<Ipv4Addr>().map_err(|_| format!("{s:?} is not an IPv4 address (expected e.g. 192.168.1.4)"))
}

pub fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>().map_err(|_| format!("{s:?} is not an IP address (expected e.g. 192.168.1.1 or 2001:db8::1)"))
}

/// A host name or an IP address.
pub fn host(s: &str) -> Rule {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return match not_a_host(ip) {
            Some(kind) => Err(format!("{ip} is {kind} address, which names no single reachable host (expected a unicast address or a host name)")),
            None => Ok(()),
        };
    }
    // Something that looks like a dotted quad but is not a valid address is a typo, not a name.
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("{s:?} is not a valid address (expected an IPv4 address or a host name)"));
    }
    dns_name(s).map_err(|_| format!("{s:?} is not a host name or IP address (expected e.g. 192.168.1.4 or nfs.example.org)"))
}

/// What kind of address `ip` is when it cannot name a host: unspecified, multicast, broadcast, or
/// link-local (which needs an interface zone to mean anything).
fn not_a_host(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) if a.is_unspecified() => Some("the unspecified"),
        IpAddr::V4(a) if a.is_multicast() => Some("a multicast"),
        IpAddr::V4(a) if a.is_broadcast() => Some("the broadcast"),
        IpAddr::V4(a) if a.is_link_local() => Some("a link-local"),
        IpAddr::V6(a) if a.is_unspecified() => Some("the unspecified"),
        IpAddr::V6(a) if a.is_multicast() => Some("a multicast"),
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => Some("a link-local"),
        _ => None,
    }
}

/// An address with its prefix length, as a host carries it: `192.168.1.4/24`.
pub fn host_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("{s:?} is not an address with a prefix length (expected e.g. 192.168.1.4/24)");
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().ok().filter(|p| (1..=32).contains(p)).ok_or_else(bad)?;
    if addr.is_loopback() || addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() || addr.is_link_local() {
        return Err(format!("{addr} cannot be a host's address (expected a unicast address on the host's network)"));
    }
    if prefix <= 30 {
        let (net, bcast) = bounds(addr, prefix);
        if addr == net {
            return Err(format!("{addr} is the network address of {net}/{prefix} (expected a host address inside it)"));
        }
        if addr == bcast {
            return Err(format!("{addr} is the broadcast address of {net}/{prefix} (expected a host address inside it)"));
        }
    }
    Ok((addr, prefix))
}

/// A network in CIDR form with no host bits set: `192.168.1.0/24`.
pub fn network(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("{s:?} is not a network (expected CIDR notation, e.g. 192.168.1.0/24)");
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
    let (net, _) = bounds(addr, prefix);
    if net != addr {
        return Err(format!("{s:?} has host bits set (expected the network address {net}/{prefix})"));
    }
    Ok((net, prefix))
}

/// A dotted netmask with contiguous ones: `255.255.255.0`.
pub fn netmask(s: &str) -> Result<u8, String> {
    let bad = || format!("{s:?} is not a netmask (expected contiguous ones, e.g. 255.255.255.0)");
    let m = u32::from(s.parse::<Ipv4Addr>().map_err(|_| bad())?);
    let ones = m.leading_ones();
    if m.count_ones() != ones || ones == 0 {
        return Err(bad());
    }
    Ok(ones as u8)
}

/// First and last address of `addr/prefix`.
pub fn bounds(addr: Ipv4Addr, prefix: u8) -> (Ipv4Addr, Ipv4Addr) {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) };
    let a = u32::from(addr);
    (Ipv4Addr::from(a & mask), Ipv4Addr::from(a | !mask))
}

pub fn contains(net: (Ipv4Addr, u8), a: Ipv4Addr) -> bool {
    let (lo, hi) = bounds(net.0, net.1);
    lo <= a && a <= hi
}

pub fn absolute_path(s: &str) -> Rule {
    if !s.starts_with('/') {
        return Err(format!("{s:?} is not an absolute path (expected a path starting with /)"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} contains white space (expected a path without spaces)"));
    }
    if s.split('/').any(|c| c == "..") {
        return Err(format!("{s:?} contains '..' (expected a plain absolute path)"));
    }
    Ok(())
}

/// `nfs://HOST/PATH`, as CloudStack takes storage URLs.
pub fn nfs_url(s: &str) -> Rule {
    let bad = || format!("{s:?} is not an NFS URL (expected nfs://HOST/PATH)");
    let rest = s.strip_prefix("nfs://").ok_or_else(bad)?;
    let (h, p) = rest.split_once('/').ok_or_else(bad)?;
    host(h).map_err(|_| bad())?;
    absolute_path(&format!("/{p}")).map_err(|_| bad())?;
    if p.is_empty() {
        return Err(bad());
    }
    Ok(())
}

/// An http(s) URL with a host; plain http only when `allow_http`.
pub fn web_url(s: &str, allow_http: bool) -> Rule {
    let u = url::Url::parse(s).map_err(|_| format!("{s:?} is not a URL (expected https://HOST/...)"))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(format!(
                "{s:?} uses plain http (expected https://, or set cloudstack.allow-http = true to accept http)"
            ))
        }
        other => return Err(format!("{s:?} has scheme {other:?} (expected https://HOST/...)")),
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{s:?} has no host (expected https://HOST/...)"));
    }
    Ok(())
}

/// A local mirror: an absolute path or a file:// URL.
pub fn mirror(s: &str) -> Rule {
    match s.strip_prefix("file://") {
        Some(p) => absolute_path(p).map_err(|_| format!("{s:?} is not a file:// URL of an absolute path (expected file:///srv/mirror)")),
        None => absolute_path(s).map_err(|_| format!("{s:?} is not a local mirror (expected an absolute path or file:///PATH)")),
    }
}

/// A signing key: https URL (http when allowed), file:// URL or absolute path.
pub fn key_location(s: &str, allow_http: bool) -> Rule {
    if s.starts_with('/') || s.starts_with("file://") {
        return mirror(s).map_err(|_| format!("{s:?} is not a key location (expected https://..., file:///PATH or /PATH)"));
    }
    web_url(s, allow_http)
}

/// `md5:HEX`, `sha256:HEX` or `sha512:HEX`.
pub fn checksum(s: &str) -> Rule {
    let bad = |why: &str| format!("{s:?} {why} (expected md5:HEX, sha256:HEX or sha512:HEX)");
    let (alg, hex) = s.split_once(':').ok_or_else(|| bad("is not ALGORITHM:HEX"))?;
    let len = match alg {
        "md5" => 32,
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(bad("names an unknown algorithm")),
    };
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the {alg} digest must be {len} hexadecimal digits, found {} characters", hex.len()));
    }
    Ok(())
}

/// A network interface or bridge name as Linux accepts it.
pub fn interface(s: &str) -> Rule {
    if !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':') {
        Ok(())
    } else {
        Err(format!("{s:?} is not an interface name (expected up to 15 characters, no '/', ':' or spaces)"))
    }
}

/// A MAC address as `ip link` prints it: six pairs of hex digits separated by colons.
pub fn mac(s: &str) -> Rule {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a MAC address (expected six pairs of hex digits such as 52:54:00:12:34:56)"))
    }
}

/// One authorized_keys line: a key type, its base64 body, an optional comment.
pub fn ssh_key(s: &str) -> Rule {
    let mut w = s.split_whitespace();
    let kind = w.next().unwrap_or("");
    let body = w.next().unwrap_or("");
    let known = kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-");
    if known && body.len() >= 16 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) && !s.contains('\n') {
        Ok(())
    } else {
        Err("is not a public key line (expected \"ssh-ed25519 AAAA... comment\" as in authorized_keys)".into())
    }
}

pub fn env_name(s: &str) -> Rule {
    let mut b = s.bytes();
    let ok = b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Ok(())
    } else {
        // Not echoed: what stands here instead of a name is often the password itself.
        Err("is not an environment variable name (expected letters, digits and '_'; the value is not shown, in case it is the secret itself)".into())
    }
}

/// A MySQL user name as the setup scripts pass it.
pub fn db_user(s: &str) -> Rule {
    if !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        Ok(())
    } else {
        Err(format!("{s:?} is not a database user name (expected up to 32 letters, digits, '_' or '-')"))
    }
}

/// A secret that is not empty; never shows the value.
pub fn secret(s: &str) -> Rule {
    if s.is_empty() {
        Err("is empty (expected a non-empty value)".into())
    } else if s.contains(['\n', '\r', '\0']) {
        Err("contains a line break or NUL (expected a single line)".into())
    } else {
        Ok(())
    }
}

/// A password the upstream setup scripts accept; never shows the value.
pub fn setup_password(s: &str) -> Rule {
    secret(s)?;
    if let Some((_, what)) = PASSWORD_FORBIDDEN.iter().find(|(c, _)| s.contains(*c)) {
        return Err(format!(
            "contains {what}, which cloudstack-setup-databases rejects (expected no ', space, \\, ` or :)"
        ));
    }
    Ok(())
}

/// A VLAN: `untagged`, a number 1-4094, or `vlan://N`.
pub fn vlan(s: &str) -> Rule {
    let n = s.strip_prefix("vlan://").unwrap_or(s);
    if s == "untagged" || n.parse::<u16>().is_ok_and(|v| (1..=4094).contains(&v)) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a VLAN (expected \"untagged\" or a number from 1 to 4094)"))
    }
}

/// A VLAN range `A-B`, 1 <= A <= B <= 4094.
pub fn vlan_range(s: &str) -> Rule {
    let bad = || format!("{s:?} is not a VLAN range (expected FIRST-LAST within 1-4094, e.g. 100-200)");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a >= 1 && a <= b && b <= 4094 {
        Ok(())
    } else {
        Err(bad())
    }
}

pub fn non_empty(s: &str, what: &str) -> Rule {
    if s.trim().is_empty() {
        Err(format!("is empty (expected {what})"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(host_cidr("192.168.1.4/24").is_ok());
        assert!(host_cidr("192.168.1.0/24").unwrap_err().contains("network address"));
        assert!(host_cidr("192.168.1.255/24").unwrap_err().contains("broadcast"));
        assert!(host_cidr("192.168.1.4").is_err());
        assert!(network("192.168.1.0/24").is_ok());
        assert!(network("192.168.1.4/24").unwrap_err().contains("192.168.1.0/24"));
        assert_eq!(netmask("255.255.255.0"), Ok(24));
        assert!(netmask("255.0.255.0").is_err());
        assert!(host("192.168.1.300").is_err());
        assert!(host("cloud-server.squirrel.org").is_ok());
    }

    #[test]
    fn urls() {
        assert!(nfs_url("nfs://192.168.1.4/export/primary").is_ok());
        assert!(nfs_url("nfs//10.0.0.4/export").is_err());
        assert!(nfs_url("nfs://10.0.0.4/").is_err());
        assert!(web_url("https://download.cloudstack.org/el/9/4.22/", false).is_ok());
        assert!(web_url("http://download.cloudstack.org/", false).unwrap_err().contains("allow-http"));
        assert!(web_url("http://download.cloudstack.org/", true).is_ok());
        assert!(web_url("ftp://x/", true).is_err());
    }

    #[test]
    fn passwords_never_echo() {
        for (pw, what) in [("a'b", "quote"), ("a b", "space"), ("a\\b", "backslash"), ("a`b", "backtick"), ("a:b", "colon")] {
            let e = setup_password(pw).unwrap_err();
            assert!(e.contains(what), "{e}");
            assert!(!e.contains(pw));
        }
        assert!(setup_password("").is_err());
        assert!(setup_password("Secr3t-pass").is_ok());
    }

    #[test]
    fn names_and_misc() {
        assert!(fqdn("cloud-server.squirrel.org", Some("cloud-server")).is_ok());
        assert!(fqdn("cloud-server", None).unwrap_err().contains("no domain"));
        assert!(fqdn("other.squirrel.org", Some("cloud-server")).is_err());
        assert!(checksum("md5:0123456789abcdef0123456789abcdef").is_ok());
        assert!(checksum("md5:0123").is_err());
        assert!(vlan_range("100-200").is_ok());
        assert!(vlan_range("200-100").is_err());
        assert!(release_on_platform("3.0.2", "el6").is_ok());
        assert!(release_on_platform("4.22", "el6").is_err());
    }
}

/// A `disk.device`: an absolute device path, `serial:SERIAL`, `smallest` or `largest`.
pub fn disk_device(s: &str) -> Result<(), String> {
    match s {
        "smallest" | "largest" => Ok(()),
        _ if s.strip_prefix("serial:").is_some_and(|v| !v.is_empty() && !v.contains(char::is_whitespace)) => Ok(()),
        _ if s.starts_with("/dev/") && !s.contains("..") && !s.ends_with('/') => Ok(()),
        _ => Err(format!("{s:?} is not a disk (expected a path under /dev such as /dev/vda or /dev/disk/by-id/..., serial:SERIAL, smallest or largest)")),
    }
}

/// A size such as "200G", "512M" or "2T" (binary units), in bytes.
pub fn size(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a size (expected a number with M, G or T, e.g. 200G)");
    let (n, unit) = s.trim().split_at(s.trim().len().saturating_sub(1));
    let shift = match unit {
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return Err(bad()),
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    n.checked_mul(1 << shift).ok_or_else(bad)
}

//! Whole-profile rules: every field through its single-value rule (`rules`), then the rules that tie
//! fields together (gateway inside the subnet, ranges that do not overlap, what each role needs, secrets).
//! Problems carry key paths; `load` turns them into file positions.

use std::net::Ipv4Addr;
use std::path::Path;

use super::rules::{self, Rule};
use super::{Problem, Profile, Role, ZoneType, DEFAULT_GUEST_CIDR};

/// One secret of the profile and how it is given.
#[derive(Debug, Clone)]
pub struct SecretRef<'a> {
    /// Key path of the inline form, e.g. `database.root-password`; the others add `-file` / `-env`.
    pub path: String,
    pub inline: Option<&'a str>,
    pub file: Option<&'a Path>,
    pub env: Option<&'a str>,
    /// Checked against what the upstream database setup script accepts.
    pub setup_rules: bool,
    /// Why it must be given, when it must.
    pub required: Option<&'static str>,
}

impl SecretRef<'_> {
    pub fn given(&self) -> usize {
        usize::from(self.inline.is_some()) + usize::from(self.file.is_some()) + usize::from(self.env.is_some())
    }

    pub fn key(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or(&self.path)
    }
}

/// Every secret the profile can hold, in document order.
pub fn secret_refs(p: &Profile) -> Vec<SecretRef<'_>> {
    let mut out = Vec::new();
    let mgmt = p.has_role(Role::Management);
    if let Some(db) = &p.database {
        let root_needed = if p.has_role(Role::Database) {
            Some("the database role sets the MySQL root password")
        } else if mgmt {
            Some("the management role deploys the cloud database as root")
        } else {
            None
        };
        out.push(SecretRef {
            path: "database.root-password".into(),
            inline: db.root_password.as_deref(),
            file: db.root_password_file.as_deref(),
            env: db.root_password_env.as_deref(),
            setup_rules: true,
            required: root_needed,
        });
        out.push(SecretRef {
            path: "database.cloud-password".into(),
            inline: db.cloud_password.as_deref(),
            file: db.cloud_password_file.as_deref(),
            env: db.cloud_password_env.as_deref(),
            setup_rules: true,
            required: mgmt.then_some("the management server logs in to the database as the cloud user"),
        });
        out.push(SecretRef {
            path: "database.management-key".into(),
            inline: db.management_key.as_deref(),
            file: db.management_key_file.as_deref(),
            env: db.management_key_env.as_deref(),
            setup_rules: true,
            required: None,
        });
        out.push(SecretRef {
            path: "database.database-key".into(),
            inline: db.database_key.as_deref(),
            file: db.database_key_file.as_deref(),
            env: db.database_key_env.as_deref(),
            setup_rules: true,
            required: None,
        });
    }
    if let Some(m) = &p.management {
        out.push(SecretRef {
            path: "management.admin-password".into(),
            inline: m.admin_password.as_deref(),
            file: m.admin_password_file.as_deref(),
            env: m.admin_password_env.as_deref(),
            setup_rules: false,
            required: None,
        });
        out.push(SecretRef {
            path: "management.secret-key".into(),
            inline: m.secret_key.as_deref(),
            file: m.secret_key_file.as_deref(),
            env: m.secret_key_env.as_deref(),
            setup_rules: false,
            required: None,
        });
    }
    if let Some(a) = &p.agent {
        out.push(SecretRef {
            path: "agent.root-password".into(),
            inline: a.root_password.as_deref(),
            file: a.root_password_file.as_deref(),
            env: a.root_password_env.as_deref(),
            setup_rules: false,
            required: a.register.then_some("agent.register = true lets the management server log in as root"),
        });
    }
    if let Some(d) = &p.disk {
        out.push(SecretRef {
            path: "disk.root-password".into(),
            inline: d.root_password.as_deref(),
            file: d.root_password_file.as_deref(),
            env: d.root_password_env.as_deref(),
            setup_rules: false,
            required: None,
        });
    }
    if let Some(f) = &p.fleet {
        out.push(SecretRef {
            path: "fleet.root-password".into(),
            inline: f.root_password.as_deref(),
            file: f.root_password_file.as_deref(),
            env: f.root_password_env.as_deref(),
            setup_rules: false,
            required: (!f.hosts.is_empty()).then_some("the installed hosts' root login, which addHost uses"),
        });
    }
    // Zone deployment falls back to agent.root-password for hosts without their own.
    let agent_pw = p.agent.as_ref().is_some_and(|a| a.root_password.is_some() || a.root_password_file.is_some() || a.root_password_env.is_some());
    if let Some(z) = &p.zone {
        for (i, h) in z.hosts.iter().enumerate() {
            out.push(SecretRef {
                path: format!("zone.hosts[{i}].password"),
                inline: h.password.as_deref(),
                file: h.password_file.as_deref(),
                env: h.password_env.as_deref(),
                setup_rules: false,
                required: (!agent_pw).then_some("addHost logs in to the host with it"),
            });
        }
    }
    out
}

/// Key names whose values are secrets: never echoed, redacted in any message.
pub fn is_secret_key(key: &str) -> bool {
    matches!(
        key,
        "root-password" | "cloud-password" | "management-key" | "database-key" | "admin-password" | "secret-key" | "password"
    )
}

struct V {
    out: Vec<Problem>,
}

impl V {
    fn rule(&mut self, path: &str, r: Rule) {
        if let Err(m) = r {
            self.out.push(Problem::new(path, m));
        }
    }
    fn err(&mut self, path: &str, m: impl Into<String>) {
        self.out.push(Problem::new(path, m.into()));
    }
    fn missing(&mut self, path: &str, m: impl Into<String>) {
        let mut p = Problem::new(path, m.into());
        p.missing = true;
        self.out.push(p);
    }
}

/// Every problem of a deserialized profile (empty when it is valid).
pub fn validate(p: &Profile) -> Vec<Problem> {
    let mut v = V { out: Vec::new() };
    if p.version != 1 {
        v.err("version", format!("version {} is not known (expected 1)", p.version));
    }
    cloudstack(p, &mut v);
    let host_net = host(p, &mut v);
    roles(p, &mut v);
    database(p, &mut v);
    nfs(p, host_net, &mut v);
    for (i, s) in p.ntp.servers.iter().enumerate() {
        v.rule(&format!("ntp.servers[{i}]"), rules::host(s));
    }
    if p.ntp.servers.is_empty() {
        v.err("ntp.servers", "is empty (expected at least one NTP server)");
    }
    if let Some(t) = &p.template {
        if let Some(u) = &t.url {
            // A file on this machine (an offline copy, such as the installer medium leaves) or a web URL.
            let local = u.starts_with('/') || u.starts_with("file://");
            v.rule("template.url", if local { rules::mirror(u) } else { rules::web_url(u, p.cloudstack.allow_http) });
        }
        if let Some(c) = &t.checksum {
            v.rule("template.checksum", rules::checksum(c));
        }
        if t.id == Some(0) {
            v.err("template.id", "0 is not a template id (expected 1 or more)");
        }
    }
    management(p, &mut v);
    if let Some(a) = &p.agent {
        v.rule("agent.private-bridge", rules::interface(&a.private_bridge));
        v.rule("agent.guest-bridge", rules::interface(&a.guest_bridge));
        if let Some(b) = &a.public_bridge {
            v.rule("agent.public-bridge", rules::interface(b));
        }
        for (key, name) in [("agent.zone", &a.zone), ("agent.pod", &a.pod), ("agent.cluster", &a.cluster)] {
            if let Some(n) = name {
                v.rule(key, rules::non_empty(n, "a name the management server knows"));
            }
        }
    }
    zone(p, host_net, &mut v);
    if let Some(d) = &p.disk {
        v.rule("disk.device", rules::disk_device(&d.device));
        for (i, k) in d.ssh_keys.iter().enumerate() {
            v.rule(&format!("disk.ssh-keys[{i}]"), rules::ssh_key(k));
        }
        if let Some(sz) = &d.export_size {
            match rules::size(sz) {
                Err(e) => v.err("disk.export-size", e),
                Ok(_) if !p.roles().contains(&Role::Nfs) => {
                    v.err("disk.export-size", "is given but this host has no nfs role (expected it only with the nfs role)")
                }
                Ok(_) => {}
            }
        }
    }
    fleet(p, &mut v);
    secrets(p, &mut v);
    v.out
}

fn cloudstack(p: &Profile, v: &mut V) {
    let c = &p.cloudstack;
    v.rule("cloudstack.release", rules::release(&c.release));
    if let Some(r) = &c.repository {
        v.rule("cloudstack.repository", rules::web_url(r, c.allow_http));
    }
    if let Some(m) = &c.mirror {
        v.rule("cloudstack.mirror", rules::mirror(m));
        if c.repository.is_some() {
            v.err("cloudstack.mirror", "is given together with cloudstack.repository (expected only one of them)");
        }
    }
    if let Some(k) = &c.gpg_key {
        v.rule("cloudstack.gpg-key", rules::key_location(k, c.allow_http));
    }
}

/// Checks [host]; returns its network when the address is valid.
fn host(p: &Profile, v: &mut V) -> Option<(Ipv4Addr, u8)> {
    let h = &p.host;
    if let Some(pl) = &h.platform {
        match rules::platform(pl) {
            Err(e) => v.err("host.platform", e),
            Ok(()) if rules::release(&p.cloudstack.release).is_ok() => {
                v.rule("host.platform", rules::release_on_platform(&p.cloudstack.release, pl))
            }
            Ok(()) => {}
        }
    }
    let name_ok = rules::hostname(&h.hostname);
    let name_valid = name_ok.is_ok();
    v.rule("host.hostname", name_ok);
    v.rule("host.fqdn", rules::fqdn(&h.fqdn, name_valid.then_some(h.hostname.as_str())));
    let net = match rules::host_cidr(&h.address) {
        Ok(n) => Some(n),
        Err(e) => {
            v.err("host.address", e);
            None
        }
    };
    match rules::ipv4(&h.gateway) {
        Err(e) => v.err("host.gateway", e),
        Ok(gw) => {
            if let Some((addr, prefix)) = net {
                let (lo, _) = rules::bounds(addr, prefix);
                if gw == addr {
                    v.err("host.gateway", format!("{gw} is the host's own address (expected the router of {lo}/{prefix})"));
                } else if !rules::contains((addr, prefix), gw) {
                    v.err("host.gateway", format!("{gw} is outside the host's network {lo}/{prefix} (expected an address inside it)"));
                }
            }
        }
    }
    for (i, d) in h.dns.iter().enumerate() {
        if let Err(e) = rules::ip(d) {
            v.err(&format!("host.dns[{i}]"), e);
        }
    }
    if let Some(i) = &h.interface {
        v.rule("host.interface", rules::interface(i));
    }
    if let Some(m) = &p.host.mac {
        v.rule("host.mac", rules::mac(m));
    }
    net
}

fn roles(p: &Profile, v: &mut V) {
    let r = &p.host.roles;
    if r.is_empty() {
        v.err("host.roles", "is empty (expected one or more of management, database, nfs, kvm-agent, all-in-one, provisioning)");
    }
    for (i, role) in r.iter().enumerate() {
        if r[..i].contains(role) {
            v.err(&format!("host.roles[{i}]"), format!("{} is listed twice (expected each role once)", role.as_str()));
        } else if *role == Role::AllInOne && r.iter().any(|o| Role::ALL_IN_ONE.contains(o)) {
            v.err(&format!("host.roles[{i}]"), "all-in-one already includes management, database, nfs and kvm-agent (expected it alone, or with provisioning)");
        }
    }
    let needs = |v: &mut V, section: &str, role: &str, why: &str| {
        v.missing(section, format!("missing: the {role} role needs a [{section}] section ({why})"));
    };
    if p.has_role(Role::Management) && p.database.is_none() {
        needs(v, "database", "management", "where the cloud database lives");
    }
    if p.has_role(Role::Database) && p.database.is_none() {
        needs(v, "database", "database", "its root password");
    }
    if p.has_role(Role::Nfs) && p.nfs.is_none() {
        needs(v, "nfs", "nfs", "the exports and the clients allowed");
    }
    if p.has_role(Role::Management) && p.nfs.is_none() {
        needs(v, "nfs", "management", "the secondary storage that receives the system VM template");
    }
    if p.has_role(Role::KvmAgent) && !p.has_role(Role::Management) {
        let given = p.management.as_ref().is_some_and(|m| m.host.is_some() || m.endpoint.is_some());
        if !given {
            let path = if p.management.is_some() { "management.host" } else { "management" };
            v.missing(
                path,
                "missing: the kvm-agent role needs the management server's address (expected management.host or management.endpoint)",
            );
        }
    }
}

/// Names this host answers to, for "must be this host" rules.
fn is_this_host(p: &Profile, s: &str) -> bool {
    let own = p.host.ip();
    ["localhost", "127.0.0.1", "::1", own, &p.host.fqdn, &p.host.hostname].iter().any(|n| n.eq_ignore_ascii_case(s))
}

fn database(p: &Profile, v: &mut V) {
    let Some(d) = &p.database else { return };
    v.rule("database.host", rules::host(&d.host));
    if p.has_role(Role::Database) && rules::host(&d.host).is_ok() && !is_this_host(p, &d.host) {
        v.err(
            "database.host",
            format!("{:?} is another machine, but this host has the database role (expected localhost or this host's address)", d.host),
        );
    }
    if d.port == 0 {
        v.err("database.port", "0 is not a port (expected 1-65535, usually 3306)");
    }
    if let Some(s) = &d.server {
        if s != "mysql" && s != "mariadb" {
            v.err("database.server", format!("{s:?} is not a database server (expected \"mysql\" or \"mariadb\")"));
        }
    }
    v.rule("database.cloud-user", rules::db_user(&d.cloud_user));
    if d.max_connections == 0 {
        v.err("database.max-connections", "0 connections cannot work (expected 350 per management server)");
    }
    if d.server_id == 0 {
        v.err("database.server-id", "0 disables binary logging (expected an integer of 1 or more)");
    }
}

fn nfs(p: &Profile, host_net: Option<(Ipv4Addr, u8)>, v: &mut V) {
    let Some(n) = &p.nfs else { return };
    v.rule("nfs.server", rules::host(&n.server));
    if p.has_role(Role::Nfs) && rules::host(&n.server).is_ok() && !is_this_host(p, &n.server) {
        v.err(
            "nfs.server",
            format!("{:?} is another machine, but this host has the nfs role (expected this host's address or name)", n.server),
        );
    }
    v.rule("nfs.primary", rules::absolute_path(&n.primary));
    v.rule("nfs.secondary", rules::absolute_path(&n.secondary));
    for (key, path) in [("nfs.primary", &n.primary), ("nfs.secondary", &n.secondary)] {
        if path.trim_end_matches('/').is_empty() {
            v.err(key, "is the root directory (expected a directory of its own, e.g. /export/primary)");
        }
    }
    let norm = |s: &str| s.trim_end_matches('/').to_string();
    if norm(&n.primary) == norm(&n.secondary) {
        v.err("nfs.secondary", "is the same directory as nfs.primary (expected separate exports)");
    }
    match rules::network(&n.clients) {
        Err(e) => v.err("nfs.clients", e),
        Ok(net) => {
            let uses_exports = p.has_role(Role::KvmAgent) || p.has_role(Role::Management);
            if let (true, Some((addr, _))) = (uses_exports, host_net) {
                if !rules::contains(net, addr) {
                    v.err(
                        "nfs.clients",
                        format!("{} does not include this host's address {addr}, which mounts the exports (expected a network containing it)", n.clients),
                    );
                }
            }
        }
    }
    if let Some(d) = &n.idmap_domain {
        v.rule("nfs.idmap-domain", rules::dns_name(d));
    }
    v.rule("nfs.secondary-mount", rules::absolute_path(&n.secondary_mount));
}

fn management(p: &Profile, v: &mut V) {
    let Some(m) = &p.management else { return };
    if let Some(e) = &m.endpoint {
        // The API on 8080 is plain http on every release; https is optional.
        v.rule("management.endpoint", rules::web_url(e, true));
    }
    if let Some(h) = &m.host {
        v.rule("management.host", rules::host(h));
    }
    if let Some(k) = &m.api_key {
        v.rule("management.api-key", rules::non_empty(k, "the API key from registerUserKeys"));
    }
    let t = &m.timeouts;
    for (key, secs) in [("request", t.request), ("add-host", t.add_host), ("add-image-store", t.add_image_store), ("create-storage-pool", t.create_storage_pool)] {
        if secs == 0 {
            v.err(&format!("management.timeouts.{key}"), "0 seconds leaves no time for an answer (expected a number of seconds, e.g. 60)");
        }
    }
}

/// An IP range of the zone, checked on its own; returns (network, first, last) when valid.
fn range(v: &mut V, base: &str, gateway: &str, mask: &str, start: &str, end: &str) -> Option<((Ipv4Addr, u8), Ipv4Addr, Ipv4Addr)> {
    let gw = rules::ipv4(gateway).map_err(|e| v.err(&format!("{base}.gateway"), e)).ok();
    let prefix = rules::netmask(mask).map_err(|e| v.err(&format!("{base}.netmask"), e)).ok();
    let a = rules::ipv4(start).map_err(|e| v.err(&format!("{base}.start-ip"), e)).ok();
    let b = rules::ipv4(end).map_err(|e| v.err(&format!("{base}.end-ip"), e)).ok();
    let (gw, prefix) = (gw?, prefix?);
    let (lo, hi) = rules::bounds(gw, prefix);
    let net = (lo, prefix);
    let mut ok = true;
    if gw == lo || gw == hi {
        v.err(&format!("{base}.gateway"), format!("{gw} is the network or broadcast address of {lo}/{prefix} (expected a host address)"));
    }
    for (key, ip) in [("start-ip", a), ("end-ip", b)] {
        if let Some(ip) = ip {
            if !rules::contains(net, ip) || ip == lo || ip == hi {
                ok = false;
                v.err(
                    &format!("{base}.{key}"),
                    format!("{ip} is outside {lo}/{prefix} given by the gateway and netmask (expected a host address inside it)"),
                );
            }
        }
    }
    let (a, b) = (a?, b?);
    if a > b {
        v.err(&format!("{base}.end-ip"), format!("{b} comes before start-ip {a} (expected end-ip >= start-ip)"));
        return None;
    }
    if ok && (a..=b).contains(&gw) {
        v.err(&format!("{base}.gateway"), format!("{gw} lies inside the range {a}-{b} (expected the gateway outside it)"));
    }
    ok.then_some((net, a, b))
}

fn zone(p: &Profile, host_net: Option<(Ipv4Addr, u8)>, v: &mut V) {
    let Some(z) = &p.zone else { return };
    v.rule("zone.name", rules::non_empty(&z.name, "a zone name"));
    for (key, list) in [("zone.dns", &z.dns), ("zone.internal-dns", &z.internal_dns)] {
        if list.is_empty() {
            v.err(key, "is empty (expected at least one DNS server address)");
        }
        for (i, d) in list.iter().enumerate() {
            if let Err(e) = rules::ip(d) {
                v.err(&format!("{key}[{i}]"), e);
            }
        }
    }
    let advanced = z.zone_type == ZoneType::Advanced;
    if let Some(c) = &z.guest_cidr {
        if advanced {
            v.rule("zone.guest-cidr", rules::network(c).map(|_| ()));
        } else {
            v.err("zone.guest-cidr", "applies to advanced zones only (expected no guest-cidr in a basic zone)");
        }
    }
    if let Some(r) = &z.vlan_range {
        if advanced {
            v.rule("zone.vlan-range", rules::vlan_range(r));
        } else {
            v.err("zone.vlan-range", "applies to advanced zones only (expected no vlan-range in a basic zone)");
        }
    }
    v.rule("zone.pod.name", rules::non_empty(&z.pod.name, "a pod name"));
    let pod = range(v, "zone.pod", &z.pod.gateway, &z.pod.netmask, &z.pod.start_ip, &z.pod.end_ip);
    let g = &z.guest;
    let guest = range(v, "zone.guest", &g.gateway, &g.netmask, &g.start_ip, &g.end_ip);
    if let Some(vl) = &g.vlan {
        v.rule("zone.guest.vlan", rules::vlan(vl));
    }
    if !advanced {
        if let (Some((pn, ..)), Some((gn, ..))) = (pod, guest) {
            if pn != gn {
                v.err(
                    "zone.guest.netmask",
                    format!("the guest network {}/{} differs from the pod's {}/{} (expected guests in the pod's subnet in a basic zone)", gn.0, gn.1, pn.0, pn.1),
                );
            }
        }
    }
    let public = match &z.public {
        Some(_) if !advanced => {
            v.err("zone.public", "applies to advanced zones only (expected no [zone.public] in a basic zone)");
            None
        }
        Some(pb) => {
            if let Some(vl) = &pb.vlan {
                v.rule("zone.public.vlan", rules::vlan(vl));
            }
            range(v, "zone.public", &pb.gateway, &pb.netmask, &pb.start_ip, &pb.end_ip)
        }
        None => None,
    };
    // createPod refuses a pod range inside the zone's guest CIDR (advanced zones; the server's default is 10.1.1.0/24).
    if advanced {
        let cidr = z.guest_cidr.as_deref().unwrap_or(DEFAULT_GUEST_CIDR);
        if let (Ok(net), Some((_, a, b))) = (rules::network(cidr), pod) {
            let (lo, hi) = rules::bounds(net.0, net.1);
            if a <= hi && lo <= b {
                let whose = if z.guest_cidr.is_some() { "zone.guest-cidr" } else { "the advanced zone's default guest CIDR" };
                v.err("zone.pod.start-ip", format!("the pod range {a}-{b} overlaps {whose} {cidr} (expected pod addresses outside the guest network, or another guest-cidr)"));
            }
        }
    }
    let named = [("zone.pod", pod), ("zone.guest", guest), ("zone.public", public)];
    for i in 0..named.len() {
        for j in i + 1..named.len() {
            if let ((an, Some((_, a1, a2))), (bn, Some((_, b1, b2)))) = (named[i], named[j]) {
                if a1 <= b2 && b1 <= a2 {
                    v.err(
                        &format!("{bn}.start-ip"),
                        format!("the range {b1}-{b2} overlaps {an} {a1}-{a2} (expected separate address ranges)"),
                    );
                }
            }
        }
    }
    if let Some((addr, _)) = host_net {
        for (name, r) in named {
            if let Some((_, a, b)) = r {
                if (a..=b).contains(&addr) {
                    v.err(&format!("{name}.start-ip"), format!("the range {a}-{b} contains this host's address {addr} (expected a range of free addresses)"));
                }
            }
        }
    }
    v.rule("zone.cluster.name", rules::non_empty(&z.cluster.name, "a cluster name"));
    for (i, h) in z.hosts.iter().enumerate() {
        let base = format!("zone.hosts[{i}]");
        v.rule(&format!("{base}.address"), rules::host(&h.address));
        if z.hosts[..i].iter().any(|o| o.address == h.address) {
            v.err(&format!("{base}.address"), format!("{} is listed twice (expected each host once)", h.address));
        }
        v.rule(&format!("{base}.username"), rules::non_empty(&h.username, "the login name, usually root"));
    }
    for (i, s) in z.primary.iter().enumerate() {
        v.rule(&format!("zone.primary[{i}].name"), rules::non_empty(&s.name, "a storage name"));
        v.rule(&format!("zone.primary[{i}].url"), rules::nfs_url(&s.url));
    }
    if let Some(s) = &z.secondary {
        v.rule("zone.secondary.name", rules::non_empty(&s.name, "a storage name"));
        v.rule("zone.secondary.url", rules::nfs_url(&s.url));
    }
    if z.primary.is_empty() && p.nfs.is_none() {
        v.missing("zone.primary", "missing: the zone needs primary storage (expected [[zone.primary]] or an [nfs] section)");
    }
    if z.secondary.is_none() && p.nfs.is_none() {
        v.missing("zone.secondary", "missing: the zone needs secondary storage (expected [zone.secondary] or an [nfs] section)");
    }
}

/// The provisioning role and its [fleet]: the network, the hosts (each MAC, name and address once, inside
/// the subnet and outside the zone's ranges), what every host needs to be installed unattended.
fn fleet(p: &Profile, v: &mut V) {
    let provisioning = p.has_role(Role::Provisioning);
    let Some(f) = &p.fleet else {
        if provisioning {
            v.missing("fleet", "missing: the provisioning role needs a [fleet] section (the network and the hosts it installs)");
        }
        return;
    };
    if !provisioning {
        v.err("fleet", "is given but this host has no provisioning role (expected provisioning in host.roles)");
    }
    let platform = p.host.platform.as_deref().and_then(|pl| pl.parse::<crate::platform::PlatformId>().ok());
    if let Some(id) = platform.filter(|id| provisioning && crate::platform::Platform::get(*id).provisioning.is_none()) {
        v.err("host.roles", format!("the provisioning role is not offered on {id} (expected a platform with dnsmasq, iPXE and nginx packages: el8, el9, ubuntu or debian-12)"));
    }
    if provisioning && !p.has_role(Role::Management) {
        v.err("host.roles", "the provisioning role runs on the management node: its hosts register with it (expected management in host.roles too)");
    }
    v.rule("fleet.interface", rules::interface(&f.interface));
    let subnet = rules::network(&f.subnet).map_err(|e| v.err("fleet.subnet", e)).ok();
    if let (Some(net), Ok((own, _))) = (subnet, rules::host_cidr(&p.host.address)) {
        if !rules::contains(net, own) {
            v.err("fleet.subnet", format!("{}/{} does not contain this node's address {own} (expected the network the hosts reach this node on)", net.0, net.1));
        }
    }
    v.rule("fleet.media", rules::absolute_path(&f.media));
    if f.http_port == 0 {
        v.err("fleet.http-port", "0 is not a port (expected 1-65535)");
    } else if p.has_role(Role::Management) && [8080, 8250, 8443, 9090].contains(&f.http_port) {
        v.err("fleet.http-port", format!("{} is a management server port (expected another, e.g. 8090)", f.http_port));
    }
    let d = &f.defaults;
    host_roles(v, "fleet.defaults.roles", &d.roles);
    if let Some(i) = &d.interface {
        v.rule("fleet.defaults.interface", rules::interface(i));
    }
    v.rule("fleet.defaults.disk", rules::disk_device(&d.disk));
    for (i, k) in d.ssh_keys.iter().enumerate() {
        v.rule(&format!("fleet.defaults.ssh-keys[{i}]"), rules::ssh_key(k));
    }
    let ranges: Vec<(&str, &str, &str)> = match &p.zone {
        Some(z) => {
            let mut r = vec![("zone.pod", z.pod.start_ip.as_str(), z.pod.end_ip.as_str()), ("zone.guest", z.guest.start_ip.as_str(), z.guest.end_ip.as_str())];
            if let Some(pb) = &z.public {
                r.push(("zone.public", pb.start_ip.as_str(), pb.end_ip.as_str()));
            }
            r
        }
        None => vec![],
    };
    let mut missing_interface = false;
    for (i, h) in f.hosts.iter().enumerate() {
        let base = format!("fleet.hosts[{i}]");
        let earlier = &f.hosts[..i];
        match rules::hostname(&h.name) {
            Err(e) => v.err(&format!("{base}.name"), e),
            Ok(()) if earlier.iter().any(|o| o.name.eq_ignore_ascii_case(&h.name)) => {
                v.err(&format!("{base}.name"), format!("{} is listed twice (expected each host name once)", h.name))
            }
            Ok(()) if h.name.eq_ignore_ascii_case(&p.host.hostname) => {
                v.err(&format!("{base}.name"), format!("{} is this node's own name (expected another host's)", h.name))
            }
            Ok(()) => {}
        }
        match rules::mac(&h.mac) {
            Err(e) => v.err(&format!("{base}.mac"), e),
            Ok(()) if earlier.iter().any(|o| o.mac.eq_ignore_ascii_case(&h.mac)) => {
                v.err(&format!("{base}.mac"), format!("{} is listed twice (expected each MAC address once)", h.mac))
            }
            Ok(()) if p.host.mac.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&h.mac)) => {
                v.err(&format!("{base}.mac"), format!("{} is this node's own host.mac (expected another machine's)", h.mac))
            }
            Ok(()) => {}
        }
        let key = format!("{base}.address");
        match rules::ipv4(&h.address) {
            Err(e) => v.err(&key, e),
            Ok(a) => {
                if earlier.iter().any(|o| o.address == h.address) {
                    v.err(&key, format!("{a} is listed twice (expected each address once)"));
                } else if a.to_string() == p.host.ip() || a.to_string() == p.host.gateway {
                    v.err(&key, format!("{a} is this node's address or its gateway (expected a free address)"));
                } else if let Some(net) = subnet {
                    let (lo, hi) = rules::bounds(net.0, net.1);
                    if !rules::contains(net, a) || a == lo || a == hi {
                        v.err(&key, format!("{a} is outside fleet.subnet {lo}/{} (expected a host address inside it)", net.1));
                    }
                }
                for (name, start, end) in &ranges {
                    if let (Ok(s), Ok(e)) = (rules::ipv4(start), rules::ipv4(end)) {
                        if (s..=e).contains(&a) {
                            v.err(&key, format!("{a} lies inside {name} {s}-{e}, which CloudStack hands to system VMs and guests (expected an address outside it)"));
                        }
                    }
                }
            }
        }
        if let Some(r) = &h.roles {
            host_roles(v, &format!("{base}.roles"), r);
        }
        match &h.interface {
            Some(i) => v.rule(&format!("{base}.interface"), rules::interface(i)),
            None => missing_interface |= d.interface.is_none(),
        }
        if let Some(dev) = &h.disk {
            v.rule(&format!("{base}.disk"), rules::disk_device(dev));
        }
    }
    if missing_interface {
        v.missing("fleet.defaults.interface", "missing: a disk install writes the host's static address for its interface (expected fleet.defaults.interface, e.g. \"eno1\", or interface in each host)");
    }
}

/// The roles of a host the fleet installs: KVM hosts (the management node keeps its own roles).
fn host_roles(v: &mut V, key: &str, roles: &[Role]) {
    if roles != [Role::KvmAgent] {
        v.err(key, "a host installed over the network is a KVM host (expected [\"kvm-agent\"])");
    }
}

fn secrets(p: &Profile, v: &mut V) {
    for s in secret_refs(p) {
        let key = s.key().to_string();
        let forms = format!("{key}, {key}-file or {key}-env");
        match s.given() {
            0 => {
                if let Some(why) = s.required {
                    let alt = if s.path.starts_with("zone.hosts[") { ", or agent.root-password for all hosts" } else { "" };
                    v.missing(&s.path, format!("missing: {why} (expected one of {forms}{alt})"));
                }
            }
            1 => {}
            _ => {
                let second = if s.inline.is_some() && s.file.is_some() { format!("{}-file", s.path) } else { format!("{}-env", s.path) };
                v.err(&second, format!("more than one of {forms} is given (expected exactly one)"));
            }
        }
        if let Some(val) = s.inline {
            let r = if s.setup_rules { rules::setup_password(val) } else { rules::secret(val) };
            v.rule(&s.path, r);
        }
        if let Some(f) = s.file {
            if f.as_os_str().is_empty() {
                v.err(&format!("{}-file", s.path), "is empty (expected the path of a file holding the secret)");
            }
        }
        if let Some(e) = s.env {
            v.rule(&format!("{}-env", s.path), rules::env_name(e));
        }
    }
}

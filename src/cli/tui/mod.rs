//! The guided install: `cloudstrap install` without `--profile`, on a terminal.
//!
//! Steps: detect (host facts) → scope (roles, release: what preflight needs to know) → preflight (failures
//! with remedies; re-check, continue or stop) → questions (only what the facts cannot tell; defaults from
//! them; each answer judged by the rules of `profile check`) → review (the profile, and the plan) →
//! confirm → save the profile → run the install engine.
//! Nothing on the host changes before the confirmation; Ctrl-C before it leaves the host untouched.

mod ask;
pub mod detect;
mod interrupt;
pub mod medium;
pub mod save;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::{exit, Global};
use crate::host::{GatherOptions, HostFacts};
use crate::preflight;
use crate::profile::{rules, Agent, CloudStack, Cluster, Database, Host, IpRange, Management, Nfs, Ntp, Pod, Profile, Role, Template, Zone, ZoneHost, ZoneType};

use ask::{Asked, Stop};
use detect::Defaults;

/// How the guided install ended.
pub enum Outcome {
    /// The profile was saved here and the operator chose to install it now.
    Install(PathBuf),
    /// Nothing (more) to do: this exit code.
    Exit(u8),
}

/// `cloudstrap install` without `--profile`: the guided install, on a terminal only. It produces a saved
/// profile; installing it is the caller's.
pub fn run(global: &Global, dry_run: bool) -> Outcome {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        eprintln!("install: no profile given and no terminal to ask on: pass --profile FILE (examples in profiles/)");
        return Outcome::Exit(exit::INPUT);
    }
    interrupt::watch();
    match guided(global, dry_run) {
        Ok(o) => o,
        Err(Stop::Interrupted) => interrupt::interrupted_exit(),
        Err(Stop::Io(e)) => {
            interrupt::restore_terminal();
            eprintln!("install: the terminal failed ({e}); nothing on this host was changed");
            Outcome::Exit(exit::FAILED)
        }
    }
}

/// The plan for the answers, as `cloudstrap plan` shows it; read-only.
fn review_plan(p: &Profile, path: &Path, global: &Global) -> Result<String, String> {
    let resolved = super::render::review(global, p.clone(), path)?;
    // The engine must be able to plan these answers, or there is nothing to confirm.
    let full = resolved.clone().with_secrets().map_err(|e| e.to_string())?;
    crate::install::prepare_resolved(&full, &global.site()).map_err(|e| e.to_string())?;
    let human = Global { format: super::Format::Human, ..global.clone() };
    super::plan::plan_text(&human, &resolved).map_err(|(_, e)| e)
}

fn say(s: impl AsRef<str>) {
    eprintln!("{}", s.as_ref());
}

const ROLE_CHOICES: [(&str, &[Role]); 7] = [
    ("all-in-one: database, NFS storage, management server and KVM on this host", &[Role::AllInOne]),
    ("management server with its database and NFS storage (the 2012 guide's cloud-server)", &[Role::Management, Role::Database, Role::Nfs]),
    ("management server with its database", &[Role::Management, Role::Database]),
    ("management server only (remote database)", &[Role::Management]),
    ("KVM host (kvm-agent)", &[Role::KvmAgent]),
    ("NFS storage", &[Role::Nfs]),
    ("database only", &[Role::Database]),
];

fn guided(global: &Global, dry_run: bool) -> Asked<Outcome> {
    say("cloudstrap guided install: answers are checked as you go; nothing changes on this host before you confirm.\n");
    // detect
    let sys = global.site().sysroot();
    let facts = HostFacts::gather(&sys, &GatherOptions { probe_vms: false, ..GatherOptions::default() });
    say(detect::summary(&facts));

    // scope: what preflight needs
    let labels: Vec<String> = ROLE_CHOICES.iter().map(|(l, _)| l.to_string()).collect();
    let roles = ROLE_CHOICES[ask::select("Roles of this host", &labels, 0)?].1.to_vec();
    let releases: Vec<&str> = match facts.platform.as_ref() {
        Ok(p) => crate::platform::releases_for(*p),
        Err(_) => crate::platform::Release::lines(),
    };
    let releases: Vec<String> = releases.into_iter().rev().map(String::from).collect();
    let release = if releases.len() == 1 {
        say(format!("CloudStack release: {} (the only one this platform runs)", releases[0]));
        releases[0].clone()
    } else {
        releases[ask::select("CloudStack release", &releases, 0)?].clone()
    };

    // preflight
    loop {
        let opts = preflight::Options { roles: roles.clone(), release: Some(release.clone()), profile: None, libvirt_uri: None };
        let report = preflight::run(&sys, &opts);
        say(format!("\n{}", preflight::render_human(&report, facts.os.as_ref().map(|o| o.pretty_name.as_str()))));
        if !report.failed() {
            break;
        }
        let choices = ["Re-check (after fixing what is listed above)", "Continue anyway (the install will likely fail)", "Stop here"]
            .map(String::from);
        match ask::select("Preflight found failures", &choices, 0)? {
            0 => continue,
            1 => break,
            _ => {
                say("Stopped: nothing on this host was changed.");
                return Ok(Outcome::Exit(exit::FAILED));
            }
        }
    }

    // questions; defaults from the facts as they are now (the operator may have fixed some for preflight)
    let facts = HostFacts::gather(&sys, &GatherOptions { probe_vms: false, ..GatherOptions::default() });
    let defaults = Defaults::from_facts(&facts, &sys);
    let mut p = draft(&release, &roles, &defaults);
    questions(&mut p, &defaults)?;
    if !answers_valid(&p, "nothing on this host was changed") {
        return Ok(Outcome::Exit(exit::FAILED));
    }

    // where to save, and how to keep secrets
    let has_secrets = crate::profile::secret_refs(&p).iter().any(|r| r.inline.is_some());
    let inline = has_secrets && ask::confirm("Keep the passwords inside the profile file itself (otherwise 0600 files beside it)?", false)?;
    let path = loop {
        let path = PathBuf::from(ask::text("Save the profile as", "cloudstrap-profile.toml", |s| {
            if s.is_empty() || s.ends_with('/') || Path::new(s).is_dir() {
                Err("expected a file name, e.g. cloudstrap-profile.toml".into())
            } else {
                Ok(())
            }
        })?);
        if !path.exists() || ask::confirm(&format!("{} exists; replace it (the old one is kept as {0}.bak)?", path.display()), false)? {
            break path;
        }
    };

    // review
    let (shown, files) = save::prepare(&p, &path, inline);
    say(format!("\nThe profile ({}):\n", path.display()));
    say(mask_inline(&save::render(&shown)));
    for (f, _) in &files {
        say(format!("# secret kept in {} (mode 0600)", path.with_file_name(f).display()));
    }
    let plan = review_plan(&p, &path, global);
    match &plan {
        Ok(text) => say(format!("\n{text}")),
        Err(e) => say(format!("\nThe plan cannot be made from these answers: {e}")),
    }
    let mut choices = vec!["Save the profile and install now", "Save the profile only", "Quit without saving"];
    if plan.is_err() || dry_run {
        // Nothing to run: without a plan, or when only asked to show it.
        choices.remove(0);
    }
    let labels: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
    let choice = choices[ask::select("Go ahead?", &labels, 0)?];
    if choice == "Quit without saving" {
        say("Quit: nothing on this host was changed and no profile was saved.");
        return Ok(Outcome::Exit(exit::REFUSED));
    }
    interrupt::commit();
    match save::save(&p, &path, inline) {
        Ok(_) => say(format!("Saved {}. Replay it with: cloudstrap install --profile {} --yes", path.display(), path.display())),
        Err(e) => {
            say(format!("install: {e}"));
            return Ok(Outcome::Exit(exit::FAILED));
        }
    }
    if choice == "Save the profile only" {
        return Ok(Outcome::Exit(exit::OK));
    }
    Ok(Outcome::Install(path))
}

/// Every answer was checked where it was given; this catches a rule no single question owns. Says each
/// problem, then that the answers make no valid profile and `unchanged`.
fn answers_valid(p: &Profile, unchanged: &str) -> bool {
    let left = crate::profile::validate(p);
    for q in &left {
        say(format!("error: {}: {}", q.path, q.message));
    }
    if !left.is_empty() {
        say(format!("The answers do not make a valid profile; {unchanged}."));
    }
    left.is_empty()
}

/// Hide inline secret values in the review (the profile file itself holds them).
fn mask_inline(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(" = ") {
            Some((k, _)) if crate::profile::is_secret_key(k.trim()) => format!("{k} = \"********\""),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The profile before any question: the answers so far and the detected facts.
fn draft(release: &str, roles: &[Role], d: &Defaults) -> Profile {
    Profile {
        fleet: None,
        version: 1,
        cloudstack: CloudStack {
            release: release.to_string(),
            repository: None,
            mirror: None,
            gpg_key: None,
            // 3.0.2's template and packages were only published over http.
            allow_http: release == "3.0.2",
        },
        host: Host {
            roles: roles.to_vec(),
            platform: d.platform.clone(),
            hostname: String::new(),
            fqdn: String::new(),
            address: String::new(),
            gateway: String::new(),
            dns: vec![],
            interface: d.interface.clone(),
            mac: None,
        },
        database: None,
        nfs: None,
        ntp: Ntp::default(),
        template: None,
        management: None,
        agent: None,
        zone: None,
        disk: None,
        origin: None,
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([',', ' ']).map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}

fn own_ip(p: &Profile) -> String {
    p.host.ip().to_string()
}

fn questions(p: &mut Profile, d: &Defaults) -> Asked<()> {
    let has = |p: &Profile, r| p.has_role(r);
    say("\nNetwork");
    if d.dhcp && !d.for_another_system {
        say("  warning: this host's address comes from DHCP. CloudStack needs a static address (services break when it \
             changes): configure the address below statically before installing.");
    }
    ask::field(p, "Host name", d.hostname.clone(), "host.hostname", |p, s| p.host.hostname = s.to_string())?;
    let fqdn_default = d.fqdn.clone().filter(|f| f.split('.').next() == Some(p.host.hostname.as_str()));
    ask::field(p, "Fully qualified name (FQDN)", fqdn_default, "host.fqdn", |p, s| p.host.fqdn = s.to_string())?;
    ask::field(p, "Address with prefix length", d.address.clone(), "host.address", |p, s| p.host.address = s.to_string())?;
    let own = own_ip(p);
    let resolves_here = d.fqdn.as_deref() == Some(p.host.fqdn.as_str()) && d.fqdn_addresses.iter().any(|a| a.to_string() == own);
    if !resolves_here && !d.for_another_system {
        say(format!(
            "  warning: {} does not resolve to {own} on this host; `hostname --fqdn` must print it (add \"{own} {} {}\" to /etc/hosts).",
            p.host.fqdn, p.host.fqdn, p.host.hostname
        ));
    }
    let gw_default = d.gateway.clone().filter(|g| rules::ipv4(g).is_ok());
    ask::field(p, "Gateway", gw_default, "host.gateway", |p, s| p.host.gateway = s.to_string())?;
    let dns_default = if d.dns.is_empty() { p.host.gateway.clone() } else { d.dns.join(", ") };
    ask::field(p, "DNS servers (comma-separated)", Some(dns_default), "host.dns", |p, s| p.host.dns = split_list(s))?;
    let net = detect::network_of(&p.host.address).unwrap_or_default();

    if has(p, Role::Database) || has(p, Role::Management) {
        say("\nDatabase");
        p.database = Some(Database::default());
        if !has(p, Role::Database) {
            ask::field(p, "Database server address", None, "database.host", |p, s| {
                if let Some(db) = p.database.as_mut() {
                    db.host = s.to_string()
                }
            })?;
        }
        ask::secret(p, "Database root password", "database.root-password", |p, s| {
            if let Some(db) = p.database.as_mut() {
                db.root_password = Some(s.to_string())
            }
        })?;
        if has(p, Role::Management) {
            ask::secret(p, "Password for the database user 'cloud'", "database.cloud-password", |p, s| {
                if let Some(db) = p.database.as_mut() {
                    db.cloud_password = Some(s.to_string())
                }
            })?;
        }
    }

    if has(p, Role::Nfs) {
        say("\nNFS storage (exported by this host)");
        p.nfs = Some(Nfs::new(own_ip(p), net.clone()));
        ask_exports(p)?;
    } else if has(p, Role::Management) {
        say("\nNFS storage (primary and secondary storage on another host)");
        p.nfs = Some(Nfs::new("", net.clone()));
        ask::field(p, "NFS server address", None, "nfs.server", |p, s| {
            if let Some(n) = p.nfs.as_mut() {
                n.server = s.to_string()
            }
        })?;
        ask_exports(p)?;
    }

    if has(p, Role::KvmAgent) && !has(p, Role::Management) {
        say("\nManagement server");
        p.management = Some(Management::default());
        ask::field(p, "Management server address", None, "management.host", |p, s| {
            if let Some(m) = p.management.as_mut() {
                m.host = Some(s.to_string())
            }
        })?;
    }
    if has(p, Role::KvmAgent) {
        p.agent = Some(Agent::default());
    }

    if has(p, Role::Management) {
        say("\nManagement server");
        p.management = Some(Management::default());
        if ask::confirm("Replace the default admin password ('password') now?", true)? {
            ask::secret(p, "New admin password", "management.admin-password", |p, s| {
                if let Some(m) = p.management.as_mut() {
                    m.admin_password = Some(s.to_string())
                }
            })?;
        }
        say("\nSystem VM template");
        let choices = [format!("the CloudStack {} default (recommended)", p.cloudstack.release), "another URL (a local mirror)".to_string()];
        if ask::select("System VM template", &choices, 0)? == 1 {
            p.template = Some(Template { url: None, checksum: None, id: None });
            let url = ask::field(p, "Template URL", None, "template.url", |p, s| {
                // An http mirror is accepted here; saying so in the profile keeps `profile check` agreeing.
                p.cloudstack.allow_http |= s.starts_with("http://");
                if let Some(t) = p.template.as_mut() {
                    t.url = Some(s.to_string())
                }
            })?;
            if url.starts_with("http://") {
                say("  note: plain http accepted (cloudstack.allow-http = true in the profile).");
            }
            ask::optional_field(p, "Checksum (md5:HEX, sha256:HEX or sha512:HEX; empty: none)", "template.checksum", |p, s| {
                if let Some(t) = p.template.as_mut() {
                    t.checksum = Some(s.to_string())
                }
            })?;
        }
        if ask::confirm("Create a zone once the management server answers?", false)? {
            ask_zone(p)?;
        }
    }
    Ok(())
}

fn ask_exports(p: &mut Profile) -> Asked<()> {
    ask::field(p, "Primary storage export", Some("/export/primary".into()), "nfs.primary", |p, s| {
        if let Some(n) = p.nfs.as_mut() {
            n.primary = s.to_string()
        }
    })?;
    ask::field(p, "Secondary storage export", Some("/export/secondary".into()), "nfs.secondary", |p, s| {
        if let Some(n) = p.nfs.as_mut() {
            n.secondary = s.to_string()
        }
    })?;
    let clients = p.nfs.as_ref().map(|n| n.clients.clone()).filter(|c| !c.is_empty());
    ask::field(p, "Network allowed to mount the exports", clients, "nfs.clients", |p, s| {
        if let Some(n) = p.nfs.as_mut() {
            n.clients = s.to_string()
        }
    })?;
    Ok(())
}

fn ask_zone(p: &mut Profile) -> Asked<()> {
    say("\nZone");
    let addr = p.host.address.clone();
    let gw = p.host.gateway.clone();
    let mask = detect::netmask_of(&addr).unwrap_or_else(|| "255.255.255.0".into());
    let nth = |n| detect::nth_in_network(&addr, n).map(|a| a.to_string()).unwrap_or_default();
    let dns = if p.host.dns.is_empty() { vec![gw.clone()] } else { p.host.dns.clone() };
    p.zone = Some(Zone {
        name: String::new(),
        zone_type: ZoneType::Basic,
        dns: dns.clone(),
        internal_dns: dns,
        guest_cidr: None,
        vlan_range: None,
        pod: Pod { name: "pod1".into(), gateway: gw.clone(), netmask: mask.clone(), start_ip: String::new(), end_ip: String::new() },
        guest: IpRange { gateway: gw.clone(), netmask: mask.clone(), start_ip: String::new(), end_ip: String::new(), vlan: None },
        public: None,
        cluster: Cluster { name: "cluster1".into() },
        hosts: vec![],
        primary: vec![],
        secondary: None,
    });
    ask::field(p, "Zone name", Some("zone1".into()), "zone.name", |p, s| z(p).name = s.to_string())?;
    let types = ["basic (guests share the pod's network, security groups)", "advanced (VLAN-isolated guest networks, public range)"].map(String::from);
    let advanced = ask::select("Zone type", &types, 0)? == 1;
    if advanced {
        z(p).zone_type = ZoneType::Advanced;
    }
    ask_range(p, "zone.pod", ("First address for system VMs (pod range)", nth(200)), ("Last address for system VMs", nth(219)), POD)?;
    if advanced {
        // In an advanced zone the `guest` range holds the public addresses (see the model).
        say("  The public range (advanced zone)");
        ask::field(p, "Public gateway", Some(gw.clone()), "zone.guest.gateway", |p, s| z(p).guest.gateway = s.to_string())?;
        ask::field(p, "Public netmask", Some(mask.clone()), "zone.guest.netmask", |p, s| z(p).guest.netmask = s.to_string())?;
        ask_range(p, "zone.guest", ("First public address", nth(150)), ("Last public address", nth(199)), GUEST)?;
        ask::field(p, "Guest network (CIDR)", Some("10.1.1.0/24".into()), "zone.guest-cidr", |p, s| z(p).guest_cidr = Some(s.to_string()))?;
        ask::field(p, "Guest VLAN range", Some("100-200".into()), "zone.vlan-range", |p, s| z(p).vlan_range = Some(s.to_string()))?;
    } else {
        ask_range(p, "zone.guest", ("First guest address", nth(100)), ("Last guest address", nth(199)), GUEST)?;
    }
    if p.has_role(Role::KvmAgent) {
        let own = own_ip(p);
        z(p).hosts.push(ZoneHost::new(own));
        ask::secret(p, "Root password of this host (the management server logs in to add it)", "zone.hosts[0].password", |p, s| {
            z(p).hosts[0].password = Some(s.to_string())
        })?;
    } else if let Some(a) = ask::optional_field(p, "Address of a KVM host to add (empty: none yet)", "zone.hosts[0].address", |p, s| {
        let z = z(p);
        z.hosts = vec![ZoneHost::new(s)];
        // Judge the address alone here; the password follows.
        z.hosts[0].password = Some("placeholder".into());
    })? {
        z(p).hosts = vec![ZoneHost::new(a)];
        ask::secret(p, "Root password of that host", "zone.hosts[0].password", |p, s| z(p).hosts[0].password = Some(s.to_string()))?;
    }
    Ok(())
}

fn z(p: &mut Profile) -> &mut Zone {
    p.zone.as_mut().expect("the zone is set before its questions")
}

/// Setters for the first and last address of a zone range.
type Ends = (fn(&mut Profile, &str), fn(&mut Profile, &str));

const POD: Ends = (|p, s| z(p).pod.start_ip = s.to_string(), |p, s| z(p).pod.end_ip = s.to_string());
const GUEST: Ends = (|p, s| z(p).guest.start_ip = s.to_string(), |p, s| z(p).guest.end_ip = s.to_string());

/// A first and last address, each checked alone, then together (order, overlaps with the other ranges and
/// this host's address, which are reported at the range); both are asked again while the pair is wrong.
fn ask_range(p: &mut Profile, base: &str, first: (&str, String), last: (&str, String), ends: Ends) -> Asked<()> {
    let (mut d1, mut d2) = (first.1, last.1);
    loop {
        d1 = ask::field(p, first.0, Some(d1).filter(|d| !d.is_empty()), &format!("{base}.start-ip"), ends.0)?;
        d2 = ask::field(p, last.0, Some(d2).filter(|d| !d.is_empty()), &format!("{base}.end-ip"), ends.1)?;
        match ask::problems_at(p, base) {
            Ok(()) => return Ok(()),
            Err(why) => {
                say(format!("error: {why}\n  Enter the range again."));
                // Judge the new ends on their own again, not against the rejected pair.
                (ends.0)(p, "");
                (ends.1)(p, "");
            }
        }
    }
}

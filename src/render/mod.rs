//! Every configuration file the install writes, rendered from tera templates (`templates/`, compiled into
//! the binary) with values derived from the profile and the platform row.
//!
//! Files the user may have edited are never overwritten blindly (see `merge` for the exact rules):
//! - our own files (drop-ins such as /etc/exports.d/cloudstrap.exports, /etc/sudoers.d/cloudstrap, the
//!   MySQL drop-in, the repository file) are `FileKind::Whole` and start with a "managed by cloudstrap" comment;
//! - shared files without a drop-in directory (/etc/hosts, the iptables rules, EL6's /etc/exports and
//!   /etc/my.cnf, ntp.conf / chrony.conf) get one `# BEGIN/END cloudstrap managed block`;
//! - key=value files (SELinux config, idmapd.conf, /etc/sysconfig/nfs, nfs.conf without nfs.conf.d, libvirt
//!   configs, agent.properties) get single keys set in place.
//!
//! Firewall, per platform (the `Platform::firewall` row): EL6 `/etc/sysconfig/iptables` and Debian 12
//! `/etc/iptables/rules.v4` (iptables-persistent) get our `-A INPUT` rules as a block at the top of INPUT;
//! Ubuntu gets the same block at the top of `ufw-before-input` in `/etc/ufw/before.rules`, so it precedes
//! ufw's own rules and its default deny (and stays inert while ufw is disabled); EL8/EL9 get a firewalld
//! policy (ANY zone to HOST, target CONTINUE) whose rich rules accept our ports from our networks and leave
//! all other traffic to the user's zones. Every rule names its source network: the host's network, the
//! NFS client network and the pod network; NFS ports are open to the NFS client network only. The files add
//! openings only: a host without a default deny stays as open as it was. IPv4 only.
//!
//! /etc/hosts: our `ADDRESS FQDN SHORT` line is a block above the first entry, so name lookups in file order
//! (`hostname --fqdn`, gethostbyname) find it first. A user line mapping the same name to 127.0.1.1 stays
//! (it is the user's); getaddrinfo may still list it first, which preflight's `net.fqdn` is there to report.
//!
//! Bridges (cloudbr0 carrying the host address, cloudbr1 for guests) are part of `render_all` only with
//! `agent.configure-bridges`; `render_network` renders them for review either way (`render --network`).

mod changes;
mod merge;
mod vars;

use std::path::PathBuf;
use std::sync::OnceLock;

pub use changes::{file_changes, ChangeStatus, FileChange};
pub use merge::{merge, BEGIN, END, KEY_MARK};
pub use vars::{database_is_remote, Rule, Vars, ROLE_PORTS};

use crate::platform::{AccessControl, Firewall, NetworkConfig, NfsPorts, Platform, PlatformId, Release, RepoForm};
use crate::profile::{Profile, Role};

/// How a rendered file combines with what is on the host (see `merge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// The file is ours; written whole.
    Whole,
    /// `content` is the body of our managed block inside a file with foreign content.
    ManagedBlock(Placement),
    /// `content` lists `key=value` lines (optionally under `[section]`), each set in place.
    Keys,
}

/// Where a managed block goes when the file has none yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Before the first line that is not a comment or blank (so /etc/hosts lookups find it first).
    Top,
    End,
    /// Before the first rule of the `*filter` table: the top of this chain, ahead of any REJECT/DROP.
    IptablesChain(&'static str),
}

/// One file as the install writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Absolute path on the host.
    pub path: PathBuf,
    /// Whole content, block body or keys, depending on `kind`.
    pub content: String,
    /// Mode of a newly created file (an existing file keeps its mode).
    pub mode: u32,
    pub kind: FileKind,
    /// The role that needs the file; `None` for host-wide files (hosts, firewall, time, SELinux).
    pub role: Option<Role>,
    /// One line for plans and logs, e.g. "NFS exports".
    pub what: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{key}: {msg}")]
    Profile { key: String, msg: String },
    #[error("template {name}: {source}")]
    Template { name: String, source: tera::Error },
}

/// Templates compiled into the binary, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("selinux-config", include_str!("../../templates/selinux-config.tera")),
    ("hosts", include_str!("../../templates/hosts.tera")),
    ("hostname", include_str!("../../templates/hostname.tera")),
    ("firewall-iptables", include_str!("../../templates/firewall/iptables.tera")),
    ("firewall-firewalld", include_str!("../../templates/firewall/firewalld-policy.xml.tera")),
    ("ntp.conf", include_str!("../../templates/time/ntp.conf.tera")),
    ("chrony", include_str!("../../templates/time/chrony.tera")),
    ("exports", include_str!("../../templates/nfs/exports.tera")),
    ("sysconfig-nfs", include_str!("../../templates/nfs/sysconfig-nfs.tera")),
    ("nfs.conf", include_str!("../../templates/nfs/nfs.conf.tera")),
    ("idmapd.conf", include_str!("../../templates/nfs/idmapd.conf.tera")),
    ("mysql", include_str!("../../templates/mysql/cloudstack.cnf.tera")),
    ("sudoers", include_str!("../../templates/sudoers.tera")),
    ("libvirtd.conf", include_str!("../../templates/libvirt/libvirtd.conf.tera")),
    ("libvirt.conf", include_str!("../../templates/libvirt/libvirt.conf.tera")),
    ("qemu.conf", include_str!("../../templates/libvirt/qemu.conf.tera")),
    ("libvirtd-defaults", include_str!("../../templates/libvirt/libvirtd-defaults.tera")),
    ("agent.properties", include_str!("../../templates/agent.properties.tera")),
    ("repo-yum", include_str!("../../templates/repo/cloudstack.repo.tera")),
    ("repo-apt", include_str!("../../templates/repo/cloudstack.list.tera")),
    ("ifcfg-port", include_str!("../../templates/network/ifcfg-port.tera")),
    ("ifcfg-bridge", include_str!("../../templates/network/ifcfg-bridge.tera")),
    ("netplan", include_str!("../../templates/network/netplan.yaml.tera")),
    ("ifupdown", include_str!("../../templates/network/interfaces.tera")),
    ("fleet-dnsmasq", include_str!("../../templates/fleet/dnsmasq.conf.tera")),
    ("fleet-nginx", include_str!("../../templates/fleet/nginx.conf.tera")),
];

fn tera() -> &'static tera::Tera {
    static TERA: OnceLock<tera::Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut t = tera::Tera::default();
        t.autoescape_on(vec![]);
        t.add_raw_templates(TEMPLATES.iter().copied()).expect("built-in templates parse (checked by tests)");
        t
    })
}

/// Builds the file list for one profile and platform.
struct Renderer {
    ctx: tera::Context,
    files: Vec<RenderedFile>,
}

impl Renderer {
    // One call per file, all arguments spelled out, so the calls read as a table.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        template: &str,
        path: &str,
        mode: u32,
        kind: FileKind,
        role: Option<Role>,
        what: &str,
        extra: &[(&str, &str)],
    ) -> Result<(), RenderError> {
        let mut ctx = self.ctx.clone();
        // Files that are wholly ours carry the "managed by cloudstrap" header.
        ctx.insert("header", &(kind == FileKind::Whole));
        for (k, v) in extra {
            ctx.insert(*k, v);
        }
        let content = tera()
            .render(template, &ctx)
            .map_err(|source| RenderError::Template { name: template.to_string(), source })?;
        self.files.push(RenderedFile { path: PathBuf::from(path), content, mode, kind, role, what: what.to_string() });
        Ok(())
    }
}

fn block(p: Placement) -> FileKind {
    FileKind::ManagedBlock(p)
}

/// Every file the install writes for this profile on this platform, in install order.
/// Bridge configuration is included only with `agent.configure-bridges` (see `render_network`).
pub fn render_all(profile: &Profile, platform: PlatformId) -> Result<Vec<RenderedFile>, RenderError> {
    let mut files = render_host(profile, platform)?;
    if profile.has_role(Role::KvmAgent) && profile.agent.as_ref().is_some_and(|a| a.configure_bridges) {
        files.extend(render_network(profile, platform)?);
    }
    Ok(files)
}

fn setup(profile: &Profile, id: PlatformId) -> Result<(&'static Platform, &'static Release, Vars), RenderError> {
    let platform = Platform::get(id);
    let line = profile.cloudstack.release.as_str();
    let release = Release::get(line).ok_or_else(|| RenderError::Profile {
        key: "cloudstack.release".into(),
        msg: format!("unknown release line {line:?} (expected one of {})", Release::lines().join(", ")),
    })?;
    if !platform.supports_release(line) {
        return Err(RenderError::Profile {
            key: "cloudstack.release".into(),
            msg: format!(
                "CloudStack {line} has no packages for {} (supported: {})",
                platform.name,
                platform.releases.join(", ")
            ),
        });
    }
    let vars = Vars::new(profile, platform, release)?;
    Ok((platform, release, vars))
}

fn renderer(vars: &Vars) -> Result<Renderer, RenderError> {
    let ctx = tera::Context::from_serialize(vars)
        .map_err(|source| RenderError::Template { name: "(context)".into(), source })?;
    Ok(Renderer { ctx, files: vec![] })
}

fn render_host(profile: &Profile, id: PlatformId) -> Result<Vec<RenderedFile>, RenderError> {
    let (pf, release, vars) = setup(profile, id)?;
    let mut r = renderer(&vars)?;
    let has = |role| profile.has_role(role);

    // Host-wide.
    r.add("hosts", pf.hosts, 0o644, block(Placement::Top), None, "FQDN resolves to the host address", &[])?;
    if let Some(path) = pf.hostname_file {
        r.add("hostname", path, 0o644, FileKind::Keys, None, "persistent host name", &[])?;
    }
    if let AccessControl::Selinux { config } = pf.access_control {
        r.add("selinux-config", config, 0o644, FileKind::Keys, None, "SELinux permissive", &[])?;
    }
    let time_kind = if pf.time.dropin { FileKind::Whole } else { block(Placement::End) };
    let time_tpl = match pf.time.kind {
        crate::platform::TimeKind::Ntpd => "ntp.conf",
        crate::platform::TimeKind::Chrony => "chrony",
    };
    r.add(time_tpl, pf.time.path, 0o644, time_kind, None, "time servers", &[])?;
    if !vars.rules.is_empty() {
        match pf.firewall {
            Firewall::IptablesFile { path, chain, .. } => r.add(
                "firewall-iptables",
                path,
                0o600,
                block(Placement::IptablesChain(chain)),
                None,
                "firewall rules for the roles' ports",
                &[("chain", chain)],
            )?,
            Firewall::FirewalldPolicy { path, .. } => r.add(
                "firewall-firewalld",
                path,
                0o644,
                FileKind::Whole,
                None,
                "firewalld policy for the roles' ports",
                &[],
            )?,
        }
    }

    // CloudStack packages come from this repository (management and agent hosts).
    if has(Role::Management) || has(Role::KvmAgent) {
        let (tpl, path) = match pf.repo {
            RepoForm::Yum { path, .. } => ("repo-yum", path),
            RepoForm::Apt { path, .. } => ("repo-apt", path),
        };
        r.add(tpl, path, 0o644, FileKind::Whole, None, "CloudStack package repository", &[])?;
    }

    if has(Role::Database) {
        let wanted = profile.database.as_ref().and_then(|d| d.server.as_deref());
        let db = pf.database(wanted).ok_or_else(|| RenderError::Profile {
            key: "database.server".into(),
            msg: format!("{:?} is not packaged for {}", wanted.unwrap_or(""), pf.name),
        })?;
        let kind = if db.dropin { FileKind::Whole } else { block(Placement::End) };
        r.add("mysql", db.config, 0o644, kind, Some(Role::Database), "database settings CloudStack needs", &[])?;
    }

    if has(Role::Nfs) {
        match pf.nfs.exports_dropin {
            Some(path) => r.add("exports", path, 0o644, FileKind::Whole, Some(Role::Nfs), "NFS exports", &[])?,
            None => {
                r.add("exports", pf.nfs.exports, 0o644, block(Placement::End), Some(Role::Nfs), "NFS exports", &[])?
            }
        }
        match pf.nfs.ports {
            NfsPorts::Sysconfig { path } => {
                r.add("sysconfig-nfs", path, 0o644, FileKind::Keys, Some(Role::Nfs), "NFS fixed ports", &[])?
            }
            NfsPorts::NfsConf { dropin: Some(path), .. } => {
                r.add("nfs.conf", path, 0o644, FileKind::Whole, Some(Role::Nfs), "NFS fixed ports", &[])?
            }
            NfsPorts::NfsConf { path, dropin: None } => {
                r.add("nfs.conf", path, 0o644, FileKind::Keys, Some(Role::Nfs), "NFS fixed ports", &[])?
            }
        }
    }
    // NFSv4 id mapping on the server and on every host that mounts (management seeds the template).
    if vars.nfs.is_some() && (has(Role::Nfs) || has(Role::Management) || has(Role::KvmAgent)) {
        let role = [Role::Nfs, Role::Management, Role::KvmAgent].into_iter().find(|&x| has(x));
        r.add("idmapd.conf", pf.nfs.idmapd, 0o644, FileKind::Keys, role, "NFSv4 id mapping domain", &[])?;
    }

    if has(Role::Management) && has(Role::KvmAgent) {
        let path = format!("{}/cloudstrap", pf.sudoers_dir);
        r.add(
            "sudoers",
            &path,
            0o440,
            FileKind::Whole,
            Some(Role::Management),
            "sudo without a tty for the cloud user",
            &[],
        )?;
    }

    if has(Role::KvmAgent) {
        let lv = pf.libvirt;
        let k = Some(Role::KvmAgent);
        r.add("libvirtd.conf", lv.daemon_conf, 0o644, FileKind::Keys, k, "libvirtd listens on TCP 16509", &[])?;
        if lv.remote_mode_legacy {
            r.add("libvirt.conf", lv.client_conf, 0o644, FileKind::Keys, k, "libvirt legacy remote mode", &[])?;
        }
        r.add("qemu.conf", lv.qemu_conf, 0o644, FileKind::Keys, k, "VNC listens on all addresses", &[])?;
        r.add("libvirtd-defaults", lv.defaults, 0o644, FileKind::Keys, k, "libvirtd started with --listen", &[])?;
        r.add(
            "agent.properties",
            release.paths.agent_properties,
            0o644,
            FileKind::Keys,
            k,
            "CloudStack agent settings",
            &[],
        )?;
    }

    if let (true, Some(pv)) = (has(Role::Provisioning), pf.provisioning) {
        let p = Some(Role::Provisioning);
        r.add("fleet-dnsmasq", pv.dnsmasq_conf, 0o644, FileKind::Whole, p, "DHCP and TFTP for the fleet's network boot", &[])?;
        r.add("fleet-nginx", pv.nginx_conf, 0o644, FileKind::Whole, p, "HTTP server of the fleet's installer", &[])?;
    }
    Ok(r.files)
}

/// Static address and bridges (cloudbr0 carrying the host address on `host.interface`, cloudbr1 for guests)
/// in the platform's network configuration format. Rendered whatever `agent.configure-bridges` says, for review.
pub fn render_network(profile: &Profile, id: PlatformId) -> Result<Vec<RenderedFile>, RenderError> {
    let (pf, _, vars) = setup(profile, id)?;
    let agent = vars.agent.clone().ok_or_else(|| RenderError::Profile {
        key: "host.roles".into(),
        msg: "bridges are configured for the kvm-agent role only".into(),
    })?;
    let iface = vars.host.interface.clone().ok_or_else(|| RenderError::Profile {
        key: "host.interface".into(),
        msg: "needed to configure bridges: the physical interface that carries the host address".into(),
    })?;
    let mut r = renderer(&vars)?;
    r.ctx.insert("iface", &iface);
    let k = Some(Role::KvmAgent);
    match pf.network {
        NetworkConfig::Ifcfg { dir } => {
            r.add(
                "ifcfg-port",
                &format!("{dir}/ifcfg-{iface}"),
                0o644,
                FileKind::Whole,
                k,
                "physical port of the management bridge",
                &[],
            )?;
            r.add(
                "ifcfg-bridge",
                &format!("{dir}/ifcfg-{}", agent.private_bridge),
                0o644,
                FileKind::Whole,
                k,
                "management bridge with the host address",
                &[("bridge", &agent.private_bridge), ("addressed", "1")],
            )?;
            if agent.guest_bridge != agent.private_bridge {
                r.add(
                    "ifcfg-bridge",
                    &format!("{dir}/ifcfg-{}", agent.guest_bridge),
                    0o644,
                    FileKind::Whole,
                    k,
                    "guest bridge",
                    &[("bridge", &agent.guest_bridge), ("addressed", "")],
                )?;
            }
        }
        NetworkConfig::Netplan { path } => {
            r.add("netplan", path, 0o600, FileKind::Whole, k, "host address on bridges", &[])?
        }
        NetworkConfig::Ifupdown { path } => {
            r.add("ifupdown", path, 0o644, FileKind::Whole, k, "host address on bridges", &[])?
        }
    }
    Ok(r.files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        let _ = super::tera();
    }
}

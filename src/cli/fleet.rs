//! `cloudstrap fleet status | reinstall`: the hosts the provisioning role installs over the network (see
//! `crate::fleet`), from the node's profile, its HTTP tree and access log, and the CloudStack API.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{exit, Format, Global};
use crate::action::Ctx;
use crate::fleet::{publish::PublishFleet, tree, FleetError};
use crate::profile::Profile;

#[derive(Debug, Subcommand)]
pub enum FleetCmd {
    /// Per host: asked for a network boot, installed, registered, Up in the zone.
    Status(FleetArgs),
    /// Install a host again on its next network boot (its disk is wiped only as its profile allows).
    Reinstall {
        /// The host's name (fleet.hosts[].name).
        name: String,
        #[command(flatten)]
        args: FleetArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// The management node's profile (with the provisioning role and [fleet]).
    #[arg(long, value_name = "FILE", default_value = "/etc/cloudstrap/profile.toml")]
    pub profile: PathBuf,
}

/// One host as `fleet status` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostStatus {
    pub name: String,
    pub mac: String,
    pub address: String,
    /// It fetched its boot script from the provisioning server.
    pub netboot: bool,
    pub boot_requests: usize,
    pub installer_downloads: usize,
    /// It marked itself installed (and what it wrote there: its name and the time).
    pub installed: bool,
    pub installed_note: Option<String>,
    /// The management server knows it (a Routing host with its address), and its state there.
    pub registered: bool,
    pub state: Option<String>,
}

pub fn run(cmd: &FleetCmd, global: &Global) -> u8 {
    let args = match cmd {
        FleetCmd::Status(a) | FleetCmd::Reinstall { args: a, .. } => a,
    };
    let profile = match crate::profile::load(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::INPUT;
        }
    };
    let Some(action) = publisher(&profile, &args.profile, global) else {
        eprintln!("cloudstrap fleet: {}: no [fleet] with the provisioning role on this platform", args.profile.display());
        return exit::INPUT;
    };
    let ctx = Ctx::for_root(&global.root, crate::run::Redactor::default());
    match cmd {
        FleetCmd::Status(_) => status(&profile, &args.profile, &action, &ctx, global),
        FleetCmd::Reinstall { name, .. } => match action.reinstall(&ctx, name) {
            Ok(h) => {
                let msg = format!("{name} ({}) installs again on its next network boot; its secrets are published for it once more", h.mac);
                if global.format == Format::Json {
                    crate::console::result(&serde_json::json!({"host": name, "mac": h.mac, "reinstall": true}));
                } else {
                    crate::console::print(&format!("{msg}\n"));
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("cloudstrap fleet reinstall: {e}");
                match e {
                    FleetError::Input(_) => exit::INPUT,
                    FleetError::Failed(_) => exit::FAILED,
                }
            }
        },
    }
}

/// The install's own publishing action: the profile's platform, else this host's.
fn publisher(profile: &Profile, path: &Path, global: &Global) -> Option<PublishFleet> {
    let id = match profile.host.platform.as_deref() {
        Some(p) => p.parse().ok()?,
        None => crate::host::detect_platform(&global.site().sysroot()).ok()?,
    };
    PublishFleet::for_profile(profile, path, crate::platform::Platform::get(id))
}

fn status(profile: &Profile, path: &Path, action: &PublishFleet, ctx: &Ctx, global: &Global) -> u8 {
    let log = std::fs::read_to_string(ctx.path(tree::ACCESS_LOG)).unwrap_or_default();
    let (routing, api_error) = match routing_hosts(profile, path, &global.root) {
        Ok(h) => (h, None),
        Err(e) => (vec![], Some(e)),
    };
    let hosts: Vec<HostStatus> = profile
        .fleet
        .iter()
        .flat_map(|f| &f.hosts)
        .map(|h| {
            let p = tree::host_paths(&action.www, &h.mac_path());
            let r = tree::requests(&log, &h.mac_path());
            let note = std::fs::read_to_string(ctx.path(&p.installed)).ok().map(|s| s.trim().to_string());
            let api = routing.iter().find(|v| v["ipaddress"].as_str() == Some(h.address.as_str()));
            HostStatus {
                name: h.name.clone(),
                mac: h.mac.to_ascii_lowercase(),
                address: h.address.clone(),
                netboot: r.boot_script > 0,
                boot_requests: r.boot_script,
                installer_downloads: r.installer,
                installed: note.is_some(),
                installed_note: note,
                registered: api.is_some(),
                state: api.and_then(|v| v["state"].as_str()).map(str::to_string),
            }
        })
        .collect();
    if global.format == Format::Json {
        crate::console::result(&serde_json::json!({"hosts": hosts, "api_error": api_error}));
    } else {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut s = format!("{:<16} {:<18} {:<15} {:<8} {:<9} {:<10} {}\n", "host", "mac", "address", "netboot", "installed", "registered", "state");
        for h in &hosts {
            s.push_str(&format!(
                "{:<16} {:<18} {:<15} {:<8} {:<9} {:<10} {}\n",
                h.name,
                h.mac,
                h.address,
                yn(h.netboot),
                yn(h.installed),
                yn(h.registered),
                h.state.as_deref().unwrap_or("-")
            ));
        }
        if let Some(e) = &api_error {
            s.push_str(&format!("(the management server could not be asked: {e})\n"));
        }
        crate::console::print(&s);
    }
    exit::OK
}

/// The management server's KVM hosts (listHosts type=Routing), with the keys `api` uses.
fn routing_hosts(profile: &Profile, path: &Path, root: &Path) -> Result<Vec<serde_json::Value>, String> {
    let c = crate::cloudstack::credentials::from_profile(profile, path, root).map_err(|e| e.to_string())?;
    let auth = crate::cloudstack::client::Auth::Keys { api_key: c.api_key, secret: c.secret };
    let client = crate::cloudstack::client::Client::new(&c.endpoint, auth, crate::cloudstack::client::Options::for_profile(profile)).map_err(|e| e.to_string())?;
    client.list::<serde_json::Value>("listHosts", &[("type", "Routing")]).map_err(|e| e.to_string())
}

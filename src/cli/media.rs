//! `cloudstrap media build | customize | inspect | install`: the installer medium (see `crate::media`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{exit, Format, Global};
use crate::media::{self, iso, select, MediaError};

#[derive(Debug, Subcommand)]
pub enum MediaCmd {
    /// Build the installer ISO (on a Debian 12 host, as root): live system, system image, offline repository.
    Build(BuildArgs),
    /// Put profiles on an existing ISO (a new file), each with a boot-menu entry.
    Customize(CustomizeArgs),
    /// Show an ISO's boot records, build and profiles; --extract writes the profiles back out.
    Inspect(InspectArgs),
    /// What the installer medium's live system runs: pick this machine's profile, install, reboot.
    Install(InstallArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// The ISO to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// CloudStack repository laid out like download.cloudstack.org: a directory or an http(s) URL.
    #[arg(long, value_name = "DIR|URL")]
    pub cloudstack_repo: String,
    /// Its signing key (file or URL; default: release.asc at the repository's root, else one folder above).
    #[arg(long, value_name = "FILE|URL")]
    pub cloudstack_key: Option<String>,
    /// CloudStack release line.
    #[arg(long, default_value = "4.22", value_parser = crate::platform::Release::lines())]
    pub release: String,
    /// Debian mirror for the system image and the offline repository.
    #[arg(long, value_name = "URL", default_value = "http://deb.debian.org/debian")]
    pub mirror: String,
    /// System VM template (.qcow2.bz2) to carry.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// A profile to carry (repeatable); checked as `profile check` does.
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<PathBuf>,
    /// Where stages are cached between builds.
    #[arg(long, value_name = "DIR", default_value = "/var/cache/cloudstrap-media")]
    pub cache: PathBuf,
    /// The cloudstrap binary the medium carries (default: this one; use the static build).
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CustomizeArgs {
    /// The ISO to start from (not changed).
    pub iso: PathBuf,
    /// A profile to put on it (repeatable; one of the same name is replaced).
    #[arg(long, value_name = "FILE", required = true)]
    pub profile: Vec<PathBuf>,
    /// The new ISO.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    pub iso: PathBuf,
    /// Write the profiles on the ISO into this directory, byte for byte.
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Where the medium is mounted.
    #[arg(long, value_name = "DIR", default_value = "/run/live/medium")]
    pub medium: PathBuf,
    /// Do not reboot once installed.
    #[arg(long)]
    pub no_reboot: bool,
    /// Ask for the profile on this terminal (the live system's console login runs this when no profile on
    /// the medium is for the machine).
    #[arg(long)]
    pub guided: bool,
    /// Where the guided install saves the profile and its secret files (a network install: its `fleet`
    /// folder).
    #[arg(long, value_name = "DIR", default_value = "/run/cloudstrap")]
    pub profile_dir: PathBuf,
}

/// Left by the installer unit when no profile is for this machine: the console login runs the guided install.
const GUIDED_MARK: &str = "/run/cloudstrap/guided";

pub fn run(cmd: &MediaCmd, global: &Global) -> u8 {
    let code = |e: &MediaError| match e {
        MediaError::Input(_) => exit::INPUT,
        MediaError::Failed(_) => exit::FAILED,
    };
    match cmd {
        MediaCmd::Build(a) => {
            let release = crate::platform::Release::get(&a.release).expect("clap checked the line");
            let binary = a.binary.clone().or_else(|| std::env::current_exe().ok()).unwrap_or_else(|| PathBuf::from("/usr/bin/cloudstrap"));
            let o = media::build::BuildOptions {
                out: a.out.clone(),
                cache: a.cache.clone(),
                mirror: a.mirror.clone(),
                cloudstack_repo: a.cloudstack_repo.clone(),
                cloudstack_key: a.cloudstack_key.clone(),
                release,
                template: a.template.clone(),
                profiles: a.profile.clone(),
                binary,
            };
            match media::build::build(&o, &mut |l| {
                crate::log::line(l);
                crate::console::line(&format!("==> {l}"))
            }) {
                Ok(b) => {
                    if global.format == Format::Json {
                        crate::console::result(&serde_json::to_value(&b).unwrap_or_default());
                    } else {
                        crate::console::print(&format!(
                            "{}: {} in {:.0} s; built: {}; reused: {}; profiles: {}\n",
                            b.iso.display(),
                            crate::disk::devices::human(b.size),
                            b.elapsed_seconds,
                            list(&b.built),
                            list(&b.reused),
                            list(&b.profiles)
                        ));
                    }
                    exit::OK
                }
                Err(e) => {
                    eprintln!("cloudstrap media build: {e}");
                    code(&e)
                }
            }
        }
        MediaCmd::Customize(a) => {
            let result = iso::check_profiles(&a.profile).and_then(|ps| iso::customize(&a.iso, &ps, &a.out));
            match result {
                Ok(names) => {
                    if global.format == Format::Json {
                        crate::console::result(&serde_json::json!({"iso": a.out, "profiles": names}));
                    } else {
                        crate::console::print(&format!("{}: profiles {}\n", a.out.display(), list(&names)));
                    }
                    exit::OK
                }
                Err(e) => {
                    eprintln!("cloudstrap media customize: {e}");
                    code(&e)
                }
            }
        }
        MediaCmd::Inspect(a) => match iso::inspect(&a.iso) {
            Ok(i) => {
                if let Some(dir) = &a.extract {
                    if let Err(e) = extract(&i, dir) {
                        eprintln!("cloudstrap media inspect: {e}");
                        return exit::FAILED;
                    }
                }
                if global.format == Format::Json {
                    crate::console::result(&serde_json::to_value(&i).unwrap_or_default());
                } else {
                    let mut s = format!("{}: volume {}\n", i.iso.display(), i.volume);
                    if let Some(b) = &i.build {
                        s.push_str(&format!("built by cloudstrap {} for CloudStack {} on {}\n", b["cloudstrap"].as_str().unwrap_or("?"), b["release"].as_str().unwrap_or("?"), b["platform"].as_str().unwrap_or("?")));
                    }
                    s.push_str("boot records:\n");
                    i.el_torito.iter().chain(&i.system_area).for_each(|l| s.push_str(&format!("  {l}\n")));
                    s.push_str(&format!("profiles: {}\n", if i.profiles.is_empty() { "none" } else { "" }));
                    for p in &i.profiles {
                        s.push_str(&format!(
                            "  {}: {} [{}] mac {} disk {}\n",
                            p.name,
                            p.hostname.as_deref().unwrap_or("(does not load)"),
                            p.roles.join(", "),
                            p.mac.as_deref().unwrap_or("-"),
                            p.disk.as_deref().unwrap_or("-")
                        ));
                    }
                    crate::console::print(&s);
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("cloudstrap media inspect: {e}");
                code(&e)
            }
        },
        MediaCmd::Install(a) if a.guided => guided_install(a, global),
        MediaCmd::Install(a) => live_install(a, global),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn extract(i: &iso::Inspection, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for p in &i.profiles {
        crate::atomic_file::replace(&dir.join(format!("{}.toml", p.name)), &p.text, 0o600)?;
    }
    Ok(())
}

/// Every console the kernel writes to (/sys/class/tty/console/active: "ttyS0 tty0"), so the installer's
/// progress shows on the screen and on the serial port alike.
fn consoles() -> Vec<std::fs::File> {
    let active = std::fs::read_to_string("/sys/class/tty/console/active").unwrap_or_default();
    let mut v: Vec<std::fs::File> = active
        .split_whitespace()
        .map(|n| if n == "tty0" { "tty1".to_string() } else { n.to_string() })
        .filter_map(|n| std::fs::OpenOptions::new().write(true).open(format!("/dev/{n}")).ok())
        .collect();
    if v.is_empty() {
        v.extend(std::fs::OpenOptions::new().write(true).open("/dev/console").ok());
    }
    v
}

/// The live system's installer (iso/live/cloudstrap-installer.service).
fn live_install(a: &InstallArgs, global: &Global) -> u8 {
    let mut outs = consoles();
    let mut say = |l: &str| {
        crate::log::line(l);
        println!("{l}");
        for o in outs.iter_mut() {
            let _ = write!(o, "cloudstrap: {l}\r\n");
        }
    };
    let log = global.log_file.clone().unwrap_or_else(|| PathBuf::from("/var/log/cloudstrap/media-install.log"));
    let profiles_dir = a.medium.join(media::layout::PROFILES);
    let candidates = iso::candidates(&profiles_dir);
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let macs: Vec<String> = select::interfaces().into_iter().map(|(_, mac)| mac).collect();
    let failed = |say: &mut dyn FnMut(&str), msg: &str| {
        say(msg);
        say(&format!("The log is {}; a root shell follows on this console.", log.display()));
        exit::FAILED
    };
    match media::netboot::fleet_url(&cmdline) {
        Ok(Some(url)) => {
            return match network_install(a, &url, &cmdline, &log, &mut say) {
                Ok(rc) => rc,
                Err(e) => failed(&mut say, &e),
            };
        }
        Ok(None) => {}
        Err(e) => return failed(&mut say, &e.to_string()),
    }
    let choice = match select::choose(&cmdline, &macs, &candidates) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let names: Vec<String> = candidates.iter().map(|c| c.name.clone()).collect();
            say(&format!(
                "no profile on this medium is for this machine (its MAC addresses: {}; profiles: {}): the guided install starts on the console (log in there if it asks); or choose a profile in the boot menu",
                list(&macs),
                list(&names),
            ));
            let _ = std::fs::create_dir_all("/run/cloudstrap").and_then(|_| std::fs::write(GUIDED_MARK, b""));
            return exit::OK;
        }
        Err(e) => return failed(&mut say, &e),
    };
    match &choice {
        select::Choice::Named(n) => say(&format!("profile {n} (named on the kernel command line)")),
        select::Choice::Mac { name, mac } => say(&format!("profile {name} (host.mac {mac} is this machine's)")),
    }
    let profile = profiles_dir.join(format!("{}.toml", choice.name()));
    let rc = install_from_medium(a, &profile, &log, &mut say);
    if rc != exit::OK {
        return failed(&mut say, "the install onto the disk did not complete (see above).");
    }
    finish(a, &cmdline, &mut say)
}

/// Network mode (`cloudstrap.fleet=URL`): this machine's profile and its secrets from the provisioning node
/// into `PROFILE_DIR/fleet`, the install from the medium as for the ISO, then the node told it is installed
/// (its next network boot goes to the disk). A machine the node does not know installs nothing: there is no
/// guided install from the network. `Err`: the one sentence for the consoles.
fn network_install(a: &InstallArgs, url: &url::Url, cmdline: &str, log: &Path, say: &mut dyn FnMut(&str)) -> Result<u8, String> {
    use media::netboot;
    let fleet = netboot::Fleet::new(url).map_err(|e| e.to_string())?;
    let node = fleet.node_ip().ok_or_else(|| netboot::NetbootError::BadUrl(url.to_string()).to_string())?;
    let interfaces = select::interfaces();
    say(&format!("network install: asking {url} for this machine's profile"));
    let Some(found) = fleet.find_profile(&interfaces).map_err(|e| e.to_string())? else {
        let macs: Vec<String> = interfaces.into_iter().map(|(_, mac)| mac).collect();
        say(&format!("this machine is not in the fleet of {url} (none of its MAC addresses has a profile there: {}); nothing installed", list(&macs)));
        return Ok(exit::OK);
    };
    let dir = a.profile_dir.join("fleet");
    let path = netboot::save_profile(&dir, &found.text).map_err(|e| e.to_string())?;
    let profile = crate::profile::load(&path).map_err(|e| format!("the profile from {url} does not load:\n{e}"))?;
    say(&format!("profile of {} (MAC {} on {})", profile.host.fqdn, found.mac, found.interface));
    netboot::bring_up(&found.interface, &profile.host.address, node).map_err(|e| format!("cannot bring up {} on {}: {e}", profile.host.address, found.interface))?;
    let files = fleet.fetch_secrets(&found.mac, &profile, &dir).map_err(|e| e.to_string())?;
    say(&format!("{} secret file(s) fetched from the node and removed there", files.len()));
    if install_from_medium(a, &path, log, say) != exit::OK {
        return Err("the install onto the disk did not complete (see above).".into());
    }
    fleet
        .mark_installed(&found.mac, &profile.host.hostname)
        .map_err(|e| format!("installed, but the node did not record it ({e}); its next network boot would install again"))?;
    say("the node records this machine as installed: its next network boot starts the disk");
    Ok(finish(a, cmdline, say))
}

/// `disk install` of `profile` from the medium's image, repository and template.
fn install_from_medium(a: &InstallArgs, profile: &Path, log: &Path, say: &mut dyn FnMut(&str)) -> u8 {
    let template = std::fs::read_dir(a.medium.join(media::layout::TEMPLATES)).ok().and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.is_file()));
    let args = super::disk::DiskInstallArgs {
        profile: profile.to_path_buf(),
        image: a.medium.join(media::layout::SYSTEM),
        offline_repo: Some(a.medium.join(media::layout::REPO)).filter(|p| p.is_dir()),
        template,
        medium_iso: medium_source(&a.medium),
        yes: true,
    };
    super::disk::install(&args, Some(log.to_path_buf()), say)
}

/// What the medium is mounted from (/proc/mounts): the CD's device, or the loop device over the ISO the
/// network boot fetched into memory.
fn medium_source(medium: &Path) -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let (dev, at) = (w.next()?, w.next()?);
        (Path::new(at) == medium && dev.starts_with("/dev/")).then(|| PathBuf::from(dev))
    })
}

/// Installed: eject the medium and reboot into the new system, unless asked not to.
fn finish(a: &InstallArgs, cmdline: &str, say: &mut dyn FnMut(&str)) -> u8 {
    if a.no_reboot || cmdline.split_whitespace().any(|w| w == "cloudstrap.noreboot") {
        say("installed; not rebooting (asked not to)");
        return exit::OK;
    }
    say("installed; ejecting the medium and rebooting into the new system");
    let _ = crate::run::Cmd::new("eject").arg("/dev/sr0").timeout(std::time::Duration::from_secs(10)).run(&Default::default());
    let _ = crate::run::Cmd::new("systemctl").arg("reboot").run(&Default::default());
    exit::OK
}

/// The guided install on this terminal, for a machine no profile on the medium is for; one console at a time.
fn guided_install(a: &InstallArgs, global: &Global) -> u8 {
    let _ = std::fs::create_dir_all("/run/cloudstrap");
    let lock = match std::fs::File::create("/run/cloudstrap/guided.lock") {
        Ok(f) => f,
        Err(e) => {
            eprintln!("media install --guided: /run/cloudstrap/guided.lock: {e}");
            return exit::FAILED;
        }
    };
    if lock.try_lock().is_err() {
        eprintln!("The guided install is running on another console.");
        return exit::REFUSED;
    }
    let _ = std::fs::remove_file(GUIDED_MARK);
    let build = std::fs::read(a.medium.join(media::layout::BUILD_INFO)).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let Some(release) = build.as_ref().and_then(|b| b["release"].as_str()).map(str::to_string) else {
        eprintln!("media install --guided: {} has no {} (not a medium made by cloudstrap media build)", a.medium.display(), media::layout::BUILD_INFO);
        return exit::INPUT;
    };
    let lsblk = match crate::run::Cmd::new("lsblk").args(["--json", "--bytes", "--output", crate::disk::devices::LSBLK_COLUMNS]).run_ok(&Default::default()) {
        Ok(o) => o.stdout,
        Err(e) => {
            eprintln!("media install --guided: cannot list the disks: {e}");
            return exit::FAILED;
        }
    };
    let profile = match super::tui::medium::run(&global.site().sysroot(), &release, &a.profile_dir, &lsblk) {
        super::tui::Outcome::Install(p) => p,
        super::tui::Outcome::Exit(code) => return code,
    };
    let log = global.log_file.clone().unwrap_or_else(|| PathBuf::from("/var/log/cloudstrap/media-install.log"));
    let mut say = |l: &str| {
        crate::log::line(l);
        eprintln!("{l}");
    };
    let rc = install_from_medium(a, &profile, &log, &mut say);
    if rc != exit::OK {
        say(&format!("The install onto the disk did not complete (see above); the log is {}.", log.display()));
        return rc;
    }
    finish(a, &std::fs::read_to_string("/proc/cmdline").unwrap_or_default(), &mut say)
}

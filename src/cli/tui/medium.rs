//! The guided install on the installer medium, for a machine no profile on it names: the questions of the
//! guided install (no preflight: the live system is not what gets installed, and the install runs it at
//! first boot), then the network interface, the disk with what is on it, and root's password. The profile
//! is saved in `dir` with its secrets in 0600 files beside it; the caller installs it onto the disk, which
//! shows the disk's contents once more and has the operator type its name before erasing data.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::ask::{self, Asked, Stop};
use super::detect::Defaults;
use super::{answers_valid, draft, interrupt, mask_inline, questions, save, say, Outcome, ROLE_CHOICES};
use crate::cli::exit;
use crate::disk::devices::{self, Device};
use crate::host::{GatherOptions, HostFacts};
use crate::profile::Disk;

/// The medium's system.
const PLATFORM: &str = "debian-12";

pub fn run(sys_root: &crate::host::Sysroot, release: &str, dir: &Path, lsblk: &str) -> Outcome {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        eprintln!("media install --guided: no terminal to ask on");
        return Outcome::Exit(exit::INPUT);
    }
    interrupt::watch();
    match guided(sys_root, release, dir, lsblk) {
        Ok(o) => o,
        Err(Stop::Interrupted) => interrupt::interrupted_exit(),
        Err(Stop::Io(e)) => {
            interrupt::restore_terminal();
            eprintln!("media install --guided: the terminal failed ({e}); nothing was written");
            Outcome::Exit(exit::FAILED)
        }
    }
}

/// The disks an install can go on, as the operator sees them: fixed disks that are not the medium and not
/// read-only, and loop devices nothing is mounted from (disk images; a live system's own are mounted).
fn candidates(lsblk: &str) -> Vec<Device> {
    devices::parse(lsblk)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| !d.is_boot_medium() && !d.ro && d.size >= crate::disk::MIN_ROOT)
        .filter(|d| d.kind == "disk" || (d.kind == "loop" && !d.is_mounted()))
        .collect()
}

fn label(d: &Device) -> String {
    let what = if d.is_used() { d.contents().join("; ") } else { "empty".into() };
    let serial = d.serial.as_deref().map(|s| format!(" serial {s}")).unwrap_or_default();
    format!("{} {}{serial}: {what}", d.path.display(), devices::human(d.size))
}

fn guided(sys: &crate::host::Sysroot, release: &str, dir: &Path, lsblk: &str) -> Asked<Outcome> {
    say("cloudstrap guided install from the installer medium: no profile on it is for this machine.");
    say("Answers are checked as you go; nothing is written to any disk before you confirm.\n");
    let disks = candidates(lsblk);
    if disks.is_empty() {
        say("This machine has no disk to install on (at least 8 GiB, not the installer medium).");
        return Ok(Outcome::Exit(exit::INPUT));
    }
    let labels: Vec<String> = ROLE_CHOICES.iter().map(|(l, _)| l.to_string()).collect();
    let roles = ROLE_CHOICES[ask::select("Roles of this host", &labels, 0)?].1.to_vec();
    say(format!("CloudStack release: {release} (the one on this medium)"));

    let facts = HostFacts::gather(sys, &GatherOptions { probe_vms: false, ..GatherOptions::default() });
    let defaults = Defaults { platform: Some(PLATFORM.into()), for_another_system: true, ..Defaults::from_facts(&facts, sys) };
    let mut p = draft(release, &roles, &defaults);
    let nics = crate::media::select::interfaces();
    if !nics.is_empty() {
        let items: Vec<String> = nics.iter().map(|(n, m)| format!("{n} ({m})")).collect();
        let i = ask::select("Network interface that carries the host's address", &items, 0)?;
        p.host.interface = Some(nics[i].0.clone());
        p.host.mac = Some(nics[i].1.clone());
    }
    questions(&mut p, &defaults)?;

    say("\nDisk");
    let items: Vec<String> = disks.iter().map(label).collect();
    let chosen = &disks[ask::select("Install onto", &items, 0)?];
    p.disk = Some(Disk { device: chosen.path.display().to_string(), ..Disk::default() });
    if chosen.is_used() {
        say(format!("  {} holds data: {}", chosen.path.display(), chosen.contents().join("; ")));
        say("  It is erased only once you type its name when the install starts.");
    }
    ask::secret(&mut p, "Root password of the new system", "disk.root-password", |p, s| {
        if let Some(d) = p.disk.as_mut() {
            d.root_password = Some(s.to_string())
        }
    })?;
    if !answers_valid(&p, "nothing was written") {
        return Ok(Outcome::Exit(exit::FAILED));
    }
    let path: PathBuf = dir.join("profile.toml");
    let (shown, _) = save::prepare(&p, &path, false);
    say(format!("\nThe profile ({}):\n", path.display()));
    say(mask_inline(&save::render(&shown)));
    let go = ["Install onto the disk now", "Quit (nothing is written)"].map(String::from);
    if ask::select("Go ahead?", &go, 0)? != 0 {
        say("Quit: nothing was written.");
        return Ok(Outcome::Exit(exit::REFUSED));
    }
    interrupt::commit();
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))) {
        say(format!("media install: {}: {e}", dir.display()));
        return Ok(Outcome::Exit(exit::FAILED));
    }
    match save::save(&p, &path, false) {
        Ok(_) => say(format!("Saved {} (it goes onto the new system as /etc/cloudstrap/profile.toml).", path.display())),
        Err(e) => {
            say(format!("media install: {e}"));
            return Ok(Outcome::Exit(exit::FAILED));
        }
    }
    Ok(Outcome::Install(path))
}

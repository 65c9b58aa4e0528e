//! `cloudstrap disk install`: install the system onto the profile's disk (what the installer medium runs on
//! a blank machine; see `crate::disk`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{exit, Global};
use crate::disk::DiskError;

#[derive(Debug, Subcommand)]
pub enum DiskCmd {
    /// Install the system image onto the profile's [disk], with a first boot that installs its roles.
    Install(DiskInstallArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DiskInstallArgs {
    /// The profile: its [disk] section, host name, address and roles.
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
    /// The system image: a root directory or a squashfs file.
    #[arg(long, value_name = "PATH")]
    pub image: PathBuf,
    /// A package repository (with dists/) copied to the disk as its only package source.
    #[arg(long, value_name = "DIR")]
    pub offline_repo: Option<PathBuf>,
    /// The system VM template (.qcow2.bz2) copied to the disk.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// The installer ISO (a file or the medium's device), kept on the disk as fleet.media when the profile
    /// has the provisioning role: the node installs its fleet from it.
    #[arg(long, value_name = "FILE")]
    pub medium_iso: Option<PathBuf>,
    /// Do not ask before installing onto an empty disk (a disk holding data needs disk.wipe = true).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(cmd: &DiskCmd, global: &Global) -> u8 {
    let DiskCmd::Install(a) = cmd;
    install(a, global.log_file.clone(), &mut |l| crate::console::line(l))
}

/// The disk install with every line for the operator going to `say` (the console, or the installer
/// medium's consoles); returns the exit code.
pub fn install(a: &DiskInstallArgs, log: Option<PathBuf>, say: &mut dyn FnMut(&str)) -> u8 {
    let profile = match crate::profile::load(&a.profile) {
        Ok(p) => p,
        Err(e) => {
            say(&e.to_string());
            return exit::INPUT;
        }
    };
    let lsblk = match crate::run::Cmd::new("lsblk").args(["--json", "--bytes", "--output", crate::disk::devices::LSBLK_COLUMNS]).run_ok(&Default::default()) {
        Ok(o) => o.stdout,
        Err(e) => return fail(say, DiskError::Failed(format!("cannot list the disks: {e}"))),
    };
    let plan = match crate::disk::plan(&profile, &lsblk) {
        Ok(p) => p,
        Err(e) => return fail(say, e),
    };
    plan.lines().iter().for_each(|l| {
        crate::log::line(l);
        say(l)
    });
    // A disk holding data: the profile's wipe = true, or the operator types its name; an empty one: --yes or yes.
    let mut confirmed = false;
    if !(plan.contents.is_empty() && a.yes) && !(plan.wipe_allowed && a.yes) {
        if !std::io::stdin().is_terminal() {
            let why = if plan.contents.is_empty() {
                format!("installing onto {} needs confirmation and there is no terminal to ask on: pass --yes", plan.disk.display())
            } else {
                format!(
                    "{} holds data ({}): set disk.wipe = true in the profile (and pass --yes), or run the install on a terminal and type the disk's name",
                    plan.disk.display(),
                    plan.contents.join("; ")
                )
            };
            return fail(say, DiskError::Refused(format!("{why}; nothing was written")));
        }
        let name = plan.disk.display().to_string();
        eprint!("Type the disk's name ({name}) to erase it and install, anything else cancels: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        if line.trim() != name {
            return fail(say, DiskError::Refused(format!("the name typed was not {name}: cancelled, nothing was written")));
        }
        confirmed = true;
    }
    let binary = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/bin/cloudstrap"));
    let opts = crate::disk::Options {
        image: a.image.clone(),
        offline_repo: a.offline_repo.clone(),
        template: a.template.clone(),
        medium_iso: a.medium_iso.clone(),
        operator_confirmed: confirmed,
        binary,
        log,
    };
    match crate::disk::install(&profile, &a.profile, &plan, &opts, &mut |l| {
        crate::log::line(l);
        say(&format!("==> {l}"))
    }) {
        Ok(_) => exit::OK,
        Err(e) => fail(say, e),
    }
}

fn fail(say: &mut dyn FnMut(&str), e: DiskError) -> u8 {
    crate::log::line(&format!("disk install: {e}"));
    say(&format!("cloudstrap disk install: {e}"));
    match e {
        DiskError::Input(_) => exit::INPUT,
        DiskError::Refused(_) => exit::REFUSED,
        DiskError::Failed(_) => exit::FAILED,
    }
}

//! Install packages with the platform's package manager; detection through the package database.

use std::time::Duration;

use super::undo::Undo;
use super::{Action, ActionError, Ctx, Record};

pub use crate::platform::PackageManager;

pub struct InstallPackages {
    pub manager: PackageManager,
    pub packages: Vec<String>,
    /// What the packages are for, shown in the description ("database server").
    pub purpose: String,
}

/// The package manager's environment (never prompt) on a command.
pub fn with_env(cmd: crate::run::Cmd, manager: PackageManager) -> crate::run::Cmd {
    manager.env().iter().fold(cmd, |c, (k, v)| c.env(*k, *v))
}

const INSTALL_TIMEOUT: Duration = Duration::from_secs(3600);

/// The packages of `names` that are not installed in the context's root.
pub fn missing(ctx: &Ctx, manager: PackageManager, names: &[String]) -> Result<Vec<String>, ActionError> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    match manager {
        PackageManager::Apt => {
            let out = ctx.run(&ctx.cmd("dpkg-query").arg("-W").arg("-f=${Package} ${db:Status-Status}\n").args(names.iter().cloned()))?;
            let installed: Vec<&str> =
                out.stdout.lines().filter_map(|l| l.split_once(' ')).filter(|(_, st)| st.trim() == "installed").map(|(p, _)| p.split(':').next().unwrap_or(p)).collect();
            Ok(names.iter().filter(|n| !installed.contains(&n.as_str())).cloned().collect())
        }
        PackageManager::Yum | PackageManager::Dnf => {
            // `rpm -q --whatprovides` also accepts capabilities such as "mysql-server".
            let mut miss = vec![];
            for n in names {
                if ctx.run(&ctx.cmd("rpm").arg("-q").arg("--whatprovides").arg(n))?.status != 0 {
                    miss.push(n.clone());
                }
            }
            Ok(miss)
        }
    }
}

/// Every package installed in the context's root, by name.
fn installed(ctx: &Ctx, manager: PackageManager) -> Result<std::collections::BTreeSet<String>, ActionError> {
    let out = match manager {
        PackageManager::Apt => ctx.run_ok(&ctx.cmd("dpkg-query").arg("-W").arg("-f=${Package} ${db:Status-Status}\n"))?,
        _ => ctx.run_ok(&ctx.cmd("rpm").args(["-qa", "--qf", "%{NAME} installed\n"]))?,
    };
    Ok(out.stdout.lines().filter_map(|l| l.split_once(' ')).filter(|(_, st)| st.trim() == "installed").map(|(p, _)| p.split(':').next().unwrap_or(p).to_string()).collect())
}

/// Wait until no process holds dpkg's lock in the context's root (dpkg and apt take fcntl write locks
/// on these files; a test lock that succeeds is released at once).
fn wait_for_dpkg_lock(ctx: &Ctx, limit: Duration) -> Result<(), ActionError> {
    use std::os::fd::AsRawFd;
    let start = std::time::Instant::now();
    for name in ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"] {
        let path = ctx.path(name);
        let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(&path) else { continue };
        loop {
            let mut fl: nix::libc::flock = unsafe { std::mem::zeroed() };
            fl.l_type = nix::libc::F_WRLCK as i16;
            fl.l_whence = nix::libc::SEEK_SET as i16;
            // F_GETLK reports a conflicting lock without taking one.
            let r = unsafe { nix::libc::fcntl(file.as_raw_fd(), nix::libc::F_GETLK, &mut fl) };
            if r != 0 || fl.l_type == nix::libc::F_UNLCK as i16 {
                break;
            }
            if start.elapsed() > limit {
                return Err(ActionError::Failed(format!("{name} is still held by process {} after {} s", fl.l_pid, limit.as_secs())));
            }
            crate::log::line(&format!("waiting for process {} to release {name}", fl.l_pid));
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    Ok(())
}

impl Action for InstallPackages {
    fn id(&self) -> String {
        format!("packages:{}", self.packages.join(","))
    }

    fn describe(&self) -> String {
        format!("Install {} packages: {}", self.purpose, self.packages.join(" "))
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(missing(ctx, self.manager, &self.packages)?.is_empty())
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.added = missing(ctx, self.manager, &self.packages)?;
        record.undo = vec![Undo::RemovePackages { manager: self.manager.program().into(), packages: record.added.clone() }];
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let miss = missing(ctx, self.manager, &self.packages)?;
        let before = installed(ctx, self.manager)?;
        // Package scripts also change /etc outside the packages' own files (users in /etc/passwd, /etc/hosts,
        // service links): what they did there is recorded too, to be put back after the packages are gone.
        let etc_before = super::undo::snapshot(ctx, std::path::Path::new("/etc"));
        if miss.is_empty() {
            return Ok(());
        }
        if self.manager == PackageManager::Apt {
            // A killed run's apt/dpkg may still be finishing as an orphan: wait for it to let go.
            wait_for_dpkg_lock(ctx, INSTALL_TIMEOUT)?;
            // A run killed while dpkg worked leaves it half-configured; finish that first (a no-op otherwise).
            ctx.run_ok(&ctx.cmd("dpkg").args(["--configure", "-a"]).env("DEBIAN_FRONTEND", "noninteractive").timeout(INSTALL_TIMEOUT))?;
        }
        let cmd = with_env(ctx.argv(self.manager.install_argv(&miss)), self.manager);
        ctx.run_ok(&cmd.timeout(INSTALL_TIMEOUT))?;
        // The dependencies that came along are removed with the packages asked for.
        let new: Vec<String> = installed(ctx, self.manager)?.into_iter().filter(|p| !before.contains(p)).collect();
        let etc = super::undo::between(ctx, &etc_before, &super::undo::snapshot(ctx, std::path::Path::new("/etc")))?;
        record.undo.splice(0..0, etc);
        for u in &mut record.undo {
            if let Undo::RemovePackages { packages, .. } = u {
                packages.extend(new.iter().filter(|n| !packages.contains(n)).cloned().collect::<Vec<_>>());
            }
        }
        Ok(())
    }

    fn exclusive(&self) -> Option<&'static str> {
        Some("package-manager")
    }

}

//! Install packages with the platform's package manager; detection through the package database.

use std::time::Duration;

use super::{Action, ActionError, Ctx, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageManager {
    Apt,
    Yum,
    Dnf,
}

impl PackageManager {
    pub fn program(self) -> &'static str {
        match self {
            PackageManager::Apt => "apt-get",
            PackageManager::Yum => "yum",
            PackageManager::Dnf => "dnf",
        }
    }
}

pub struct InstallPackages {
    pub manager: PackageManager,
    pub packages: Vec<String>,
    /// What the packages are for, shown in the description ("database server").
    pub purpose: String,
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
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let miss = missing(ctx, self.manager, &self.packages)?;
        if miss.is_empty() {
            return Ok(());
        }
        if self.manager == PackageManager::Apt {
            // A run killed while dpkg worked leaves it half-configured; finish that first (a no-op otherwise).
            ctx.run_ok(&ctx.cmd("dpkg").args(["--configure", "-a"]).env("DEBIAN_FRONTEND", "noninteractive").timeout(INSTALL_TIMEOUT))?;
        }
        let cmd = match self.manager {
            PackageManager::Apt => ctx
                .cmd("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold"])
                // Wait for a package manager run by someone else (unattended-upgrades) instead of failing.
                .args(["-o", "DPkg::Lock::Timeout=600"])
                .args(miss)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            m => ctx.cmd(m.program()).args(["-y", "install"]).args(miss),
        };
        ctx.run_ok(&cmd.timeout(INSTALL_TIMEOUT))?;
        Ok(())
    }

    fn exclusive(&self) -> Option<&'static str> {
        Some("package-manager")
    }

    fn revert(&self, ctx: &Ctx, record: &Record) -> Result<(), ActionError> {
        if record.added.is_empty() {
            return Ok(());
        }
        let cmd = match self.manager {
            PackageManager::Apt => ctx.cmd("apt-get").args(["remove", "-y", "-q"]).args(record.added.iter().cloned()).env("DEBIAN_FRONTEND", "noninteractive"),
            m => ctx.cmd(m.program()).args(["-y", "remove"]).args(record.added.iter().cloned()),
        };
        ctx.run_ok(&cmd.timeout(INSTALL_TIMEOUT))?;
        Ok(())
    }
}

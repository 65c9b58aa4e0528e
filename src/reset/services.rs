//! Stopping and starting CloudStack's services through the platform's init system (systemd or SysV).
//! Service names come from the release table, the init system from the platform table.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::platform::{InitSystem, Release};
use crate::run::{Cmd, Redactor, RunError};

/// The argv that stops or starts `name` (the platform table carries status and restart; stop and start
/// follow the same two forms), run in `chroot root` for a root other than `/`: the root's own service
/// manager, never the one on this machine's PATH.
fn command(init: InitSystem, verb: &str, name: &str, root: &Path) -> Cmd {
    let cmd = match (init, verb) {
        (_, "status") => {
            let argv = init.status_argv(name);
            Cmd::new(argv[0].clone()).args(argv[1..].iter().cloned())
        }
        (InitSystem::Systemd, _) => Cmd::new("systemctl").arg(verb).arg(name),
        (InitSystem::SysV, _) => Cmd::new("service").arg(name).arg(verb),
    };
    cmd.in_root(root)
}

/// A service and whether it ran before we touched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub was_active: bool,
}

#[derive(Debug, Clone)]
pub struct Services {
    pub init: InitSystem,
    /// The management server first, then the usage server.
    pub names: Vec<String>,
    /// The root whose service manager runs them.
    pub root: PathBuf,
}

impl Services {
    /// The management server's and the usage server's services of a release line.
    pub fn for_release(init: InitSystem, release: &Release, root: &Path) -> Services {
        let names = release.management.services.iter().chain(release.usage.services).map(|s| s.to_string()).collect();
        Services { init, names, root: root.to_path_buf() }
    }

    pub fn is_active(&self, name: &str) -> Result<bool, RunError> {
        Ok(command(self.init, "status", name, &self.root).run(&Redactor::default())?.status == 0)
    }

    /// Record which services run now.
    pub fn snapshot(&self) -> Result<Vec<ServiceState>, RunError> {
        self.names.iter().map(|n| Ok(ServiceState { name: n.clone(), was_active: self.is_active(n)? })).collect()
    }

    /// Stop the services that run (usage first, so it does not write while management stops).
    pub fn stop(&self, states: &[ServiceState]) -> Result<(), RunError> {
        for s in states.iter().rev().filter(|s| s.was_active) {
            command(self.init, "stop", &s.name, &self.root).run_ok(&Redactor::default())?;
        }
        Ok(())
    }

    /// Start again what ran before (and the management server when `management` is set).
    pub fn start(&self, states: &[ServiceState], management: bool) -> Result<(), RunError> {
        for (i, s) in states.iter().enumerate() {
            if s.was_active || (management && i == 0) {
                command(self.init, "start", &s.name, &self.root).run_ok(&Redactor::default())?;
            }
        }
        Ok(())
    }
}

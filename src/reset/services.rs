//! Stopping and starting CloudStack's services through the platform's init system (systemd or SysV).
//! The command lines are data; service names come from the platform table when it has them.

use serde::{Deserialize, Serialize};

use crate::run::{Cmd, Redactor, RunError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    Systemd,
    SysV,
}

impl Init {
    /// (program, args before the name, args after the name) for each verb.
    fn command(self, verb: &str, name: &str) -> Cmd {
        match self {
            Init::Systemd => Cmd::new("systemctl").arg(if verb == "status" { "is-active" } else { verb }).arg(name),
            Init::SysV => Cmd::new("service").arg(name).arg(verb),
        }
    }
}

/// A service and whether it ran before we touched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub was_active: bool,
}

#[derive(Debug, Clone)]
pub struct Services {
    pub init: Init,
    /// The management server first, then the usage server.
    pub names: Vec<String>,
}

impl Services {
    /// CloudStack's service names for a release. (Kept here until the platform table carries them.)
    pub fn for_release(init: Init, release: &str) -> Services {
        let names = if release == "3.0.2" {
            vec!["cloud-management".into(), "cloud-usage".into()]
        } else {
            vec!["cloudstack-management".into(), "cloudstack-usage".into()]
        };
        Services { init, names }
    }

    pub fn is_active(&self, name: &str) -> Result<bool, RunError> {
        Ok(self.init.command("status", name).run(&Redactor::default())?.status == 0)
    }

    /// Record which services run now.
    pub fn snapshot(&self) -> Result<Vec<ServiceState>, RunError> {
        self.names.iter().map(|n| Ok(ServiceState { name: n.clone(), was_active: self.is_active(n)? })).collect()
    }

    /// Stop the services that run (usage first, so it does not write while management stops).
    pub fn stop(&self, states: &[ServiceState]) -> Result<(), RunError> {
        for s in states.iter().rev().filter(|s| s.was_active) {
            self.init.command("stop", &s.name).run_ok(&Redactor::default())?;
        }
        Ok(())
    }

    /// Start again what ran before (and the management server when `management` is set).
    pub fn start(&self, states: &[ServiceState], management: bool) -> Result<(), RunError> {
        for (i, s) in states.iter().enumerate() {
            if s.was_active || (management && i == 0) {
                self.init.command("start", &s.name).run_ok(&Redactor::default())?;
            }
        }
        Ok(())
    }
}

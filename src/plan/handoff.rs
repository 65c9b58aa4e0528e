//! Hand-off lane, on a running system, each step after everything planned before it: the API hand-off
//! on a management host whose profile gives the admin password, then the zone when the profile has
//! one; the agent's registration on a kvm-agent host whose profile sets `agent.register`.

use super::builder::{Builder, Lane};
use super::{Lanes, PlanError};
use crate::cloudstack::actions::{AgentRegister, ApiHandoff, ZoneDeploy, SYSTEM_VM_WAIT};
use crate::cloudstack::agent::RegisterOptions;
use crate::cloudstack::zone::DeployOptions;
use crate::profile::Role;

pub(super) fn lane(b: &mut Builder, l: &Lanes) -> Result<(), PlanError> {
    let (profile, path) = (l.input.profile, l.input.profile_path);
    let located = |e: crate::action::ActionError| PlanError::Profile(e.to_string());
    let management = profile.management.as_ref();
    let has_admin_password = management.is_some_and(|m| m.admin_password.is_some() || m.admin_password_file.is_some() || m.admin_password_env.is_some());
    if l.has(Role::Management) && has_admin_password {
        b.add_after_all(Lane::Handoff, Box::new(ApiHandoff::from_profile(profile, path).map_err(located)?));
        if profile.zone.is_some() {
            // The hand-off ends when the system VMs run: a template copy that failed on the server (only logged
            // there) would otherwise leave a zone that never starts a VM, with the install reported as done.
            let dir = path.parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
            let options = DeployOptions { profile_dir: dir, system_vm_wait: Some(SYSTEM_VM_WAIT), ..DeployOptions::default() };
            b.add_after_all(Lane::Handoff, Box::new(ZoneDeploy { profile: profile.clone(), profile_path: path.into(), options }));
        }
    }
    if l.has(Role::KvmAgent) && profile.agent.as_ref().is_some_and(|a| a.register) {
        let options = RegisterOptions::for_profile(profile);
        b.add_after_all(Lane::Handoff, Box::new(AgentRegister { profile: profile.clone(), profile_path: path.into(), options }));
    }
    Ok(())
}

//! Provisioning lane (the management node installs its fleet over the network): dnsmasq, iPXE, nginx
//! and xorriso, their files, the services once the firewall lets DHCP, TFTP and HTTP in; after the
//! hand-off, the fleet's HTTP tree (its hosts' answers carry the API keys the hand-off made).

use super::builder::{Builder, Lane, StepId};
use super::{strs, Lanes, PlanError};
use crate::action::dirs::CreateDirs;
use crate::action::packages::InstallPackages;
use crate::action::service::Service;
use crate::fleet::publish::PublishFleet;
use crate::profile::Role;

fn row(l: &Lanes) -> Result<crate::platform::Provisioning, PlanError> {
    l.input.platform.provisioning.ok_or_else(|| PlanError::Profile(format!("host.roles: the provisioning role is not offered on {}", l.input.platform.name)))
}

pub(super) fn lane(b: &mut Builder, l: &Lanes) -> Result<(), PlanError> {
    let pv = row(l)?;
    let pk = InstallPackages { manager: l.pm(), packages: strs(pv.spec.packages), purpose: "network installs (DHCP/TFTP, iPXE, HTTP)".into() };
    b.add(Lane::Provisioning, Some(StepId::ProvisioningPackages), pk, &[StepId::BasePackages]);
    let files = l.files_for(Some(Role::Provisioning));
    b.files(Lane::Provisioning, &files, l.input.merge, &[StepId::ProvisioningPackages], StepId::ProvisioningFiles);
    // dnsmasq will not start without its TFTP root, nor nginx serve a missing document root.
    let dirs = CreateDirs { dirs: vec![crate::profile::FLEET_WWW.into(), crate::profile::FLEET_TFTP.into()], mode: 0o755 };
    b.add(Lane::Provisioning, Some(StepId::ProvisioningDirs), dirs, &[]);
    for s in pv.spec.services {
        let watched = files.iter().map(|f| f.path.clone()).collect();
        b.add(Lane::Provisioning, None, Service::run(l.init(), *s, watched, l.input.live), &[StepId::ProvisioningFiles, StepId::ProvisioningDirs, StepId::Firewall]);
    }
    Ok(())
}

/// The fleet's tree, after the hand-off made the API keys its hosts register with.
pub(super) fn publish(b: &mut Builder, l: &Lanes) -> Result<(), PlanError> {
    row(l)?;
    let action = PublishFleet::for_profile(l.input.profile, l.input.profile_path, l.input.platform)
        .ok_or_else(|| PlanError::Profile("fleet: the provisioning role needs a [fleet] section".into()))?;
    b.add_after_all(Lane::Provisioning, Box::new(action));
    Ok(())
}

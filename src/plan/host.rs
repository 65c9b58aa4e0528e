//! Host lane: SELinux permissive (for management and KVM), base packages, host-wide files, time
//! service, firewall service and, on a running system, its rules.

use std::path::PathBuf;

use super::builder::{Builder, Lane, StepId};
use super::{strs, Lanes};
use crate::action::firewall::{ApplyFirewall, Backend};
use crate::action::packages::InstallPackages;
use crate::action::selinux::SetSelinux;
use crate::action::service::Service;
use crate::platform::{AccessControl, Firewall};
use crate::profile::Role;

pub(super) fn lane(b: &mut Builder, l: &Lanes) {
    let p = l.input.platform;
    let live = l.input.live;
    let needs_selinux_off = l.has(Role::Management) || l.has(Role::KvmAgent);
    if let (AccessControl::Selinux { .. }, true) = (p.access_control, needs_selinux_off) {
        b.add(Lane::Host, Some(StepId::Selinux), SetSelinux { mode: "permissive".into() }, &[]);
    }
    let base = InstallPackages { manager: l.pm(), packages: strs(p.base.packages), purpose: "base".into() };
    b.add(Lane::Host, Some(StepId::BasePackages), base, &[StepId::Selinux]);
    b.files(Lane::Host, &l.files_for(None), l.input.merge, &[StepId::BasePackages], StepId::HostFiles);
    b.add(Lane::Host, None, Service::run(l.init(), p.time.service, vec![PathBuf::from(p.time.path)], live), &[StepId::HostFiles]);
    b.add(Lane::Host, Some(StepId::FirewallService), Service::run(l.init(), p.firewall.service(), vec![], live), &[StepId::HostFiles]);
    if live {
        let backend = match p.firewall {
            Firewall::IptablesFile { path, chain: "INPUT", .. } => Backend::IptablesFile { file: path.into(), chain: "INPUT".into() },
            f => Backend::Reload { file: f.path().into(), argv: strs(f.reload()) },
        };
        b.add(Lane::Host, Some(StepId::Firewall), ApplyFirewall { backend }, &[StepId::FirewallService]);
    } else {
        b.alias(StepId::Firewall, &[StepId::FirewallService]);
    }
}

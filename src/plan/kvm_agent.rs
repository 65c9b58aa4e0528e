//! KVM agent lane: packages, libvirt files, libvirt's sockets masked (systemd), AppArmor's libvirt
//! profiles disabled, libvirtd.

use super::builder::{Builder, Lane, StepId};
use super::{strs, Lanes};
use crate::action::apparmor::DisableProfiles;
use crate::action::packages::InstallPackages;
use crate::action::service::{Init, Service};
use crate::platform::AccessControl;
use crate::profile::Role;

pub(super) fn lane(b: &mut Builder, l: &Lanes) {
    let p = l.input.platform;
    let mut pkgs = strs(p.kvm_agent.packages);
    pkgs.extend(strs(l.input.release.kvm_agent.packages));
    b.add(Lane::KvmAgent, Some(StepId::AgentPackages), InstallPackages { manager: l.pm(), packages: pkgs, purpose: "KVM agent".into() }, &[StepId::Repository]);
    b.files(Lane::KvmAgent, &l.files_for(Some(Role::KvmAgent)), l.input.merge, &[StepId::AgentPackages], StepId::AgentFiles);
    let mut prev = StepId::AgentFiles;
    if l.init() == Init::Systemd {
        for s in p.libvirt.masked_sockets {
            b.add(Lane::KvmAgent, Some(StepId::MaskedSocket(s)), Service::mask(*s, l.input.live), &[prev]);
            prev = StepId::MaskedSocket(s);
        }
    }
    if let AccessControl::AppArmor { disable_dir, profile_dir, libvirt_profiles } = p.access_control {
        let disable = DisableProfiles { disable_dir: disable_dir.into(), profile_dir: profile_dir.into(), profiles: strs(libvirt_profiles) };
        b.add(Lane::KvmAgent, Some(StepId::AppArmor), disable, &[prev]);
        prev = StepId::AppArmor;
    }
    let lv = p.libvirt;
    let config = vec![lv.daemon_conf.into(), lv.client_conf.into(), lv.qemu_conf.into(), lv.defaults.into()];
    b.add(Lane::KvmAgent, Some(StepId::Libvirtd), Service::run(l.init(), lv.service, config, l.input.live), &[prev, StepId::Firewall]);
}

//! NFS lane: server packages, files, the storage directories (no package needed: the template download
//! can start right away), the services and, on a running system, the exports.

use super::builder::{Builder, Lane, StepId};
use super::{strs, Lanes, PlanError};
use crate::action::dirs::CreateDirs;
use crate::action::nfs::ExportFs;
use crate::action::packages::InstallPackages;
use crate::action::service::Service;
use crate::platform::NfsPorts;
use crate::profile::Role;

pub(super) fn lane(b: &mut Builder, l: &Lanes) -> Result<(), PlanError> {
    let p = l.input.platform;
    let nfs = l.input.profile.nfs.as_ref().ok_or_else(|| PlanError::Profile("nfs: the nfs role needs an [nfs] section".into()))?;
    let pk = InstallPackages { manager: l.pm(), packages: strs(p.nfs_server.packages), purpose: "NFS server".into() };
    b.add(Lane::Nfs, Some(StepId::NfsPackages), pk, &[]);
    let files = l.files_for(Some(Role::Nfs));
    b.files(Lane::Nfs, &files, l.input.merge, &[StepId::NfsPackages], StepId::NfsFiles);
    let dirs = CreateDirs { dirs: vec![nfs.primary.clone().into(), nfs.secondary.clone().into()], mode: 0o755 };
    b.add(Lane::Nfs, Some(StepId::StorageDirs), dirs, &[]);
    let mut config: Vec<std::path::PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    if let NfsPorts::Sysconfig { path } = p.nfs.ports {
        config.push(path.into());
    }
    let mut prev = StepId::StorageDirs;
    for s in p.nfs_server.services {
        let watched = if *s == "rpcbind" { vec![] } else { config.clone() };
        b.add(Lane::Nfs, Some(StepId::NfsService(s)), Service::run(l.init(), *s, watched, l.input.live), &[StepId::NfsFiles, prev]);
        prev = StepId::NfsService(s);
    }
    b.alias(StepId::NfsServices, &[prev]);
    if l.input.live {
        let exported = files.iter().filter(|f| f.path.starts_with("/etc/exports")).map(|f| f.path.clone()).collect();
        let exports = ExportFs { exports: vec![nfs.primary.clone().into(), nfs.secondary.clone().into()], files: exported };
        b.add(Lane::Nfs, None, exports, &[StepId::NfsServices, StepId::Firewall]);
    }
    Ok(())
}

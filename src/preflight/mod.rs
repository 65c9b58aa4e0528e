//! Preflight: read-only checks that tell, before anything is installed, whether this host can take its
//! roles, and exactly what to do when it cannot. Check ids and the JSON shape are part of the CLI contract
//! (the README's Command reference).

mod checks;
mod output;
pub mod support;

use std::path::PathBuf;

use serde::Serialize;

use crate::host::{GatherOptions, HostFacts, Sysroot};
use crate::profile::{Profile, Role};

pub use output::render_human;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub status: Status,
    pub summary: String,
    /// What to do; set for warnings and failures, null otherwise.
    pub remedy: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

/// The whole report, serialised as `preflight --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub roles: Vec<String>,
    /// Detected platform id, null when the distribution is not one cloudstrap supports.
    pub platform: Option<String>,
    pub checks: Vec<CheckResult>,
    pub summary: Summary,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.summary.fail > 0
    }

    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// What to check for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Concrete roles (all-in-one expanded); empty means all four.
    pub roles: Vec<Role>,
    /// CloudStack release line; default: the profile's.
    pub release: Option<String>,
    pub profile: Option<Profile>,
    /// libvirt URI for the running-VM check (default qemu:///system on a live root).
    pub libvirt_uri: Option<String>,
}

impl Options {
    /// Expand all-in-one, take the profile's roles when none are given, default to all four.
    pub fn normalized(mut self) -> Options {
        if self.roles.is_empty() {
            if let Some(p) = &self.profile {
                self.roles = p.roles();
            }
        }
        // No role named: every CloudStack role is checked.
        self.roles = if self.roles.is_empty() { Role::ALL_IN_ONE.to_vec() } else { Role::expand(&self.roles) };
        if self.release.is_none() {
            self.release = self.profile.as_ref().map(|p| p.cloudstack.release.clone());
        }
        self
    }

    /// What to gather for these roles: libvirt only for a KVM host, showmount only for an NFS client.
    pub fn gather_options(&self) -> GatherOptions {
        let nfs_server = if self.roles.contains(&Role::Nfs) || !(self.roles.contains(&Role::Management) || self.roles.contains(&Role::KvmAgent)) {
            None
        } else {
            self.profile.as_ref().and_then(|p| p.nfs.as_ref()).map(|n| n.server.clone())
        };
        let mut disk_paths: Vec<PathBuf> = checks::disk_needs(self).into_iter().map(|n| PathBuf::from(n.path)).collect();
        disk_paths.dedup();
        GatherOptions {
            libvirt_uri: self.libvirt_uri.clone(),
            probe_vms: self.roles.contains(&Role::KvmAgent),
            nfs_server,
            disk_paths,
            block_devices: self.profile.as_ref().is_some_and(|p| p.disk.is_some()),
            dhcp_interface: self.profile.as_ref().filter(|_| self.roles.contains(&Role::Provisioning)).and_then(|p| p.fleet.as_ref()).map(|f| f.interface.clone()),
            ..GatherOptions::default()
        }
    }
}

/// Gather the host's facts and run every check.
pub fn run(sys: &Sysroot, opts: &Options) -> Report {
    let opts = opts.clone().normalized();
    let facts = HostFacts::gather(sys, &opts.gather_options());
    run_with_facts(&facts, &opts)
}

/// Run every check over facts gathered before (`opts.gather_options()` says what they need).
pub fn run_with_facts(facts: &HostFacts, opts: &Options) -> Report {
    let opts = opts.clone().normalized();
    let platform = facts.platform.as_ref().ok().copied();
    let ctx = checks::Ctx { facts, opts: &opts, platform, release: opts.release.as_deref() };
    let mut summary = Summary::default();
    let checks: Vec<CheckResult> = checks::CHECKS
        .iter()
        .map(|c| {
            let o = if opts.roles.iter().any(|r| c.roles.contains(r)) {
                (c.probe)(&ctx)
            } else {
                let names: Vec<&str> = c.roles.iter().map(|r| r.as_str()).collect();
                checks::Outcome { status: Status::Skip, summary: format!("applies to the {} role only", names.join(", ")), remedy: None }
            };
            match o.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Skip => summary.skip += 1,
            }
            CheckResult { id: c.id.to_string(), status: o.status, summary: o.summary, remedy: o.remedy }
        })
        .collect();
    Report { roles: opts.roles.iter().map(|r| r.as_str().to_string()).collect(), platform: platform.map(|p| p.as_str().to_string()), checks, summary }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NfsFacts;

    fn facts_with_nfs(nfs: NfsFacts) -> (HostFacts, Options) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let profile = crate::profile::load(&dir.join("tests/fixtures/preflight/nfs-client.toml")).unwrap();
        let opts = Options { profile: Some(profile), ..Options::default() }.normalized();
        let mut facts = HostFacts::gather(&Sysroot::new(dir.join("tests/fixtures/hosts/el9")), &opts.gather_options());
        facts.nfs = nfs;
        (facts, opts)
    }

    fn nfs_check(exports: &[&str]) -> CheckResult {
        let (facts, opts) = facts_with_nfs(NfsFacts::Exports { server: "127.0.0.1".into(), exports: exports.iter().map(|s| s.to_string()).collect() });
        run_with_facts(&facts, &opts).check("nfs.exports").unwrap().clone()
    }

    #[test]
    fn exports_must_cover_primary_and_secondary() {
        assert_eq!(nfs_check(&["/export/primary", "/export/secondary"]).status, Status::Pass);
        // The article's single `/export` line covers both directories.
        assert_eq!(nfs_check(&["/export"]).status, Status::Pass);
        let c = nfs_check(&["/export/primary"]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.summary.contains("/export/secondary") && c.remedy.unwrap().contains("exportfs -a"));
        assert_eq!(nfs_check(&["/exports"]).status, Status::Fail, "a sibling path is not a parent");
    }

    #[test]
    fn missing_showmount_warns() {
        let (facts, opts) = facts_with_nfs(NfsFacts::Failed { server: "127.0.0.1".into(), error: "showmount is not installed (package nfs-utils or nfs-common)".into() });
        let c = run_with_facts(&facts, &opts).check("nfs.exports").unwrap().clone();
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn gather_options_follow_roles() {
        let o = Options { roles: vec![Role::Database], ..Options::default() }.normalized();
        let g = o.gather_options();
        assert!(!g.probe_vms && g.nfs_server.is_none());
        assert_eq!(g.disk_paths, vec![PathBuf::from("/var/lib")]);
        let o = Options { roles: vec![Role::AllInOne], ..Options::default() }.normalized();
        assert!(o.gather_options().probe_vms);
    }
}

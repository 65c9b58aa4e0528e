//! How the lanes add steps: each step belongs to a lane and may carry a typed name; a step waits for
//! names, never for positions, so a lane needs nothing but the names of what it waits for. A name that
//! no lane added (a role this host does not take, a runtime step left out of an image root) is simply
//! not waited for.

use std::collections::BTreeMap;

use crate::action::executor::Step;
use crate::action::file::{FileSpec, WriteFile};
use crate::action::Action;

/// The chain a step belongs to (shown in `plan --format json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    Host,
    Database,
    Nfs,
    Repository,
    Management,
    KvmAgent,
    Template,
    Provisioning,
    Handoff,
}

/// The steps other steps wait for, by what they achieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepId {
    Selinux,
    BasePackages,
    /// The last host-wide file (or the base packages when there is none).
    HostFiles,
    FirewallService,
    /// The firewall rules applied (the service alone in an image root).
    Firewall,
    DatabasePackages,
    DatabaseFiles,
    DatabaseService,
    DatabasePort,
    DatabaseAdminLogin,
    /// The database answers with its administrator login and, when known, the cloud user.
    DatabaseReady,
    NfsPackages,
    NfsFiles,
    /// The primary and secondary storage directories.
    StorageDirs,
    NfsService(&'static str),
    NfsServices,
    RepositoryFile,
    Repository,
    ManagementPackages,
    ManagementFiles,
    ManagementKey,
    DatabaseKey,
    SetupDatabases,
    CloudUserRegranted,
    /// setup-databases done, and the grants again after it when they apply.
    DatabaseSetUp,
    SetupManagement,
    ManagementApi,
    AgentPackages,
    AgentFiles,
    MaskedSocket(&'static str),
    AppArmor,
    Libvirtd,
    TemplateSeed,
    TemplateRow,
    ProvisioningPackages,
    ProvisioningFiles,
    ProvisioningDirs,
}

/// What a plan says about each of its steps beside the action.
#[derive(Debug, Clone)]
pub struct StepInfo {
    pub lane: Lane,
    pub name: Option<StepId>,
}

#[derive(Default)]
pub struct Builder {
    pub steps: Vec<Step>,
    pub info: Vec<StepInfo>,
    named: BTreeMap<StepId, usize>,
}

impl Builder {
    /// The position of a named step, if some lane added it.
    pub fn get(&self, name: StepId) -> Option<usize> {
        self.named.get(&name).copied()
    }

    pub fn has(&self, name: StepId) -> bool {
        self.named.contains_key(&name)
    }

    fn resolve(&self, after: &[StepId]) -> Vec<usize> {
        let mut deps: Vec<usize> = after.iter().filter_map(|n| self.get(*n)).collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    fn push(&mut self, lane: Lane, name: Option<StepId>, action: Box<dyn Action>, after: Vec<usize>) -> usize {
        self.steps.push(Step { action, after });
        self.info.push(StepInfo { lane, name });
        let i = self.steps.len() - 1;
        if let Some(n) = name {
            let old = self.named.insert(n, i);
            debug_assert!(old.is_none(), "{n:?} added twice");
        }
        i
    }

    /// Add a step waiting for the named ones.
    pub fn add(&mut self, lane: Lane, name: Option<StepId>, action: impl Action + 'static, after: &[StepId]) -> usize {
        self.add_boxed(lane, name, Box::new(action), after)
    }

    pub fn add_boxed(&mut self, lane: Lane, name: Option<StepId>, action: Box<dyn Action>, after: &[StepId]) -> usize {
        let deps = self.resolve(after);
        self.push(lane, name, action, deps)
    }

    /// Add a step waiting for every step added before it (the hand-off).
    pub fn add_after_all(&mut self, lane: Lane, action: Box<dyn Action>) -> usize {
        let deps = (0..self.steps.len()).collect();
        self.push(lane, None, action, deps)
    }

    /// Unless a step already has `name`, it stands for the newest of `targets` that exists.
    pub fn alias(&mut self, name: StepId, targets: &[StepId]) {
        if self.has(name) {
            return;
        }
        if let Some(i) = targets.iter().filter_map(|t| self.get(*t)).max() {
            self.named.insert(name, i);
        }
    }

    /// Write `files` one after the other, the first after `after`; `done` names the last one, or the newest
    /// of `after` when there are no files.
    pub fn files(&mut self, lane: Lane, files: &[FileSpec], merge: crate::action::file::MergeFn, after: &[StepId], done: StepId) {
        let mut prev: Option<usize> = None;
        for f in files {
            let mut deps = self.resolve(after);
            deps.extend(prev);
            deps.sort_unstable();
            deps.dedup();
            prev = Some(self.push(lane, None, Box::new(WriteFile::new(f.clone(), merge)), deps));
        }
        match prev {
            Some(i) => {
                self.named.insert(done, i);
            }
            None => self.alias(done, after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::dirs::CreateDirs;

    fn dirs(p: &str) -> CreateDirs {
        CreateDirs { dirs: vec![p.into()], mode: 0o755 }
    }

    #[test]
    fn names_resolve_to_positions_and_names_no_lane_added_are_not_waited_for() {
        let mut b = Builder::default();
        b.add(Lane::Host, Some(StepId::BasePackages), dirs("/a"), &[StepId::Selinux]);
        assert!(b.steps[0].after.is_empty());
        b.add(Lane::Nfs, Some(StepId::StorageDirs), dirs("/b"), &[]);
        b.add(Lane::Nfs, None, dirs("/c"), &[StepId::StorageDirs, StepId::Firewall, StepId::BasePackages, StepId::StorageDirs]);
        assert_eq!(b.steps[2].after, [0, 1], "sorted, once each, absent names left out");
        assert_eq!(b.info[2].lane, Lane::Nfs);
        assert_eq!(b.info[1].name, Some(StepId::StorageDirs));
    }

    #[test]
    fn an_alias_stands_for_the_newest_target_and_never_replaces_a_step_of_that_name() {
        let mut b = Builder::default();
        b.add(Lane::Database, Some(StepId::DatabaseService), dirs("/a"), &[]);
        b.add(Lane::Database, Some(StepId::DatabaseAdminLogin), dirs("/b"), &[]);
        b.alias(StepId::DatabaseReady, &[StepId::DatabaseService, StepId::DatabaseAdminLogin]);
        assert_eq!(b.get(StepId::DatabaseReady), Some(1));
        b.alias(StepId::DatabaseReady, &[StepId::DatabaseService]);
        assert_eq!(b.get(StepId::DatabaseReady), Some(1));
        b.alias(StepId::Firewall, &[StepId::FirewallService]);
        assert!(!b.has(StepId::Firewall), "no target, no alias");
        // No files: the name stands for what they would have waited for.
        b.files(Lane::Host, &[], crate::render::merge, &[StepId::DatabaseService], StepId::HostFiles);
        assert_eq!(b.get(StepId::HostFiles), Some(0));
    }

    #[test]
    fn the_hand_off_waits_for_everything_before_it() {
        let mut b = Builder::default();
        b.add(Lane::Host, None, dirs("/a"), &[]);
        b.add(Lane::Nfs, None, dirs("/b"), &[]);
        b.add_after_all(Lane::Handoff, Box::new(dirs("/c")));
        assert_eq!(b.steps[2].after, [0, 1]);
    }
}

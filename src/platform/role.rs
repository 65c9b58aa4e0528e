//! The roles a host takes. Here, below profile and preflight, so that the profile, the platform and
//! release tables and preflight's requirements all name the same `Role` without importing each other.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A role this host takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Management,
    Database,
    Nfs,
    KvmAgent,
    /// All four CloudStack roles on one host (not `provisioning`).
    AllInOne,
    /// Installs the fleet's other hosts over the network (`[fleet]`): DHCP/TFTP, network boot, HTTP.
    Provisioning,
}

impl Role {
    /// Every role a host can take, in install order.
    pub const CONCRETE: [Role; 5] = [Role::Database, Role::Nfs, Role::Management, Role::KvmAgent, Role::Provisioning];
    /// What `all-in-one` stands for.
    pub const ALL_IN_ONE: [Role; 4] = [Role::Database, Role::Nfs, Role::Management, Role::KvmAgent];
    /// Every role, as the command line lists them.
    pub const ALL: [Role; 6] = [Role::Management, Role::Database, Role::Nfs, Role::KvmAgent, Role::AllInOne, Role::Provisioning];

    /// `given` (a profile's or the command line's roles) with all-in-one expanded, in install order.
    pub fn expand(given: &[Role]) -> Vec<Role> {
        let all = given.contains(&Role::AllInOne);
        Role::CONCRETE.into_iter().filter(|r| (all && Role::ALL_IN_ONE.contains(r)) || given.contains(r)).collect()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Management => "management",
            Role::Database => "database",
            Role::Nfs => "nfs",
            Role::KvmAgent => "kvm-agent",
            Role::AllInOne => "all-in-one",
            Role::Provisioning => "provisioning",
        }
    }

    /// Parse a role's name as the profile and the command line spell it.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

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
    /// All four roles on one host.
    AllInOne,
}

impl Role {
    pub const CONCRETE: [Role; 4] = [Role::Database, Role::Nfs, Role::Management, Role::KvmAgent];
    /// Every role, as the command line lists them.
    pub const ALL: [Role; 5] = [Role::Management, Role::Database, Role::Nfs, Role::KvmAgent, Role::AllInOne];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Management => "management",
            Role::Database => "database",
            Role::Nfs => "nfs",
            Role::KvmAgent => "kvm-agent",
            Role::AllInOne => "all-in-one",
        }
    }

    /// Parse a role's name as the profile and the command line spell it.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

//! CloudStack release lines as data: package, service and command names, config paths, the system VM
//! template, and what each line's setup scripts support. 3.0.2 (the seed article's) used `cloud-*` names.

use super::{Platform, PlatformId, Role};

/// What a release line installs and runs for one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRole {
    /// CloudStack packages, installed after the platform's packages for the role.
    pub packages: &'static [&'static str],
    /// CloudStack services, started after the platform's services for the role.
    pub services: &'static [&'static str],
}

/// Names of the CloudStack setup commands of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseCommands {
    /// Creates the `cloud` and `cloud_usage` databases and writes db.properties.
    pub setup_databases: &'static str,
    /// Configures and starts the management server.
    pub setup_management: &'static str,
    /// Run by the management server over SSH during addHost.
    pub setup_agent: &'static str,
    /// Absolute path of upstream's system VM template seeding script.
    pub install_sys_tmplt: &'static str,
}

/// Where a line keeps its configuration and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasePaths {
    /// db.properties and the key file live here.
    pub management_conf_dir: &'static str,
    pub agent_properties: &'static str,
    pub management_log: &'static str,
    pub agent_log: &'static str,
}

/// The system VM template of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateSource {
    /// KVM x86_64 template (bzip2-compressed qcow2).
    pub url: &'static str,
    /// Checksum list (`<hash>  <filename>` lines); `None` when the line published none.
    pub checksum_url: Option<&'static str>,
    /// Hash algorithm of the checksum list: "md5" or "sha512".
    pub checksum_algo: Option<&'static str>,
    /// Where the management package bundles its system VM templates (with `metadata.ini`), from 4.20.
    pub bundled_dir: Option<&'static str>,
}

/// One CloudStack release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// "3.0.2", "4.19", "4.20", "4.21" or "4.22" (the profile's `cloudstack.release`).
    pub line: &'static str,
    /// Version path component of the package repository (`.../el/9/<repo_version>/`).
    pub repo_version: &'static str,
    pub management: ReleaseRole,
    pub kvm_agent: ReleaseRole,
    pub usage: ReleaseRole,
    pub commands: ReleaseCommands,
    pub paths: ReleasePaths,
    pub template: TemplateSource,
    /// setup-databases aborts on an existing `cloud` database unless `--force-recreate` (4.21 and later).
    pub force_recreate: bool,
    /// Java runtime the management server needs (informational; packages pull it in).
    pub java: &'static str,
}

impl Release {
    /// The row for a release line, `None` for a line cloudstrap does not know.
    pub fn get(line: &str) -> Option<&'static Release> {
        RELEASES.iter().find(|r| r.line == line)
    }

    /// Every release line cloudstrap knows, oldest first.
    pub fn lines() -> Vec<&'static str> {
        RELEASES.iter().map(|r| r.line).collect()
    }

    /// The platforms this line runs on (the platform rows' `releases`), in `PlatformId::ALL` order.
    pub fn platforms(&self) -> Vec<PlatformId> {
        PlatformId::ALL.into_iter().filter(|id| Platform::get(*id).supports_release(self.line)).collect()
    }

    /// CloudStack packages and services of a concrete role (database and NFS need none).
    pub fn role(&self, role: Role) -> ReleaseRole {
        match role {
            Role::Management => self.management,
            Role::KvmAgent => self.kvm_agent,
            _ => ReleaseRole { packages: &[], services: &[] },
        }
    }

    /// The 4.x lines use `cloudstack-*` names; 3.x used `cloud-*`.
    pub fn is_legacy(&self) -> bool {
        self.line.starts_with("3.")
    }
}

const CS4_COMMANDS: ReleaseCommands = ReleaseCommands {
    setup_databases: "cloudstack-setup-databases",
    setup_management: "cloudstack-setup-management",
    setup_agent: "cloudstack-setup-agent",
    install_sys_tmplt: "/usr/share/cloudstack-common/scripts/storage/secondary/cloud-install-sys-tmplt",
};
const CS4_PATHS: ReleasePaths = ReleasePaths {
    management_conf_dir: "/etc/cloudstack/management",
    agent_properties: "/etc/cloudstack/agent/agent.properties",
    management_log: "/var/log/cloudstack/management/management-server.log",
    agent_log: "/var/log/cloudstack/agent/agent.log",
};
const CS4_MANAGEMENT: ReleaseRole =
    ReleaseRole { packages: &["cloudstack-management"], services: &["cloudstack-management"] };
const CS4_AGENT: ReleaseRole = ReleaseRole { packages: &["cloudstack-agent"], services: &["cloudstack-agent"] };
const CS4_USAGE: ReleaseRole = ReleaseRole { packages: &["cloudstack-usage"], services: &["cloudstack-usage"] };

/// 4.19; the later 4.x rows in `RELEASES` name only what differs from it.
const CS_4_19: Release = Release {
    line: "4.19",
    repo_version: "4.19",
    management: CS4_MANAGEMENT,
    kvm_agent: CS4_AGENT,
    usage: CS4_USAGE,
    commands: CS4_COMMANDS,
    paths: CS4_PATHS,
    template: TemplateSource {
        url: "https://download.cloudstack.org/systemvm/4.19/systemvmtemplate-4.19.1-kvm.qcow2.bz2",
        checksum_url: Some("https://download.cloudstack.org/systemvm/4.19/md5sum.txt"),
        checksum_algo: Some("md5"),
        bundled_dir: None,
    },
    force_recreate: false,
    java: "JRE 11",
};

/// The management package's bundled templates (4.20 and later).
const BUNDLED_DIR: &str = "/usr/share/cloudstack-management/templates/systemvm";

/// 4.20's template, also 4.21's. Checksums: md5sum.txt beside the templates up to 4.21.
const TEMPLATE_4_20: TemplateSource = TemplateSource {
    url: "https://download.cloudstack.org/systemvm/4.20/systemvmtemplate-4.20.2-x86_64-kvm.qcow2.bz2",
    checksum_url: Some("https://download.cloudstack.org/systemvm/4.20/md5sum.txt"),
    checksum_algo: Some("md5"),
    bundled_dir: Some(BUNDLED_DIR),
};

/// Every known release line, oldest first.
pub static RELEASES: [Release; 5] = [
    Release {
        line: "3.0.2",
        repo_version: "3.0",
        // The article installed these through the tarball's install.sh (choices M and A).
        management: ReleaseRole { packages: &["cloud-client"], services: &["cloud-management"] },
        kvm_agent: ReleaseRole { packages: &["cloud-agent"], services: &["cloud-agent"] },
        usage: ReleaseRole { packages: &["cloud-usage"], services: &["cloud-usage"] },
        commands: ReleaseCommands {
            setup_databases: "cloud-setup-databases",
            setup_management: "cloud-setup-management",
            setup_agent: "cloud-setup-agent",
            install_sys_tmplt: "/usr/lib64/cloud/agent/scripts/storage/secondary/cloud-install-sys-tmplt",
        },
        paths: ReleasePaths {
            management_conf_dir: "/etc/cloud/management",
            agent_properties: "/etc/cloud/agent/agent.properties",
            management_log: "/var/log/cloud/management/management-server.log",
            agent_log: "/var/log/cloud/agent/agent.log",
        },
        template: TemplateSource {
            url: "http://download.cloud.com/templates/acton/acton-systemvm-02062012.qcow2.bz2",
            checksum_url: None,
            checksum_algo: None,
            bundled_dir: None,
        },
        force_recreate: false,
        java: "OpenJDK 6",
    },
    CS_4_19,
    Release { line: "4.20", repo_version: "4.20", template: TEMPLATE_4_20, java: "JRE 17", ..CS_4_19 },
    // 4.21 ships no template of its own: its package bundles, and its upgrade path asks for, 4.20.2's.
    Release { line: "4.21", repo_version: "4.21", template: TEMPLATE_4_20, force_recreate: true, java: "JRE 17", ..CS_4_19 },
    Release {
        line: "4.22",
        repo_version: "4.22",
        template: TemplateSource {
            url: "https://download.cloudstack.org/systemvm/4.22/systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2",
            checksum_url: Some("https://download.cloudstack.org/systemvm/4.22/sha512sum.txt"),
            checksum_algo: Some("sha512"),
            bundled_dir: Some(BUNDLED_DIR),
        },
        force_recreate: true,
        java: "JRE 17",
        ..CS_4_19
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, PlatformId};

    #[test]
    fn every_platform_release_is_known_and_3_0_2_uses_cloud_names() {
        for id in PlatformId::ALL {
            for line in Platform::get(id).releases {
                assert!(Release::get(line).is_some(), "{id}: unknown release {line}");
            }
        }
        let r = Release::get("3.0.2").unwrap();
        assert_eq!(r.commands.setup_databases, "cloud-setup-databases");
        assert_eq!(r.role(Role::Management).services, ["cloud-management"]);
        assert!(!r.force_recreate && Release::get("4.22").unwrap().force_recreate);
        let (r20, r21) = (Release::get("4.20").unwrap(), Release::get("4.21").unwrap());
        assert_eq!(r21.template, r20.template);
        assert!(r21.force_recreate && !r20.force_recreate);
        assert!(Release::get("4.19").unwrap().template.bundled_dir.is_none());
        assert_eq!(Release::get("4.22").unwrap().template.bundled_dir, r21.template.bundled_dir);
    }

    #[test]
    fn every_platform_has_a_default_database_and_role_specs() {
        for id in PlatformId::ALL {
            let p = Platform::get(id);
            assert_eq!(p.id, id);
            let db = p.database(None).expect("default database");
            assert!(!db.packages.is_empty() && !db.service().is_empty());
            for role in Role::ALL_IN_ONE {
                assert!(!p.role(role).packages.is_empty(), "{id}: {role:?} has no packages");
            }
        }
        assert!(Platform::get(PlatformId::Debian12).database(Some("mysql")).is_none());
        assert_eq!(Platform::get(PlatformId::Ubuntu2404).database(Some("mysql")).unwrap().service(), "mysql");
    }
}

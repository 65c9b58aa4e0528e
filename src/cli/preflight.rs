//! `cloudstrap preflight`: arguments and the command.

use std::path::PathBuf;

use clap::Args;

use super::{exit, Format, Global};
use crate::console::print as emit;
use crate::preflight::{render_human, run_with_facts, Options};
use crate::profile::Role;

#[derive(Debug, Clone, Args)]
pub struct PreflightArgs {
    /// Take roles, release, names and storage from this profile.
    #[arg(long, value_name = "FILE", conflicts_with = "role")]
    pub profile: Option<PathBuf>,
    /// Role(s) to check for: management, database, nfs, kvm-agent, all-in-one (default: all-in-one).
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    pub role: Vec<Role>,
    /// CloudStack release line to check the OS against (default: the profile's, else any).
    #[arg(long, value_name = "X.Y", value_parser = clap::builder::PossibleValuesParser::new(crate::platform::Release::lines()))]
    pub release: Option<String>,
    /// libvirt connection to ask for running VMs (default qemu:///system; e.g. test:///default in tests).
    #[arg(long, value_name = "URI")]
    pub libvirt_uri: Option<String>,
    /// Print the host facts the checks judge (JSON) instead of the report.
    #[arg(long)]
    pub facts: bool,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {s:?} (expected one of {})", names.join(", "))
    })
}

/// Run preflight and print the report; returns the exit code (1 when a check failed).
pub fn run(global: &Global, args: &PreflightArgs) -> u8 {
    let profile = match &args.profile {
        Some(path) => match crate::profile::load(path) {
            Ok(p) => Some(p),
            Err(e) => {
                // Each problem already names FILE:LINE:COL and the key.
                eprintln!("{e}");
                return exit::INPUT;
            }
        },
        None => None,
    };
    let sys = global.site().sysroot();
    let opts = Options { roles: args.role.clone(), release: args.release.clone(), profile, libvirt_uri: args.libvirt_uri.clone() };
    let opts = opts.normalized();
    let facts = crate::host::HostFacts::gather(&sys, &opts.gather_options());
    if args.facts {
        emit(&format!("{}\n", serde_json::to_string_pretty(&facts).expect("facts serialise")));
        return exit::OK;
    }
    let report = run_with_facts(&facts, &opts);
    match global.format {
        Format::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&report).expect("report serialises"))),
        Format::Human => emit(&render_human(&report, facts.os.as_ref().map(|o| o.pretty_name.as_str()))),
    }
    if report.failed() {
        exit::FAILED
    } else {
        exit::OK
    }
}

//! `cloudstrap reset` and `cloudstrap restore`: the arguments, the call into `reset`, the exit code.

use std::path::PathBuf;

use clap::Args;

use super::{exit, Global};
use crate::reset::{ResetError, ResetOptions, RestoreOptions};

#[derive(Debug, Clone, Args)]
pub struct ResetArgs {
    /// Do not ask for the host's name to be typed.
    #[arg(long)]
    pub yes: bool,
    /// Directory below which the timestamped backup is made (default /var/lib/cloudstrap/backups under --root).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// The profile this host was installed from: roles, release, database secrets, API endpoint, hand-off.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// How long to wait for the management server's API after the restart.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub api_timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// A backup directory made by `cloudstrap reset`.
    pub backup: PathBuf,
    /// Do not ask for the host's name to be typed.
    #[arg(long)]
    pub yes: bool,
    /// The profile (for the database root password, platform and host name).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

fn code(e: &ResetError) -> u8 {
    match e {
        ResetError::Input(_) => exit::INPUT,
        ResetError::Refused(_) => exit::REFUSED,
        ResetError::Failed(_) => exit::FAILED,
    }
}

pub fn run_reset(a: &ResetArgs, global: &Global) -> u8 {
    let opts = ResetOptions { yes: a.yes, backup_dir: a.backup_dir.clone(), profile: a.profile.clone(), api_timeout: a.api_timeout };
    report("reset", "reset", crate::reset::reset(&opts, &global.site()))
}

pub fn run_restore(a: &RestoreArgs, global: &Global) -> u8 {
    let opts = RestoreOptions { backup: a.backup.clone(), yes: a.yes, profile: a.profile.clone() };
    report("restore", "restored", crate::reset::restore(&opts, &global.site()))
}

/// The exit code, and under `--format json` the result: the report with `"outcome": done` on success,
/// `{"outcome": "failed", "error": ...}` when the work ran and failed (exit 1); nothing on stdout for
/// refused input or confirmation (exits 2 and 3).
fn report<T: serde::Serialize>(what: &str, done: &str, r: Result<T, ResetError>) -> u8 {
    match r {
        Ok(rep) => {
            if crate::console::is_json() {
                crate::console::result(&super::print::outcome(done, &rep));
            }
            exit::OK
        }
        Err(e) => {
            crate::log::line(&format!("{what}: {e}"));
            eprintln!("cloudstrap {what}: {e}");
            let code = code(&e);
            if code == exit::FAILED && crate::console::is_json() {
                crate::console::result(&super::print::failed(&e.to_string()));
            }
            code
        }
    }
}


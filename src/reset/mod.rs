//! `cloudstrap reset` and `cloudstrap restore`: start CloudStack over without losing anything.
//!
//! reset: show the plan, have the host's name typed (or `--yes`), stop the management and usage servers,
//! dump `cloud` and `cloud_usage` (plus db.properties, the key file and the receipt) into a timestamped,
//! checksummed backup, verify it, then drop and recreate the databases through the release's own
//! `cloudstack-setup-databases` (`--force-recreate` from 4.21), re-run `cloudstack-setup-management`, start
//! the services, wait for the API and re-run the hand-off. A state file records the phase, so a run that
//! stops half-way is rolled back (nothing dropped yet) or resumed (backup verified) by the next run.
//! restore: verify a backup's checksums, then put its databases and files back.

mod backup;
mod confirm;
mod context;
pub mod dbprops;
mod dump;
mod files;
mod flow;
mod mysql;
mod restore;
mod services;
mod state;

use std::path::PathBuf;

pub use backup::Manifest;
pub use state::{Phase, ResetState, STATE_PATH};

#[derive(Debug, Clone)]
pub struct ResetOptions {
    /// Do not ask for the host's name to be typed.
    pub yes: bool,
    /// Directory below which the timestamped backup is made (default /var/lib/cloudstrap/backups under --root).
    pub backup_dir: Option<PathBuf>,
    /// The profile this host was installed from: roles, release, database secrets, API endpoint, hand-off.
    pub profile: Option<PathBuf>,
    /// How long to wait for the management server's API after the restart.
    pub api_timeout: u64,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// A backup directory made by `cloudstrap reset`.
    pub backup: PathBuf,
    /// Do not ask for the host's name to be typed.
    pub yes: bool,
    /// The profile (for the database root password, platform and host name).
    pub profile: Option<PathBuf>,
}

/// What went wrong, and which exit code of the contract it maps to.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Bad input or a host reset does not apply to; nothing was changed.
    #[error("{0}")]
    Input(String),
    /// The operator did not confirm; nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

pub use flow::reset;
pub use restore::restore;

/// Progress lines on stdout (and in the log).
fn step(msg: &str) {
    crate::log::line(msg);
    println!("==> {msg}");
}

//! The reset state file (ROOT/var/lib/cloudstrap/reset-state.json): the phase a reset reached, so an
//! interrupted reset is rolled back (nothing dropped yet) or resumed (backup verified) by the next run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::services::ServiceState;

pub const STATE_PATH: &str = "/var/lib/cloudstrap/reset-state.json";

/// Phases in order. Up to `Dumping` nothing has been dropped; from `Verified` a complete backup exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Stopping,
    Dumping,
    Verified,
    Recreating,
    ManagementSetup,
    Starting,
    WaitingForApi,
    HandOff,
}

impl Phase {
    pub fn nothing_dropped(self) -> bool {
        self < Phase::Verified
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetState {
    pub phase: Phase,
    pub backup_dir: PathBuf,
    pub started: String,
    pub release: String,
    pub services: Vec<ServiceState>,
}

pub fn load(root: &Path) -> std::io::Result<Option<ResetState>> {
    let path = crate::host::Sysroot::new(root).path(STATE_PATH);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn save(root: &Path, state: &ResetState) -> std::io::Result<()> {
    let path = crate::host::Sysroot::new(root).path(STATE_PATH);
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)? + "\n";
    crate::atomic_file::replace(&path, text.as_bytes(), 0o600)
}

pub fn clear(root: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(crate::host::Sysroot::new(root).path(STATE_PATH)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

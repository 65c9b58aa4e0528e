//! The receipt: /var/lib/cloudstrap/receipt.json under --root, rewritten atomically after every action.
//! It lists the plan's actions in plan order with their state and what each did ([`Record`]), so an
//! interrupted install resumes, and `reset` knows what to undo. Versioned; every field has a serde
//! default and unknown fields are ignored, so older and newer receipts keep parsing. Nothing secret.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::{ActionError, Ctx, Record, STATE_DIR};

pub const VERSION: u32 = 1;

pub fn path(ctx: &Ctx) -> PathBuf {
    ctx.path(Path::new(STATE_DIR).join("receipt.json"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    #[default]
    Pending,
    /// Started and not finished (the run was interrupted, or is running now).
    Running,
    /// Done by cloudstrap.
    Done,
    /// Found already done before cloudstrap touched it.
    AlreadyDone,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub state: State,
    #[serde(default, skip_serializing_if = "Record::is_empty")]
    pub record: Record,
    /// When the state last changed (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Receipt {
    #[serde(default = "version_one")]
    pub version: u32,
    /// The cloudstrap that wrote it.
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// When `uninstall` last undid this host's actions (each undone entry is pending again, its record
    /// cleared; an entry whose undo failed keeps the undos still to do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstalled: Option<String>,
    /// The plan's actions in plan order, then actions of earlier plans that are no longer planned.
    #[serde(default)]
    pub actions: Vec<Entry>,
}

fn version_one() -> u32 {
    1
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a receipt cloudstrap can read ({source}); move it aside to start afresh")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{path} was written by a newer cloudstrap (receipt version {version}, this one reads up to {VERSION})")]
    TooNew { path: PathBuf, version: u32 },
}

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Receipt {
    pub fn new(platform: &str, roles: Vec<String>) -> Receipt {
        Receipt {
            version: VERSION,
            tool: format!("cloudstrap {}", env!("CARGO_PKG_VERSION")),
            platform: platform.to_string(),
            roles,
            complete: false,
            started: None,
            finished: None,
            uninstalled: None,
            actions: vec![],
        }
    }

    /// The receipt at `path`, or None when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Receipt>, ReceiptError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ReceiptError::Read { path: path.into(), source }),
        };
        let r: Receipt = serde_json::from_str(&text).map_err(|source| ReceiptError::Parse { path: path.into(), source })?;
        if r.version > VERSION {
            return Err(ReceiptError::TooNew { path: path.into(), version: r.version });
        }
        Ok(Some(r))
    }

    pub fn save(&self, path: &Path) -> Result<(), ActionError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| ActionError::Failed(format!("cannot encode the receipt: {e}")))?;
        text.push('\n');
        write_atomic(path, text.as_bytes(), 0o600)
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.actions.iter().find(|e| e.id == id)
    }
}

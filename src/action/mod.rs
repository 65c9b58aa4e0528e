//! Actions: every change the installer makes to a host. Each one describes itself in one line, detects
//! whether it is already done, executes, verifies, and records in its [`Record`] (kept in the receipt) the
//! typed [`undo::Undo`]s that revert it without the profile or the plan.
//!
//! The executor ([`executor`]) runs a plan of actions as a dependency graph, writes the receipt
//! ([`receipt`]) after every action, and resumes from it; [`progress`] shows it to the operator.

pub mod apparmor;
pub mod atomic;
pub mod database;
pub mod dirs;
pub mod executor;
pub mod file;
pub mod firewall;
pub mod mount;
pub mod nfs;
pub mod packages;
pub mod progress;
pub mod receipt;
pub mod repo;
pub mod selinux;
pub mod service;
pub mod setup;
pub mod stamp;
pub mod undo;
pub mod wait;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::run::{Cmd, Output, Redactor, RunError};

/// Where cloudstrap keeps its state on a host (under --root).
pub const STATE_DIR: &str = "/var/lib/cloudstrap";

pub use crate::profile::Secret;

/// What an action works on: the root its files live under, whether that root is the running system,
/// the redactor for everything it logs, and the display downloads report to.
#[derive(Clone)]
pub struct Ctx {
    /// Files are read and written below this directory ("/" on a live host).
    pub root: PathBuf,
    /// The root is the running system: services start, the kernel firewall and SELinux mode change now.
    /// Otherwise (an image root) only the persistent configuration is written; the rest happens at boot.
    pub live: bool,
    /// Commands run in `chroot` of this directory (set for a root other than "/").
    pub chroot: Option<PathBuf>,
    pub redactor: Redactor,
    /// Where long actions (downloads) show their own bars.
    pub progress: Option<std::sync::Arc<dyn progress::Progress>>,
    /// Environment given to every command of this context, over the process's own (tests put stand-ins
    /// first on PATH this way rather than changing the environment of a multi-threaded process).
    pub env: Vec<(String, String)>,
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("root", &self.root).field("live", &self.live).field("chroot", &self.chroot).finish()
    }
}

impl Ctx {
    /// The context `--root ROOT` means: live for "/", otherwise an image root whose commands run in chroot.
    pub fn for_root(root: impl Into<PathBuf>, redactor: Redactor) -> Ctx {
        let root = root.into();
        let live = root == Path::new("/");
        let chroot = if live { None } else { Some(root.clone()) };
        Ctx { root, live, chroot, redactor, progress: None, env: vec![] }
    }

    /// A live context whose files go below `root` while commands run on this machine unchanged
    /// (tests: real MariaDB or iptables in a network namespace, files in a scratch directory).
    pub fn live_with_files_in(root: impl Into<PathBuf>, redactor: Redactor) -> Ctx {
        Ctx { root: root.into(), live: true, chroot: None, redactor, progress: None, env: vec![] }
    }

    /// The host path of an in-system absolute path.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    /// Where this process finds a path as the context's commands see it (inside the chroot, if any).
    pub fn command_view(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        match &self.chroot {
            Some(r) => r.join(abs.strip_prefix("/").unwrap_or(abs)),
            None => abs.to_path_buf(),
        }
    }

    /// A command that runs where this context's commands run.
    pub fn cmd(&self, program: impl Into<String>) -> Cmd {
        let mut c = Cmd::new(program);
        c.chroot = self.chroot.clone();
        c.env = self.env.clone();
        c
    }

    /// An argv from the platform table (program first) as a command of this context.
    pub fn argv(&self, argv: Vec<String>) -> Cmd {
        let mut it = argv.into_iter();
        self.cmd(it.next().expect("an argv names its program")).args(it)
    }

    /// The directory for 0600 secret files, as a root the command can see.
    pub fn secret_root(&self) -> &Path {
        self.chroot.as_deref().unwrap_or(Path::new("/"))
    }

    pub fn run(&self, cmd: &Cmd) -> Result<Output, ActionError> {
        Ok(cmd.run(&self.redactor)?)
    }

    pub fn run_ok(&self, cmd: &Cmd) -> Result<Output, ActionError> {
        Ok(cmd.run_ok(&self.redactor)?)
    }
}

/// Why an action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Failed(String),
}

impl ActionError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ActionError {
        ActionError::Io { path: path.into(), source }
    }
    /// The last lines of the failing command's output, when a command failed.
    pub fn output_tail(&self) -> Option<&str> {
        match self {
            ActionError::Run(RunError::Failed { tail, .. }) if !tail.is_empty() => Some(tail),
            _ => None,
        }
    }
}

/// What an action did, kept in the receipt so it can be reverted and so a resumed install knows what it
/// already owns. Nothing secret goes in here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    /// Where the replaced content of a file was saved (in-system path). Written by older releases; `undo`
    /// holds it now (kept so their receipts still say what they did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The action created its object (a file, a directory) where there was none (older releases).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
    /// Packages (or directories, services...) this action added, for revert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// The value before the change (e.g. the SELinux mode), for revert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// Anything worth telling the operator (e.g. "starts at boot" in an image root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How to undo what the action did, oldest first: enough on its own to revert it (`uninstall`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undo: Vec<undo::Undo>,
}

impl Record {
    pub fn is_empty(&self) -> bool {
        *self == Record::default()
    }
}

/// One change to a host.
pub trait Action: Send + Sync {
    /// Stable identity across runs and releases ("file:/etc/exports"), the receipt's key.
    fn id(&self) -> String;
    /// One line for the operator ("Write /etc/exports (managed block)").
    fn describe(&self) -> String;
    /// Whether the host is already in the state this action produces.
    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError>;
    /// Record the state before the change (take backups, note what is missing). The executor saves this
    /// record in the receipt before `execute`, so a run killed halfway still knows what to revert, and a
    /// resumed run keeps the record of the first attempt instead of recording its own half-made change.
    fn prepare(&self, _ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        Ok(())
    }
    /// Make the change.
    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError>;
    /// Check the change took effect; by default, that `is_done` now holds.
    fn verify(&self, ctx: &Ctx) -> Result<(), ActionError> {
        if self.is_done(ctx)? {
            Ok(())
        } else {
            Err(ActionError::Failed(format!("{} did not take effect", self.describe())))
        }
    }
    /// A resource only one action may use at a time (e.g. "package-manager": dpkg and rpm lock their
    /// database); the executor never runs two actions holding the same one side by side.
    fn exclusive(&self) -> Option<&'static str> {
        None
    }
    /// Undo the change from its record alone (what `uninstall` does from the receipt): every undo is tried,
    /// newest first; the first failure is returned.
    fn revert(&self, ctx: &Ctx, record: &Record) -> Result<(), ActionError> {
        match undo::apply_all(ctx, &record.undo).into_iter().next() {
            Some((u, e)) => Err(ActionError::Failed(format!("could not {}: {e}", u.describe()))),
            None => Ok(()),
        }
    }
}

/// Short hex digest of bytes (for stamps and content-addressed backups).
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(bytes)[..8])
}

//! cloudstrap: turns bare-metal Linux hosts into an Apache CloudStack cloud.
//!
//! One pipeline (see README.md for the operator's view):
//! ```text
//! profile.toml ─┐                     ┌─ preflight report (table | json)
//!  (or the TUI) ├─> Profile ──┐       │
//! host (sysroot)┴─> HostFacts ┴─> Plan ─> [Action, ...] ─> Executor ─> receipt.json
//!                                          │                   │
//!                                 render (templates)    Runner, Progress
//!                                                              │
//!                                          hand-off: CloudStack API (signed) ─> zone
//! ```
//! - [`profile`]: the TOML profile, its validation with located errors, its JSON Schema.
//! - [`host`]: facts about the machine, read through a [`host::Sysroot`].
//! - [`platform`]: distributions as data.
//! - [`render`]: every configuration file, from templates, merged with the user's own lines.
//! - [`preflight`]: read-only checks of the host against its roles, with remedies.
//! - [`run`]: the one way to run a command.
//! - [`action`]: every change to a host as a detect/execute/verify/revert action; the executor (a
//!   dependency graph run on a few workers), the receipt that makes installs resumable, progress display.
//! - [`plan`]: the actions for a profile's roles on a platform; [`install`]: the `install` command.
//! - [`uninstall`]: undo an install from the undo records in its receipt, newest first.
//! - [`cloudstack`]: the hand-off to the management server API (signed client, keys, zone deployment).
//! - [`generated_docs`]: shell completions and man pages, generated from the command-line definition.

pub mod atomic_file;
pub mod cli;
pub mod cloudstack;
pub mod generated_docs;
pub mod host;
pub mod log;
pub mod mysql_text;
pub mod platform;
pub mod preflight;
pub mod profile;
pub mod render;
pub mod reset;
pub mod run;
pub mod template;
pub mod action;
pub mod tui;
pub mod plan;
pub mod install;
pub mod uninstall;

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
//!
//! # Layers
//! Lowest first. A module uses only modules of lower layers (never one of its own layer or above), so no
//! two top-level modules import each other; `tests/layers.rs` checks every `crate::` path against this list.
//!
//! - layer 0: `log`, `console`, `atomic_file`, `mysql_text`, `generated_docs`, `platform`
//! - layer 1: `run`
//! - layer 2: `host`, `profile`, `db`
//! - layer 3: `render`, `disk`
//! - layer 4: `preflight`, `action`, `media`
//! - layer 5: `template`, `cloudstack`
//! - layer 6: `fleet`
//! - layer 7: `plan`
//! - layer 8: `install`, `reset`
//! - layer 9: `uninstall`
//! - layer 10: `cli`
//!
//! - [`platform`]: distributions and CloudStack release lines as data (one table each), and the host roles.
//! - [`run`]: the one way to run a command. [`log`], [`console`] (the one printer: lines, results, JSON on
//!   stdout), [`atomic_file`] (replacing files and keeping what they held), [`mysql_text`]: small shared
//!   pieces.
//! - [`db`]: the one database client (SQL, row counts, streamed dumps and loads; credentials in 0600
//!   option files).
//! - [`host`]: facts about the machine, read through a [`host::Sysroot`]; [`host::Site`] is where a
//!   command works (root and sysroot) as a plain value.
//! - [`profile`]: the TOML profile, its validation with located errors, its JSON Schema, its secrets.
//! - [`render`]: every configuration file, from templates, merged with the user's own lines.
//! - [`disk`]: installing onto a blank machine's disk (partitions, file systems, image, GRUB, first boot).
//! - [`media`]: the installer ISO: build, put profiles on it and read them back, and what its live system runs.
//! - [`preflight`]: read-only checks of the host against its roles, with remedies.
//! - [`action`]: every change to a host as a detect/execute/verify action that records how to undo itself;
//!   the executor (a dependency graph run on a few workers), the receipt that makes installs resumable and
//!   is the undo log, progress display.
//! - [`template`]: seeding the system VM template into secondary storage, and its two actions.
//! - [`cloudstack`]: the hand-off to the management server API (signed client, keys, zone deployment).
//! - [`fleet`]: the hosts the provisioning role installs over the network: their answers, iPXE scripts and
//!   the HTTP tree they boot and install from.
//! - [`plan`]: the whole install for a profile's roles on a platform (one lane per role, hand-off included).
//! - [`install`]: a profile loaded and planned. [`reset`]: start over (backup, recreate the databases) and restore.
//! - [`uninstall`]: undo an install from the undo records in its receipt, newest first.
//! - [`cli`]: the command line on top: one file per subcommand (arguments, the call into the engine,
//!   printing, exit code), and the guided install, a front-end that produces a profile. Nothing below it
//!   knows clap.
//! - [`generated_docs`]: shell completions and man pages, generated from the command-line definition.

// layer 0
pub mod atomic_file;
pub mod console;
pub mod generated_docs;
pub mod log;
pub mod mysql_text;
pub mod platform;
// layer 1
pub mod run;
// layer 2
pub mod db;
pub mod host;
pub mod profile;
// layer 3
pub mod disk;
pub mod render;
// layer 4
pub mod action;
pub mod media;
pub mod preflight;
// layer 5
pub mod cloudstack;
pub mod template;
// layer 6
pub mod fleet;
// layer 7
pub mod plan;
// layer 8
pub mod install;
pub mod reset;
// layer 9
pub mod uninstall;
// layer 10
pub mod cli;

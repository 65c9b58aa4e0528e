//! The command line: `Cli`, `Format`, the exit codes of the contract and the dispatch. Each subcommand has
//! its own file here (its clap arguments, the call into the engine, the printing, the exit code); below this
//! module nothing knows clap: the engine takes plain values (a `host::Site`, option structs) and returns
//! typed results.

mod api;
mod disk;
mod fleet;
mod install;
mod media;
mod plan;
mod print;
mod preflight;
mod profile;
mod render;
mod reset;
mod template;
mod tui;
mod uninstall;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Exit codes of the contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const REFUSED: u8 = 3;
    /// `profile check`: the profile is valid, but environment variables holding its secrets are not set
    /// here (they are to be supplied where it is installed).
    pub const SECRETS_UNSET: u8 = 4;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Where files are written and read as "/".
    #[arg(long, global = true, default_value = "/")]
    pub root: PathBuf,
    /// Where host facts are read from (default: same as --root).
    #[arg(long, global = true)]
    pub sysroot: Option<PathBuf>,
    /// Show every command cloudstrap runs on stderr, with its exit status and duration (secrets masked).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Append the log to this file.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Report format, where a command reports.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

impl Global {
    /// The plain value the engine takes: where files go and where facts are read.
    pub fn site(&self) -> crate::host::Site {
        crate::host::Site { root: self.root.clone(), sysroot: self.sysroot.clone() }
    }
}

#[derive(Debug, Parser)]
#[command(name = "cloudstrap", version, max_term_width = 80, about = "Turn bare-metal Linux hosts into an Apache CloudStack cloud")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check whether this host can take its roles, and what to do when it cannot.
    Preflight(preflight::PreflightArgs),
    /// Validate a profile, or print its JSON Schema.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Write every file the install would write under a directory, for review.
    Render(render::RenderArgs),
    /// Show what the install would do: file diffs, then every action, done or pending.
    Plan(plan::PlanArgs),
    /// Install this host's roles: from a profile (unattended), or guided without one; --dry-run shows the plan.
    Install(install::InstallArgs),
    /// Seed the system VM template into secondary storage.
    #[command(subcommand)]
    Template(template::TemplateCmd),
    /// Call the CloudStack API: a signed request, the JSON answer printed.
    Api(api::ApiArgs),
    /// Deploy the profile's zone through the CloudStack API.
    #[command(subcommand)]
    Zone(api::ZoneCmd),
    /// Start over: back up and recreate the CloudStack databases, then set the management server up again.
    Reset(reset::ResetArgs),
    /// Put back the databases and files of a backup made by `reset`.
    Restore(reset::RestoreArgs),
    /// Undo the install from its receipt, newest first; databases and storage contents are kept.
    Uninstall(uninstall::UninstallArgs),
    /// Install the system onto a blank machine's disk (what the installer medium runs).
    #[command(subcommand)]
    Disk(disk::DiskCmd),
    /// The installer medium: build the ISO, put profiles on it, read them back.
    #[command(subcommand)]
    Media(media::MediaCmd),
    /// The hosts this management node installs over the network: their status, a reinstall.
    #[command(subcommand)]
    Fleet(fleet::FleetCmd),
    /// Print the shell completion script (bash: /usr/share/bash-completion/completions/cloudstrap).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Check a profile and report every problem with its file, line and column.
    Check { file: PathBuf },
    /// Print the JSON Schema of profiles (for editors).
    Schema,
}

/// Parse the command line and run; returns the process exit code.
pub fn main() -> ExitCode {
    let matches = match with_man_pages(Cli::command()).try_get_matches() {
        Ok(m) => m,
        Err(e) => return parse_error(e),
    };
    if let Some(("man-pages", m)) = matches.subcommand() {
        let out = m.get_one::<PathBuf>("out").expect("--out is required");
        return ExitCode::from(man_pages(out));
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return parse_error(e),
    };
    crate::log::set_file(cli.global.log_file.clone());
    crate::log::set_verbose(cli.global.verbose);
    crate::console::set_json(cli.global.format == Format::Json);
    let code = match cli.command {
        Command::Profile(ProfileCmd::Check { file }) => profile::check(&file),
        Command::Profile(ProfileCmd::Schema) => profile::schema(),
        Command::Reset(args) => reset::run_reset(&args, &cli.global),
        Command::Restore(args) => reset::run_restore(&args, &cli.global),
        Command::Uninstall(a) => uninstall::run(&a, &cli.global),
        Command::Disk(cmd) => disk::run(&cmd, &cli.global),
        Command::Media(cmd) => media::run(&cmd, &cli.global),
        Command::Fleet(cmd) => fleet::run(&cmd, &cli.global),
        Command::Render(a) => render::render_main(&cli.global, &a),
        Command::Plan(a) => plan::plan_main(&cli.global, &a),
        Command::Preflight(args) => preflight::run(&cli.global, &args),
        Command::Template(cmd) => template::run(cmd, &cli.global),
        Command::Install(args) => install::run(&args, &cli.global),
        Command::Api(args) => api::run_api(&args, &cli.global),
        Command::Zone(cmd) => api::run_zone(&cmd, &cli.global),
        Command::Completions { shell } => {
            crate::generated_docs::completions(Cli::command(), shell, &mut std::io::stdout());
            exit::OK
        }
    };
    ExitCode::from(code)
}

fn parse_error(e: clap::Error) -> ExitCode {
    let code = if e.use_stderr() { exit::INPUT } else { exit::OK };
    let _ = e.print();
    ExitCode::from(code)
}

/// The parser with `man-pages --out DIR` (writes cloudstrap.1, cloudstrap-install.1, ...; scripts/release
/// uses it). It stays outside `Cli`: clap_complete lists hidden subcommands, and the completion scripts
/// and the pages themselves are generated from `Cli` alone.
fn with_man_pages(cli: clap::Command) -> clap::Command {
    cli.subcommand(
        clap::Command::new("man-pages")
            .hide(true)
            .about("Write the man pages into a directory")
            .arg(clap::Arg::new("out").long("out").required(true).value_parser(clap::value_parser!(PathBuf))),
    )
}

fn man_pages(dir: &std::path::Path) -> u8 {
    match std::fs::create_dir_all(dir).and_then(|()| crate::generated_docs::man_pages(Cli::command(), dir)) {
        Ok(pages) => {
            for p in pages {
                println!("{}", p.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("cannot write the man pages into {}: {e}", dir.display());
            exit::FAILED
        }
    }
}

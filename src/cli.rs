//! The command line, as ../shared/cli.md specifies it. Each subcommand's work lives in its own module;
//! this file only parses and dispatches. A subcommand appears here once it works.

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
    /// More output.
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
    pub fn sysroot(&self) -> crate::host::Sysroot {
        crate::host::Sysroot::new(self.sysroot.clone().unwrap_or_else(|| self.root.clone()))
    }
}

#[derive(Debug, Parser)]
#[command(name = "cloudstrap", version, about = "Turn bare-metal Linux hosts into an Apache CloudStack cloud")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check whether this host can take its roles, and what to do when it cannot.
    Preflight(crate::preflight::cmd::PreflightArgs),
    /// Validate a profile, or print its JSON Schema.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Write every file the install would write under a directory, for review.
    Render(crate::render::RenderArgs),
    /// Show what the install would do: file diffs, then every action, done or pending.
    Plan(crate::render::PlanArgs),
    /// Install this host's roles: from a profile (unattended), or guided without one; --dry-run shows the plan.
    Install(crate::install::InstallArgs),
    /// Seed the system VM template into secondary storage.
    #[command(subcommand)]
    Template(crate::template::cli::TemplateCmd),
    /// Call the CloudStack API: a signed request, the JSON answer printed.
    Api(crate::cloudstack::command::ApiArgs),
    /// Deploy the profile's zone through the CloudStack API.
    #[command(subcommand)]
    Zone(crate::cloudstack::command::ZoneCmd),
    /// Start over: back up and recreate the CloudStack databases, then set the management server up again.
    Reset(crate::reset::ResetArgs),
    /// Put back the databases and files of a backup made by `reset`.
    Restore(crate::reset::RestoreArgs),
    /// Undo the install from its receipt, newest first; databases and storage contents are kept.
    Uninstall(UninstallArgs),
    /// Print the shell completion script (bash: /usr/share/bash-completion/completions/cloudstrap).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    /// Do not ask for the host's name to be typed.
    #[arg(long)]
    pub yes: bool,
    /// Also drop the CloudStack databases (after a verified dump) and remove storage directories with their contents.
    #[arg(long)]
    pub purge_data: bool,
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
    let code = match cli.command {
        Command::Profile(ProfileCmd::Check { file }) => crate::profile::cmd::check(&file),
        Command::Profile(ProfileCmd::Schema) => crate::profile::cmd::schema(),
        Command::Reset(args) => crate::reset::run_reset(&args, &cli.global),
        Command::Restore(args) => crate::reset::run_restore(&args, &cli.global),
        Command::Uninstall(a) => uninstall(&cli.global.root, a.yes, a.purge_data),
        Command::Render(a) => crate::render::render_main(&cli.global, &a),
        Command::Plan(a) => crate::render::plan_main(&cli.global, &a),
        Command::Preflight(args) => crate::preflight::cmd::run(&cli.global, &args),
        Command::Template(cmd) => crate::template::cli::run(cmd, &cli.global),
        Command::Install(args) => crate::install::run(&args, &cli.global),
        Command::Api(args) => crate::cloudstack::command::run_api(&args, &cli.global),
        Command::Zone(cmd) => crate::cloudstack::command::run_zone(&cmd, &cli.global),
        Command::Completions { shell } => {
            crate::generated_docs::completions(Cli::command(), shell, &mut std::io::stdout());
            exit::OK
        }
    };
    ExitCode::from(code)
}

/// `uninstall`: show the undo plan, confirm as reset does, carry it out, say what could not be undone.
fn uninstall(root: &std::path::Path, yes: bool, purge_data: bool) -> u8 {
    use crate::uninstall::UninstallError;
    let ctx = crate::uninstall::context(root);
    let fail = |e: UninstallError| {
        eprintln!("cloudstrap uninstall: {e}");
        match e {
            UninstallError::Receipt(_) => exit::INPUT,
            UninstallError::Refused(_) => exit::REFUSED,
            UninstallError::Failed(_) => exit::FAILED,
        }
    };
    let plan = match crate::uninstall::plan(&ctx, purge_data) {
        Ok(p) if p.is_empty() => {
            println!("Nothing to undo: no action of cloudstrap is recorded as done on this host.");
            return exit::OK;
        }
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    println!("cloudstrap uninstall will, newest first:");
    plan.lines().iter().for_each(|l| println!("  {l}"));
    let host = crate::reset::live_hostname(&crate::host::Sysroot::new(root));
    if let Err(e) = crate::reset::confirm::confirm(&host, yes, "uninstall") {
        return fail(UninstallError::Refused(e.to_string()));
    }
    let r = match crate::uninstall::execute(&ctx, &plan, &mut |l| {
        crate::log::line(l);
        println!("==> {l}")
    }) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    r.kept.iter().for_each(|k| println!("Left as it is: {k}"));
    if let Some(b) = &r.backup {
        println!("The databases' verified backup: {}", b.display());
    }
    println!("Undid {} actions.", r.undone);
    if r.failed.is_empty() {
        return exit::OK;
    }
    eprintln!("cloudstrap uninstall could not undo {} thing(s) (they stay in the receipt; run uninstall again after fixing):", r.failed.len());
    r.failed.iter().for_each(|f| eprintln!("  {f}"));
    exit::FAILED
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

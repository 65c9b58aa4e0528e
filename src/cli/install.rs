//! `cloudstrap install --profile FILE [--yes] [--dry-run]`: the unattended install. Shows the plan,
//! asks before changing anything (unless --yes), runs it with the executor, and on failure says what
//! failed, the last lines of its output, where the log is and how to resume. Without `--profile`, the
//! guided install (`tui`) asks the questions and hands back the saved profile, which then installs here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{exit, Format, Global};
use crate::action::executor::{self, Options, Status};
use crate::action::progress;
use crate::action::receipt::{self, Receipt};
use crate::install::{plan_json, prepare, render_plan, LOG_PATH};

#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// The profile to install (without it: the guided install).
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Show the actions, each done or pending, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Actions run at the same time at most.
    #[arg(long, default_value_t = 4, hide = true)]
    pub jobs: usize,
    /// Tests only (debug builds): SIGKILL cloudstrap once the receipt of this many actions is saved, so
    /// the resume tests can interrupt an install at every point. A release binary has no such option.
    #[cfg(debug_assertions)]
    #[arg(long, hide = true, value_name = "N")]
    pub test_kill_after: Option<usize>,
}

impl InstallArgs {
    fn kill_after(&self) -> Option<usize> {
        #[cfg(debug_assertions)]
        return self.test_kill_after;
        #[cfg(not(debug_assertions))]
        return None;
    }
}

fn confirm(summary: &str) -> bool {
    dialoguer::Confirm::new().with_prompt(format!("{summary}\nProceed?")).default(false).interact().unwrap_or(false)
}

pub fn run(args: &InstallArgs, global: &Global) -> u8 {
    let Some(profile_path) = &args.profile else {
        return match super::tui::run(global, args.dry_run) {
            super::tui::Outcome::Install(path) => {
                // The operator confirmed on the review screen: the saved profile installs unattended.
                let unattended = InstallArgs { profile: Some(path), yes: true, dry_run: false, ..args.clone() };
                run(&unattended, global)
            }
            super::tui::Outcome::Exit(code) => code,
        };
    };
    let mut prepared = match prepare(profile_path, &global.site()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::INPUT;
        }
    };
    for w in &prepared.exposed_secrets {
        eprintln!("warning: {w}");
    }
    let started = std::time::Instant::now();
    let statuses = executor::survey(&prepared.plan.steps, &prepared.ctx);
    if args.dry_run {
        match global.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&plan_json(&prepared, &statuses)).unwrap()),
            Format::Human => print!("{}", render_plan(&prepared, &statuses)),
        }
        return exit::OK;
    }
    let total = statuses.len();
    let pending = statuses.iter().filter(|s| **s != Status::Done).count();
    let rpath = receipt::path(&prepared.ctx);
    let receipt_complete = Receipt::load(&rpath).ok().flatten().is_some_and(|r| r.complete);
    let log_path = global.log_file.clone().unwrap_or_else(|| prepared.ctx.path(LOG_PATH));
    let result = |outcome: &str, counts: Counts, failed: Option<serde_json::Value>, elapsed: f64| {
        crate::console::result(&serde_json::json!({
            "outcome": outcome,
            "actions": counts,
            "failed_action": failed,
            "ui": prepared.ui,
            "log": log_path,
            "receipt": rpath,
            "elapsed_seconds": elapsed,
        }))
    };
    if pending == 0 && receipt_complete {
        let elapsed = started.elapsed().as_secs_f64();
        match global.format {
            Format::Json => result("nothing_to_do", Counts { total, done: 0, skipped: total, failed: 0, pending: 0 }, None, elapsed),
            Format::Human => println!("Nothing to do: all {total} actions are already done (checked in {elapsed:.1}s; receipt {}).", rpath.display()),
        }
        return exit::OK;
    }
    if !args.yes {
        let summary = render_plan(&prepared, &statuses);
        if !std::io::stdin().is_terminal() {
            eprint!("{summary}");
            eprintln!("install: refusing to change this host without confirmation: no terminal to ask on; run again with --yes");
            return exit::REFUSED;
        }
        if !confirm(&summary) {
            eprintln!("install: nothing was changed");
            return exit::REFUSED;
        }
    }
    crate::log::set_file(Some(log_path.clone()));
    crate::log::line(&format!("install --profile {} --root {}", profile_path.display(), prepared.ctx.root.display()));
    let display: Arc<dyn progress::Progress> = Arc::from(progress::for_stdout());
    prepared.ctx.progress = Some(display.clone());
    let base = Receipt::new(prepared.plan.platform.as_str(), prepared.plan.roles.iter().map(|r| r.as_str().to_string()).collect());
    let opts = Options { workers: args.jobs.max(1), kill_after: args.kill_after() };
    let json = global.format == Format::Json;
    match executor::execute(&prepared.plan.steps, &prepared.ctx, base, &*display, &opts) {
        Ok(s) => {
            let counts = Counts { total: s.total, done: s.executed, skipped: s.already_done, failed: 0, pending: 0 };
            let elapsed = s.elapsed.as_secs_f64();
            if json {
                result(if s.executed == 0 { "nothing_to_do" } else { "installed" }, counts, None, elapsed);
            } else if s.executed == 0 {
                println!("Nothing to do: all {} actions were already done ({elapsed:.1}s).", s.total);
            } else {
                println!("Install complete: {} actions run, {} already done, in {elapsed:.0}s. Log: {}", s.executed, s.already_done, log_path.display());
                if let Some(ui) = &prepared.ui {
                    println!("CloudStack UI: {ui}");
                }
            }
            exit::OK
        }
        Err(e) => {
            let failed = match &e {
                executor::ExecError::Action { number, description, error, tail } => {
                    eprintln!("\ninstall: action {number} of {total} failed: {description}");
                    eprintln!("  {error}");
                    if let Some(t) = tail {
                        eprintln!("  last lines of its output:");
                        for l in t.lines() {
                            eprintln!("    {l}");
                        }
                    }
                    Some(serde_json::json!({"number": number, "description": description, "error": error.to_string()}))
                }
                e => {
                    eprintln!("install: {e}");
                    None
                }
            };
            eprintln!("  log: {}", log_path.display());
            eprintln!(
                "  to resume: fix the cause and run the same command again (cloudstrap install --profile {}{}); \
                 finished actions are kept in {} and skipped",
                profile_path.display(),
                if prepared.ctx.live { String::new() } else { format!(" --root {}", prepared.ctx.root.display()) },
                rpath.display()
            );
            if json {
                // What the receipt now holds as done, beside what was done before this run.
                let skipped = total - pending;
                let now_done = Receipt::load(&rpath).ok().flatten().map_or(skipped, |r| r.actions.iter().filter(|a| a.state == receipt::State::Done).count());
                let done = now_done.saturating_sub(skipped);
                let failed_n = usize::from(failed.is_some());
                let counts = Counts { total, done, skipped, failed: failed_n, pending: total.saturating_sub(skipped + done + failed_n) };
                result("failed", counts, failed, started.elapsed().as_secs_f64());
            }
            exit::FAILED
        }
    }
}

/// The actions of an install run, as `install --format json` reports them.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Counts {
    total: usize,
    /// Carried out by this run.
    done: usize,
    /// Already done before this run (skipped).
    skipped: usize,
    failed: usize,
    /// Not reached.
    pending: usize,
}

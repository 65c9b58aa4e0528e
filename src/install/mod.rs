//! `cloudstrap install --profile FILE [--yes] [--dry-run]`: the unattended install. Shows the plan,
//! asks before changing anything (unless --yes), runs it with the executor, and on failure says what
//! failed, the last lines of its output, where the log is and how to resume.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use crate::action::executor::{self, Options, Status};
use crate::action::file::{FileSpec, MergeFn};
use crate::action::receipt::{self, Receipt};
use crate::action::{progress, Ctx};
use crate::cli::{exit, Format, Global};
use crate::plan::{self, GeneratedKeys, Plan, PlanInput, PlanSecrets};
use crate::platform::{Platform, PlatformId, Release};
use crate::profile::Profile;

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
}

/// Where the install log goes unless --log-file says otherwise.
pub const LOG_PATH: &str = "/var/log/cloudstrap/install.log";

/// A plan ready to show or run, with the context it runs in.
pub struct Prepared {
    pub plan: Plan,
    pub ctx: Ctx,
    pub profile_path: PathBuf,
}

/// Why an install could not even be planned (exit 2: nothing was changed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Load, check and plan, without changing anything.
pub fn prepare(profile_path: &Path, global: &Global) -> Result<Prepared, InputError> {
    // Validated: every problem comes back located (FILE:LINE:COL: key: ...), nothing has changed yet.
    let profile = crate::profile::load(profile_path).map_err(|e| InputError(e.to_string()))?;
    prepare_profile(profile, profile_path, global)
}

/// Plan an already loaded profile, as if read from `profile_path` (the guided install's review).
pub fn prepare_profile(profile: Profile, profile_path: &Path, global: &Global) -> Result<Prepared, InputError> {
    let id = match &profile.host.platform {
        Some(p) => p.parse::<PlatformId>().map_err(|e| InputError(format!("{}: host.platform: {e}", profile_path.display())))?,
        None => crate::host::detect_platform(&global.sysroot()).map_err(|e| InputError(format!("cannot tell this host's platform: {e}")))?,
    };
    let files = crate::render::render_all(&profile, id).map_err(|e| InputError(format!("{}: {e}", profile_path.display())))?;
    prepare_rendered(profile, profile_path, global, id, files)
}

/// Plan a loaded profile with its files already rendered for platform `id` (`cloudstrap plan` renders
/// them first to place its errors in the profile).
pub fn prepare_rendered(profile: Profile, profile_path: &Path, global: &Global, id: PlatformId, files: Vec<FileSpec>) -> Result<Prepared, InputError> {
    let platform = Platform::get(id);
    let release = Release::get(&profile.cloudstack.release)
        .ok_or_else(|| InputError(format!("{}: cloudstack.release: unknown release line {:?}", profile_path.display(), profile.cloudstack.release)))?;
    let dir = profile_path.parent().unwrap_or(Path::new("."));
    let secrets = PlanSecrets::resolve(&profile, dir).map_err(|e| InputError(e.to_string()))?;
    // Combined with the host's current files by `render::merge`, as `cloudstrap plan` shows them.
    let merge: MergeFn = crate::render::merge;
    let mut ctx = Ctx::for_root(&global.root, secrets.redactor());
    let generated_keys = GeneratedKeys::load_or_new(&global.root);
    ctx.redactor.add(generated_keys.management.expose());
    ctx.redactor.add(generated_keys.database.expose());
    let input = PlanInput { profile: &profile, profile_path, platform, release, files, merge, secrets: &secrets, live: ctx.live, generated_keys };
    let plan = plan::build(&input).map_err(|e| InputError(format!("{}: {e}", profile_path.display())))?;
    Ok(Prepared { plan, ctx, profile_path: profile_path.to_path_buf() })
}

/// The plan as text: one line per action, done or pending.
pub fn render_plan(p: &Prepared, statuses: &[Status]) -> String {
    let done = statuses.iter().filter(|s| **s == Status::Done).count();
    let roles: Vec<&str> = p.plan.roles.iter().map(|r| r.as_str()).collect();
    let mut out = format!(
        "Plan for {} ({}) into {}: {} actions, {} done, {} pending\n",
        roles.join(", "),
        p.plan.platform,
        p.ctx.root.display(),
        statuses.len(),
        done,
        statuses.len() - done
    );
    let width = statuses.len().to_string().len();
    for (i, (step, st)) in p.plan.steps.iter().zip(statuses).enumerate() {
        let mark = match st {
            Status::Done => "done   ",
            Status::Pending | Status::Unknown(_) => "pending",
        };
        let after = if step.after.is_empty() {
            String::new()
        } else {
            format!("  (after {})", step.after.iter().map(|a| (a + 1).to_string()).collect::<Vec<_>>().join(","))
        };
        out.push_str(&format!("{:>width$}. [{mark}] {}{after}\n", i + 1, p.ctx.redactor.redact(&step.action.describe())));
    }
    out
}

/// The plan as JSON: `{"platform", "release", "roles", "actions": [ActionView]}` (see [`plan::view`]).
pub fn plan_json(p: &Prepared, statuses: &[Status]) -> serde_json::Value {
    serde_json::json!({
        "platform": p.plan.platform.as_str(),
        "release": p.plan.release,
        "roles": p.plan.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "actions": plan::view::actions(&p.plan, &p.ctx.redactor, Some(statuses)),
    })
}

fn confirm(summary: &str) -> bool {
    dialoguer::Confirm::new().with_prompt(format!("{summary}\nProceed?")).default(false).interact().unwrap_or(false)
}

pub fn run(args: &InstallArgs, global: &Global) -> u8 {
    let Some(profile_path) = &args.profile else {
        return crate::tui::run(global, args);
    };
    let mut prepared = match prepare(profile_path, global) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::INPUT;
        }
    };
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
    if pending == 0 && receipt_complete {
        println!("Nothing to do: all {total} actions are already done (checked in {:.1}s; receipt {}).", started.elapsed().as_secs_f64(), rpath.display());
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
    let log_path = global.log_file.clone().unwrap_or_else(|| prepared.ctx.path(LOG_PATH));
    crate::log::set_file(Some(log_path.clone()));
    crate::log::line(&format!("install --profile {} --root {}", profile_path.display(), prepared.ctx.root.display()));
    let display: Arc<dyn progress::Progress> = Arc::from(progress::for_stdout());
    prepared.ctx.progress = Some(display.clone());
    let base = Receipt::new(prepared.plan.platform.as_str(), prepared.plan.roles.iter().map(|r| r.as_str().to_string()).collect());
    let opts = Options { workers: args.jobs.max(1), ..Options::default() };
    match executor::execute(&prepared.plan.steps, &prepared.ctx, base, &*display, &opts) {
        Ok(s) if s.executed == 0 => {
            println!("Nothing to do: all {} actions were already done ({:.1}s).", s.total, s.elapsed.as_secs_f64());
            exit::OK
        }
        Ok(s) => {
            println!(
                "Install complete: {} actions run, {} already done, in {:.0}s. Log: {}",
                s.executed,
                s.already_done,
                s.elapsed.as_secs_f64(),
                log_path.display()
            );
            exit::OK
        }
        Err(executor::ExecError::Action { number, description, error, tail }) => {
            eprintln!("\ninstall: action {number} of {total} failed: {description}");
            eprintln!("  {error}");
            if let Some(t) = tail {
                eprintln!("  last lines of its output:");
                for l in t.lines() {
                    eprintln!("    {l}");
                }
            }
            eprintln!("  log: {}", log_path.display());
            eprintln!(
                "  to resume: fix the cause and run the same command again (cloudstrap install --profile {}{}); \
                 finished actions are kept in {} and skipped",
                profile_path.display(),
                if prepared.ctx.live { String::new() } else { format!(" --root {}", prepared.ctx.root.display()) },
                rpath.display()
            );
            exit::FAILED
        }
        Err(e) => {
            eprintln!("install: {e}");
            eprintln!("  log: {}", log_path.display());
            exit::FAILED
        }
    }
}

//! `cloudstrap plan`: what the install would do, without changing anything: the files that would change
//! (with their diffs, combined with the current files under `--root` as the install would) and the engine's
//! actions, each done or pending.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::render::{input_error, load, located};
use super::{exit, Format, Global};
use crate::console::print as print_out;
use crate::host::Sysroot;
use crate::profile::Resolved;
use crate::render::{file_changes, render_all, ChangeStatus, FileChange};

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The profile to plan for.
    #[arg(long)]
    pub profile: PathBuf,
}

#[derive(Serialize)]
struct PlanReport<'a> {
    platform: String,
    release: &'a str,
    roles: Vec<&'static str>,
    changes: usize,
    files: &'a [FileChange],
}

/// What `cloudstrap plan` reports for a loaded profile: the files that would change (with their diffs) and
/// the engine's actions, done or pending. The guided install's review shows the same. `Err` carries the
/// exit code (2 rejected input, 1 an unreadable current file) and one located sentence.
pub fn plan_text(global: &Global, resolved: &Resolved) -> Result<String, (u8, String)> {
    let (profile, platform) = (&resolved.profile, resolved.platform.id);
    let files = render_all(profile, platform).map_err(|e| (exit::INPUT, located(profile, e)))?;
    let changes = file_changes(&files, &Sysroot::new(global.root.clone()))
        .map_err(|e| (exit::FAILED, format!("error: cannot read the current file {e}")))?;
    let n = changes.iter().filter(|c| c.status != ChangeStatus::Unchanged).count();
    let report = PlanReport {
        platform: platform.to_string(),
        release: &profile.cloudstack.release,
        roles: profile.roles().iter().map(|r| r.as_str()).collect(),
        changes: n,
        files: &changes,
    };
    // The actions need the secrets; files are shown even when they cannot be read here.
    let site = global.site();
    let prepared = resolved
        .clone()
        .with_secrets()
        .map_err(|e| crate::install::InputError(e.to_string()))
        .and_then(|r| crate::install::prepare_resolved(&r, &site));
    let mut text = String::new();
    match global.format {
        Format::Json => {
            // The engine's actions (each done or pending) beside the file diffs.
            let mut v = serde_json::to_value(&report).expect("plan serializes");
            if let Ok(p) = &prepared {
                let st = crate::action::executor::survey(&p.plan.steps, &p.ctx);
                v["actions"] = crate::install::plan_json(p, &st)["actions"].clone();
            }
            text = serde_json::to_string_pretty(&v).expect("plan serializes") + "\n"
        }
        Format::Human => {
            text += &format!(
                "plan for {} ({platform}, CloudStack {}, roles: {})\n",
                profile.host.fqdn,
                report.release,
                report.roles.join(", ")
            );
            if n == 0 {
                text += &format!("no changes: all {} files are already configured\n", changes.len());
            } else {
                for c in &changes {
                    text += &format!(
                        "  {:<10} {}  ({})\n",
                        format!("{:?}", c.status).to_lowercase(),
                        c.path.display(),
                        c.what
                    );
                }
                for c in changes.iter().filter(|c| c.status != ChangeStatus::Unchanged) {
                    text += "\n";
                    text += &c.diff;
                }
                text += &format!("\n{n} of {} files would change\n", changes.len());
            }
            // The engine's actions: exactly what `install` would run, in order, each done or pending.
            match &prepared {
                Ok(p) => {
                    let st = crate::action::executor::survey(&p.plan.steps, &p.ctx);
                    text += "\n";
                    text += &crate::install::render_plan(p, &st);
                }
                Err(e) => text += &format!("\nactions: {e}\n"),
            }
        }
    }
    Ok(text)
}

pub fn plan_main(global: &Global, args: &PlanArgs) -> u8 {
    let resolved = match load(global, &args.profile) {
        Ok(x) => x,
        Err(e) => return input_error(e),
    };
    match plan_text(global, &resolved) {
        Ok(text) => {
            print_out(&text);
            exit::OK
        }
        Err((code, msg)) => {
            eprintln!("{msg}");
            code
        }
    }
}

//! The install, below the command line: a profile loaded, checked and planned into a `Prepared` (the plan
//! and the context it runs in), and the plan shown as text or JSON. `cli::install` asks, runs it with the
//! executor and reports.

use std::path::{Path, PathBuf};

use crate::action::executor::Status;
use crate::action::file::MergeFn;
use crate::action::Ctx;
use crate::host::Site;
use crate::plan::{self, GeneratedKeys, Plan, PlanInput};
use crate::platform::PlatformId;
use crate::profile::Resolved;

/// Where the install log goes unless --log-file says otherwise.
pub const LOG_PATH: &str = "/var/log/cloudstrap/install.log";

/// A plan ready to show or run, with the context it runs in.
pub struct Prepared {
    pub plan: Plan,
    pub ctx: Ctx,
    pub profile_path: PathBuf,
    /// The CloudStack UI this install leads to (the management server the profile talks to), if any.
    pub ui: Option<String>,
    /// Secret files of the profile that group or others may read (located, with the fix).
    pub exposed_secrets: Vec<String>,
}

/// Why an install could not even be planned (exit 2: nothing was changed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Load, check, resolve and plan, without changing anything.
pub fn prepare(profile_path: &Path, site: &Site) -> Result<Prepared, InputError> {
    // Every problem comes back located (FILE:LINE:COL: key: ...), nothing has changed yet.
    let resolved = Resolved::load(profile_path, || detect(site)).map_err(|e| InputError(e.to_string()))?;
    prepare_resolved(&resolved, site)
}

/// The host's platform, for a profile that names none.
pub fn detect(site: &Site) -> Result<PlatformId, String> {
    crate::host::detect_platform(&site.sysroot()).map_err(|e| e.to_string())
}

/// Plan a resolved profile into `site` (the guided install's review plans its answers this way too).
pub fn prepare_resolved(r: &Resolved, site: &Site) -> Result<Prepared, InputError> {
    let (profile, profile_path, platform, release, secrets) = (&r.profile, r.path.as_path(), r.platform, r.release, &r.secrets);
    let id = platform.id;
    let files = crate::render::render_all(profile, id).map_err(|e| InputError(format!("{}: {e}", profile_path.display())))?;
    // Combined with the host's current files by `render::merge`, as `cloudstrap plan` shows them.
    let merge: MergeFn = crate::render::merge;
    let mut ctx = Ctx::for_root(&site.root, secrets.redactor());
    let generated_keys = GeneratedKeys::load_or_new(&site.root);
    ctx.redactor.add(generated_keys.management.expose());
    ctx.redactor.add(generated_keys.database.expose());
    let input = PlanInput { profile, profile_path, platform, release, files, merge, secrets, live: ctx.live, generated_keys };
    let plan = plan::build(&input).map_err(|e| InputError(format!("{}: {e}", profile_path.display())))?;
    let manages = plan.roles.contains(&crate::profile::Role::Management) || profile.management.is_some();
    let ui = manages.then(|| crate::cloudstack::handoff::ui_url(&crate::cloudstack::credentials::profile_endpoint(profile)));
    let exposed_secrets = crate::profile::Secrets::check(profile, profile_path.parent().unwrap_or(Path::new("."))).exposed;
    Ok(Prepared { plan, ctx, profile_path: profile_path.to_path_buf(), ui, exposed_secrets })
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

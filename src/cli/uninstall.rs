//! `cloudstrap uninstall`: revert this host from its receipt (see `crate::uninstall`).

use clap::Args;

use super::{exit, Global};

#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    /// Do not ask for the host's name to be typed.
    #[arg(long)]
    pub yes: bool,
    /// Also drop the CloudStack databases (after a verified dump) and remove storage directories with their contents.
    #[arg(long)]
    pub purge_data: bool,
}

/// `uninstall`: show the undo plan, confirm as reset does, carry it out, say what could not be undone.
pub fn run(args: &UninstallArgs, global: &Global) -> u8 {
    let (root, yes, purge_data) = (global.root.as_path(), args.yes, args.purge_data);
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
            crate::console::line("Nothing to undo: no action of cloudstrap is recorded as done on this host.");
            if crate::console::is_json() {
                crate::console::result(&serde_json::json!({"outcome": "nothing_to_undo", "undone": 0, "failed": [], "kept": [], "backup": null}));
            }
            return exit::OK;
        }
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    crate::console::line("cloudstrap uninstall will, newest first:");
    plan.lines().iter().for_each(|l| crate::console::line(&format!("  {l}")));
    let host = crate::reset::live_hostname(&crate::host::Sysroot::new(root));
    if let Err(e) = crate::reset::confirm::confirm(&host, yes, "uninstall") {
        return fail(UninstallError::Refused(e.to_string()));
    }
    let r = match crate::uninstall::execute(&ctx, &plan, &mut |l| {
        crate::log::line(l);
        crate::console::line(&format!("==> {l}"))
    }) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    r.kept.iter().for_each(|k| crate::console::line(&format!("Left as it is: {k}")));
    if let Some(b) = &r.backup {
        crate::console::line(&format!("The databases' verified backup: {}", b.display()));
    }
    crate::console::line(&format!("Undid {} actions.", r.undone));
    if crate::console::is_json() {
        let outcome = if r.failed.is_empty() { "uninstalled" } else { "failed" };
        crate::console::result(&serde_json::json!({"outcome": outcome, "undone": r.undone, "failed": r.failed, "kept": r.kept, "backup": r.backup}));
    }
    if r.failed.is_empty() {
        return exit::OK;
    }
    eprintln!("cloudstrap uninstall could not undo {} thing(s) (they stay in the receipt; run uninstall again after fixing):", r.failed.len());
    r.failed.iter().for_each(|f| eprintln!("  {f}"));
    exit::FAILED
}

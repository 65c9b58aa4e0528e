//! Set the SELinux mode: `SELINUX=` in /etc/selinux/config, and `setenforce` on a live host.

use std::path::Path;

use super::atomic::write_atomic;
use super::{Action, ActionError, Ctx, Record};

const CONFIG: &str = "/etc/selinux/config";

pub struct SetSelinux {
    /// "permissive" (what CloudStack's install guide asks for).
    pub mode: String,
}

fn configured(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.trim().strip_prefix("SELINUX=")).map(|v| v.trim().trim_matches('"').to_string())
}

fn enforcing(ctx: &Ctx) -> bool {
    // selinuxfs is at /sys/fs/selinux since EL7, at /selinux on EL6.
    ["/sys/fs/selinux/enforce", "/selinux/enforce"]
        .iter()
        .find_map(|p| std::fs::read_to_string(ctx.path(p)).ok())
        .is_some_and(|s| s.trim() == "1")
}

impl SetSelinux {
    fn acceptable(&self, value: &str) -> bool {
        // A host with SELinux disabled already satisfies "not enforcing".
        value == self.mode || (self.mode == "permissive" && value == "disabled")
    }
}

impl Action for SetSelinux {
    fn id(&self) -> String {
        "selinux".into()
    }

    fn describe(&self) -> String {
        format!("Set SELinux to {} ({CONFIG} and setenforce)", self.mode)
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let text = std::fs::read_to_string(ctx.path(CONFIG)).unwrap_or_default();
        let conf_ok = configured(&text).is_some_and(|v| self.acceptable(&v));
        Ok(conf_ok && !(ctx.live && self.mode != "enforcing" && enforcing(ctx)))
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = super::undo::for_file(ctx, Path::new(CONFIG))?;
        let was_enforcing = ctx.live && enforcing(ctx);
        if was_enforcing {
            record.undo.push(super::undo::Undo::Enforce);
        }
        record.previous = Some(if was_enforcing { "enforcing".into() } else { "not-enforcing".into() });
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let host = ctx.path(CONFIG);
        let text = std::fs::read_to_string(&host).unwrap_or_default();
        if !configured(&text).is_some_and(|v| self.acceptable(&v)) {
            let mut found = false;
            let mut out: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("SELINUX=") {
                        found = true;
                        format!("SELINUX={}", self.mode)
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            if !found {
                out.push(format!("SELINUX={}", self.mode));
            }
            write_atomic(&host, (out.join("\n") + "\n").as_bytes(), 0o644)?;
        }
        if ctx.live && self.mode != "enforcing" && enforcing(ctx) {
            ctx.run_ok(&ctx.cmd("setenforce").arg("0"))?;
        }
        Ok(())
    }

}

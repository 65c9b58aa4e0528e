//! Services: enable and start (restarting when one of its configuration files changed since the last
//! start), or mask. systemd through `systemctl`, SysV (el6) through `chkconfig` and `service`.
//! In an image root (not live) services are only enabled: they start when the system boots.

use std::path::PathBuf;

use super::undo::Undo;
use super::{stamp, Action, ActionError, Ctx, Record};

pub use crate::platform::InitSystem as Init;
use crate::platform::ServiceVerb;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceOp {
    /// Enable and start; restart when one of these in-system files changed since the last (re)start.
    Run { config: Vec<PathBuf> },
    /// Mask the unit (e.g. libvirtd's sockets, so libvirtd itself listens with --listen).
    Mask,
}

pub struct Service {
    pub init: Init,
    pub name: String,
    pub op: ServiceOp,
    /// Start (or restart) it now; false in an image root, where it only gets enabled.
    pub start_now: bool,
}

impl Service {
    pub fn run(init: Init, name: impl Into<String>, config: Vec<PathBuf>, start_now: bool) -> Service {
        Service { init, name: name.into(), op: ServiceOp::Run { config }, start_now }
    }
    pub fn mask(name: impl Into<String>, start_now: bool) -> Service {
        Service { init: Init::Systemd, name: name.into(), op: ServiceOp::Mask, start_now }
    }

    fn stamp_name(&self) -> String {
        format!("service-{}", self.name)
    }

    fn config_digest(&self, ctx: &Ctx) -> String {
        match &self.op {
            ServiceOp::Run { config } => stamp::files_digest(ctx, config),
            ServiceOp::Mask => String::new(),
        }
    }

    fn enabled_state(&self, ctx: &Ctx) -> Result<String, ActionError> {
        match self.init {
            Init::Systemd => Ok(ctx.run(&ctx.cmd("systemctl").arg("is-enabled").arg(&self.name))?.stdout.trim().to_string()),
            Init::SysV => {
                let out = ctx.run(&ctx.cmd("chkconfig").arg("--list").arg(&self.name))?;
                Ok(if out.status == 0 && out.stdout.contains("3:on") { "enabled".into() } else { "disabled".into() })
            }
        }
    }

    fn is_active(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(ctx.run(&ctx.argv(self.init.status_argv(&self.name)))?.status == 0)
    }

    /// Masking a running socket stops it and the service it activates, before that service's own step
    /// looks: record both as running, to be started again once the socket is unmasked (undos of one record
    /// run last first, so the socket comes back before its service).
    fn mask_undo(&self, ctx: &Ctx, enabled: &str) -> Result<Vec<Undo>, ActionError> {
        let live = ctx.live && self.start_now;
        let socket_active = live && self.is_active(ctx)?;
        let mut undo = vec![];
        if socket_active {
            let triggers = ctx.run(&ctx.cmd("systemctl").args(["show", "-p", "Triggers", "--value"]).arg(&self.name))?.stdout;
            for unit in triggers.split_whitespace() {
                if ctx.run(&ctx.cmd("systemctl").args(["is-active", "--quiet"]).arg(unit))?.status == 0 {
                    undo.push(Undo::Service { name: unit.to_string(), sysv: false, stop: false, disable: false, unmask: false, start: true, restart: false });
                }
            }
        }
        undo.push(Undo::Service { name: self.name.clone(), sysv: false, stop: false, disable: false, unmask: enabled != "masked", start: socket_active, restart: false });
        Ok(undo)
    }

    /// Run `verb` on this service with its init system (the platform table's argv).
    fn control(&self, ctx: &Ctx, verb: ServiceVerb) -> Result<(), ActionError> {
        let argv = self.init.argv(verb, &self.name).ok_or_else(|| ActionError::Failed(format!("{verb:?} {}: not with {:?}", self.name, self.init)))?;
        ctx.run_ok(&ctx.argv(argv))?;
        Ok(())
    }
}

impl Action for Service {
    fn id(&self) -> String {
        match self.op {
            ServiceOp::Run { .. } => format!("service:{}", self.name),
            ServiceOp::Mask => format!("mask:{}", self.name),
        }
    }

    fn describe(&self) -> String {
        match (&self.op, self.init) {
            (ServiceOp::Mask, _) => format!("Mask {}", self.name),
            (ServiceOp::Run { .. }, _) if !self.start_now => format!("Enable {} (it starts when the system boots)", self.name),
            (ServiceOp::Run { config }, _) if !config.is_empty() => {
                format!("Enable and start {} (restart when its configuration changed)", self.name)
            }
            _ => format!("Enable and start {}", self.name),
        }
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        match &self.op {
            ServiceOp::Mask => Ok(self.enabled_state(ctx)? == "masked"),
            ServiceOp::Run { .. } => {
                let enabled = matches!(self.enabled_state(ctx)?.as_str(), "enabled" | "enabled-runtime" | "static" | "alias");
                if !(ctx.live && self.start_now) {
                    return Ok(enabled);
                }
                Ok(enabled
                    && self.is_active(ctx)?
                    && stamp::read(ctx, &self.stamp_name()).as_deref() == Some(self.config_digest(ctx).as_str()))
            }
        }
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let active = (ctx.live && self.start_now) && self.is_active(ctx)?;
        let enabled = self.enabled_state(ctx)?;
        let sysv = self.init == Init::SysV;
        record.undo = match self.op {
            ServiceOp::Mask => self.mask_undo(ctx, &enabled)?,
            ServiceOp::Run { .. } => vec![
                Undo::Stamp { name: self.stamp_name() },
                Undo::Service {
                    name: self.name.clone(),
                    sysv,
                    stop: ctx.live && self.start_now && !active,
                    disable: !enabled.starts_with("enabled"),
                    unmask: false,
                    start: false,
                    // It ran before on configuration the uninstall puts back: run it on that again.
                    restart: active && matches!(&self.op, ServiceOp::Run { config } if !config.is_empty()),
                },
            ],
        };
        record.previous = Some(format!("{enabled} {}", if active { "active" } else { "inactive" }));
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        match &self.op {
            ServiceOp::Mask => {
                self.control(ctx, ServiceVerb::Mask)?;
                if ctx.live && self.start_now {
                    self.control(ctx, ServiceVerb::Stop)?;
                }
            }
            ServiceOp::Run { .. } => {
                self.control(ctx, ServiceVerb::Enable)?;
                if ctx.live && self.start_now {
                    self.control(ctx, if self.is_active(ctx)? { ServiceVerb::Restart } else { ServiceVerb::Start })?;
                }
            }
        }
        if let ServiceOp::Run { .. } = self.op {
            if ctx.live && self.start_now {
                stamp::write(ctx, &self.stamp_name(), &self.config_digest(ctx))?;
            } else {
                record.note = Some("enabled; starts when the system boots".into());
            }
        }
        Ok(())
    }

}

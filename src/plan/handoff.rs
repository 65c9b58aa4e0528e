//! The hand-off as the management role's last step (`cloudstack::handoff::run`): admin password, API
//! keys for root (/etc/cloudstrap/api.toml and a CloudMonkey profile), the UI's address.

use crate::action::{stamp, Action, ActionError, Ctx, Record};
use crate::cloudstack::credentials::{stored, KEYS_FILE};
use crate::cloudstack::handoff::{self, HandoffOptions};

pub struct Handoff {
    pub opts: HandoffOptions,
}

impl Action for Handoff {
    fn id(&self) -> String {
        "handoff".into()
    }

    fn describe(&self) -> String {
        format!("Hand off: set the admin password, create API keys ({KEYS_FILE}, cmk profile), at {}", self.opts.endpoint)
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        // Done once it ran for this endpoint and the stored keys are still there.
        let keys = stored(&ctx.root).map_err(|e| ActionError::Failed(e.to_string()))?;
        Ok(keys.is_some() && stamp::read(ctx, "handoff").as_deref() == Some(self.opts.endpoint.as_str()))
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let mut opts = self.opts.clone();
        opts.root = ctx.root.clone();
        let redactor = ctx.redactor.clone();
        let mut report = |m: &str| crate::log::line(&redactor.redact(&format!("handoff: {m}")));
        let r = handoff::run(&opts, &mut report).map_err(|e| ActionError::Failed(ctx.redactor.redact(&e.to_string())))?;
        record.note = Some(format!("UI {}", r.ui_url));
        stamp::write(ctx, "handoff", &self.opts.endpoint)
    }

    fn revert(&self, ctx: &Ctx, _record: &Record) -> Result<(), ActionError> {
        stamp::remove(ctx, "handoff");
        Ok(())
    }
}

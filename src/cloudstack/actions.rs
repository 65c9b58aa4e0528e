//! The hand-off as install actions (see [`crate::action::Action`]), for the engine's plan:
//! [`ApiHandoff`] at the end of the management role, [`ZoneDeploy`] when the profile has a zone,
//! [`AgentRegister`] after a kvm-agent whose profile asks for registration. Each is idempotent; the
//! server-side changes (password, keys, zone, host) are not undone by `revert`: removing a zone or a
//! host is the operator's decision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::agent::{self, own_address, register_from_profile, RegisterOptions};
use super::client::{Auth, Client, Notice, Options};
use super::credentials::{from_profile, stored, KEYS_FILE};
use super::handoff::{run, HandoffOptions, CMK_CONFIG, CMK_PROFILE};
use super::types::{StoragePool, SystemVm, Zone};
use super::zone::{deploy, find_host, serves, DeployOptions};
use crate::action::undo::{for_file, Undo};
use crate::action::{Action, ActionError, Ctx, Record};
use crate::profile::Profile;

/// How long the install's hand-off waits for the system VMs (the first start copies the template to primary
/// storage and boots two VMs: minutes).
pub const SYSTEM_VM_WAIT: Duration = Duration::from_secs(1800);

fn failed(e: super::ApiError) -> ActionError {
    ActionError::Failed(e.to_string())
}

/// What the API client waits for, to the install's display (and the log, as every notice goes there).
fn console_notice(ctx: &Ctx, what: &'static str) -> Notice {
    let (progress, redactor) = (ctx.progress.clone(), ctx.redactor.clone());
    Notice::new(move |m| {
        if let Some(p) = &progress {
            p.note(&format!("{what}: {}", redactor.redact(m)));
        }
    })
}

/// A client for quick state checks (`is_done`): short timeout, no retries.
fn probe_client(profile: &Profile, profile_path: &Path, root: &Path) -> Option<Client> {
    let c = from_profile(profile, profile_path, root).ok()?;
    let opts = Options { request_timeout: Duration::from_secs(5), retries: 0, ..Options::default() };
    Client::new(&c.endpoint, Auth::Keys { api_key: c.api_key, secret: c.secret }, opts).ok()
}

/// Wait for the API, set the admin password, create and store the API keys (cloudstrap + cmk).
pub struct ApiHandoff {
    /// Its `root` is replaced by the context's.
    pub options: HandoffOptions,
}

impl ApiHandoff {
    pub fn from_profile(profile: &Profile, profile_path: &Path) -> Result<ApiHandoff, ActionError> {
        let dir = profile_path.parent().unwrap_or(Path::new("."));
        Ok(ApiHandoff { options: HandoffOptions::from_profile(profile, dir, Path::new("/")).map_err(failed)? })
    }
}

impl Action for ApiHandoff {
    fn id(&self) -> String {
        "cloudstack:handoff".into()
    }

    fn describe(&self) -> String {
        format!("Hand off to the CloudStack API at {}: admin password, API keys in {KEYS_FILE} and cmk", self.options.endpoint)
    }

    /// Done once the keys file names this endpoint and cmk has the cloudstrap profile (both are
    /// written last, after the password and the keys), and the server still accepts those keys: after
    /// `reset` recreates the databases the old keys are refused, and the hand-off must run again.
    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let keys = match stored(&ctx.root) {
            Ok(Some(c)) if c.endpoint == self.options.endpoint => c,
            _ => return Ok(false),
        };
        let cmk = std::fs::read_to_string(ctx.path(CMK_CONFIG)).is_ok_and(|t| t.contains(&format!("[{CMK_PROFILE}]")));
        if !cmk {
            return Ok(false);
        }
        let opts = Options { request_timeout: Duration::from_secs(5), retries: 0, ..Options::default() };
        let accepted = Client::new(&keys.endpoint, Auth::Keys { api_key: keys.api_key, secret: keys.secret }, opts)
            .and_then(|c| c.execute("listCapabilities", &[]))
            .is_ok();
        Ok(accepted)
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = for_file(ctx, Path::new(KEYS_FILE))?;
        record.undo.extend(for_file(ctx, Path::new(CMK_CONFIG))?);
        record.undo.push(Undo::Kept { what: "the admin password and API keys set on the management server".into() });
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let mut opts = HandoffOptions { root: ctx.root.clone(), ..self.options.clone() };
        opts.client.notice = console_notice(ctx, "handoff");
        let mut say = |line: &str| crate::log::line(&format!("handoff: {}", ctx.redactor.redact(line)));
        let r = run(&opts, &mut say).map_err(failed)?;
        record.note = Some(format!("CloudStack UI: {}; API keys in {KEYS_FILE} and cmk profile \"{CMK_PROFILE}\"", r.ui_url));
        Ok(())
    }

}

/// Deploy (or complete) the profile's zone.
pub struct ZoneDeploy {
    pub profile: Profile,
    pub profile_path: PathBuf,
    pub options: DeployOptions,
}

impl Action for ZoneDeploy {
    fn id(&self) -> String {
        format!("cloudstack:zone:{}", self.profile.zone.as_ref().map(|z| z.name.as_str()).unwrap_or_default())
    }

    fn describe(&self) -> String {
        format!("Deploy zone {} through the CloudStack API", self.profile.zone.as_ref().map(|z| z.name.as_str()).unwrap_or("?"))
    }

    /// Done when the zone exists and is enabled (it is enabled last) and, when the deployment waits for
    /// them, its system VMs run.
    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let (Some(z), Some(c)) = (&self.profile.zone, probe_client(&self.profile, &self.profile_path, &ctx.root)) else { return Ok(false) };
        let Some(zone) = c.list::<Zone>("listZones", &[("name", &z.name)]).ok().and_then(|zs| zs.into_iter().find(|x| x.name == z.name && x.allocationstate == "Enabled")) else {
            return Ok(false);
        };
        // Without hosts in the profile the system VMs wait for the first KVM host that registers itself.
        if self.options.system_vm_wait.is_none() || z.hosts.is_empty() {
            return Ok(true);
        }
        let vms = c.list::<SystemVm>("listSystemVms", &[("zoneid", &zone.id)]).unwrap_or_default();
        let running = |t: &str| vms.iter().any(|v| v.systemvmtype == t && v.state == "Running");
        Ok(running("secondarystoragevm") && running("consoleproxy"))
    }

    fn prepare(&self, _ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let zone = self.profile.zone.as_ref().map(|z| z.name.clone()).unwrap_or_default();
        record.undo = vec![Undo::Kept { what: format!("zone {zone} in CloudStack (in its database)") }];
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let c = from_profile(&self.profile, &self.profile_path, &ctx.root).map_err(failed)?;
        let notice = console_notice(ctx, "zone deploy");
        let options = Options { poll_interval: self.options.poll_interval, notice, ..Options::for_profile(&self.profile) };
        let client = Client::new(&c.endpoint, Auth::Keys { api_key: c.api_key, secret: c.secret }, options).map_err(failed)?;
        deploy(&client, &self.profile, &self.options, &mut |s| crate::log::line(&format!("zone deploy: {s}"))).map_err(failed)?;
        Ok(())
    }

}

/// Register this KVM host with the management server and wait until it is Up.
pub struct AgentRegister {
    pub profile: Profile,
    pub profile_path: PathBuf,
    pub options: RegisterOptions,
}

impl Action for AgentRegister {
    fn id(&self) -> String {
        format!("cloudstack:agent:{}", own_address(&self.profile))
    }

    fn describe(&self) -> String {
        format!("Register host {} with the CloudStack management server", own_address(&self.profile))
    }

    /// Done when the server lists this host Up and its cluster has primary storage.
    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let opts = Options { request_timeout: Duration::from_secs(5), retries: 0, ..Options::default() };
        let Ok(c) = agent::client(&self.profile, &self.profile_path, &ctx.root, opts) else { return Ok(false) };
        let Ok(p) = agent::placement(&c, &self.profile) else { return Ok(false) };
        let up = matches!(find_host(&c, &p.zone.id, &own_address(&self.profile)), Ok(Some(h)) if h.state == "Up");
        let storage = c.list::<StoragePool>("listStoragePools", &[("zoneid", &p.zone.id)]).is_ok_and(|v| v.iter().any(|s| serves(s, &p.cluster)));
        Ok(up && storage)
    }

    /// The management server runs the release's setup-agent here, which enables and starts the agent's
    /// service: that is undone like a service cloudstrap started itself.
    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![Undo::Kept { what: "this host's registration with the management server".into() }];
        let Some(release) = crate::platform::Release::get(&self.profile.cloudstack.release) else { return Ok(()) };
        // The 2012 line runs on SysV init (chkconfig, service); the others on systemd.
        let sysv = release.is_legacy();
        for unit in release.kvm_agent.services {
            let (enabled, active) = if sysv {
                (ctx.run(&ctx.cmd("chkconfig").arg("--list").arg(*unit))?.stdout.contains("3:on"), ctx.run(&ctx.cmd("service").arg(*unit).arg("status"))?.status == 0)
            } else {
                (
                    ctx.run(&ctx.cmd("systemctl").arg("is-enabled").arg(*unit))?.stdout.trim().starts_with("enabled"),
                    ctx.run(&ctx.cmd("systemctl").arg("is-active").arg("--quiet").arg(*unit))?.status == 0,
                )
            };
            record.undo.push(Undo::Service { name: unit.to_string(), sysv, stop: !active, disable: !enabled, unmask: false, start: false, restart: false });
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let options = RegisterOptions { client: Options { notice: console_notice(ctx, "agent"), ..self.options.client.clone() }, ..self.options.clone() };
        register_from_profile(&self.profile, &self.profile_path, &ctx.root, &options, &mut |l| crate::log::line(&format!("agent: {l}")))
            .map(|_| ())
            .map_err(failed)
    }

}

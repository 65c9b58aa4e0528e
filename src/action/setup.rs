//! CloudStack's own setup commands (`cloudstack-setup-databases`, `cloudstack-setup-management`, 3.0.2's
//! `cloud-setup-*`). They are Python scripts and the database one takes passwords on its command line, so
//! a command whose arguments hold a secret runs as `python3 -c LAUNCHER FILE`: the real argv sits in a 0600
//! file the launcher reads and removes, and no password reaches /proc/*/cmdline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::database::DbConn;
use super::{stamp, Action, ActionError, Ctx, Record, Secret};
use crate::run::{SecretFile, PY_LAUNCHER};

/// One argument: plain, or holding a secret (e.g. `cloud:PASSWORD@localhost`).
#[derive(Debug, Clone)]
pub enum Arg {
    Plain(String),
    Secret(Secret),
}

/// setup-databases from 4.21 on refuses an existing `cloud` database unless `--force-recreate`. When the
/// database was not there before cloudstrap's first attempt and is there now, that attempt was interrupted
/// and made it: the retry passes the flag. A database that existed before is never recreated.
pub struct Recreate {
    pub conn: DbConn,
    pub user: String,
    pub password: Secret,
    pub database: String,
    pub flag: String,
}

const NO_DATABASE: &str = "no database before the first attempt";

pub struct SetupCommand {
    /// The program as named on the platform for the release (looked up in the usual bin directories).
    pub program: String,
    pub args: Vec<Arg>,
    /// In-system files that exist once the command succeeded (e.g. db.properties, the key file).
    pub creates: Vec<PathBuf>,
    /// Text its output must contain on success.
    pub success_text: Option<String>,
    pub timeout: Duration,
    pub recreate: Option<Recreate>,
}

const BIN_DIRS: [&str; 5] = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"];

impl SetupCommand {
    fn shown_args(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| match a {
                Arg::Plain(s) => s.clone(),
                Arg::Secret(_) => "********".to_string(),
            })
            .collect()
    }

    fn stamp_name(&self) -> String {
        format!("setup-{}", self.program)
    }

    /// What the stamp records: the command as shown (secrets masked), so a changed command runs again.
    fn stamp_value(&self) -> String {
        super::digest(format!("{} {}", self.program, self.shown_args().join(" ")).as_bytes())
    }

    /// The script's in-system path.
    fn locate(&self, ctx: &Ctx) -> Result<PathBuf, ActionError> {
        if self.program.starts_with('/') {
            return Ok(PathBuf::from(&self.program));
        }
        BIN_DIRS
            .iter()
            .map(|d| Path::new(d).join(&self.program))
            .find(|p| ctx.command_view(p).is_file())
            .ok_or_else(|| ActionError::Failed(format!("{} is not installed (looked in {})", self.program, BIN_DIRS.join(", "))))
    }

    /// The interpreter named on the script's `#!` line, when it is Python.
    fn python_of(ctx: &Ctx, script: &Path) -> Option<String> {
        let text = std::fs::read(ctx.command_view(script)).ok()?;
        let first = String::from_utf8_lossy(text.split(|b| *b == b'\n').next()?).to_string();
        let words: Vec<&str> = first.strip_prefix("#!")?.split_whitespace().collect();
        let interp = if words.first().is_some_and(|w| w.ends_with("/env")) { words.get(1)? } else { words.first()? };
        Path::new(interp).file_name()?.to_str()?.starts_with("python").then(|| interp.to_string())
    }
}

impl Action for SetupCommand {
    fn id(&self) -> String {
        format!("setup:{}", self.program)
    }

    fn describe(&self) -> String {
        format!("Run {} {}", self.program, self.shown_args().join(" ")).trim_end().to_string()
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(self.creates.iter().all(|p| ctx.path(p).exists()) && stamp::read(ctx, &self.stamp_name()).as_deref() == Some(self.stamp_value().as_str()))
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![super::undo::Undo::Stamp { name: self.stamp_name() }];
        for p in &self.creates {
            record.undo.extend(super::undo::for_file(ctx, p)?);
        }
        if let Some(r) = &self.recreate {
            let existed = r.conn.database_exists(ctx, &r.user, &r.password, &r.database)?;
            record.previous = Some(if existed { "database existed before".into() } else { NO_DATABASE.into() });
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let script = self.locate(ctx)?;
        let mut args = self.args.clone();
        if let (Some(r), Some(NO_DATABASE)) = (&self.recreate, record.previous.as_deref()) {
            if r.conn.database_exists(ctx, &r.user, &r.password, &r.database)? {
                crate::log::line(&format!("{}: an interrupted attempt left database {}; passing {}", self.program, r.database, r.flag));
                args.push(Arg::Plain(r.flag.clone()));
            }
        }
        let has_secret = args.iter().any(|a| matches!(a, Arg::Secret(_)));
        let argv: Vec<String> = args
            .iter()
            .map(|a| match a {
                Arg::Plain(s) => s.clone(),
                Arg::Secret(s) => s.expose().to_string(),
            })
            .collect();
        let mut _spec_file = None;
        let cmd = if has_secret {
            let python = Self::python_of(ctx, &script).ok_or_else(|| {
                ActionError::Failed(format!("{} is not a Python script; refusing to pass secrets on its command line", script.display()))
            })?;
            // The launcher's argv file: a JSON list [script, arg...], 0600, inside the root the command runs in.
            let mut list = vec![script.display().to_string()];
            list.extend(argv);
            let spec = serde_json::to_string(&list).map_err(|e| ActionError::Failed(e.to_string()))?;
            let f = SecretFile::create(ctx.secret_root(), "setup-argv", spec.as_bytes()).map_err(|e| ActionError::io("/run/cloudstrap", e))?;
            let c = ctx.cmd(python).arg("-c").arg(PY_LAUNCHER).arg(f.inner_path().display().to_string());
            _spec_file = Some(f);
            c
        } else {
            ctx.cmd(script.display().to_string()).args(argv)
        };
        let out = ctx.run_ok(&cmd.timeout(self.timeout))?;
        if let Some(t) = &self.success_text {
            if !out.stdout.contains(t.as_str()) && !out.stderr.contains(t.as_str()) {
                return Err(ActionError::Failed(format!("{} finished without saying {t:?}:\n{}", self.program, out.tail(10))));
            }
        }
        stamp::write(ctx, &self.stamp_name(), &self.stamp_value())
    }

}

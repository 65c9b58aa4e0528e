//! Undo records: what an action did, written into its receipt entry as it does it, in a form that can be
//! undone from the receipt alone (no profile, no plan). `cloudstrap uninstall` and `Action::revert` both
//! apply them, newest first. Paths are in-system paths (below --root); nothing secret is recorded.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::{stamp, ActionError, Ctx};

/// One thing to put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum Undo {
    /// Put the saved copy `backup` (content and mode) back at `path`.
    RestoreFile { path: String, backup: String },
    /// Remove `path`, which the action created.
    RemoveFile { path: String },
    /// Remove these directories the action created, deepest first, each only while empty. `data` marks
    /// storage directories: `uninstall --purge-data` removes them with their contents.
    RemoveEmptyDirs {
        paths: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        data: bool,
    },
    /// Remove (purge) packages that were not installed before, with the package manager named
    /// ("apt-get", "yum", "dnf").
    RemovePackages { manager: String, packages: Vec<String> },
    /// SELinux was enforcing before: enforce again (live hosts; the config file has its own record).
    Enforce,
    /// Forget a stamp, so a later install does the step again.
    Stamp { name: String },
    /// Put a service back: unmask it, stop it (it was not running), disable it (it was not enabled), start
    /// it again (it ran before a step stopped it: masking libvirtd's sockets stops libvirtd), or restart it
    /// (it ran before with the configuration files the uninstall puts back). Starts and restarts wait until
    /// every file is back, and are skipped when the unit went with its package.
    Service {
        name: String,
        sysv: bool,
        stop: bool,
        disable: bool,
        unmask: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        start: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        restart: bool,
    },
    /// Delete our managed block's rules from the running firewall (`iptables -D`), live hosts only.
    IptablesRules { chain: String, rules: Vec<String> },
    /// Publish /etc/exports again once it is back as it was.
    Exportfs,
    /// Load an AppArmor profile again (after its disable link is gone).
    AppArmorReload { profile: String },
    /// Run a reload command (`firewall-cmd --reload`) once the files are back.
    Reload { argv: Vec<String> },
    /// Something cloudstrap changed and leaves as it is (server-side state, data); uninstall lists it.
    Kept { what: String },
    /// Drop database accounts cloudstrap created ("'user'@'host'"), logging in as root over the local socket.
    DropDbUsers { accounts: Vec<String> },
}

impl Undo {
    /// One line for the operator.
    pub fn describe(&self) -> String {
        match self {
            Undo::RestoreFile { path, backup } => format!("put {path} back from {backup}"),
            Undo::RemoveFile { path } => format!("remove {path}"),
            Undo::RemoveEmptyDirs { paths, data: false } => format!("remove the directories {} (only if empty)", paths.join(" ")),
            Undo::RemoveEmptyDirs { paths, data: true } => format!("remove the storage directories {} (only if empty, unless --purge-data)", paths.join(" ")),
            Undo::RemovePackages { manager, packages } => format!("remove packages ({manager}): {}", packages.join(" ")),
            Undo::Enforce => "set SELinux enforcing again (setenforce 1)".into(),
            Undo::Stamp { name } => format!("forget stamp {name}"),
            Undo::Service { name, stop, disable, unmask, start, restart, .. } => {
                let mut v = vec![];
                if *unmask {
                    v.push("unmask");
                }
                if *start {
                    v.push("start");
                }
                if *restart {
                    v.push("restart");
                }
                if *stop {
                    v.push("stop");
                }
                if *disable {
                    v.push("disable");
                }
                format!("{} service {name}", if v.is_empty() { "leave".to_string() } else { v.join(" and ") })
            }
            Undo::IptablesRules { chain, rules } => format!("delete {} firewall rule(s) of cloudstrap from {chain}", rules.len()),
            Undo::Exportfs => "publish the NFS exports again (exportfs -ra)".into(),
            Undo::AppArmorReload { profile } => format!("load the AppArmor profile {profile} again"),
            Undo::DropDbUsers { accounts } => format!("drop database users {}", accounts.join(" ")),
            Undo::Reload { argv } => format!("run {}", argv.join(" ")),
            Undo::Kept { what } => format!("leave {what} as it is"),
        }
    }

    /// Whether undoing this touches the running system (nothing to do for an image root).
    fn live_only(&self) -> bool {
        matches!(self, Undo::Enforce | Undo::IptablesRules { .. } | Undo::Exportfs | Undo::AppArmorReload { .. } | Undo::Reload { .. })
    }

    /// A reload that must see every file already put back: uninstall runs these last.
    pub fn is_refresh(&self) -> bool {
        matches!(self, Undo::Exportfs | Undo::Reload { .. })
    }

    /// This undo as (what runs in its turn, what waits until every file is back): reloads wait whole, a
    /// service's start or restart waits while its unmask, stop and disable run in turn.
    pub fn split(&self) -> (Option<Undo>, Option<Undo>) {
        match self {
            u if u.is_refresh() => (None, Some(u.clone())),
            Undo::Service { name, sysv, stop, disable, unmask, start, restart } if *start || *restart => {
                let now = (*stop || *disable || *unmask).then(|| Undo::Service {
                    name: name.clone(),
                    sysv: *sysv,
                    stop: *stop,
                    disable: *disable,
                    unmask: *unmask,
                    start: false,
                    restart: false,
                });
                let later = Undo::Service { name: name.clone(), sysv: *sysv, stop: false, disable: false, unmask: false, start: *start, restart: *restart };
                (now, Some(later))
            }
            u => (Some(u.clone()), None),
        }
    }

    /// Undo it. Each kind is idempotent: undoing twice, or something already gone, is not an error.
    /// `purge`: storage directories go with their contents.
    pub fn apply(&self, ctx: &Ctx, purge: bool) -> Result<(), ActionError> {
        if self.live_only() && !ctx.live {
            return Ok(());
        }
        match self {
            Undo::RestoreFile { path, backup } => {
                let src = ctx.path(backup);
                let bytes = std::fs::read(&src).map_err(|e| ActionError::io(&src, e))?;
                let mode = std::fs::metadata(&src).map_err(|e| ActionError::io(&src, e))?.permissions().mode() & 0o7777;
                write_atomic(&ctx.path(path), &bytes, mode)
            }
            Undo::RemoveFile { path } => {
                let host = ctx.path(path);
                match std::fs::remove_file(&host) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ActionError::io(host, e)),
                    _ => Ok(()),
                }
            }
            Undo::RemoveEmptyDirs { paths, data } => {
                let mut sorted = paths.clone();
                sorted.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
                for d in sorted {
                    if *data && purge {
                        let host = ctx.path(&d);
                        match std::fs::remove_dir_all(&host) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(ActionError::io(host, e)),
                            _ => continue,
                        }
                    }
                    // Only while empty: never delete data (templates, VM disks) or someone else's files.
                    let _ = std::fs::remove_dir(ctx.path(&d));
                }
                Ok(())
            }
            Undo::RemovePackages { manager, packages } => {
                if packages.is_empty() {
                    return Ok(());
                }
                let apt = manager == "apt-get";
                // Package scripts may delete files that are not the packages' own on purge (nfs-kernel-server
                // takes /etc/exports): those are put back as they were just before.
                let etc = snapshot(ctx, Path::new("/etc"));
                let list = if apt { ctx.cmd("dpkg").arg("-L") } else { ctx.cmd("rpm").arg("-ql") };
                let owned = ctx.run(&list.args(packages.iter().cloned()))?.stdout;
                let owned: std::collections::HashSet<&str> = owned.lines().map(str::trim).collect();
                // Their services are stopped and disabled first, as a package's own removal scripts do (some
                // packages, like the lab's stand-ins, do not, and would leave them running without their files).
                if has_program(ctx, "systemctl") {
                    let units = owned.iter().filter_map(|p| p.strip_prefix("/lib/systemd/system/").or_else(|| p.strip_prefix("/usr/lib/systemd/system/"))).filter(|u| u.ends_with(".service") && !u.contains('@'));
                    for unit in units {
                        if ctx.live {
                            ctx.run(&ctx.cmd("systemctl").arg("stop").arg(unit))?;
                        }
                        ctx.run(&ctx.cmd("systemctl").arg("disable").arg(unit))?;
                    }
                }
                let cmd = if apt {
                    ctx.cmd("apt-get").args(["purge", "-y", "-q"]).args(packages.iter().cloned()).env("DEBIAN_FRONTEND", "noninteractive")
                } else {
                    ctx.cmd(manager.clone()).args(["-y", "remove"]).args(packages.iter().cloned())
                };
                ctx.run_ok(&cmd.timeout(std::time::Duration::from_secs(3600)))?;
                for (p, content) in &etc {
                    if let Some((bytes, mode)) = content {
                        if *mode != 0o120000 && !owned.contains(p.as_str()) && ctx.path(p).symlink_metadata().is_err() {
                            write_atomic(&ctx.path(p), bytes, *mode)?;
                        }
                    }
                }
                Ok(())
            }
            Undo::Enforce => {
                ctx.run_ok(&ctx.cmd("setenforce").arg("1"))?;
                Ok(())
            }
            Undo::Stamp { name } => {
                stamp::remove(ctx, name);
                Ok(())
            }
            Undo::Service { name, sysv, stop, disable, unmask, start, restart } => {
                if *unmask {
                    ctx.run_ok(&ctx.cmd("systemctl").arg("unmask").arg(name))?;
                }
                if (*start || *restart) && ctx.live && unit_exists(ctx, name, *sysv)? {
                    let verb = if *restart { "restart" } else { "start" };
                    if *sysv {
                        ctx.run_ok(&ctx.cmd("service").arg(name).arg(verb))?;
                    } else {
                        if name.ends_with(".socket") {
                            // systemd refuses to start a socket while the service it activates runs on its own
                            // (libvirtd with --listen): stop that first; its own record starts it again.
                            let triggers = ctx.run(&ctx.cmd("systemctl").args(["show", "-p", "Triggers", "--value"]).arg(name))?.stdout;
                            for unit in triggers.split_whitespace() {
                                if ctx.run(&ctx.cmd("systemctl").args(["is-active", "--quiet"]).arg(unit))?.status == 0 {
                                    ctx.run_ok(&ctx.cmd("systemctl").arg("stop").arg(unit))?;
                                }
                            }
                        }
                        ctx.run_ok(&ctx.cmd("systemctl").arg(verb).arg(name))?;
                    }
                }
                if *stop && ctx.live {
                    if *sysv {
                        ctx.run(&ctx.cmd("service").arg(name).arg("stop"))?;
                    } else {
                        ctx.run_ok(&ctx.cmd("systemctl").arg("stop").arg(name))?;
                    }
                }
                if *disable {
                    if *sysv {
                        ctx.run(&ctx.cmd("chkconfig").arg(name).arg("off"))?;
                    } else {
                        ctx.run_ok(&ctx.cmd("systemctl").arg("disable").arg(name))?;
                    }
                }
                Ok(())
            }
            Undo::IptablesRules { chain, rules } => {
                let mut failed = vec![];
                for r in rules {
                    let args: Vec<String> = r.split_whitespace().skip(2).map(str::to_string).collect();
                    // Delete while present (a rule loaded twice is there twice); a rule already gone is fine.
                    while ctx.run(&ctx.cmd("iptables").args(["-w", "-C", chain]).args(args.clone()))?.status == 0 {
                        if ctx.run(&ctx.cmd("iptables").args(["-w", "-D", chain]).args(args.clone()))?.status != 0 {
                            failed.push(r.clone());
                            break;
                        }
                    }
                }
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(ActionError::Failed(format!("could not delete from {chain}: {}", failed.join("; "))))
                }
            }
            // With the NFS server removed there is nothing left to publish.
            Undo::Exportfs if !has_program(ctx, "exportfs") => Ok(()),
            Undo::Exportfs => {
                ctx.run_ok(&ctx.cmd("exportfs").arg("-ra"))?;
                Ok(())
            }
            Undo::AppArmorReload { profile } => {
                // As the install unloaded it: only where the kernel has AppArmor and the parser is installed.
                if ctx.path(profile).exists() && Path::new("/sys/kernel/security/apparmor").exists() && has_program(ctx, "apparmor_parser") {
                    ctx.run_ok(&ctx.cmd("apparmor_parser").arg("-r").arg(profile))?;
                }
                Ok(())
            }
            Undo::Reload { argv } if argv.first().is_some_and(|p| !has_program(ctx, p)) => Ok(()),
            Undo::Reload { argv } => {
                let (prog, args) = argv.split_first().ok_or_else(|| ActionError::Failed("empty reload command".into()))?;
                ctx.run_ok(&ctx.cmd(prog.clone()).args(args.iter().cloned()))?;
                Ok(())
            }
            Undo::Kept { .. } => Ok(()),
            Undo::DropDbUsers { accounts } => {
                let sql: String = accounts.iter().map(|a| format!("DROP USER IF EXISTS {a};\n")).collect();
                super::database::DbConn::local().root_socket_sql(ctx, &sql)
            }
        }
    }
}

/// Whether the service's unit (or SysV script) is still there: one that went with its package is not
/// started again.
fn unit_exists(ctx: &Ctx, name: &str, sysv: bool) -> Result<bool, ActionError> {
    if sysv {
        return Ok(ctx.path(Path::new("/etc/init.d").join(name)).exists());
    }
    let state = ctx.run(&ctx.cmd("systemctl").args(["show", "-p", "LoadState", "--value"]).arg(name))?.stdout;
    Ok(state.trim() != "not-found")
}

/// Whether `program` is installed where the context's commands run (a reload after its package went is moot).
fn has_program(ctx: &Ctx, program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].iter().any(|d| ctx.command_view(Path::new(d).join(program)).exists())
}

/// The undo for a file about to be written at in-system `abs`: restore its backup when there is one,
/// otherwise remove it and the parent directories the write will create.
pub fn for_file(ctx: &Ctx, abs: &Path) -> Result<Vec<Undo>, ActionError> {
    let host = ctx.path(abs);
    if host.symlink_metadata().is_ok() {
        return Ok(vec![Undo::RestoreFile { path: abs.display().to_string(), backup: super::atomic::backup(ctx, abs)? }]);
    }
    let mut v = vec![];
    let dirs = missing_dirs(ctx, abs.parent().unwrap_or(Path::new("/")));
    if !dirs.is_empty() {
        v.push(Undo::RemoveEmptyDirs { paths: dirs, data: false });
    }
    v.push(Undo::RemoveFile { path: abs.display().to_string() });
    Ok(v)
}

/// The in-system directories from `abs` upwards that do not exist yet (what create_dir_all will make).
pub fn missing_dirs(ctx: &Ctx, abs: &Path) -> Vec<String> {
    abs.ancestors().filter(|a| *a != Path::new("/") && !a.as_os_str().is_empty() && !ctx.path(a).exists()).map(|a| a.display().to_string()).collect()
}

/// What is under in-system directory `abs`: regular files with content and mode, symlinks (content: the
/// target), directories (None), keyed by in-system path.
pub type Tree = std::collections::BTreeMap<String, Option<(Vec<u8>, u32)>>;

pub fn snapshot(ctx: &Ctx, abs: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![abs.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(ctx.path(&dir)) else { continue };
        for e in rd.flatten() {
            let inner = dir.join(e.file_name());
            let Ok(md) = e.path().symlink_metadata() else { continue };
            let key = inner.display().to_string();
            if md.is_dir() {
                stack.push(inner);
                out.insert(key, None);
            } else if md.file_type().is_symlink() {
                let target = std::fs::read_link(e.path()).map(|t| t.display().to_string().into_bytes()).unwrap_or_default();
                out.insert(key, Some((target, 0o120000)));
            } else if md.is_file() {
                if let Ok(b) = std::fs::read(e.path()) {
                    out.insert(key, Some((b, md.permissions().mode() & 0o7777)));
                }
            }
        }
    }
    out
}

/// The undos that take `after` back to `before` (two snapshots of the same directory around something that
/// is not cloudstrap's own writing, such as package scripts): changed files restored from a backup taken
/// now of their earlier content, new files and links removed, new directories removed while empty.
pub fn between(ctx: &Ctx, before: &Tree, after: &Tree) -> Result<Vec<Undo>, ActionError> {
    let mut v = vec![];
    let mut dirs = vec![];
    for (p, now) in after {
        match (before.get(p), now) {
            (None, None) => dirs.push(p.clone()),
            (None, Some(_)) => v.push(Undo::RemoveFile { path: p.clone() }),
            // A changed regular file (links and type changes are left alone).
            (Some(Some((old, mode))), Some((new, _))) if old != new && *mode != 0o120000 => {
                v.push(Undo::RestoreFile { path: p.clone(), backup: super::atomic::backup_bytes(ctx, Path::new(p), old, *mode)? });
            }
            _ => {}
        }
    }
    if !dirs.is_empty() {
        v.insert(0, Undo::RemoveEmptyDirs { paths: dirs, data: false });
    }
    Ok(v)
}

/// Apply `undos` newest first, starts and reloads last (see `split`); every failure is collected, none
/// stops the others.
pub fn apply_all(ctx: &Ctx, undos: &[Undo]) -> Vec<(Undo, String)> {
    let mut failed = vec![];
    let mut later = vec![];
    for u in undos.iter().rev() {
        let (now, after) = u.split();
        later.extend(after);
        if let Some(now) = now {
            if let Err(e) = now.apply(ctx, false) {
                failed.push((now, ctx.redactor.redact(&e.to_string())));
            }
        }
    }
    for u in later {
        if let Err(e) = u.apply(ctx, false) {
            failed.push((u, ctx.redactor.redact(&e.to_string())));
        }
    }
    failed
}

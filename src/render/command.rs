//! `cloudstrap render` (write every file under a directory) and `cloudstrap plan` (show what would change).
//! Both combine the rendered files with the current files under `--root`, exactly as the install would.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{merge, render_all, render_network, RenderedFile};
use crate::cli::{exit, Format, Global};
use crate::host::Sysroot;
use crate::platform::PlatformId;
use crate::profile::Profile;

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// The profile to render.
    #[arg(long)]
    pub profile: PathBuf,
    /// Directory to write into, laid out as if it were "/".
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the bridge configuration (cloudbr0/cloudbr1) for review when the profile does not
    /// set agent.configure-bridges.
    #[arg(long)]
    pub network: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The profile to plan for.
    #[arg(long)]
    pub profile: PathBuf,
}

/// What installing one file would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    Create,
    Update,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    pub what: String,
    pub status: ChangeStatus,
    #[serde(skip)]
    pub old: Option<String>,
    #[serde(skip)]
    pub new: String,
    /// Unified diff from the current to the new content (empty when unchanged).
    pub diff: String,
}

/// Unified diff of one file, labelled with its path.
fn unified(path: &Path, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let label = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&label, &format!("{label} (cloudstrap)"))
        .to_string()
}

/// Compare every rendered file with the current file under `root`.
pub fn file_changes(files: &[RenderedFile], root: &Sysroot) -> std::io::Result<Vec<FileChange>> {
    files
        .iter()
        .map(|f| {
            let old = root
                .read_opt(&f.path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", root.path(&f.path).display())))?;
            let new = merge(old.as_deref(), f);
            let status = match &old {
                None => ChangeStatus::Create,
                Some(o) if *o == new => ChangeStatus::Unchanged,
                Some(_) => ChangeStatus::Update,
            };
            let diff = unified(&f.path, old.as_deref().unwrap_or(""), &new);
            Ok(FileChange { path: f.path.clone(), what: f.what.clone(), status, old, new, diff })
        })
        .collect()
}

/// The profile and the platform it is for (its `host.platform`, else detected from the sysroot).
fn load(global: &Global, path: &Path) -> Result<(Profile, PlatformId), String> {
    let profile = crate::profile::load(path).map_err(|e| e.to_string())?;
    let platform = platform_of(global, &profile)?;
    Ok((profile, platform))
}

/// Standard output that tolerates a closed pipe (`cloudstrap plan | head`).
fn print_out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A render error placed in the profile file (`FILE:LINE:COL: key: message`).
fn located(profile: &Profile, e: super::RenderError) -> String {
    match e {
        super::RenderError::Profile { key, msg } => profile.locate(&key, msg),
        other => other.to_string(),
    }
}

/// Rejected input: the located problems of the profile as `profile check` prints them, or one sentence.
fn input_error(msg: impl std::fmt::Display) -> u8 {
    eprintln!("{msg}");
    exit::INPUT
}

/// Write `content` to `path` atomically (temp file in the same directory, fsync, rename).
fn write_file(path: &Path, content: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(content.as_bytes())?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Keep the first version of a file `render` replaces with different content as `<file>.cloudstrap.orig`.
fn backup_if_replaced(dest: &Path, new: &str) -> std::io::Result<()> {
    match std::fs::read(dest) {
        Ok(old) if old != new.as_bytes() => {
            let mut name = dest.as_os_str().to_owned();
            name.push(".cloudstrap.orig");
            let backup = PathBuf::from(name);
            if !backup.exists() {
                std::fs::copy(dest, &backup)?;
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn render_main(global: &Global, args: &RenderArgs) -> u8 {
    // Rendering is for review; changing the live system is `install`'s job (with backups and a receipt).
    if std::fs::canonicalize(&args.out).is_ok_and(|p| p == Path::new("/")) {
        return input_error(
            "error: --out / would change this system: render into a review directory, or run `cloudstrap install`",
        );
    }
    let (profile, platform) = match load(global, &args.profile) {
        Ok(x) => x,
        Err(e) => return input_error(e),
    };
    let mut files = match render_all(&profile, platform) {
        Ok(f) => f,
        Err(e) => return input_error(located(&profile, e)),
    };
    let bridges_included = profile.agent.as_ref().is_some_and(|a| a.configure_bridges);
    if args.network && !bridges_included {
        match render_network(&profile, platform) {
            Ok(f) => files.extend(f),
            Err(e) => return input_error(located(&profile, e)),
        }
    }
    let root = Sysroot::new(global.root.clone());
    let changes = match file_changes(&files, &root) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read the current file {e}");
            return exit::FAILED;
        }
    };
    let mut report = String::new();
    for (f, c) in files.iter().zip(&changes) {
        let dest = Sysroot::new(&args.out).path(&f.path);
        if let Err(e) = backup_if_replaced(&dest, &c.new).and_then(|_| write_file(&dest, &c.new, f.mode)) {
            eprintln!("error: cannot write {}: {e}", dest.display());
            return exit::FAILED;
        }
        report += &format!("{:<10} {}  ({})\n", format!("{:?}", c.status).to_lowercase(), f.path.display(), f.what);
    }
    report += &format!("{} files for {platform} written under {}\n", files.len(), args.out.display());
    print_out(&report);
    exit::OK
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
/// the plan's actions, done or pending. The guided install's review shows the same. `Err` carries the
/// exit code (2 rejected input, 1 an unreadable current file) and one located sentence.
pub fn plan_text(global: &Global, profile: &Profile, profile_path: &Path, platform: PlatformId) -> Result<String, (u8, String)> {
    let files = render_all(profile, platform).map_err(|e| (exit::INPUT, located(profile, e)))?;
    // The one plan `install` would run, built from these files; they stay shown when it cannot be built.
    let prepared = crate::install::prepare_rendered(profile.clone(), profile_path, global, platform, files.clone());
    let files = prepared.as_ref().map_or(&files, |p| &p.plan.files);
    let changes = file_changes(files, &Sysroot::new(global.root.clone()))
        .map_err(|e| (exit::FAILED, format!("error: cannot read the current file {e}")))?;
    let n = changes.iter().filter(|c| c.status != ChangeStatus::Unchanged).count();
    let report = PlanReport {
        platform: platform.to_string(),
        release: &profile.cloudstack.release,
        roles: profile.roles().iter().map(|r| r.as_str()).collect(),
        changes: n,
        files: &changes,
    };
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

/// The platform a loaded profile is for: its `host.platform`, else detected from the sysroot.
pub fn platform_of(global: &Global, profile: &Profile) -> Result<PlatformId, String> {
    match &profile.host.platform {
        Some(s) => s.parse::<PlatformId>().map_err(|e| profile.locate("host.platform", e.to_string())),
        None => crate::host::detect_platform(&global.sysroot()).map_err(|e| {
            profile.locate("host.platform", format!("is not given and {e} (expected host.platform, or a --sysroot to detect it from)"))
        }),
    }
}

pub fn plan_main(global: &Global, args: &PlanArgs) -> u8 {
    let (profile, platform) = match load(global, &args.profile) {
        Ok(x) => x,
        Err(e) => return input_error(e),
    };
    match plan_text(global, &profile, &args.profile, platform) {
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

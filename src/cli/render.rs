//! `cloudstrap render`: write every file under a directory, for review. Like `plan`, it combines the
//! rendered files with the current files under `--root`, exactly as the install would.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{exit, Global};
use crate::console::print as print_out;
use crate::host::Sysroot;
use crate::render::{file_changes, render_all, render_network, RenderError};
use crate::profile::{Profile, Resolved};

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

/// The profile, loaded and resolved once (its platform: `host.platform`, else detected from the sysroot),
/// its secrets not yet read: the files under review hold none.
pub(super) fn load(global: &Global, path: &Path) -> Result<Resolved, String> {
    let profile = crate::profile::load(path).map_err(|e| e.to_string())?;
    review(global, profile, path)
}

/// A loaded profile resolved for review (secrets not read), as if read from `path`.
pub(super) fn review(global: &Global, profile: Profile, path: &Path) -> Result<Resolved, String> {
    let site = global.site();
    Resolved::without_secrets(profile, path, || crate::install::detect(&site)).map_err(|e| e.to_string())
}

/// A render error placed in the profile file (`FILE:LINE:COL: key: message`).
pub(super) fn located(profile: &Profile, e: RenderError) -> String {
    match e {
        RenderError::Profile { key, msg } => profile.locate(&key, msg),
        other => other.to_string(),
    }
}

/// Rejected input: the located problems of the profile as `profile check` prints them, or one sentence.
pub(super) fn input_error(msg: impl std::fmt::Display) -> u8 {
    eprintln!("{msg}");
    exit::INPUT
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
    let resolved = match load(global, &args.profile) {
        Ok(x) => x,
        Err(e) => return input_error(e),
    };
    let (profile, platform) = (&resolved.profile, resolved.platform.id);
    let mut files = match render_all(profile, platform) {
        Ok(f) => f,
        Err(e) => return input_error(located(profile, e)),
    };
    let bridges_included = profile.agent.as_ref().is_some_and(|a| a.configure_bridges);
    if args.network && !bridges_included {
        match render_network(profile, platform) {
            Ok(f) => files.extend(f),
            Err(e) => return input_error(located(profile, e)),
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
        if let Err(e) = backup_if_replaced(&dest, &c.new).and_then(|_| crate::atomic_file::replace(&dest, c.new.as_bytes(), f.mode)) {
            eprintln!("error: cannot write {}: {e}", dest.display());
            return exit::FAILED;
        }
        report += &format!("{:<10} {}  ({})\n", format!("{:?}", c.status).to_lowercase(), f.path.display(), f.what);
    }
    report += &format!("{} files for {platform} written under {}\n", files.len(), args.out.display());
    print_out(&report);
    exit::OK
}

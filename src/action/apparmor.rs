//! Disable AppArmor profiles (libvirt's on Debian and Ubuntu, so libvirt can reach NFS primary storage):
//! a link in the `disable` directory keeps them off at boot, `apparmor_parser -R` unloads them now.

use std::path::{Path, PathBuf};

use super::undo::Undo;
use super::{Action, ActionError, Ctx, Record};

pub struct DisableProfiles {
    pub disable_dir: PathBuf,
    pub profile_dir: PathBuf,
    pub profiles: Vec<String>,
}

impl DisableProfiles {
    fn link(&self, p: &str) -> PathBuf {
        self.disable_dir.join(p)
    }
}

impl Action for DisableProfiles {
    fn id(&self) -> String {
        format!("apparmor-disable:{}", self.profiles.join(","))
    }

    fn describe(&self) -> String {
        format!("Disable the AppArmor profiles {} (link into {}, unload)", self.profiles.join(" "), self.disable_dir.display())
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(self.profiles.iter().all(|p| ctx.path(self.link(p)).symlink_metadata().is_ok()))
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let added: Vec<&String> = self.profiles.iter().filter(|p| ctx.path(self.link(p)).symlink_metadata().is_err()).collect();
        let dirs = super::undo::missing_dirs(ctx, &self.disable_dir);
        if !dirs.is_empty() {
            record.undo.push(Undo::RemoveEmptyDirs { paths: dirs, data: false });
        }
        for p in added {
            // Newest first: the link goes, then the profile is loaded again.
            record.undo.push(Undo::AppArmorReload { profile: self.profile_dir.join(p).display().to_string() });
            record.undo.push(Undo::RemoveFile { path: self.link(p).display().to_string() });
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let dir = ctx.path(&self.disable_dir);
        std::fs::create_dir_all(&dir).map_err(|e| ActionError::io(&dir, e))?;
        for p in &self.profiles {
            let link = ctx.path(self.link(p));
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(self.profile_dir.join(p), &link).map_err(|e| ActionError::io(&link, e))?;
            }
            let profile = self.profile_dir.join(p);
            if ctx.live && ctx.path(&profile).exists() && Path::new("/sys/kernel/security/apparmor").exists() && parser_installed(ctx) {
                // Not loaded is fine: the link keeps it off from the next boot on. Without AppArmor's
                // userspace (an optional package on Debian) no profile can have been loaded.
                ctx.run(&ctx.cmd("apparmor_parser").arg("-R").arg(profile.display().to_string()))?;
            }
        }
        Ok(())
    }

}

/// Whether AppArmor's userspace (`apparmor_parser`) is installed on the host.
fn parser_installed(ctx: &Ctx) -> bool {
    ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"].iter().any(|p| ctx.path(p).exists())
}

//! The installer medium: `cloudstrap media build` (a hybrid ISO for BIOS and UEFI holding a live system,
//! the Debian 12 system image with every role's Debian packages installed, an offline repository, the
//! system VM template, this binary and profiles), `media customize` and `media inspect` (profiles put on
//! and read back from an existing ISO with xorriso, its boot records replayed), and `media install`
//! (what the live system runs: pick this machine's profile, install onto its disk, reboot; booted from the
//! network, the profile and its secrets come from the provisioning node: [`netboot`]).
//! Debian tools do the work: mmdebstrap, apt-get, apt-ftparchive, mksquashfs, grub-mkrescue, xorriso.

pub mod boot;
pub mod build;
pub mod cloudstack_repo;
pub mod iso;
pub mod netboot;
pub mod select;

/// Where things are on the medium (paths relative to its root).
pub mod layout {
    pub const KERNEL: &str = "live/vmlinuz";
    pub const INITRD: &str = "live/initrd.img";
    /// The system installed onto the disk; the live system's lower layer.
    pub const SYSTEM: &str = "live/10-system.squashfs";
    /// The live system's upper layer: the installer unit, autologin, this binary.
    pub const INSTALLER: &str = "live/20-installer.squashfs";
    /// live-boot's list of layers, lowest first.
    pub const MODULE: &str = "live/filesystem.module";
    pub const GRUB_CFG: &str = "boot/grub/grub.cfg";
    pub const REPO: &str = "cloudstrap/repo";
    pub const TEMPLATES: &str = "cloudstrap/templates";
    pub const PROFILES: &str = "cloudstrap/profiles";
    pub const BUILD_INFO: &str = "cloudstrap/build.json";
    /// The ISO's volume label.
    pub const VOLUME: &str = "CLOUDSTRAP";
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Bad input (a profile, the ISO named, a repository); nothing was written.
    #[error("{0}")]
    Input(String),
    /// A step failed.
    #[error("{0}")]
    Failed(String),
}

pub(crate) fn run(cmd: crate::run::Cmd) -> Result<String, MediaError> {
    cmd.run_ok(&crate::run::Redactor::default()).map(|o| o.stdout).map_err(|e| MediaError::Failed(e.to_string()))
}

//! Installing onto a disk (`cloudstrap disk install`, what the installer medium runs): pick the profile's
//! disk, refuse the medium the machine runs from, a disk too small, or a disk holding data unless the profile
//! says `wipe = true` or the operator typed the disk's name; then GPT (BIOS boot partition, EFI system
//! partition, root, optionally /export), the file systems, the system image, fstab, the static network,
//! host name and /etc/hosts, GRUB for BIOS and UEFI (the removable path too), the profile, the offline
//! repository and the template, and the first-boot unit that installs the roles. Debian tools do the work:
//! lsblk, wipefs, sfdisk, mkfs.ext4, mkfs.vfat, unsquashfs or cp, blkid, grub-install, mount.

pub mod devices;
mod install;
pub mod offline;
pub mod target;

pub use install::{install, plan, DiskPlan, Installed, Options};

/// Smallest root file system a CloudStack host is installed on.
pub const MIN_ROOT: u64 = 8 << 30;

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// Bad input (the profile, the image, the disk named); nothing was written.
    #[error("{0}")]
    Input(String),
    /// The disk holds data and neither the profile nor the operator allowed wiping it; nothing was written.
    #[error("{0}")]
    Refused(String),
    /// A step failed after the disk was changed.
    #[error("{0}")]
    Failed(String),
}

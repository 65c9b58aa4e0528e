//! The files a disk install writes into the new system, from the profile: file systems by UUID, the static
//! network (ifupdown, as Debian 12 installs it), the host name and /etc/hosts with the FQDN (the guide's Q1
//! and Q2 settled before the system first boots), GRUB's menu, and the first-boot unit.

use crate::profile::Profile;

/// UUIDs of the new file systems.
pub struct Uuids {
    pub root: String,
    pub esp: String,
    pub export: Option<String>,
}

pub fn fstab(u: &Uuids) -> String {
    let mut s = format!(
        "# Written by cloudstrap disk install.\nUUID={} / ext4 errors=remount-ro 0 1\nUUID={} /boot/efi vfat umask=0077 0 2\n",
        u.root, u.esp
    );
    if let Some(e) = &u.export {
        s.push_str(&format!("UUID={e} /export ext4 defaults 0 2\n"));
    }
    s
}

/// /etc/network/interfaces: the profile's static address on its interface.
pub fn interfaces(p: &Profile, interface: &str) -> String {
    let dns = if p.host.dns.is_empty() { String::new() } else { format!("    dns-nameservers {}\n", p.host.dns.join(" ")) };
    format!(
        "# Written by cloudstrap disk install from the profile: a static address (CloudStack records it).\n\
         source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\n\
         auto {interface}\niface {interface} inet static\n    address {}\n    gateway {}\n{dns}",
        p.host.address, p.host.gateway
    )
}

pub fn resolv_conf(p: &Profile) -> Option<String> {
    (!p.host.dns.is_empty()).then(|| p.host.dns.iter().map(|d| format!("nameserver {d}\n")).collect())
}

pub fn hostname(p: &Profile) -> String {
    format!("{}\n", p.host.hostname)
}

pub fn hosts(p: &Profile) -> String {
    format!(
        "127.0.0.1\tlocalhost\n{}\t{} {}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        p.host.ip(),
        p.host.fqdn,
        p.host.hostname
    )
}

/// GRUB's menu for both firmware kinds: the image's kernel and initrd on the root file system, output on
/// the serial console and the screen (in-system paths).
pub fn grub_cfg(root_uuid: &str, kernel: &str, initrd: &str) -> String {
    format!(
        "# Written by cloudstrap disk install.\nserial --unit=0 --speed=115200\nterminal_input serial console\n\
         terminal_output serial console\nset timeout=3\ninsmod part_gpt\ninsmod ext2\n\
         search --no-floppy --fs-uuid --set=root {root_uuid}\n\
         menuentry \"Debian GNU/Linux (cloudstrap)\" {{\n    linux {kernel} root=UUID={root_uuid} ro console=tty0 console=ttyS0,115200\n    initrd {initrd}\n}}\n"
    )
}

/// What the UEFI image carries: enough to find the root file system by UUID and run the menu.
pub const EFI_MODULES: [&str; 16] =
    ["part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "normal", "linux", "configfile", "serial", "terminal", "echo", "test", "gzio", "all_video", "efi_gop"];

/// What the BIOS core image carries (the rest loads from /boot/grub/i386-pc).
pub const BIOS_MODULES: [&str; 7] = ["biosdisk", "part_gpt", "ext2", "search", "search_fs_uuid", "normal", "configfile"];

/// The GRUB images' first config: find the root file system and set the prefix, nothing more (as
/// grub-install's load.cfg). GRUB then starts normal mode from the prefix, which reads the module list
/// (command.lst) before the menu; a `configfile` here would run the menu without it, and commands such as
/// `linux` and `serial` would not load.
pub fn early_cfg(root_uuid: &str) -> String {
    format!("search --no-floppy --fs-uuid --set=root {root_uuid}\nset prefix=($root)/boot/grub\n")
}

/// GRUB's BIOS embedding (what grub-bios-setup does for a GPT disk with a BIOS boot partition starting at
/// sector `start`, `size` sectors long): the boot sector `boot` told where the core image starts (its
/// drive check disabled, as for hard disks), and the core image's first sector told where the rest of it
/// is. Returns the boot sector (to merge with the disk's own, see `merge_mbr`) and the padded core image.
pub fn embed_bios<'a>(boot: &[u8], core: &'a mut Vec<u8>, start: u64, size: u64) -> Result<([u8; 512], &'a [u8]), String> {
    if boot.len() != 512 {
        return Err(format!("boot.img is {} bytes (expected 512)", boot.len()));
    }
    let sectors = core.len().div_ceil(512) as u64;
    if start == 0 || sectors > size {
        return Err(format!("the core image needs {sectors} sectors; the BIOS boot partition has {size}"));
    }
    core.resize(sectors as usize * 512, 0);
    // diskboot's block list (the last 12 bytes of the first sector): start sector, length, segment.
    core[0x1f4..0x1fc].copy_from_slice(&(start + 1).to_le_bytes());
    core[0x1fc..0x1fe].copy_from_slice(&((sectors - 1) as u16).to_le_bytes());
    let mut mbr = [0u8; 512];
    mbr.copy_from_slice(boot);
    mbr[0x5c..0x64].copy_from_slice(&start.to_le_bytes());
    mbr[0x66] = 0x90;
    mbr[0x67] = 0x90;
    Ok((mbr, core.as_slice()))
}

/// The boot sector with the disk's own BPB area and disk signature and partition table (the GPT's
/// protective entry) kept.
pub fn merge_mbr(boot: &[u8; 512], disk: &[u8; 512]) -> [u8; 512] {
    let mut m = *boot;
    m[0x03..0x5a].copy_from_slice(&disk[0x03..0x5a]);
    m[0x1b8..0x1fe].copy_from_slice(&disk[0x1b8..0x1fe]);
    m
}

/// The flag whose presence makes the first boot install the roles (removed when that succeeded).
pub const FIRSTBOOT_FLAG: &str = "/var/lib/cloudstrap/firstboot";
pub const FIRSTBOOT_UNIT: &str = "cloudstrap-firstboot.service";

/// The first-boot unit (iso/target/): installs the profile's roles once, with the console showing progress
/// and, on failure, the log's path; the log stays on the disk.
pub fn firstboot_unit(binary: &str) -> String {
    include_str!("../../iso/target/cloudstrap-firstboot.service").replace("@FLAG@", FIRSTBOOT_FLAG).replace("@BINARY@", binary)
}

/// Makes the host's own SSH host keys before sshd starts (the image carries none).
pub const SSH_HOST_KEYS_UNIT: &str = include_str!("../../iso/target/cloudstrap-ssh-host-keys.service");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_sector_points_at_the_core_image_and_keeps_the_partition_table() {
        let boot = [0xAAu8; 512];
        let mut core = vec![0u8; 1000];
        let (mbr, core) = embed_bios(&boot, &mut core, 2048, 2048).unwrap();
        assert_eq!(core.len(), 1024);
        assert_eq!(u64::from_le_bytes(core[0x1f4..0x1fc].try_into().unwrap()), 2049);
        assert_eq!(u16::from_le_bytes(core[0x1fc..0x1fe].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(mbr[0x5c..0x64].try_into().unwrap()), 2048);
        let mut disk = [0u8; 512];
        disk[0x1be] = 0xEE;
        disk[0x1fe] = 0x55;
        let m = merge_mbr(&mbr, &disk);
        assert_eq!((m[0x1be], m[0x1fe], m[0x00], m[0x66]), (0xEE, 0xAA, 0xAA, 0x90));
        assert!(embed_bios(&boot, &mut vec![0u8; 600_000], 2048, 1000).is_err(), "a core image larger than the partition");
    }
}

//! The iPXE scripts the provisioning HTTP server hands out. Nothing secret goes in them: every machine on
//! the provisioning network can read them, and the kernel command line they set is visible on the host.

use super::tree;
use crate::profile::FleetHost;

/// `/boot.ipxe`, what dnsmasq points iPXE at: the machine's own script by its MAC, else its next boot device.
/// `netX` is the interface iPXE booted from; a non-zero `exit` makes the firmware go on to its next device
/// (UEFI takes `exit 0` for a boot that succeeded).
pub fn entry(base: &str) -> String {
    format!(
        "#!ipxe\n# cloudstrap: each machine of the fleet has its own script; any other boots its next device.\nchain --autofree {base}/{}/${{netX/mac:hexhyp}}/boot.ipxe || exit 1\n",
        tree::HOSTS
    )
}

/// A host's script: the installer unless the host marked itself installed, then the next boot device (its
/// disk). The installer is the medium's live system booted with the whole ISO fetched into memory.
pub fn host(base: &str, h: &FleetHost) -> String {
    let mac = h.mac_path();
    let name = &h.name;
    let media = format!("{base}/{}", tree::MEDIA);
    format!(
        "#!ipxe
# cloudstrap: {name} ({mac})
imgfetch --name installed {base}/{state}/{mac}/{mark} && goto disk || goto install
:install
echo cloudstrap: installing {name} over the network
kernel {media}/{kernel} initrd={initrd} boot=live components fetch={media}/{iso} BOOTIF=01-${{netX/mac:hexhyp}} cloudstrap.fleet={base} console=tty0 console=ttyS0,115200
initrd --name {initrd} {media}/{initrd}
boot
:disk
imgfree installed
echo cloudstrap: {name} is installed; booting from its disk (cloudstrap fleet reinstall {name} installs it again)
exit 1
",
        state = tree::STATE,
        mark = tree::INSTALLED,
        kernel = tree::KERNEL,
        initrd = tree::INITRD,
        iso = tree::ISO,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_script_installs_until_the_host_marked_itself_and_names_no_secret() {
        let h = FleetHost { name: "kvm1".into(), mac: "52:54:00:AA:BB:01".into(), address: "10.0.0.21".into(), roles: None, interface: None, disk: None, wipe: None };
        let s = host("http://10.0.0.4:8090", &h);
        assert!(s.starts_with("#!ipxe\n"), "{s}");
        assert!(s.contains("imgfetch --name installed http://10.0.0.4:8090/state/52-54-00-aa-bb-01/installed && goto disk || goto install"), "{s}");
        assert!(s.contains("kernel http://10.0.0.4:8090/media/vmlinuz initrd=initrd.img boot=live components fetch=http://10.0.0.4:8090/media/cloudstrap.iso BOOTIF=01-${netX/mac:hexhyp} cloudstrap.fleet=http://10.0.0.4:8090 "), "{s}");
        assert!(s.contains("initrd --name initrd.img http://10.0.0.4:8090/media/initrd.img\nboot\n"), "{s}");
        assert!(s.trim_end().ends_with("exit 1"), "{s}");
        assert!(!s.contains("secrets"), "{s}");
        assert!(entry("http://10.0.0.4:8090").contains("chain --autofree http://10.0.0.4:8090/hosts/${netX/mac:hexhyp}/boot.ipxe || exit 1"));
    }
}

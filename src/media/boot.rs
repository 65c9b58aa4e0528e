//! The medium's GRUB menu (iso/grub.cfg): the default entry picks the profile by MAC address, one entry
//! per profile names it on the kernel command line (`cloudstrap.profile=NAME`), a rescue entry installs
//! nothing.

const TEMPLATE: &str = include_str!("../../iso/grub.cfg");

/// The menu for a medium holding `profiles` (names without `.toml`).
pub fn grub_cfg(profiles: &[String]) -> String {
    let mut entries = String::new();
    for name in profiles {
        entries.push_str(&format!(
            "menuentry \"Install with profile {name}\" {{\n    linux /live/vmlinuz boot=live components console=ttyS0,115200 console=tty0 cloudstrap.profile={name}\n    initrd /live/initrd.img\n}}\n"
        ));
    }
    TEMPLATE.replace("@PROFILE_ENTRIES@\n", &entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_profile_between_the_defaults_and_rescue() {
        let cfg = grub_cfg(&["cloud-server".into(), "cloud-agent".into()]);
        let titles: Vec<&str> = cfg.lines().filter_map(|l| l.strip_prefix("menuentry \"")).map(|l| l.split('"').next().unwrap()).collect();
        assert_eq!(
            titles,
            [
                "Install a CloudStack host (profile chosen by this machine's MAC address)",
                "Install a CloudStack host, serial console",
                "Install with profile cloud-server",
                "Install with profile cloud-agent",
                "Rescue shell (the live system; installs nothing)"
            ]
        );
        assert!(cfg.contains("boot=live components console=ttyS0,115200 console=tty0 cloudstrap.profile=cloud-agent\n"), "{cfg}");
        assert!(!cfg.contains('@'), "{cfg}");
        assert!(cfg.contains("serial --unit=0 --speed=115200\nterminal_input console serial"), "{cfg}");
    }
}

//! SELinux: the mode configured in etc/selinux/config and the running one in sys/fs/selinux/enforce.

use serde::Serialize;

use super::Sysroot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelinuxFacts {
    /// `SELINUX=` of etc/selinux/config ("enforcing", "permissive", "disabled"); None when absent.
    pub configured: Option<String>,
    /// The running mode: Some(true) enforcing, Some(false) permissive; None when SELinux is not active.
    pub enforcing: Option<bool>,
}

pub fn selinux(sys: &Sysroot) -> SelinuxFacts {
    let configured = sys.read_opt("/etc/selinux/config").ok().flatten().and_then(|t| {
        t.lines().find_map(|l| l.trim().strip_prefix("SELINUX=").map(|v| v.trim().trim_matches('"').to_lowercase()))
    });
    // EL6 mounts selinuxfs at /selinux; later releases at /sys/fs/selinux.
    let enforcing = ["/sys/fs/selinux/enforce", "/selinux/enforce"]
        .iter()
        .find_map(|p| sys.read_opt(p).ok().flatten())
        .map(|t| t.trim() == "1");
    SelinuxFacts { configured, enforcing }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_and_running_modes() {
        let d = tempfile::tempdir().unwrap();
        let s = Sysroot::new(d.path());
        assert_eq!(selinux(&s), SelinuxFacts { configured: None, enforcing: None });
        std::fs::create_dir_all(d.path().join("etc/selinux")).unwrap();
        std::fs::write(d.path().join("etc/selinux/config"), "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n").unwrap();
        std::fs::create_dir_all(d.path().join("selinux")).unwrap();
        std::fs::write(d.path().join("selinux/enforce"), "0").unwrap();
        assert_eq!(selinux(&s), SelinuxFacts { configured: Some("enforcing".into()), enforcing: Some(false) });
    }
}

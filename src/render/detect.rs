//! Which platform a sysroot is, for commands whose profile does not say (`host.platform`).
//! Minimal on purpose: `host::detect_platform` (engineer preflight) replaces it once it lands.

use crate::host::Sysroot;
use crate::platform::PlatformId;

fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// The platform of the system under `root`, from etc/os-release (or etc/redhat-release on EL6).
pub fn detect_platform(root: &Sysroot) -> Result<PlatformId, String> {
    if let Ok(Some(text)) = root.read_opt("/etc/os-release") {
        let id = os_release_value(&text, "ID").unwrap_or_default();
        let like = os_release_value(&text, "ID_LIKE").unwrap_or_default();
        let version = os_release_value(&text, "VERSION_ID").unwrap_or_default();
        let major = version.split('.').next().unwrap_or("");
        let el = like.split_whitespace().any(|w| w == "rhel" || w == "fedora") || id == "rhel";
        let found = match (id.as_str(), major) {
            ("ubuntu", _) if version == "22.04" => Some(PlatformId::Ubuntu2204),
            ("ubuntu", _) if version == "24.04" => Some(PlatformId::Ubuntu2404),
            ("debian", "12") => Some(PlatformId::Debian12),
            (_, "8") if el => Some(PlatformId::El8),
            (_, "9") if el => Some(PlatformId::El9),
            (_, "6") if el => Some(PlatformId::El6),
            _ => None,
        };
        return found.ok_or_else(|| format!("unsupported system {id} {version} (from {}/etc/os-release)", root.root().display()));
    }
    if let Ok(Some(text)) = root.read_opt("/etc/redhat-release") {
        // "CentOS release 6.2 (Final)", "Red Hat Enterprise Linux Server release 6.10 (Santiago)"
        let version = text.split_whitespace().skip_while(|w| *w != "release").nth(1).unwrap_or("");
        if version.split('.').next() == Some("6") {
            return Ok(PlatformId::El6);
        }
        return Err(format!("unsupported system {:?} (from etc/redhat-release)", text.trim()));
    }
    Err(format!("cannot tell the platform: no etc/os-release or etc/redhat-release under {}", root.root().display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Sysroot) {
        let d = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        }
        let s = Sysroot::new(d.path());
        (d, s)
    }

    #[test]
    fn detects_each_platform() {
        let cases = [
            ("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n", PlatformId::El9),
            ("ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.10\"\n", PlatformId::El8),
            ("ID=ubuntu\nVERSION_ID=\"24.04\"\n", PlatformId::Ubuntu2404),
            ("ID=ubuntu\nVERSION_ID=\"22.04\"\n", PlatformId::Ubuntu2204),
            ("ID=debian\nVERSION_ID=\"12\"\n", PlatformId::Debian12),
        ];
        for (text, want) in cases {
            let (_d, s) = root_with(&[("etc/os-release", text)]);
            assert_eq!(detect_platform(&s), Ok(want));
        }
        let (_d, s) = root_with(&[("etc/redhat-release", "CentOS release 6.2 (Final)\n")]);
        assert_eq!(detect_platform(&s), Ok(PlatformId::El6));
        let (_d, s) = root_with(&[("etc/os-release", "ID=debian\nVERSION_ID=\"11\"\n")]);
        assert!(detect_platform(&s).unwrap_err().contains("unsupported system debian 11"));
    }
}

//! Which distribution this is: os-release (or EL6's redhat-release) and the platform it maps to.

use serde::Serialize;

use super::Sysroot;
use crate::platform::{PlatformId, PLATFORMS};

/// What the distribution says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// os-release `ID` ("rocky", "ubuntu", "centos" ...).
    pub id: String,
    /// os-release `ID_LIKE`, split on spaces.
    pub id_like: Vec<String>,
    /// os-release `VERSION_ID` ("9.3", "22.04", "6.2").
    pub version_id: String,
    /// A name for people ("Rocky Linux 9.3 (Blue Onyx)", "CentOS release 6.2 (Final)").
    pub pretty_name: String,
    /// The file it came from, as on the host.
    pub source: &'static str,
}

impl OsInfo {
    /// Major version number ("9" of "9.3").
    pub fn major(&self) -> Option<u32> {
        self.version_id.split('.').next()?.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OsError {
    #[error("cannot tell the distribution: neither /etc/os-release nor /etc/redhat-release is readable")]
    Unknown,
    #[error("{0} is not a platform cloudstrap supports ({names})", names = crate::platform::platform_names())]
    Unsupported(String),
}

/// Read the distribution from os-release, falling back to redhat-release (EL6 has no os-release).
pub fn os_info(sys: &Sysroot) -> Option<OsInfo> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Ok(Some(text)) = sys.read_opt(path) {
            return Some(parse_os_release(&text));
        }
    }
    for path in ["/etc/redhat-release", "/etc/centos-release"] {
        if let Ok(Some(text)) = sys.read_opt(path) {
            return parse_redhat_release(&text);
        }
    }
    None
}

pub fn parse_os_release(text: &str) -> OsInfo {
    let mut info = OsInfo { id: String::new(), id_like: vec![], version_id: String::new(), pretty_name: String::new(), source: "/etc/os-release" };
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else { continue };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => info.id = v.to_lowercase(),
            "ID_LIKE" => info.id_like = v.split_whitespace().map(str::to_lowercase).collect(),
            "VERSION_ID" => info.version_id = v,
            "PRETTY_NAME" => info.pretty_name = v,
            _ => {}
        }
    }
    if info.pretty_name.is_empty() {
        info.pretty_name = format!("{} {}", info.id, info.version_id);
    }
    info
}

/// "CentOS release 6.2 (Final)", "Red Hat Enterprise Linux Server release 6.2 (Santiago)".
pub fn parse_redhat_release(text: &str) -> Option<OsInfo> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let version_id = rest.split_whitespace().next()?.to_string();
    let lname = name.to_lowercase();
    let id = if lname.starts_with("centos") {
        "centos"
    } else if lname.starts_with("red hat") {
        "rhel"
    } else if lname.starts_with("rocky") {
        "rocky"
    } else if lname.starts_with("alma") {
        "almalinux"
    } else {
        "rhel"
    };
    Some(OsInfo { id: id.into(), id_like: vec!["rhel".into()], version_id, pretty_name: line.to_string(), source: "/etc/redhat-release" })
}

/// Map a distribution to a platform cloudstrap knows (the platform rows' `os_release`).
pub fn platform_of(os: &OsInfo) -> Result<PlatformId, OsError> {
    PLATFORMS
        .iter()
        .find(|p| p.os_release.matches(&os.id, &os.id_like, &os.version_id))
        .map(|p| p.id)
        .ok_or_else(|| OsError::Unsupported(os.pretty_name.clone()))
}

/// The platform of the host below `sys`.
pub fn detect_platform(sys: &Sysroot) -> Result<PlatformId, OsError> {
    platform_of(&os_info(sys).ok_or(OsError::Unknown)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(text: &str) -> OsInfo {
        parse_os_release(text)
    }

    #[test]
    fn el_family_maps_by_major_version() {
        for (id, like, ver, want) in [
            ("rocky", "rhel centos fedora", "9.3", Some(PlatformId::El9)),
            ("almalinux", "rhel centos fedora", "8.9", Some(PlatformId::El8)),
            ("rhel", "fedora", "9.4", Some(PlatformId::El9)),
            ("centos", "rhel fedora", "7", None),
            ("ol", "fedora", "8.10", Some(PlatformId::El8)),
            ("fedora", "", "40", None),
        ] {
            let o = os(&format!("ID=\"{id}\"\nID_LIKE=\"{like}\"\nVERSION_ID=\"{ver}\"\n"));
            assert_eq!(platform_of(&o).ok(), want, "{id} {ver}");
        }
    }

    #[test]
    fn el6_release_file() {
        let o = parse_redhat_release("CentOS release 6.2 (Final)\n").unwrap();
        assert_eq!((o.id.as_str(), o.version_id.as_str()), ("centos", "6.2"));
        assert_eq!(platform_of(&o), Ok(PlatformId::El6));
        let r = parse_redhat_release("Red Hat Enterprise Linux Server release 6.10 (Santiago)").unwrap();
        assert_eq!(platform_of(&r), Ok(PlatformId::El6));
    }

    #[test]
    fn debian_and_ubuntu() {
        assert_eq!(platform_of(&os("ID=debian\nVERSION_ID=\"12\"\n")), Ok(PlatformId::Debian12));
        assert!(platform_of(&os("ID=debian\nVERSION_ID=\"11\"\n")).is_err());
        assert_eq!(platform_of(&os("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n")), Ok(PlatformId::Ubuntu2404));
        assert!(platform_of(&os("ID=ubuntu\nVERSION_ID=\"20.04\"\n")).is_err());
    }
}

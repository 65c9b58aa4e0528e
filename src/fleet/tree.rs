//! The provisioning HTTP server's tree (document root `profile::FLEET_WWW`), and what the node learns of
//! each host from it: whether it asked for its boot script, fetched the installer, marked itself installed.
//!
//! ```text
//! boot.ipxe                     the entry dnsmasq hands to iPXE
//! media/{vmlinuz,initrd.img,cloudstrap.iso}   the installer medium's live system, and the medium itself
//! hosts/MAC/{boot.ipxe,profile.toml}          a host's script and profile (no secret in either)
//! secrets/MAC/FILE              a host's secrets: read and deleted by that host's address only
//! state/MAC/installed           written (PUT) by that host once installed
//! ```
//! MAC is lowercase with hyphens (`profile::mac_path`).

use std::path::{Path, PathBuf};

pub const ENTRY: &str = "boot.ipxe";
pub const MEDIA: &str = "media";
pub const KERNEL: &str = "vmlinuz";
pub const INITRD: &str = "initrd.img";
pub const ISO: &str = "cloudstrap.iso";
pub const HOST_SCRIPT: &str = "boot.ipxe";
pub use crate::profile::fleet_tree::{HOSTS, INSTALLED, PROFILE, SECRETS, STATE};
pub use crate::profile::FLEET_ACCESS_LOG as ACCESS_LOG;

/// Where a host's files are under the document root `www`.
pub struct HostPaths {
    pub dir: PathBuf,
    pub secrets: PathBuf,
    pub state: PathBuf,
    pub installed: PathBuf,
}

pub fn host_paths(www: &Path, mac_path: &str) -> HostPaths {
    let state = www.join(STATE).join(mac_path);
    HostPaths { dir: www.join(HOSTS).join(mac_path), secrets: www.join(SECRETS).join(mac_path), installed: state.join(INSTALLED), state }
}

/// The base URL hosts fetch from: the node's address on the provisioning network.
pub fn base_url(node: &str, port: u16) -> String {
    format!("http://{node}:{port}")
}

/// What the access log says of one host: requests for its boot script and for the installer ISO.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Requests {
    pub boot_script: usize,
    pub installer: usize,
    /// The address of the last request for its boot script.
    pub last_from: Option<String>,
}

/// Count a host's requests in nginx's combined log (`ADDR - - [date] "GET /path HTTP/1.1" status ...`).
/// The installer ISO is counted from the address that asked for the host's boot script last.
pub fn requests(log: &str, mac_path: &str) -> Requests {
    let script = format!("/{HOSTS}/{mac_path}/{HOST_SCRIPT}");
    let iso = format!("/{MEDIA}/{ISO}");
    let mut r = Requests::default();
    let mut froms: Vec<String> = vec![];
    for line in log.lines() {
        let Some((addr, path, status)) = parse(line) else { continue };
        if !status.starts_with('2') {
            continue;
        }
        if path == script {
            r.boot_script += 1;
            r.last_from = Some(addr.to_string());
            if !froms.iter().any(|f| f == addr) {
                froms.push(addr.to_string());
            }
        }
    }
    for line in log.lines() {
        if let Some((addr, path, status)) = parse(line) {
            if path == iso && status.starts_with('2') && froms.iter().any(|f| f == addr) {
                r.installer += 1;
            }
        }
    }
    r
}

/// (address, path, status) of a GET in nginx's combined log format.
fn parse(line: &str) -> Option<(&str, &str, &str)> {
    let addr = line.split_whitespace().next()?;
    let (_, rest) = line.split_once("\"GET ")?;
    let (path, rest) = rest.split_once(' ')?;
    let (_, rest) = rest.split_once("\" ")?;
    let status = rest.split_whitespace().next()?;
    Some((addr, path, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_a_hosts_boot_scripts_and_its_installer_downloads() {
        let log = "\
10.0.0.21 - - [05/Dec/2026:10:00:00 +0000] \"GET /boot.ipxe HTTP/1.1\" 200 120 \"-\" \"iPXE/1.0\"
10.0.0.21 - - [05/Dec/2026:10:00:01 +0000] \"GET /hosts/52-54-00-aa-bb-01/boot.ipxe HTTP/1.1\" 200 700 \"-\" \"iPXE/1.0\"
10.0.0.21 - - [05/Dec/2026:10:00:02 +0000] \"GET /state/52-54-00-aa-bb-01/installed HTTP/1.1\" 404 150 \"-\" \"iPXE/1.0\"
10.0.0.21 - - [05/Dec/2026:10:00:09 +0000] \"GET /media/cloudstrap.iso HTTP/1.1\" 200 600000000 \"-\" \"Wget\"
10.0.0.22 - - [05/Dec/2026:10:00:09 +0000] \"GET /media/cloudstrap.iso HTTP/1.1\" 200 600000000 \"-\" \"Wget\"
10.0.0.21 - - [05/Dec/2026:10:09:00 +0000] \"GET /hosts/52-54-00-aa-bb-01/boot.ipxe HTTP/1.1\" 200 700 \"-\" \"iPXE/1.0\"
10.0.0.99 - - [05/Dec/2026:10:09:00 +0000] \"GET /hosts/52-54-00-aa-bb-99/boot.ipxe HTTP/1.1\" 404 150 \"-\" \"iPXE/1.0\"
";
        assert_eq!(requests(log, "52-54-00-aa-bb-01"), Requests { boot_script: 2, installer: 1, last_from: Some("10.0.0.21".into()) });
        assert_eq!(requests(log, "52-54-00-aa-bb-99"), Requests::default(), "a 404 is no boot script");
    }
}

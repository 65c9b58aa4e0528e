//! The live installer in network mode: a machine booted from the provisioning node (`cloudstrap.fleet=URL`
//! on the kernel command line) finds its profile on the node by MAC address, brings up its own address,
//! fetches the profile's secret files once (the node serves them to that address only, and they are deleted
//! as soon as all arrived), and after the install records that it is installed, so the next network boot
//! goes to the disk.
//!
//! The node's tree: `URL/hosts/<mac>/profile.toml`, `URL/secrets/<mac>/<file name>`,
//! `URL/state/<mac>/installed`, with `<mac>` lowercase and hyphen separated.
//!
//! No secret reaches a log line or an error message: errors name URLs, statuses and profile keys only.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::profile::fleet_tree::{HOSTS, INSTALLED, PROFILE, SECRETS, STATE};
use crate::profile::{mac_path, Profile};

/// The kernel command line's key naming the node.
pub const CMDLINE_KEY: &str = "cloudstrap.fleet=";
/// The profile's file name in the profile directory.
pub const PROFILE_FILE: &str = PROFILE;

#[derive(Debug, thiserror::Error)]
pub enum NetbootError {
    /// The kernel command line names no usable node.
    #[error("cloudstrap.fleet={0} is not usable: expected http://NODE_IP:PORT (the node by its IP address)")]
    BadUrl(String),
    /// The node answered with a status that is neither the answer nor "not this machine".
    #[error("{method} {url}: {status}{hint}")]
    Status { method: &'static str, url: String, status: reqwest::StatusCode, hint: &'static str },
    /// No answer from the node.
    #[error("{method} {url}: no answer ({why})")]
    Unreachable { method: &'static str, url: String, why: String },
    /// The profile names a secret file the installer will not write.
    #[error("{0}")]
    SecretPath(String),
    /// The profile from the node cannot be used.
    #[error("{0}")]
    Profile(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A step on this machine failed (`ip`, the HTTP client).
    #[error("{0}")]
    Local(String),
}

/// The node's URL from a kernel command line (the last `cloudstrap.fleet=` wins, as the kernel's own keys).
/// `Ok(None)`: not a network boot.
pub fn fleet_url(cmdline: &str) -> Result<Option<Url>, NetbootError> {
    let Some(v) = cmdline.split_whitespace().filter_map(|w| w.strip_prefix(CMDLINE_KEY)).next_back() else {
        return Ok(None);
    };
    let bad = || NetbootError::BadUrl(v.to_string());
    let url = Url::parse(v).map_err(|_| bad())?;
    // The route to the node goes through the host's own address, so the node must be an address, not a name.
    let ip_host = matches!(url.host(), Some(url::Host::Ipv4(_)) | Some(url::Host::Ipv6(_)));
    if !matches!(url.scheme(), "http" | "https") || !ip_host {
        return Err(bad());
    }
    Ok(Some(url))
}


/// The profile found on the node for this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The live system's interface whose MAC address matched.
    pub interface: String,
    /// That MAC address, in path form.
    pub mac: String,
    pub text: String,
}

/// The provisioning node's HTTP tree.
pub struct Fleet {
    base: String,
    node: Option<IpAddr>,
    http: reqwest::blocking::Client,
    attempts: u32,
    pause: Duration,
}

impl Fleet {
    pub fn new(url: &Url) -> Result<Fleet, NetbootError> {
        let node = match url.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            _ => None,
        };
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| NetbootError::Local(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Fleet { base: url.as_str().trim_end_matches('/').to_string(), node, http, attempts: 5, pause: Duration::from_secs(3) })
    }

    /// How often a request the node did not answer is tried (the live system's network may still be
    /// settling when the installer starts); a status is never retried.
    pub fn attempts(mut self, n: u32, pause: Duration) -> Fleet {
        self.attempts = n.max(1);
        self.pause = pause;
        self
    }

    /// The node's address (the URL's host).
    pub fn node_ip(&self) -> Option<IpAddr> {
        self.node
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path)
    }

    /// This machine's profile: for each interface (name, MAC), GET `hosts/<mac>/profile.toml`; 200 is ours,
    /// 404 is not this interface. `Ok(None)`: the node knows none of them (not in the fleet).
    pub fn find_profile(&self, interfaces: &[(String, String)]) -> Result<Option<Found>, NetbootError> {
        for (name, mac) in interfaces {
            let mac = mac_path(mac);
            let url = self.url(&format!("{HOSTS}/{mac}/{PROFILE}"));
            let resp = self.send("GET", &url, None)?;
            match resp.status() {
                s if s.is_success() => {
                    let bytes = body(resp, crate::profile::regular_file::PROFILE_MAX, "GET", &url)?;
                    let text = String::from_utf8(bytes).map_err(|_| NetbootError::Profile(format!("{url}: the profile is not UTF-8 text")))?;
                    return Ok(Some(Found { interface: name.clone(), mac, text }));
                }
                reqwest::StatusCode::NOT_FOUND => continue,
                status => return Err(NetbootError::Status { method: "GET", url, status, hint: "" }),
            }
        }
        Ok(None)
    }

    /// Fetch every secret file `profile` names from `secrets/<mac>/<file name>` into `dir` (0600, written
    /// atomically), then, once all arrived, DELETE each on the node: they are served once. Paths are checked
    /// before any request. Returns the files written.
    pub fn fetch_secrets(&self, mac: &str, profile: &Profile, dir: &Path) -> Result<Vec<PathBuf>, NetbootError> {
        let files = secret_files(profile)?;
        let mac = mac_path(mac);
        let mut urls = Vec::new();
        let mut written = Vec::new();
        for rel in &files {
            let name = rel.file_name().expect("checked by secret_files").to_string_lossy();
            let url = self.url(&format!("{SECRETS}/{mac}/{name}"));
            let resp = self.send("GET", &url, None)?;
            let status = resp.status();
            if !status.is_success() {
                let hint = match status {
                    reqwest::StatusCode::NOT_FOUND => " (secrets are served once: put the file back on the node to install again)",
                    reqwest::StatusCode::FORBIDDEN => " (the node serves secrets to the host's own address only)",
                    _ => "",
                };
                return Err(NetbootError::Status { method: "GET", url, status, hint });
            }
            let bytes = body(resp, crate::profile::regular_file::SECRET_MAX, "GET", &url)?;
            let path = dir.join(rel);
            crate::atomic_file::replace(&path, &bytes, 0o600).map_err(|source| NetbootError::Io { path: path.clone(), source })?;
            written.push(path);
            urls.push(url);
        }
        for url in urls {
            let resp = self.send("DELETE", &url, None)?;
            let status = resp.status();
            // Gone already is what a DELETE wants.
            if !status.is_success() && status != reqwest::StatusCode::NOT_FOUND {
                return Err(NetbootError::Status { method: "DELETE", url, status, hint: " (the secret is still on the node)" });
            }
        }
        Ok(written)
    }

    /// Record on the node that the machine is installed (`state/<mac>/installed`, body: host name and
    /// time): its next network boot goes to the disk.
    pub fn mark_installed(&self, mac: &str, hostname: &str) -> Result<(), NetbootError> {
        let url = self.url(&format!("{STATE}/{}/{INSTALLED}", mac_path(mac)));
        let body = format!("{hostname} {}\n", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let resp = self.send("PUT", &url, Some(body))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            status => Err(NetbootError::Status { method: "PUT", url, status, hint: "" }),
        }
    }

    fn send(&self, method: &'static str, url: &str, body: Option<String>) -> Result<reqwest::blocking::Response, NetbootError> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut last = String::new();
        for i in 0..self.attempts {
            if i > 0 {
                std::thread::sleep(self.pause);
            }
            let mut req = self.http.request(m.clone(), url);
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            match req.send() {
                Ok(r) => return Ok(r),
                Err(e) => last = why(&e),
            }
        }
        Err(NetbootError::Unreachable { method, url: url.to_string(), why: last })
    }
}

/// Why a request got no answer, from the innermost cause (an OS error, a timeout): never a body or header.
fn why(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut inner = std::error::Error::source(e);
    while let Some(s) = inner.and_then(|i| i.source()) {
        inner = Some(s);
    }
    let cause = inner.map(|i| i.to_string()).unwrap_or_else(|| "request failed".into());
    if e.is_connect() {
        format!("cannot connect: {cause}")
    } else {
        cause
    }
}

fn body(resp: reqwest::blocking::Response, max: u64, method: &'static str, url: &str) -> Result<Vec<u8>, NetbootError> {
    let mut bytes = Vec::new();
    resp.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| NetbootError::Unreachable { method, url: url.to_string(), why: format!("the answer broke off: {}", e.kind()) })?;
    if bytes.len() as u64 > max {
        return Err(NetbootError::Profile(format!("{method} {url}: the answer is larger than {max} bytes")));
    }
    Ok(bytes)
}

/// The secret files `profile` names (each once), relative to its directory. An absolute path, one with
/// `..`, or two different paths with the same file name (the node serves them by file name) are refused,
/// naming the profile key, never the value (it might be a password typed in the wrong place).
pub fn secret_files(profile: &Profile) -> Result<Vec<PathBuf>, NetbootError> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut out = Vec::new();
    for r in crate::profile::secret_refs(profile) {
        let Some(f) = r.file else { continue };
        let key = format!("{}-file", r.path);
        let plain = !f.as_os_str().is_empty() && f.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let Some(name) = f.file_name().filter(|_| plain).map(|n| n.to_string_lossy().into_owned()) else {
            return Err(NetbootError::SecretPath(profile.locate(
                &key,
                "a network install fetches secret files into the profile's directory: expected a path relative to the profile, without `..`",
            )));
        };
        let f = f.components().filter(|c| !matches!(c, Component::CurDir)).collect::<PathBuf>();
        match by_name.get(&name) {
            Some(seen) if *seen == f => {}
            Some(_) => {
                return Err(NetbootError::SecretPath(profile.locate(&key, "another secret file of the profile has the same file name (the node serves them by file name)")));
            }
            None => {
                by_name.insert(name, f.clone());
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// Save the profile text as `dir/profile.toml` (0600; `dir` made 0700, it will hold the secrets).
pub fn save_profile(dir: &Path, text: &str) -> Result<PathBuf, NetbootError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NetbootError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    let path = dir.join(PROFILE_FILE);
    crate::atomic_file::replace(&path, text.as_bytes(), 0o600).map_err(io(&path))?;
    Ok(path)
}

/// The `ip` commands that put the profile's address (`ADDR/PREFIX`) on `interface` and route the node
/// through it, so the node sees the host's own address (it serves the secrets to that address only).
pub fn address_commands(interface: &str, address: &str, node: IpAddr) -> Result<Vec<Vec<String>>, NetbootError> {
    let net: ipnet::IpNet = address
        .parse()
        .map_err(|_| NetbootError::Profile(format!("host.address {address:?} is not an address with its prefix length (e.g. 10.77.0.21/24)")))?;
    let host = if node.is_ipv6() { 128 } else { 32 };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    Ok(vec![
        s(&["addr", "replace", &net.to_string(), "dev", interface]),
        s(&["route", "replace", &format!("{node}/{host}"), "dev", interface, "src", &net.addr().to_string()]),
    ])
}

/// Run `address_commands` with `ip`.
pub fn bring_up(interface: &str, address: &str, node: IpAddr) -> Result<(), NetbootError> {
    for args in address_commands(interface, address, node)? {
        crate::run::Cmd::new("ip")
            .args(args)
            .timeout(Duration::from_secs(30))
            .run_ok(&crate::run::Redactor::default())
            .map_err(|e| NetbootError::Local(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_the_node_by_address() {
        assert_eq!(fleet_url("boot=live quiet").unwrap(), None);
        let u = fleet_url("boot=live cloudstrap.fleet=http://10.77.0.1:8090 console=ttyS0").unwrap().unwrap();
        assert_eq!(u.as_str(), "http://10.77.0.1:8090/");
        let last = fleet_url("cloudstrap.fleet=http://10.0.0.1 cloudstrap.fleet=http://[fd00::1]:8090/").unwrap().unwrap();
        assert_eq!(last.host_str(), Some("[fd00::1]"));
        for bad in ["cloudstrap.fleet=http://node.example.org:8090", "cloudstrap.fleet=ftp://10.0.0.1/", "cloudstrap.fleet=", "cloudstrap.fleet=10.0.0.1"] {
            let e = fleet_url(bad).unwrap_err().to_string();
            assert!(e.starts_with("cloudstrap.fleet=") && e.contains("NODE_IP"), "{bad}: {e}");
        }
    }

    #[test]
    fn macs_in_paths_are_lowercase_with_hyphens() {
    }

    #[test]
    fn urls_are_under_the_node_url() {
        let f = Fleet::new(&Url::parse("http://10.77.0.1:8090/").unwrap()).unwrap();
        assert_eq!(f.url("hosts/x/profile.toml"), "http://10.77.0.1:8090/hosts/x/profile.toml");
        assert_eq!(f.node_ip(), Some("10.77.0.1".parse().unwrap()));
        let g = Fleet::new(&Url::parse("http://10.77.0.1:8090/fleet/").unwrap()).unwrap();
        assert_eq!(g.url("state/x/installed"), "http://10.77.0.1:8090/fleet/state/x/installed");
    }

    #[test]
    fn the_address_goes_on_the_matching_interface_and_the_node_is_routed_from_it() {
        let v = address_commands("ens3", "10.77.0.21/24", "10.77.0.1".parse().unwrap()).unwrap();
        assert_eq!(v[0].join(" "), "addr replace 10.77.0.21/24 dev ens3");
        assert_eq!(v[1].join(" "), "route replace 10.77.0.1/32 dev ens3 src 10.77.0.21");
        let e = address_commands("ens3", "10.77.0.21", "10.77.0.1".parse().unwrap()).unwrap_err().to_string();
        assert!(e.contains("prefix length"), "{e}");
    }

    fn profile(extra: &str) -> Profile {
        let text = format!(
            "[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"nfs\"]\nhostname = \"kvm1\"\nfqdn = \"kvm1.example.org\"\naddress = \"10.77.0.21/24\"\ngateway = \"10.77.0.1\"\n\n[nfs]\nserver = \"10.77.0.21\"\nclients = \"10.77.0.0/24\"\n\n[disk]\ndevice = \"largest\"\n{extra}"
        );
        crate::profile::load_str(&text, Path::new("profile.toml")).unwrap()
    }

    #[test]
    fn secret_files_are_relative_to_the_profile() {
        assert_eq!(secret_files(&profile("root-password-file = \"secrets/root-password\"\n")).unwrap(), vec![PathBuf::from("secrets/root-password")]);
        assert_eq!(secret_files(&profile("root-password-file = \"./root-password\"\n")).unwrap(), vec![PathBuf::from("root-password")]);
        assert!(secret_files(&profile("")).unwrap().is_empty());
        for bad in ["/etc/shadow", "../root-password", "secrets/../../x", "Hunter2/.."] {
            let e = secret_files(&profile(&format!("root-password-file = \"{bad}\"\n"))).unwrap_err().to_string();
            assert!(e.contains("disk.root-password-file") && e.contains("relative"), "{bad}: {e}");
            assert!(!e.contains(bad), "the value is not printed: {e}");
        }
    }
}

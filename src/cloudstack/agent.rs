//! Agent hand-off: a KVM host whose profile names the management endpoint and credentials adds
//! itself (`addHost` for its own address) to the profile's zone, pod and cluster once its agent is
//! installed, then waits until the management server reports it Up.

use std::path::Path;
use std::time::Duration;

use super::client::{Auth, Client, Options};
use super::credentials::{from_profile, secret_value};
use super::error::ApiError;
use super::types::{Cluster, Host, Pod, Zone};
use super::zone::{agent_log, find_host, wait_host_up};
use crate::profile::Profile;

#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub host_wait: Duration,
    pub poll_interval: Duration,
    pub client: Options,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions { host_wait: Duration::from_secs(600), poll_interval: Duration::from_secs(5), client: Options::default() }
    }
}

/// This host's address without its prefix length.
pub fn own_address(profile: &Profile) -> String {
    profile.host.address.split('/').next().unwrap_or(&profile.host.address).to_string()
}

/// What the engine calls after installing the agent: credentials from the profile (or the stored keys
/// under `root`), then [`register`].
pub fn register_from_profile(profile: &Profile, profile_path: &Path, root: &Path, opts: &RegisterOptions, report: &mut dyn FnMut(&str)) -> Result<Host, ApiError> {
    let creds = from_profile(profile, profile_path, root)?;
    let client = Client::new(&creds.endpoint, Auth::Keys { api_key: creds.api_key, secret: creds.secret }, opts.client.clone())?;
    let dir = profile_path.parent().unwrap_or(Path::new("."));
    register(&client, profile, dir, opts, report)
}

/// Add this host to the profile's zone/pod/cluster unless the server has it already; wait for Up.
pub fn register(client: &Client, profile: &Profile, profile_dir: &Path, opts: &RegisterOptions, report: &mut dyn FnMut(&str)) -> Result<Host, ApiError> {
    let z = profile.zone.as_ref().ok_or_else(|| ApiError::Input("agent registration needs the profile's [zone] (zone, pod and cluster names)".into()))?;
    let address = own_address(profile);
    let from_zone = z.hosts.iter().enumerate().find(|(_, h)| h.address == address);
    let password = secret_value(profile, profile_dir, "agent.root-password")?;
    let password = match (password, from_zone) {
        (Some(p), _) => p,
        (None, Some((i, _))) => secret_value(profile, profile_dir, &format!("zone.hosts[{i}].password"))?
            .ok_or_else(|| ApiError::Input(format!("zone.hosts[{i}].password: no password for {address}")))?,
        (None, None) => return Err(ApiError::Input("agent.root-password: the management server needs this host's root password to add it (set root-password-file or root-password-env)".into())),
    };
    let username = from_zone.map(|(_, h)| h.username.clone()).unwrap_or_else(|| "root".into());

    let not_there = |what: &str| ApiError::Input(format!("{what} is not on the management server yet: run `cloudstrap zone deploy` on the management host first"));
    let zone = client.list::<Zone>("listZones", &[("name", &z.name)])?.into_iter().find(|x| x.name == z.name).ok_or_else(|| not_there(&format!("zone {}", z.name)))?;
    let pod = client.list::<Pod>("listPods", &[("zoneid", &zone.id), ("name", &z.pod.name)])?.into_iter().find(|x| x.name == z.pod.name).ok_or_else(|| not_there(&format!("pod {}", z.pod.name)))?;
    let cluster = client
        .list::<Cluster>("listClusters", &[("zoneid", &zone.id), ("podid", &pod.id), ("name", &z.cluster.name)])?
        .into_iter()
        .find(|x| x.name == z.cluster.name)
        .ok_or_else(|| not_there(&format!("cluster {}", z.cluster.name)))?;

    let host = match find_host(client, &zone.id, &address)? {
        Some(h) => {
            report(&format!("host {address} is already registered in zone {}", z.name));
            h
        }
        None => {
            let url = format!("http://{address}");
            let v = client.call(
                "addHost",
                &[("zoneid", &zone.id), ("podid", &pod.id), ("clusterid", &cluster.id), ("hypervisor", "KVM"), ("url", &url), ("username", &username), ("password", &password)],
            )?;
            let h: Host = super::client::list_items::<Host>("addHost", &v)?
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::Protocol { command: "addHost".into(), status: 200, detail: "the answer lists no host".into() })?;
            report(&format!("added host {address} to zone {}, pod {}, cluster {}", z.name, z.pod.name, z.cluster.name));
            h
        }
    };
    let up = wait_host_up(client, &host.id, &address, agent_log(&profile.cloudstack.release), opts.host_wait, opts.poll_interval)?;
    report(&format!("the management server sees host {address} Up"));
    Ok(up)
}

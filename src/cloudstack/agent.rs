//! Agent hand-off: a KVM host whose profile names the management endpoint and credentials adds
//! itself (`addHost` for its own address) to its zone, pod and cluster once its agent is installed,
//! waits until the management server reports it Up, and adds the cluster's primary storage when the
//! zone was deployed before any host could mount it.

use std::path::Path;
use std::time::Duration;

use super::client::{Auth, Client, Options};
use super::credentials::{from_profile, profile_endpoint, secret_value, stored};
use super::error::ApiError;
use super::types::{Cluster, Host, Pod, Zone};
use super::zone::{add_host, add_primary_storage, agent_log, find_host, wait_host_up, DeployOptions, Placed};
use crate::profile::Profile;

#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub host_wait: Duration,
    /// The longest gap between two polls.
    pub poll_interval: Duration,
    /// After addHost went unanswered, how long to look for the host before giving up (never adding it twice).
    pub lost_answer_wait: Duration,
    pub client: Options,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        let d = DeployOptions::default();
        RegisterOptions { host_wait: d.host_wait, poll_interval: d.poll_interval, lost_answer_wait: d.lost_answer_wait, client: Options::default() }
    }
}

impl RegisterOptions {
    /// Defaults with the profile's API timeouts.
    pub fn for_profile(profile: &Profile) -> RegisterOptions {
        RegisterOptions { client: Options::for_profile(profile), ..RegisterOptions::default() }
    }
}

/// This host's address without its prefix length.
pub fn own_address(profile: &Profile) -> String {
    profile.host.ip().to_string()
}

/// The client a KVM host registers with: API keys from the profile, else the keys stored on this host (an
/// all-in-one's hand-off), else a login as admin with the profile's management.admin-password.
pub fn client(profile: &Profile, profile_path: &Path, root: &Path, options: Options) -> Result<Client, ApiError> {
    let base = profile_path.parent().unwrap_or(Path::new("."));
    let has_keys = profile.management.as_ref().is_some_and(|m| m.api_key.is_some() || m.secret_key.is_some() || m.secret_key_file.is_some() || m.secret_key_env.is_some());
    if has_keys || stored(root)?.is_some() {
        let c = from_profile(profile, profile_path, root)?;
        return Client::new(&c.endpoint, Auth::Keys { api_key: c.api_key, secret: c.secret }, options);
    }
    match secret_value(profile, base, "management.admin-password")? {
        Some(pw) => Client::login(&profile_endpoint(profile), "admin", &pw, "/", options).map(|(c, _)| c),
        None => Err(ApiError::Input(format!(
            "{}: agent.register needs API credentials: set management.api-key and secret-key-file (or -env), or management.admin-password-file (or -env)",
            profile_path.display()
        ))),
    }
}

/// What the engine calls after installing the agent: [`client`], then [`register`].
pub fn register_from_profile(profile: &Profile, profile_path: &Path, root: &Path, opts: &RegisterOptions, report: &mut dyn FnMut(&str)) -> Result<Host, ApiError> {
    let client = client(profile, profile_path, root, opts.client.clone())?;
    let dir = profile_path.parent().unwrap_or(Path::new("."));
    register(&client, profile, dir, opts, report)
}

/// Where this host goes: agent.zone/pod/cluster, else the profile's [zone], else the only one the server has.
pub struct Placement {
    pub zone: Zone,
    pub pod: Pod,
    pub cluster: Cluster,
}

/// `wanted` is the profile key that names it and the name.
fn pick<T>(kind: &str, wanted: &Option<(&'static str, String)>, found: Vec<T>, name: impl Fn(&T) -> &str) -> Result<T, ApiError> {
    let names = || found.iter().map(|x| name(x).to_string()).collect::<Vec<_>>().join(", ");
    match wanted {
        Some((key, w)) => {
            let w = w.as_str();
            let listed = names();
            found.into_iter().find(|x| name(x) == w).ok_or_else(|| {
                ApiError::Input(format!(
                    "{key}: the management server has no {kind} named {w:?} ({}); deploy the zone from the management host first",
                    if listed.is_empty() { "it has none".to_string() } else { format!("it has {listed}") }
                ))
            })
        }
        None if found.len() == 1 => Ok(found.into_iter().next().expect("one")),
        None if found.is_empty() => Err(ApiError::Input(format!("the management server has no {kind} yet: deploy the zone from the management host first"))),
        None => Err(ApiError::Input(format!("agent.{kind}: the management server has several ({}); name the one this host joins", names()))),
    }
}

pub fn placement(client: &Client, profile: &Profile) -> Result<Placement, ApiError> {
    let a = profile.agent.as_ref();
    let z = profile.zone.as_ref();
    let named = |own: Option<&str>, own_key: &'static str, zone_key: &'static str, of_zone: Option<&str>| -> Option<(&'static str, String)> {
        own.map(|n| (own_key, n.to_string())).or(of_zone.map(|n| (zone_key, n.to_string())))
    };
    let zone_name = named(a.and_then(|a| a.zone.as_deref()), "agent.zone", "zone.name", z.map(|z| z.name.as_str()));
    let pod_name = named(a.and_then(|a| a.pod.as_deref()), "agent.pod", "zone.pod.name", z.map(|z| z.pod.name.as_str()));
    let cluster_name = named(a.and_then(|a| a.cluster.as_deref()), "agent.cluster", "zone.cluster.name", z.map(|z| z.cluster.name.as_str()));
    let zone = pick("zone", &zone_name, client.list::<Zone>("listZones", &[])?, |x| &x.name)?;
    let pod = pick("pod", &pod_name, client.list::<Pod>("listPods", &[("zoneid", &zone.id)])?, |x| &x.name)?;
    let cluster = pick("cluster", &cluster_name, client.list::<Cluster>("listClusters", &[("zoneid", &zone.id), ("podid", &pod.id)])?, |x| &x.name)?;
    Ok(Placement { zone, pod, cluster })
}

/// Add this host to its zone/pod/cluster unless the server has it already, wait for Up, then give the
/// cluster its primary storage if the management host's zone deployment had to leave it for the first host.
pub fn register(client: &Client, profile: &Profile, profile_dir: &Path, opts: &RegisterOptions, report: &mut dyn FnMut(&str)) -> Result<Host, ApiError> {
    let address = own_address(profile);
    let from_zone = profile.zone.as_ref().and_then(|z| z.hosts.iter().enumerate().find(|(_, h)| h.address == address));
    let password = match (secret_value(profile, profile_dir, "agent.root-password")?, from_zone) {
        (Some(p), _) => p,
        (None, Some((i, _))) => secret_value(profile, profile_dir, &format!("zone.hosts[{i}].password"))?
            .ok_or_else(|| ApiError::Input(format!("zone.hosts[{i}].password: no password for {address}")))?,
        (None, None) => return Err(ApiError::Input("agent.root-password: the management server needs this host's root password to add it (set root-password-file or root-password-env)".into())),
    };
    let username = from_zone.map(|(_, h)| h.username.clone()).unwrap_or_else(|| "root".into());
    let Placement { zone, pod, cluster } = placement(client, profile)?;

    let host = match find_host(client, &zone.id, &address)? {
        Some(h) => {
            report(&format!("host {address} is already registered in zone {}", zone.name));
            h
        }
        None => {
            let at = Placed { zone: &zone.id, pod: &pod.id, cluster: &cluster.id };
            let h = add_host(client, &at, &address, &username, &password, opts.lost_answer_wait, opts.poll_interval)?;
            report(&format!("added host {address} to zone {}, pod {}, cluster {}", zone.name, pod.name, cluster.name));
            h
        }
    };
    let up = wait_host_up(client, &host.id, &address, agent_log(&profile.cloudstack.release), opts.host_wait, opts.poll_interval)?;
    report(&format!("the management server sees host {address} Up"));
    let deploy = DeployOptions { host_wait: opts.host_wait, poll_interval: opts.poll_interval, lost_answer_wait: opts.lost_answer_wait, ..DeployOptions::default() };
    add_primary_storage(client, profile, (&zone, &pod, &cluster), &deploy, &mut |s| report(&s.to_string()))?;
    Ok(up)
}

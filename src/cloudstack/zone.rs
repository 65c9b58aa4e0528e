//! `zone deploy`: the profile's zone through the API, in the order the UI wizard and Marvin's
//! deployDataCenter use. Every object is looked up by name (or address) before it is created, so a
//! run that failed half-way continues where it stopped instead of failing on "already exists".

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::client::{span, Backoff, Client};
use super::credentials::secret_value;
use super::error::ApiError;
use super::types::*;
use crate::profile::{IpRange, Profile, Storage, Zone as ZoneSpec, ZoneType};

/// Name of the physical network cloudstrap creates (the UI wizard's default).
pub const PHYSICAL_NETWORK: &str = "Physical Network 1";
/// The network offering of a basic zone's shared guest network.
pub const BASIC_OFFERING: &str = "DefaultSharedNetworkOfferingWithSGService";

#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// How long to wait for each added host to be Up.
    pub host_wait: Duration,
    /// Wait this long for the system VMs to be Running (None: don't wait).
    pub system_vm_wait: Option<Duration>,
    /// The longest gap between two polls of hosts and system VMs (they start sooner and back off).
    pub poll_interval: Duration,
    /// After a create call went unanswered (timeout, dropped connection), keep looking for its object this
    /// long: the server may still be working on it, and the call is never sent twice meanwhile.
    pub lost_answer_wait: Duration,
    /// Directory `*-file` secrets in the profile are relative to.
    pub profile_dir: PathBuf,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            host_wait: Duration::from_secs(600),
            system_vm_wait: None,
            poll_interval: Duration::from_secs(3),
            lost_answer_wait: Duration::from_secs(600),
            profile_dir: PathBuf::from("."),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was there already.
    Exists,
    Created,
    /// Its state was changed (enabled, configured).
    Updated,
    /// A wait ended well (host Up, system VM Running).
    Ready,
    /// Left for later: cluster-wide primary storage needs a host that is Up in the cluster.
    Deferred,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub what: String,
    pub outcome: Outcome,
    pub id: String,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = match self.outcome {
            Outcome::Exists => "exists",
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Ready => "ready",
            Outcome::Deferred => "deferred",
        };
        write!(f, "{}: {o}", self.what)?;
        if !self.id.is_empty() {
            write!(f, " ({})", self.id)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Deployed {
    pub zone_id: String,
    pub steps: Vec<Step>,
}

/// A host to add, with its resolved password.
struct HostToAdd {
    address: String,
    username: String,
    password: String,
}

struct Deployer<'a> {
    c: &'a Client,
    report: &'a mut dyn FnMut(&Step),
    steps: Vec<Step>,
    poll_interval: Duration,
    lost_answer_wait: Duration,
}

impl Deployer<'_> {
    fn step(&mut self, what: impl Into<String>, outcome: Outcome, id: &str) {
        let s = Step { what: what.into(), outcome, id: id.into() };
        (self.report)(&s);
        self.steps.push(s);
    }

    /// Look up, else create; report which.
    fn ensure<T, F, C>(&mut self, what: &str, find: F, create: C) -> Result<T, ApiError>
    where
        F: Fn(&Client) -> Result<Option<T>, ApiError>,
        C: FnOnce(&Client) -> Result<T, ApiError>,
        T: HasId,
    {
        if let Some(t) = find(self.c)? {
            self.step(what, Outcome::Exists, t.id());
            return Ok(t);
        }
        match create(self.c) {
            Ok(t) => {
                self.step(what, Outcome::Created, t.id());
                Ok(t)
            }
            // The answer was lost: the server may still be creating it. Look, never send the call again.
            Err(e) if e.answer_lost() => {
                let t = await_lost(self.c, what, &e, self.lost_answer_wait, self.poll_interval, &find)?;
                self.step(what, Outcome::Exists, t.id());
                Ok(t)
            }
            // Created by a request whose answer was lost (or by someone else meanwhile): take it.
            Err(e) => match find(self.c)? {
                Some(t) if e.is_already_exists() || matches!(e, ApiError::JobFailed { .. }) => {
                    self.step(what, Outcome::Exists, t.id());
                    Ok(t)
                }
                _ => Err(e),
            },
        }
    }
}

/// After `lost` (a create call without an answer), poll `find` until the object shows up, at most `wait`.
/// Lookups that fail to reach the server count as "not yet".
pub fn await_lost<T>(c: &Client, what: &str, lost: &ApiError, wait: Duration, interval: Duration, find: &dyn Fn(&Client) -> Result<Option<T>, ApiError>) -> Result<T, ApiError> {
    c.notice(&format!("{what}: {lost}; the server may still be working on it: looking for it for up to {} instead of asking again", span(wait)));
    let start = Instant::now();
    let mut backoff = Backoff::new(c.options.poll_first, interval);
    loop {
        match find(c) {
            Ok(Some(t)) => return Ok(t),
            Ok(None) | Err(ApiError::Transport { .. }) => {}
            Err(e) => return Err(e),
        }
        if start.elapsed() >= wait {
            return Err(ApiError::Timeout {
                what: format!("{what} showing up after the call went unanswered ({lost}); the management server may still be working on it: read its log, then run the same command again (it looks the object up first)"),
                waited: start.elapsed(),
                tail: None,
            });
        }
        std::thread::sleep(backoff.gap());
    }
}

trait HasId {
    fn id(&self) -> &str;
}
macro_rules! has_id {
    ($($t:ty),*) => { $(impl HasId for $t { fn id(&self) -> &str { &self.id } })* };
}
has_id!(Zone, PhysicalNetwork, TrafficType, Network, Pod, VlanIpRange, Cluster, Host, StoragePool, ImageStore);

fn first<T>(v: Vec<T>, pred: impl Fn(&T) -> bool) -> Option<T> {
    v.into_iter().find(pred)
}

/// Resolve what the zone needs before the first call, so bad input changes nothing.
fn hosts_to_add(profile: &Profile, zone: &ZoneSpec, opts: &DeployOptions) -> Result<Vec<HostToAdd>, ApiError> {
    let agent_pw = secret_value(profile, &opts.profile_dir, "agent.root-password")?;
    zone.hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let key = format!("zone.hosts[{i}].password");
            let pw = secret_value(profile, &opts.profile_dir, &key)?
                .or_else(|| agent_pw.clone())
                .ok_or_else(|| ApiError::Input(format!("{key}: host {} has no password (set password-file or password-env, or agent.root-password-file)", h.address)))?;
            Ok(HostToAdd { address: h.address.clone(), username: h.username.clone(), password: pw })
        })
        .collect()
}

fn storage_or_nfs(given: Option<&Storage>, profile: &Profile, zone: &ZoneSpec, kind: &str) -> Result<Storage, ApiError> {
    if let Some(s) = given {
        return Ok(s.clone());
    }
    nfs_storage(profile, &zone.name, kind).ok_or_else(|| ApiError::Input(format!("zone.{kind}: no storage given and the profile has no [nfs] section to take it from")))
}

/// The profile's [nfs] export of `kind` as storage named after the zone.
fn nfs_storage(profile: &Profile, zone_name: &str, kind: &str) -> Option<Storage> {
    let nfs = profile.nfs.as_ref()?;
    let path = if kind == "primary" { &nfs.primary } else { &nfs.secondary };
    Some(Storage { name: format!("{zone_name}-{kind}"), url: format!("nfs://{}{}", nfs.server, path) })
}

/// A pool of the zone that serves `cluster` (cluster-wide there, or zone-wide).
pub fn serves(pool: &StoragePool, cluster: &Cluster) -> bool {
    pool.clusterid.is_empty() || pool.clusterid == cluster.id
}

/// Deploy (or complete) the profile's zone. `report` is told every step as it happens.
pub fn deploy(client: &Client, profile: &Profile, opts: &DeployOptions, report: &mut dyn FnMut(&Step)) -> Result<Deployed, ApiError> {
    let z = profile.zone.as_ref().ok_or_else(|| ApiError::Input("the profile has no [zone] section".into()))?;
    let hosts = hosts_to_add(profile, z, opts)?;
    let primaries: Vec<Storage> = if z.primary.is_empty() { vec![storage_or_nfs(None, profile, z, "primary")?] } else { z.primary.clone() };
    let secondary = storage_or_nfs(z.secondary.as_ref(), profile, z, "secondary")?;
    let basic = z.zone_type == ZoneType::Basic;
    let nettype = if basic { "Basic" } else { "Advanced" };
    let (mgmt_label, guest_label, public_label) = match &profile.agent {
        Some(a) => (a.private_bridge.clone(), a.guest_bridge.clone(), a.public_bridge.clone().unwrap_or_else(|| a.guest_bridge.clone())),
        None => ("cloudbr0".to_string(), "cloudbr1".to_string(), "cloudbr1".to_string()),
    };

    let mut d = Deployer { c: client, report, steps: vec![], poll_interval: opts.poll_interval, lost_answer_wait: opts.lost_answer_wait };

    // Zone.
    let zone = d.ensure(
        &format!("zone {}", z.name),
        |c| Ok(first(c.list::<Zone>("listZones", &[("name", &z.name)])?, |x| x.name == z.name)),
        |c| {
            let mut p: Vec<(&str, &str)> = vec![("name", &z.name), ("networktype", nettype)];
            let dns = |v: &Vec<String>, i: usize| v.get(i).cloned();
            let (d1, d2, i1, i2) = (dns(&z.dns, 0), dns(&z.dns, 1), dns(&z.internal_dns, 0), dns(&z.internal_dns, 1));
            p.push(("dns1", d1.as_deref().unwrap_or_default()));
            if let Some(v) = d2.as_deref() {
                p.push(("dns2", v));
            }
            p.push(("internaldns1", i1.as_deref().unwrap_or_default()));
            if let Some(v) = i2.as_deref() {
                p.push(("internaldns2", v));
            }
            if basic {
                p.push(("securitygroupenabled", "true"));
            } else if let Some(g) = &z.guest_cidr {
                p.push(("guestcidraddress", g));
            }
            c.call_object("createZone", &p)
        },
    )?;
    if !zone.networktype.is_empty() && !zone.networktype.eq_ignore_ascii_case(nettype) {
        return Err(ApiError::Input(format!("zone {} exists with network type {} but the profile asks for {nettype}; rename one of them", z.name, zone.networktype)));
    }

    // Physical network and its traffic types.
    let pn = d.ensure(
        &format!("physical network {PHYSICAL_NETWORK}"),
        |c| Ok(first(c.list::<PhysicalNetwork>("listPhysicalNetworks", &[("zoneid", &zone.id)])?, |x| x.name == PHYSICAL_NETWORK)),
        |c| c.call_object("createPhysicalNetwork", &[("zoneid", &zone.id), ("name", PHYSICAL_NETWORK), ("isolationmethods", "VLAN")]),
    )?;
    let mut traffic = vec![("Management", mgmt_label.as_str()), ("Guest", guest_label.as_str())];
    if !basic {
        traffic.push(("Public", public_label.as_str()));
    }
    for (t, label) in traffic {
        d.ensure(
            &format!("traffic type {t} ({label})"),
            |c| Ok(first(c.list::<TrafficType>("listTrafficTypes", &[("physicalnetworkid", &pn.id)])?, |x| x.traffictype == t)),
            |c| c.call_object("addTrafficType", &[("physicalnetworkid", &pn.id), ("traffictype", t), ("kvmnetworklabel", label)]),
        )?;
    }
    let pn_now = first(client.list::<PhysicalNetwork>("listPhysicalNetworks", &[("zoneid", &zone.id)])?, |x| x.id == pn.id).unwrap_or(pn.clone());
    if pn_now.state == "Enabled" {
        d.step("physical network enabled", Outcome::Exists, &pn.id);
    } else {
        client.call("updatePhysicalNetwork", &[("id", &pn.id), ("state", "Enabled")])?;
        d.step("physical network enabled", Outcome::Updated, &pn.id);
    }

    // Network service providers.
    let mut providers = vec!["VirtualRouter"];
    if basic {
        providers.push("SecurityGroupProvider");
    } else {
        providers.extend(["VpcVirtualRouter", "InternalLbVm"]);
    }
    for name in providers {
        enable_provider(&mut d, &pn.id, name)?;
    }

    // Basic zone: the shared guest network with security groups.
    let guest_network = if basic {
        let off = first(client.list::<NetworkOffering>("listNetworkOfferings", &[("name", BASIC_OFFERING)])?, |o| o.name == BASIC_OFFERING)
            .ok_or_else(|| ApiError::Input(format!("the management server has no network offering {BASIC_OFFERING}")))?;
        let name = format!("{}-guest", z.name);
        let n = d.ensure(
            &format!("guest network {name}"),
            |c| Ok(first(c.list::<Network>("listNetworks", &[("zoneid", &zone.id), ("listall", "true")])?, |x| x.name == name)),
            |c| c.call_object("createNetwork", &[("zoneid", &zone.id), ("name", &name), ("displaytext", &name), ("networkofferingid", &off.id)]),
        )?;
        Some(n)
    } else {
        None
    };

    // Pod.
    let pod = d.ensure(
        &format!("pod {}", z.pod.name),
        |c| Ok(first(c.list::<Pod>("listPods", &[("zoneid", &zone.id), ("name", &z.pod.name)])?, |x| x.name == z.pod.name)),
        |c| {
            c.call_object(
                "createPod",
                &[("zoneid", &zone.id), ("name", &z.pod.name), ("gateway", &z.pod.gateway), ("netmask", &z.pod.netmask), ("startip", &z.pod.start_ip), ("endip", &z.pod.end_ip)],
            )
        },
    )?;

    // Guest (basic) or public (advanced) addresses.
    if let Some(net) = &guest_network {
        let r = &z.guest;
        d.ensure(
            &format!("guest range {}-{}", r.start_ip, r.end_ip),
            |c| Ok(find_range(c.list::<VlanIpRange>("listVlanIpRanges", &[("zoneid", &zone.id)])?, r)),
            |c| {
                c.call_object(
                    "createVlanIpRange",
                    &[("podid", &pod.id), ("networkid", &net.id), ("gateway", &r.gateway), ("netmask", &r.netmask), ("startip", &r.start_ip), ("endip", &r.end_ip), ("forvirtualnetwork", "false")],
                )
            },
        )?;
    } else {
        let r = z.public.as_ref().unwrap_or(&z.guest);
        let vlan = r.vlan.clone().unwrap_or_else(|| "untagged".into());
        d.ensure(
            &format!("public range {}-{}", r.start_ip, r.end_ip),
            |c| Ok(find_range(c.list::<VlanIpRange>("listVlanIpRanges", &[("zoneid", &zone.id)])?, r)),
            |c| {
                c.call_object(
                    "createVlanIpRange",
                    &[("zoneid", &zone.id), ("vlan", &vlan), ("gateway", &r.gateway), ("netmask", &r.netmask), ("startip", &r.start_ip), ("endip", &r.end_ip), ("forvirtualnetwork", "true")],
                )
            },
        )?;
        if let Some(range) = &z.vlan_range {
            let now = first(client.list::<PhysicalNetwork>("listPhysicalNetworks", &[("zoneid", &zone.id)])?, |x| x.id == pn.id).unwrap_or(pn.clone());
            if now.vlan.split(';').any(|v| v == range) {
                d.step(format!("guest VLAN range {range}"), Outcome::Exists, &pn.id);
            } else {
                client.call("updatePhysicalNetwork", &[("id", &pn.id), ("vlan", range)])?;
                d.step(format!("guest VLAN range {range}"), Outcome::Updated, &pn.id);
            }
        }
    }

    // Cluster and hosts.
    let cluster = d.ensure(
        &format!("cluster {}", z.cluster.name),
        |c| Ok(first(c.list::<Cluster>("listClusters", &[("zoneid", &zone.id), ("podid", &pod.id), ("name", &z.cluster.name)])?, |x| x.name == z.cluster.name)),
        |c| {
            let v = c.call("addCluster", &[("zoneid", &zone.id), ("podid", &pod.id), ("clustername", &z.cluster.name), ("hypervisor", "KVM"), ("clustertype", "CloudManaged")])?;
            one_of_list(c, "addCluster", &v)
        },
    )?;
    for h in &hosts {
        let (lost_wait, interval) = (opts.lost_answer_wait, opts.poll_interval);
        let host = d.ensure(
            &format!("host {}", h.address),
            |c| find_host(c, &zone.id, &h.address),
            |c| add_host(c, &Placed { zone: &zone.id, pod: &pod.id, cluster: &cluster.id }, &h.address, &h.username, &h.password, lost_wait, interval),
        )?;
        wait_host_up(client, &host.id, &h.address, agent_log(&profile.cloudstack.release), opts.host_wait, opts.poll_interval)?;
        d.step(format!("host {} Up", h.address), Outcome::Ready, &host.id);
    }

    // Storage. The server refuses cluster-wide primary storage until a host in the cluster is Up; without
    // hosts in the profile, the first KVM host that registers itself adds it (agent::register).
    let deferred = !primary_storage(&mut d, &zone.id, &pod.id, &cluster, &primaries)?;
    // After the cluster: from 4.20 the server registers its bundled system VM template with the zone's first
    // image store, for the hypervisors of the clusters that exist at that moment.
    d.ensure(
        &format!("secondary storage {} ({})", secondary.name, secondary.url),
        |c| Ok(first(c.list::<ImageStore>("listImageStores", &[("zoneid", &zone.id)])?, |x| x.name == secondary.name || x.url == secondary.url)),
        |c| c.call_object("addImageStore", &[("provider", "NFS"), ("name", &secondary.name), ("zoneid", &zone.id), ("url", &secondary.url)]),
    )?;

    // Enable the zone.
    let now = first(client.list::<Zone>("listZones", &[("id", &zone.id)])?, |x| x.id == zone.id).unwrap_or(zone.clone());
    if now.allocationstate == "Enabled" {
        d.step(format!("zone {} enabled", z.name), Outcome::Exists, &zone.id);
    } else {
        client.call("updateZone", &[("id", &zone.id), ("allocationstate", "Enabled")])?;
        d.step(format!("zone {} enabled", z.name), Outcome::Updated, &zone.id);
    }

    if let (Some(wait), false) = (opts.system_vm_wait, deferred) {
        let vms = wait_system_vms(client, &zone.id, wait, opts.poll_interval).map_err(|e| match e {
            ApiError::Timeout { waited, .. } => explain_system_vms(client, profile, &zone, &secondary, waited),
            other => other,
        })?;
        for vm in vms {
            d.step(format!("system VM {} ({}) Running", vm.name, vm.systemvmtype), Outcome::Ready, &vm.id);
        }
    }
    Ok(Deployed { zone_id: zone.id, steps: d.steps })
}

/// Add the cluster's primary storage unless it is there; false when none could be added because no host in
/// the cluster is Up yet (each pool is then reported as deferred).
fn primary_storage(d: &mut Deployer, zoneid: &str, podid: &str, cluster: &Cluster, primaries: &[Storage]) -> Result<bool, ApiError> {
    let hosts = d.c.list::<Host>("listHosts", &[("clusterid", &cluster.id), ("type", "Routing")])?;
    let host_up = hosts.iter().any(|h| h.state == "Up" && (h.clusterid.is_empty() || h.clusterid == cluster.id));
    for s in primaries {
        let what = format!("primary storage {} ({})", s.name, s.url);
        let find = |c: &Client| Ok(first(c.list::<StoragePool>("listStoragePools", &[("zoneid", zoneid), ("name", &s.name)])?, |x| x.name == s.name));
        if !host_up {
            match find(d.c)? {
                Some(p) => d.step(what, Outcome::Exists, &p.id),
                None => d.step(format!("{what}: waits for a host Up in cluster {}; a KVM host with agent.register = true adds it", cluster.name), Outcome::Deferred, ""),
            }
            continue;
        }
        d.ensure(&what, find, |c| {
            c.call_object(
                "createStoragePool",
                &[("zoneid", zoneid), ("podid", podid), ("clusterid", &cluster.id), ("name", &s.name), ("url", &s.url), ("scope", "cluster")],
            )
        })?;
    }
    Ok(host_up || primaries.is_empty())
}

/// The primary storage a host registering itself adds to its cluster: the profile's [[zone.primary]], else
/// its [nfs] export named after the zone, as `deploy` would have.
pub fn add_primary_storage(client: &Client, profile: &Profile, placed: (&Zone, &Pod, &Cluster), opts: &DeployOptions, report: &mut dyn FnMut(&Step)) -> Result<(), ApiError> {
    let (zone, pod, cluster) = placed;
    let primaries: Vec<Storage> = match profile.zone.as_ref() {
        Some(z) if !z.primary.is_empty() => z.primary.clone(),
        _ => match nfs_storage(profile, &zone.name, "primary") {
            Some(s) => vec![s],
            None => return Ok(()),
        },
    };
    // A pool already serving this cluster (added under another name by the management host) is enough.
    let pools = client.list::<StoragePool>("listStoragePools", &[("zoneid", &zone.id)])?;
    let serving: Vec<&StoragePool> = pools.iter().filter(|p| serves(p, cluster)).collect();
    let same = |p: &StoragePool, s: &Storage| s.name == p.name || s.url == format!("nfs://{}{}", p.ipaddress, p.path);
    if let Some(p) = serving.iter().find(|p| primaries.iter().any(|s| same(p, s))).or(serving.first()) {
        report(&Step { what: format!("primary storage {} for cluster {}", p.name, cluster.name), outcome: Outcome::Exists, id: p.id.clone() });
        return Ok(());
    }
    let mut d = Deployer { c: client, report, steps: vec![], poll_interval: opts.poll_interval, lost_answer_wait: opts.lost_answer_wait };
    primary_storage(&mut d, &zone.id, &pod.id, cluster, &primaries).map(|_| ())
}

fn enable_provider(d: &mut Deployer, pn: &str, name: &str) -> Result<(), ApiError> {
    let c = d.c;
    let nsp = first(c.list::<NetworkServiceProvider>("listNetworkServiceProviders", &[("physicalnetworkid", pn), ("name", name)])?, |x| x.name == name)
        .ok_or_else(|| ApiError::Input(format!("the physical network has no {name} provider")))?;
    if nsp.state == "Enabled" {
        d.step(format!("provider {name} enabled"), Outcome::Exists, &nsp.id);
        return Ok(());
    }
    let element = match name {
        "VirtualRouter" | "VpcVirtualRouter" => Some(("listVirtualRouterElements", "configureVirtualRouterElement")),
        "InternalLbVm" => Some(("listInternalLoadBalancerElements", "configureInternalLoadBalancerElement")),
        _ => None,
    };
    if let Some((list, configure)) = element {
        let e = first(c.list::<ProviderElement>(list, &[("nspid", &nsp.id)])?, |_| true).ok_or_else(|| ApiError::Input(format!("provider {name} has no element to configure")))?;
        if !e.enabled {
            c.call(configure, &[("id", &e.id), ("enabled", "true")])?;
        }
    }
    c.call("updateNetworkServiceProvider", &[("id", &nsp.id), ("state", "Enabled")])?;
    d.step(format!("provider {name} enabled"), Outcome::Updated, &nsp.id);
    Ok(())
}

fn find_range(ranges: Vec<VlanIpRange>, r: &IpRange) -> Option<VlanIpRange> {
    first(ranges, |x| x.startip == r.start_ip && x.endip == r.end_ip)
}

fn one_of_list<T: serde::de::DeserializeOwned>(_c: &Client, command: &str, v: &serde_json::Value) -> Result<T, ApiError> {
    super::client::list_items::<T>(command, v)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Protocol { command: command.into(), status: 200, detail: "the answer lists nothing".into() })
}

/// A routing host by its address (or name).
pub fn find_host(c: &Client, zoneid: &str, address: &str) -> Result<Option<Host>, ApiError> {
    let hosts = c.list::<Host>("listHosts", &[("zoneid", zoneid), ("type", "Routing")])?;
    Ok(first(hosts, |h| h.ipaddress == address || h.name == address))
}

/// Where a host goes, by id.
pub struct Placed<'a> {
    pub zone: &'a str,
    pub pod: &'a str,
    pub cluster: &'a str,
}

/// addHost, once. The server answers only after it set the host up over SSH and the agent connected, which
/// takes minutes; when no answer comes, the host is looked up for `lost_wait` instead of being added again
/// while the first call may still be running.
pub fn add_host(c: &Client, at: &Placed, address: &str, username: &str, password: &str, lost_wait: Duration, interval: Duration) -> Result<Host, ApiError> {
    let url = format!("http://{address}");
    let params = [("zoneid", at.zone), ("podid", at.pod), ("clusterid", at.cluster), ("hypervisor", "KVM"), ("url", url.as_str()), ("username", username), ("password", password)];
    match c.call("addHost", &params) {
        Ok(v) => one_of_list(c, "addHost", &v),
        Err(e) if e.answer_lost() => await_lost(c, &format!("host {address}"), &e, lost_wait, interval, &|c| find_host(c, at.zone, address)),
        Err(e) => Err(e),
    }
}

/// Why the system VMs did not come, with the fix: the template the server copies onto secondary storage
/// after addImageStore (a failed copy is only logged there), else the VMs themselves.
fn explain_system_vms(c: &Client, profile: &Profile, zone: &Zone, secondary: &Storage, waited: Duration) -> ApiError {
    let log = super::handoff::management_log(&profile.cloudstack.release);
    let rerun = match profile.origin.as_ref() {
        Some(o) => format!("cloudstrap zone deploy --profile {} --wait-system-vms", o.file.display()),
        None => "cloudstrap zone deploy --profile PROFILE --wait-system-vms".to_string(),
    };
    let templates = c.list::<Template>("listTemplates", &[("templatefilter", "system"), ("zoneid", &zone.id)]);
    let unknown = templates.is_err();
    let templates = templates.unwrap_or_default();
    let kvm: Vec<&Template> = templates.iter().filter(|t| t.hypervisor.is_empty() || t.hypervisor.eq_ignore_ascii_case("KVM")).collect();
    let vms = c.list::<SystemVm>("listSystemVms", &[("zoneid", &zone.id)]).unwrap_or_default();
    let seen = vms.iter().map(|v| format!("{} {}", v.name, v.state)).collect::<Vec<_>>().join(", ");
    let seen = if seen.is_empty() { "none".to_string() } else { seen };
    let what = if kvm.iter().any(|t| t.isready) {
        format!(
            "the system VMs of zone {} Running (seen: {seen}); the KVM system VM template is Ready, so read {log} on the management server and {} on the hosts, then run `{rerun}` again",
            zone.name,
            agent_log(&profile.cloudstack.release)
        )
    } else {
        let state = match kvm.first() {
            Some(t) if !t.status.is_empty() => format!("{} is not Ready: {}", t.name, t.status),
            Some(t) => format!("{} is not Ready", t.name),
            None if unknown => "could not be listed".to_string(),
            None => "is not registered in the zone".to_string(),
        };
        format!(
            "the system VMs of zone {} Running (seen: {seen}): the KVM system VM template {state}. The management server copies it onto secondary storage when the image store is added and only logs a failed copy: read {log} on the management server (search for \"systemvm\" and \"template\"); check that the export {} can be mounted read-write by the management server (no_root_squash, enough free space); then put the template in place (`cloudstrap template fetch --dest MOUNTED-EXPORT`, or restart cloudstack-management to retry the copy) and run `{rerun}` again",
            zone.name, secondary.url
        )
    };
    ApiError::Timeout { what, waited, tail: None }
}

/// The agent's log on a host of this release line (3.0.2 logged under /var/log/cloud).
pub fn agent_log(release: &str) -> &'static str {
    crate::platform::Release::get(release).map_or("/var/log/cloudstack/agent/agent.log", |r| r.paths.agent_log)
}

/// Poll `listHosts id=` until the host is Up; on timeout, point at the agent's log (`agent_log`).
pub fn wait_host_up(c: &Client, id: &str, address: &str, agent_log: &str, wait: Duration, interval: Duration) -> Result<Host, ApiError> {
    let start = Instant::now();
    let mut backoff = Backoff::new(c.options.poll_first, interval);
    let mut said = false;
    let mut last = String::new();
    loop {
        if let Some(h) = first(c.list::<Host>("listHosts", &[("id", id)])?, |h| h.id == id) {
            if h.state == "Up" {
                return Ok(h);
            }
            last = h.state;
        }
        if start.elapsed() >= wait {
            return Err(ApiError::Timeout {
                what: format!(
                    "host {address} coming Up (last state: {}; see {agent_log} on that host)",
                    if last.is_empty() { "not listed" } else { &last }
                ),
                waited: start.elapsed(),
                tail: None,
            });
        }
        if !said && start.elapsed() >= Duration::from_secs(10) {
            c.notice(&format!("waiting up to {} for host {address} to be Up (now {})", span(wait), if last.is_empty() { "not listed" } else { &last }));
            said = true;
        }
        std::thread::sleep(backoff.gap());
    }
}

/// Poll `listSystemVms` until the secondary storage VM and the console proxy are Running. A server that has
/// created no system VM after a sixth of the wait (5 of 30 min) while the zone has no Ready KVM system VM
/// template will not create one: the wait ends there, so a failed template copy is told early.
pub fn wait_system_vms(c: &Client, zoneid: &str, wait: Duration, interval: Duration) -> Result<Vec<SystemVm>, ApiError> {
    let start = Instant::now();
    let mut backoff = Backoff::new(c.options.poll_first, interval);
    let mut template_checked = false;
    c.notice(&format!("waiting up to {} for the system VMs (secondary storage VM, console proxy) to be Running", span(wait)));
    loop {
        let vms = c.list::<SystemVm>("listSystemVms", &[("zoneid", zoneid)])?;
        let running = |t: &str| vms.iter().any(|v| v.systemvmtype == t && v.state == "Running");
        if running("secondarystoragevm") && running("consoleproxy") {
            return Ok(vms);
        }
        let hopeless = || {
            let templates = c.list::<Template>("listTemplates", &[("templatefilter", "system"), ("zoneid", zoneid)]);
            templates.is_ok_and(|ts| !ts.iter().any(|t| t.isready && (t.hypervisor.is_empty() || t.hypervisor.eq_ignore_ascii_case("KVM"))))
        };
        let early = vms.is_empty() && !template_checked && start.elapsed() >= wait / 6 && {
            template_checked = true;
            hopeless()
        };
        if early || start.elapsed() >= wait {
            let seen = vms.iter().map(|v| format!("{} {}", v.name, v.state)).collect::<Vec<_>>().join(", ");
            return Err(ApiError::Timeout {
                what: format!("system VMs running (seen: {}); check that the system VM template is seeded in secondary storage", if seen.is_empty() { "none" } else { &seen }),
                waited: start.elapsed(),
                tail: None,
            });
        }
        std::thread::sleep(backoff.gap());
    }
}

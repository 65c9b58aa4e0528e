//! `zone deploy` against the API simulator: basic and advanced zones end to end, re-runs that create
//! nothing twice, and a re-run after a failure injected at every step.

#[path = "common/cloudstack.rs"]
mod common;

use std::time::Duration;

use cloudstack_simulator::{Config, FaultMode, Running};
use cloudstrap::cloudstack::zone::{deploy, DeployOptions, Outcome, Step};
use cloudstrap::cloudstack::ApiError;
use common::*;
use serde_json::Value;

fn opts() -> DeployOptions {
    DeployOptions {
        host_wait: Duration::from_secs(20),
        system_vm_wait: Some(Duration::from_secs(20)),
        poll_interval: Duration::from_millis(1),
        lost_answer_wait: Duration::from_secs(20),
        profile_dir: fixture(""),
    }
}

fn run(sim: &Running, profile: &str) -> Result<Vec<Step>, ApiError> {
    let p = self::profile(profile);
    let mut seen = vec![];
    let r = deploy(&client(sim), &p, &opts(), &mut |s| seen.push(s.clone()));
    r.map(|d| {
        assert_eq!(d.steps, seen, "every step is reported as it happens");
        d.steps
    })
}

fn count(sim: &Running, kind: &str) -> usize {
    sim.sim.objects(kind).len()
}

fn one(sim: &Running, kind: &str) -> Value {
    let v = sim.sim.objects(kind);
    assert_eq!(v.len(), 1, "exactly one {kind}: {v:?}");
    v[0].clone()
}

fn provider_state(sim: &Running, name: &str) -> String {
    sim.sim.objects("networkserviceprovider").iter().find(|p| p["name"] == name).map(|p| p["state"].as_str().unwrap().to_string()).unwrap()
}

fn assert_basic_zone(sim: &Running) {
    let zone = one(sim, "zone");
    assert_eq!((zone["name"].as_str(), zone["networktype"].as_str(), zone["allocationstate"].as_str()), (Some("Zone1"), Some("Basic"), Some("Enabled")));
    assert_eq!(zone["securitygroupsenabled"], true);
    assert_eq!(zone["dns1"], "8.8.8.8");
    let pn = one(sim, "physicalnetwork");
    assert_eq!(pn["state"], "Enabled");
    let mut types: Vec<String> = sim.sim.objects("traffictype").iter().map(|t| format!("{}={}", t["traffictype"].as_str().unwrap(), t["kvmnetworklabel"].as_str().unwrap())).collect();
    types.sort();
    assert_eq!(types, ["Guest=cloudbr1", "Management=cloudbr0"]);
    assert_eq!(provider_state(sim, "VirtualRouter"), "Enabled");
    assert_eq!(provider_state(sim, "SecurityGroupProvider"), "Enabled");
    let net = one(sim, "network");
    assert_eq!(net["networkofferingname"], "DefaultSharedNetworkOfferingWithSGService");
    let pod = one(sim, "pod");
    assert_eq!((pod["name"].as_str(), pod["gateway"].as_str()), (Some("Pod1"), Some("192.168.1.1")));
    let range = one(sim, "vlaniprange");
    assert_eq!((range["startip"].as_str(), range["endip"].as_str()), (Some("192.168.1.100"), Some("192.168.1.199")));
    assert_eq!((range["podid"].clone(), range["networkid"].clone(), range["forvirtualnetwork"].clone()), (pod["id"].clone(), net["id"].clone(), Value::Bool(false)));
    let cluster = one(sim, "cluster");
    assert_eq!((cluster["name"].as_str(), cluster["hypervisortype"].as_str()), (Some("Cluster1"), Some("KVM")));
    let host = one(sim, "host");
    assert_eq!((host["ipaddress"].as_str(), host["state"].as_str(), host["clusterid"].clone()), (Some("192.168.1.5"), Some("Up"), cluster["id"].clone()));
    let pool = one(sim, "storagepool");
    assert_eq!((pool["name"].as_str(), pool["url"].as_str()), (Some("Zone1-primary"), Some("nfs://192.168.1.4/export/primary")));
    let store = one(sim, "imagestore");
    assert_eq!(store["url"], "nfs://192.168.1.4/export/secondary");
    assert_eq!(count(sim, "systemvm"), 2);
}

fn assert_advanced_zone(sim: &Running) {
    let zone = one(sim, "zone");
    assert_eq!((zone["networktype"].as_str(), zone["allocationstate"].as_str(), zone["guestcidraddress"].as_str()), (Some("Advanced"), Some("Enabled"), Some("10.1.1.0/24")));
    assert_eq!(zone["dns2"], "8.8.4.4");
    let pn = one(sim, "physicalnetwork");
    assert_eq!((pn["state"].as_str(), pn["vlan"].as_str(), pn["isolationmethods"].as_str()), (Some("Enabled"), Some("100-200"), Some("VLAN")));
    let mut types: Vec<String> = sim.sim.objects("traffictype").iter().map(|t| format!("{}={}", t["traffictype"].as_str().unwrap(), t["kvmnetworklabel"].as_str().unwrap())).collect();
    types.sort();
    assert_eq!(types, ["Guest=cloudbr1", "Management=cloudbr0", "Public=cloudbr2"]);
    for p in ["VirtualRouter", "VpcVirtualRouter", "InternalLbVm"] {
        assert_eq!(provider_state(sim, p), "Enabled", "{p}");
    }
    assert_eq!(count(sim, "network"), 0);
    one(sim, "pod");
    let range = one(sim, "vlaniprange");
    assert_eq!((range["startip"].as_str(), range["vlan"].as_str(), range["forvirtualnetwork"].clone()), (Some("198.51.100.10"), Some("vlan://50"), Value::Bool(true)));
    one(sim, "cluster");
    let mut hosts: Vec<String> = sim.sim.objects("host").iter().map(|h| format!("{} {}", h["ipaddress"].as_str().unwrap(), h["state"].as_str().unwrap())).collect();
    hosts.sort();
    assert_eq!(hosts, ["10.0.0.5 Up", "10.0.0.6 Up"]);
    assert_eq!(one(sim, "storagepool")["name"], "primary1");
    assert_eq!(one(sim, "imagestore")["name"], "secondary1");
    assert_eq!(count(sim, "systemvm"), 2);
}

fn creates(steps: &[Step]) -> Vec<String> {
    steps.iter().filter(|s| matches!(s.outcome, Outcome::Created | Outcome::Updated)).map(|s| s.what.clone()).collect()
}

#[test]
fn basic_zone_end_to_end_then_rerun_changes_nothing() {
    let sim = simulator();
    let steps = run(&sim, "basic-zone.toml").unwrap();
    assert_basic_zone(&sim);
    let whats: Vec<String> = steps.iter().map(ToString::to_string).collect();
    assert!(whats.iter().any(|w| w.starts_with("zone Zone1: created (")), "{whats:#?}");
    assert!(whats.iter().any(|w| w.starts_with("host 192.168.1.5 Up: ready")), "{whats:#?}");
    assert!(whats.iter().any(|w| w.contains("(secondarystoragevm) Running: ready")), "{whats:#?}");
    // The order of the UI wizard / Marvin: zone, network, pod, range, cluster, host, storage, enable.
    let calls: Vec<String> = sim.sim.calls().into_iter().filter(|c| !c.starts_with("list") && c != "queryAsyncJobResult").collect();
    assert_eq!(
        calls,
        [
            "createZone", "createPhysicalNetwork", "addTrafficType", "addTrafficType", "updatePhysicalNetwork",
            "configureVirtualRouterElement", "updateNetworkServiceProvider", "updateNetworkServiceProvider", "createNetwork",
            "createPod", "createVlanIpRange", "addCluster", "addHost", "createStoragePool", "addImageStore", "updateZone"
        ]
    );

    let add_host = sim.sim.requests().into_iter().find(|r| r.command == "addHost").unwrap();
    assert_eq!(add_host.method, "POST", "the host's password goes in the body");
    assert!(sim.sim.requests().iter().all(|r| !r.query.contains(HOST_PASSWORD)));

    let before = sim.sim.calls().len();
    let again = run(&sim, "basic-zone.toml").unwrap();
    assert!(creates(&again).is_empty(), "a second run changes nothing: {:?}", creates(&again));
    let second: Vec<String> = sim.sim.calls()[before..].iter().filter(|c| !c.starts_with("list")).cloned().collect();
    assert!(second.is_empty(), "only lookups on a re-run, got {second:?}");
    assert_basic_zone(&sim);
}

#[test]
fn advanced_zone_end_to_end_then_rerun_changes_nothing() {
    let sim = simulator();
    run(&sim, "advanced-zone.toml").unwrap();
    assert_advanced_zone(&sim);
    let again = run(&sim, "advanced-zone.toml").unwrap();
    assert!(creates(&again).is_empty(), "{:?}", creates(&again));
    assert_advanced_zone(&sim);
}

const BASIC_STEPS: &[&str] = &[
    "createZone", "createPhysicalNetwork", "addTrafficType", "updatePhysicalNetwork", "configureVirtualRouterElement",
    "updateNetworkServiceProvider", "listNetworkOfferings", "createNetwork", "createPod", "createVlanIpRange", "addCluster",
    "addHost", "listHosts", "createStoragePool", "addImageStore", "updateZone", "listSystemVms",
];
const ADVANCED_STEPS: &[&str] = &[
    "createZone", "createPhysicalNetwork", "addTrafficType", "updatePhysicalNetwork", "configureVirtualRouterElement",
    "configureInternalLoadBalancerElement", "updateNetworkServiceProvider", "createPod", "createVlanIpRange", "addCluster",
    "addHost", "createStoragePool", "addImageStore", "updateZone",
];

/// Fail each step once (before and after it took effect); the next run must finish the zone with
/// nothing created twice.
fn rerun_after_each_fault(profile: &str, steps: &[&str], check: fn(&Running)) {
    for &command in steps {
        for mode in [FaultMode::Before, FaultMode::After] {
            let sim = simulator();
            sim.sim.fail_once(command, mode);
            let first = run(&sim, profile);
            assert!(sim.sim.calls().iter().any(|c| c == command), "{command} was never called");
            if mode == FaultMode::Before {
                let e = first.expect_err(&format!("{command} failing ({mode:?}) stops the run"));
                assert!(e.to_string().contains(command) || e.to_string().contains("Injected failure"), "{command}: {e}");
            }
            let second = run(&sim, profile).unwrap_or_else(|e| panic!("re-run after {command} failed ({mode:?}): {e}"));
            if mode == FaultMode::After {
                assert!(second.iter().any(|s| s.outcome == Outcome::Exists), "the re-run found earlier work");
            }
            check(&sim);
        }
    }
}

#[test]
fn basic_zone_rerun_after_a_failure_at_every_step() {
    rerun_after_each_fault("basic-zone.toml", BASIC_STEPS, assert_basic_zone);
}

#[test]
fn advanced_zone_rerun_after_a_failure_at_every_step() {
    rerun_after_each_fault("advanced-zone.toml", ADVANCED_STEPS, assert_advanced_zone);
}

#[test]
fn a_host_that_never_comes_up_ends_the_wait_with_a_clear_error() {
    let sim = simulator_with(Config { admin_keys: Some((KEY.into(), SECRET.into())), host_up_polls: u32::MAX, ..Config::default() });
    let p = profile("basic-zone.toml");
    let o = DeployOptions { host_wait: Duration::from_millis(30), ..opts() };
    let e = deploy(&client(&sim), &p, &o, &mut |_| {}).unwrap_err();
    assert!(e.to_string().starts_with("host 192.168.1.5 coming Up (last state: Connecting; see /var/log/cloudstack/agent/agent.log on that host) did not happen within"), "{e}");
    // The zone is left disabled: it is only enabled once everything is in place.
    assert_eq!(one(&sim, "zone")["allocationstate"], "Disabled");
}

#[test]
fn missing_host_password_is_refused_before_any_call() {
    let sim = simulator();
    let mut p = profile("basic-zone.toml");
    let host = &mut p.zone.as_mut().unwrap().hosts[0];
    (host.password_env, host.password_file) = (Some("CLOUDSTRAP_TEST_UNSET_VARIABLE".into()), None);
    let e = deploy(&client(&sim), &p, &opts(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, ApiError::Input(_)), "{e}");
    // Located in the profile file, like profile check's problems.
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}:", fixture("basic-zone.toml").display())), "{text}");
    assert!(text.contains(": zone.hosts[0].password-env: environment variable CLOUDSTRAP_TEST_UNSET_VARIABLE is not set"), "{text}");
    assert!(sim.sim.calls().is_empty(), "nothing was sent: {:?}", sim.sim.calls());
}

#[test]
fn a_zone_of_the_other_type_is_not_touched() {
    let sim = simulator();
    let c = client(&sim);
    c.call("createZone", &[("name", "Zone1"), ("networktype", "Advanced"), ("dns1", "1.1.1.1"), ("internaldns1", "1.1.1.1")]).unwrap();
    let e = run(&sim, "basic-zone.toml").unwrap_err();
    assert_eq!(e.to_string(), "zone Zone1 exists with network type Advanced but the profile asks for Basic; rename one of them");
    assert_eq!(count(&sim, "physicalnetwork"), 0);
}

/// Without hosts the zone is deployed and enabled, its primary storage deferred (the server, like the real
/// one, refuses a cluster-wide pool while no host in the cluster is Up), and the system VM wait skipped.
#[test]
fn a_zone_without_hosts_defers_primary_storage_to_the_first_host() {
    let sim = simulator();
    let mut p = profile("basic-zone.toml");
    p.zone.as_mut().unwrap().hosts.clear();
    let steps = deploy(&client(&sim), &p, &opts(), &mut |_| {}).unwrap();
    let deferred: Vec<&str> = steps.steps.iter().filter(|s| s.outcome == Outcome::Deferred).map(|s| s.what.as_str()).collect();
    assert_eq!(deferred.len(), 1, "{steps:?}");
    assert!(deferred[0].starts_with("primary storage ") && deferred[0].contains("waits for a host Up in cluster"), "{deferred:?}");
    assert_eq!((count(&sim, "storagepool"), count(&sim, "imagestore")), (0, 1));
    assert_eq!(one(&sim, "zone")["allocationstate"], "Enabled");
    assert!(!sim.sim.calls().iter().any(|c| c == "listSystemVms"), "no wait for system VMs that cannot start");

    let c = client(&sim);
    let (zone, pod, cluster) = (one(&sim, "zone")["id"].clone(), one(&sim, "pod")["id"].clone(), one(&sim, "cluster")["id"].clone());
    let e = c
        .call(
            "createStoragePool",
            &[("zoneid", zone.as_str().unwrap()), ("podid", pod.as_str().unwrap()), ("clusterid", cluster.as_str().unwrap()), ("name", "p"), ("url", "nfs://10.1.1.1/p"), ("scope", "cluster")],
        )
        .unwrap_err();
    assert_eq!(e.errorcode(), Some(530));
    assert!(e.to_string().contains(&format!("No host up to associate a storage pool with in cluster {}", cluster.as_str().unwrap())), "{e}");
}

// --- A real server's timings, hardening and clock (scaled: a "minute" of the server is a fraction of a second).

fn keys_config() -> Config {
    Config { admin_keys: Some((KEY.into(), SECRET.into())), job_polls: 2, host_up_polls: 2, systemvm_polls: 2, ..Config::default() }
}

/// A client whose ordinary calls give up after 300 ms while the slow ones may take `slow`.
fn client_with(sim: &Running, slow: Duration, notices: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>) -> cloudstrap::cloudstack::Client {
    let mut o = cloudstrap::cloudstack::Options { request_timeout: Duration::from_millis(300), ..fast() }.with_slow_calls(slow);
    if let Some(n) = notices {
        o.notice = cloudstrap::cloudstack::Notice::new(move |m| n.lock().unwrap().push(m.to_string()));
    }
    cloudstrap::cloudstack::Client::new(&sim.url(), cloudstrap::cloudstack::Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, o).unwrap()
}

fn requests_of(sim: &Running, command: &str) -> usize {
    sim.sim.requests().iter().filter(|r| r.command == command).count()
}

#[test]
fn slow_add_host_add_image_store_and_create_storage_pool_get_their_own_timeouts() {
    let ms = Duration::from_millis;
    let sim = simulator_with(Config { latency: vec![("addHost".into(), ms(900)), ("addImageStore".into(), ms(700)), ("createStoragePool".into(), ms(500))], ..keys_config() });
    let notices = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let c = client_with(&sim, Duration::from_secs(10), Some(notices.clone()));
    let p = profile("basic-zone.toml");
    deploy(&c, &p, &opts(), &mut |_| {}).unwrap();
    assert_basic_zone(&sim);
    for cmd in ["addHost", "addImageStore", "createStoragePool"] {
        assert_eq!(requests_of(&sim, cmd), 1, "{cmd} sent once");
    }
    let said = notices.lock().unwrap().join("\n");
    assert!(said.contains("addHost: waiting up to 10 s for the answer (the management server logs in to the host over SSH"), "{said}");
    assert!(said.contains("addImageStore: waiting up to 10 s for the answer (the management server mounts the NFS export"), "{said}");
    // The same limits come from the profile's [management.timeouts].
    let mut p = p;
    let m = p.management.get_or_insert_with(|| toml::from_str("").unwrap());
    m.timeouts.add_host = 1200;
    let o = cloudstrap::cloudstack::Options::for_profile(&p);
    assert_eq!((o.timeout_for("addHost"), o.timeout_for("addImageStore"), o.timeout_for("listZones")), (Duration::from_secs(1200), Duration::from_secs(1800), Duration::from_secs(60)));
}

/// The answer to addHost (addImageStore, createStoragePool) does not come in time, or the connection drops: the client looks the
/// object up until the server has finished, and never sends the call a second time.
#[test]
fn an_unanswered_add_host_or_add_image_store_is_looked_up_never_sent_twice() {
    let ms = Duration::from_millis;
    for (cmd, latency) in [("addHost", ms(1200)), ("addImageStore", ms(1000)), ("createStoragePool", ms(900))] {
        let sim = simulator_with(Config { latency: vec![(cmd.into(), latency)], ..keys_config() });
        let notices = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let c = client_with(&sim, ms(250), Some(notices.clone()));
        let steps = deploy(&c, &profile("basic-zone.toml"), &opts(), &mut |_| {}).unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert_basic_zone(&sim);
        assert_eq!(requests_of(&sim, cmd), 1, "{cmd} was sent once");
        assert!(!steps.steps.is_empty());
        let said = notices.lock().unwrap().join("\n");
        assert!(said.contains("no answer within 250 ms") && said.contains("looking for it for up to 20 s instead of asking again"), "{said}");
    }
    // A dropped connection after the server did the work.
    let sim = simulator();
    sim.sim.fail_once("addHost", FaultMode::Drop);
    run(&sim, "basic-zone.toml").unwrap();
    assert_basic_zone(&sim);
    assert_eq!(requests_of(&sim, "addHost"), 1);
}

/// An object that never shows up after a lost answer ends in one sentence that says not to resend blindly.
#[test]
fn a_lost_answer_whose_object_never_appears_is_a_clear_error() {
    let sim = simulator_with(Config { latency: vec![("addHost".into(), Duration::from_secs(3))], ..keys_config() });
    let c = client_with(&sim, Duration::from_millis(200), None);
    let o = DeployOptions { lost_answer_wait: Duration::from_millis(300), ..opts() };
    let e = deploy(&c, &profile("basic-zone.toml"), &o, &mut |_| {}).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("host 192.168.1.5 showing up after the call went unanswered (cannot reach the CloudStack API at"), "{text}");
    assert!(text.contains("the management server may still be working on it"), "{text}");
    assert_eq!(requests_of(&sim, "addHost"), 1);
}

#[test]
fn post_enforcement_zone_deploys_with_state_changes_in_form_bodies() {
    for profile_name in ["basic-zone.toml", "advanced-zone.toml"] {
        let sim = simulator_with(Config { enforce_post: true, ..keys_config() });
        run(&sim, profile_name).unwrap_or_else(|e| panic!("{profile_name}: {e}"));
        let reqs = sim.sim.requests();
        for r in &reqs {
            if r.command.starts_with("list") {
                assert_eq!(r.method, "GET", "{r:?}");
            } else {
                assert_eq!((r.method.as_str(), r.query.as_str()), ("POST", ""), "{r:?}");
            }
        }
    }
    basic_zone_with(Config { enforce_post: true, ..keys_config() });
    // The server really refuses a GET for a state change.
    let sim = simulator_with(Config { enforce_post: true, ..keys_config() });
    let url = client(&sim).signed_url("createZone", &[("name", "z"), ("networktype", "Basic"), ("dns1", "1.1.1.1"), ("internaldns1", "1.1.1.1")], None);
    let r = reqwest::blocking::get(url).unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(sim.sim.objects("zone").is_empty());
}

fn basic_zone_with(config: Config) {
    let sim = simulator_with(config);
    run(&sim, "basic-zone.toml").unwrap();
    assert_basic_zone(&sim);
}

/// The server's clock 15 minutes ahead (a 10-minute expiry is already past there) or behind.
#[test]
fn the_servers_clock_15_minutes_ahead_or_behind() {
    for minutes in [15i64, -15] {
        let sim = simulator_with(Config { clock_offset: chrono::Duration::minutes(minutes), ..keys_config() });
        let notices = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let c = client_with(&sim, Duration::from_secs(10), Some(notices.clone()));
        deploy(&c, &profile("advanced-zone.toml"), &opts(), &mut |_| {}).unwrap_or_else(|e| panic!("{minutes} min: {e}"));
        assert_advanced_zone(&sim);
        let skew = c.skew();
        assert!((skew - minutes * 60).abs() <= 2, "{minutes} min: measured {skew} s");
        let said = notices.lock().unwrap().join("\n");
        let words = if minutes > 0 { "the server's clock is 15 min ahead of this host's" } else { "the server's clock is 15 min behind this host's" };
        assert!(said.contains(words), "{said}");
        if minutes > 0 {
            assert!(said.contains("refused (401) while the server's clock is 15 min ahead"), "{said}");
        }
    }
}

/// The copy of the system VM template after addImageStore fails (the server only logs it): the system VM wait
/// ends with what to read, what to check and what to run; after the fix a re-run finishes the zone.
#[test]
fn a_failed_template_copy_is_explained_and_a_rerun_after_the_fix_finishes() {
    let sim = simulator_with(Config { template_copy_fails: true, ..keys_config() });
    let p = profile("basic-zone.toml");
    let o = DeployOptions { system_vm_wait: Some(Duration::from_secs(12)), ..opts() };
    let e = deploy(&client(&sim), &p, &o, &mut |_| {}).unwrap_err();
    let text = e.to_string();
    // No system VM and no Ready template after a sixth of the wait: it ends there, not after all of it.
    let waited: u64 = text.split(" did not happen within ").nth(1).and_then(|r| r.split('s').next()).and_then(|n| n.parse().ok()).unwrap_or(99);
    assert!((2..12).contains(&waited), "{text}");
    assert!(text.starts_with("the system VMs of zone Zone1 Running (seen: none): the KVM system VM template systemvm-kvm-4.22 is not Ready."), "{text}");
    for part in [
        "read /var/log/cloudstack/management/management-server.log on the management server",
        "check that the export nfs://192.168.1.4/export/secondary can be mounted read-write by the management server",
        &format!("run `cloudstrap zone deploy --profile {} --wait-system-vms` again", fixture("basic-zone.toml").display()),
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(sim.sim.log().iter().any(|l| l.contains("Failed to register the systemvm-kvm-4.22 template")), "the server only logged it");
    sim.sim.repair_template();
    let steps = deploy(&client(&sim), &p, &o, &mut |_| {}).unwrap();
    assert!(creates(&steps.steps).is_empty(), "{:?}", creates(&steps.steps));
    assert_basic_zone(&sim);
}

/// From 4.20 the server registers its bundled template with the first image store only for the hypervisors
/// of clusters that exist then: an image store added before the cluster leaves the zone without a template.
#[test]
fn the_bundled_template_is_registered_for_existing_clusters_only() {
    let sim = simulator();
    run(&sim, "basic-zone.toml").unwrap();
    let calls = sim.sim.calls();
    let pos = |c: &str| calls.iter().position(|x| x == c).unwrap();
    assert!(pos("addCluster") < pos("addImageStore"));
    let t = one(&sim, "template");
    assert_eq!((t["hypervisor"].as_str(), t["isready"].as_bool()), (Some("KVM"), Some(true)));

    let sim = simulator();
    let c = client(&sim);
    let z: Value = c.call("createZone", &[("name", "Z"), ("networktype", "Basic"), ("dns1", "1.1.1.1"), ("internaldns1", "1.1.1.1")]).unwrap();
    let zid = z["zone"]["id"].as_str().unwrap();
    c.call("addImageStore", &[("provider", "NFS"), ("name", "s"), ("zoneid", zid), ("url", "nfs://10.0.0.1/s")]).unwrap();
    assert!(sim.sim.objects("template").is_empty(), "no cluster, no template");
}

//! The management hand-off (API wait, admin password, keys for root and CloudMonkey) and the agent's
//! self-registration, against the simulator.

#[path = "common/cloudstack.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use cloudstack_simulator::Config;
use cloudstrap::cloudstack::agent::{register, RegisterOptions};
use cloudstrap::cloudstack::credentials::{stored, KEYS_FILE};
use cloudstrap::cloudstack::handoff::{run, HandoffOptions, CMK_CONFIG};
use cloudstrap::cloudstack::zone::{deploy, DeployOptions, Outcome};
use cloudstrap::cloudstack::{ApiError, Auth, Client};
use common::*;

const NEW_PASSWORD: &str = "Profile-Admin-Pw1";

fn options(endpoint: &str, root: &Path) -> HandoffOptions {
    HandoffOptions {
        endpoint: endpoint.into(),
        root: root.into(),
        admin_user: "admin".into(),
        admin_password: NEW_PASSWORD.into(),
        api_wait: Duration::from_secs(10),
        poll_interval: Duration::from_millis(5),
        client: fast(),
        management_log: cloudstrap::cloudstack::handoff::MANAGEMENT_LOG.into(),
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn fresh() -> cloudstack_simulator::Running {
    simulator_with(Config::default())
}

#[test]
fn handoff_sets_the_password_creates_keys_and_writes_them_for_root_and_cmk() {
    let sim = fresh();
    let root = tempfile::tempdir().unwrap();
    let mut lines = vec![];
    let r = run(&options(&sim.url(), root.path()), &mut |l| lines.push(l.to_string())).unwrap();
    assert!(r.password_changed && r.keys_created);
    assert_eq!(r.ui_url, format!("http://{}/client/", sim.server.addr));
    // The default password is gone, the profile's works.
    assert_eq!(Client::login(&sim.url(), "admin", "password", "/", fast()).unwrap_err().errorcode(), Some(531));
    Client::login(&sim.url(), "admin", NEW_PASSWORD, "/", fast()).unwrap();
    // The keys are the admin's, stored 0600 for root, and they work.
    let admin = &sim.sim.state().users[0];
    let secret = admin.secretkey.clone().unwrap();
    let keys = root.path().join(KEYS_FILE.trim_start_matches('/'));
    assert_eq!(mode(&keys), 0o600);
    let c = stored(root.path()).unwrap().unwrap();
    assert_eq!((c.api_key.as_str(), c.secret.as_str(), c.endpoint.as_str()), (admin.apikey.as_deref().unwrap(), secret.as_str(), sim.url().as_str()));
    Client::new(&c.endpoint, Auth::Keys { api_key: c.api_key, secret: c.secret }, fast()).unwrap().execute("listZones", &[]).unwrap();
    // CloudMonkey: the cloudstrap profile, current, JSON output.
    let cmk = root.path().join(CMK_CONFIG.trim_start_matches('/'));
    assert_eq!(mode(&cmk), 0o600);
    assert_eq!(mode(cmk.parent().unwrap()), 0o700);
    let text = std::fs::read_to_string(&cmk).unwrap();
    assert!(text.contains("\nprofile = cloudstrap\n") && text.contains("output = json\n"), "{text}");
    assert!(text.contains(&format!("[cloudstrap]\nurl = {}\nusername = admin\n", sim.url())), "{text}");
    assert!(text.contains(&format!("apikey = {}\nsecretkey = {secret}\n", admin.apikey.as_deref().unwrap())), "{text}");
    // Passwords travel in POST bodies, never in URLs.
    for r in sim.sim.requests() {
        assert!(!r.query.contains(NEW_PASSWORD) && !r.query.contains("password="), "{r:?}");
    }
    assert!(sim.sim.requests().iter().any(|r| r.command == "updateUser" && r.method == "POST"));
    // Nothing reported holds a secret; the report says where things are.
    let all = lines.join("\n");
    assert!(!all.contains(&secret) && !all.contains(NEW_PASSWORD), "{all}");
    assert!(all.contains("CloudStack UI: http://") && all.contains(KEYS_FILE) && all.contains(CMK_CONFIG), "{all}");
}

#[test]
fn handoff_again_changes_nothing_and_reuses_keys() {
    let sim = fresh();
    let root = tempfile::tempdir().unwrap();
    let first = run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap();
    let files_before: Vec<_> = walk(root.path());
    let again = run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap();
    assert!(!again.password_changed && !again.keys_created);
    assert_eq!(again.api_key, first.api_key);
    assert_eq!(walk(root.path()), files_before, "no new files, no backups");
    assert_eq!(sim.sim.calls().iter().filter(|c| *c == "registerUserKeys").count(), 1, "keys registered once");

    // Without the stored file, the keys the server has are fetched, not replaced.
    std::fs::remove_file(root.path().join(KEYS_FILE.trim_start_matches('/'))).unwrap();
    let third = run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap();
    assert!(!third.keys_created);
    assert_eq!(third.api_key, first.api_key);
    assert!(sim.sim.calls().iter().any(|c| c == "getUserKeys"));
}

#[test]
fn an_existing_cmk_config_is_backed_up_and_kept() {
    let sim = fresh();
    let root = tempfile::tempdir().unwrap();
    let cmk = root.path().join(CMK_CONFIG.trim_start_matches('/'));
    std::fs::create_dir_all(cmk.parent().unwrap()).unwrap();
    std::fs::write(&cmk, "prompt = >\nprofile = other\n\n[other]\nurl = http://other/client/api\n").unwrap();
    run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap();
    let text = std::fs::read_to_string(&cmk).unwrap();
    assert!(text.contains("[other]\nurl = http://other/client/api\n") && text.contains("profile = cloudstrap"), "{text}");
    let backups: Vec<_> = walk(root.path()).into_iter().filter(|p| p.contains("config.cloudstrap-bak-")).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
}

#[test]
fn wrong_passwords_are_a_clear_error() {
    let sim = simulator_with(Config { admin_password: "somebody-else-set-this".into(), ..Config::default() });
    let root = tempfile::tempdir().unwrap();
    let e = run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap_err();
    assert!(matches!(e, ApiError::Input(_)));
    assert_eq!(e.to_string(), "cannot log in as admin with the default password nor with the profile's: set management.admin-password to the current one");
    assert!(walk(root.path()).is_empty(), "nothing written");
}

#[test]
fn an_api_that_never_answers_times_out_with_the_log_tail() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("var/log/cloudstack/management/management-server.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let lines: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&log, format!("{lines}ERROR [c.c.u.d.T] Unable to get a database connection\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut o = options(&format!("http://127.0.0.1:{port}/client/api"), root.path());
    o.api_wait = Duration::from_millis(30);
    let e = run(&o, &mut |_| {}).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with(&format!("the CloudStack API at http://127.0.0.1:{port}/client/api answering did not happen within")), "{text}");
    assert!(text.contains("last lines of the log:\nline 12\n") && text.ends_with("Unable to get a database connection"), "{text}");
    assert!(!text.contains("line 11\n"));
}

#[test]
fn a_3_0_2_management_server_log_is_tailed_where_3_0_2_writes_it() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("var/log/cloud/management/management-server.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "ERROR [cloud.utils.db.Transaction] cannot connect to the database\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut o = options(&format!("http://127.0.0.1:{port}/client/api"), root.path());
    o.management_log = cloudstrap::cloudstack::handoff::management_log("3.0.2").into();
    o.api_wait = Duration::from_millis(30);
    let text = run(&o, &mut |_| {}).unwrap_err().to_string();
    assert!(text.ends_with("cannot connect to the database"), "{text}");
}

/// The zone as a management host deploys it when its profile lists no hosts: the server refuses cluster-wide
/// primary storage until a host in the cluster is Up, so that step is deferred.
fn zone_without_hosts(c: &Client, p: &cloudstrap::profile::Profile) -> Vec<String> {
    let mut zone_only = p.clone();
    zone_only.zone.as_mut().unwrap().hosts.clear();
    let d = deploy(c, &zone_only, &DeployOptions { poll_interval: Duration::from_millis(1), profile_dir: fixture(""), ..DeployOptions::default() }, &mut |_| {}).unwrap();
    d.steps.iter().filter(|s| s.outcome == Outcome::Deferred).map(|s| s.to_string()).collect()
}

#[test]
fn a_kvm_agent_registers_itself_waits_for_up_and_adds_the_deferred_primary_storage() {
    let sim = simulator();
    let mut p = profile("advanced-zone.toml");
    let c = client(&sim);
    let deferred = zone_without_hosts(&c, &p);
    assert_eq!(deferred, ["primary storage primary1 (nfs://10.0.0.4/export/primary): waits for a host Up in cluster KVM1; a KVM host with agent.register = true adds it: deferred"]);
    assert!(sim.sim.objects("storagepool").is_empty());
    assert_eq!(sim.sim.objects("zone")[0]["allocationstate"], "Enabled");

    // This host is 10.0.0.7; it joins the profile's zone, pod and cluster.
    p.host.address = "10.0.0.7/24".into();
    let opts = RegisterOptions { host_wait: Duration::from_secs(10), poll_interval: Duration::from_millis(1), lost_answer_wait: Duration::from_secs(10), client: fast() };
    let mut lines = vec![];
    let h = register(&c, &p, &fixture(""), &opts, &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!((h.ipaddress.as_str(), h.state.as_str()), ("10.0.0.7", "Up"));
    let pools = sim.sim.objects("storagepool");
    assert_eq!(pools.len(), 1);
    assert_eq!((pools[0]["name"].as_str(), pools[0]["clusterid"].as_str()), (Some("primary1"), h.clusterid.as_str().into()));
    let pool_id = pools[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        lines,
        [
            "added host 10.0.0.7 to zone Adv1, pod Rack1, cluster KVM1".to_string(),
            "the management server sees host 10.0.0.7 Up".into(),
            format!("primary storage primary1 (nfs://10.0.0.4/export/primary): created ({pool_id})"),
        ]
    );
    // Again: nothing new.
    let mut lines = vec![];
    let again = register(&c, &p, &fixture(""), &opts, &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!(again.id, h.id);
    assert_eq!(lines[0], "host 10.0.0.7 is already registered in zone Adv1");
    assert_eq!(lines[2], format!("primary storage primary1 for cluster KVM1: exists ({pool_id})"));
    assert_eq!((sim.sim.objects("host").len(), sim.sim.objects("storagepool").len()), (1, 1));
    // Without the zone on the server it says which key names it and what to do first.
    let other = simulator();
    let e = register(&client(&other), &p, &fixture(""), &opts, &mut |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "zone.name: the management server has no zone named \"Adv1\" (it has none); deploy the zone from the management host first");
}

/// A hypervisor's own profile has no [zone]: it joins the only cluster there is, or the one agent.cluster
/// names, logging in with the admin password when it has no API keys.
#[test]
fn an_agent_profile_without_a_zone_joins_the_only_or_the_named_cluster() {
    use cloudstrap::cloudstack::agent::register_from_profile;
    let sim = simulator();
    let c = client(&sim);
    let management = profile("advanced-zone.toml");
    zone_without_hosts(&c, &management);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kvm.toml");
    std::fs::write(dir.path().join("admin-password"), "password\n").unwrap();
    std::fs::set_permissions(dir.path().join("admin-password"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "version = 1\n[cloudstack]\nrelease = \"4.22\"\n[host]\nroles = [\"kvm-agent\"]\nhostname = \"kvm7\"\nfqdn = \"kvm7.example.org\"\n\
         address = \"10.0.0.7/24\"\ngateway = \"10.0.0.1\"\n[management]\nendpoint = \"{}\"\nadmin-password-file = \"admin-password\"\n\
         [nfs]\nserver = \"10.0.0.4\"\nclients = \"10.0.0.0/24\"\n[agent]\nregister = true\nroot-password-file = \"host-password\"\n",
        sim.url()
    );
    std::fs::write(&path, &text).unwrap();
    std::fs::write(dir.path().join("host-password"), format!("{HOST_PASSWORD}\n")).unwrap();
    let mut p = cloudstrap::profile::load(&path).unwrap();
    let empty_root = tempfile::tempdir().unwrap();
    let opts = RegisterOptions { host_wait: Duration::from_secs(10), poll_interval: Duration::from_millis(1), lost_answer_wait: Duration::from_secs(10), client: fast() };

    // A second cluster: now the host must be told which.
    let zone = sim.sim.objects("zone")[0]["id"].as_str().unwrap().to_string();
    let pod = sim.sim.objects("pod")[0]["id"].as_str().unwrap().to_string();
    c.call("addCluster", &[("zoneid", &zone), ("podid", &pod), ("clustername", "KVM2"), ("hypervisor", "KVM"), ("clustertype", "CloudManaged")]).unwrap();
    let e = register_from_profile(&p, &path, empty_root.path(), &opts, &mut |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "agent.cluster: the management server has several (KVM1, KVM2); name the one this host joins");

    p.agent.as_mut().unwrap().cluster = Some("KVM1".into());
    let h = register_from_profile(&p, &path, empty_root.path(), &opts, &mut |_| {}).unwrap();
    assert_eq!((h.state.as_str(), h.clusterid.as_str()), ("Up", sim.sim.objects("cluster")[0]["id"].as_str().unwrap()));
    // Its storage is the [nfs] export, named after the zone.
    let pools = sim.sim.objects("storagepool");
    assert_eq!((pools.len(), pools[0]["name"].as_str(), pools[0]["path"].as_str()), (1, Some("Adv1-primary"), Some("/export/primary")));

    // No keys, no stored keys, no admin password: one sentence saying what to set.
    p.management.as_mut().unwrap().admin_password_file = None;
    let e = register_from_profile(&p, &path, empty_root.path(), &opts, &mut |_| {}).unwrap_err();
    assert!(e.to_string().ends_with("agent.register needs API credentials: set management.api-key and secret-key-file (or -env), or management.admin-password-file (or -env)"), "{e}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

/// The actions the install engine runs: hand-off, zone, agent, through the Action trait, with the
/// keys the hand-off stored.
#[test]
fn handoff_zone_and_agent_as_install_actions() {
    use cloudstrap::action::{Action, Ctx, Record};
    use cloudstrap::cloudstack::actions::{AgentRegister, ApiHandoff, ZoneDeploy};
    use cloudstrap::run::Redactor;

    let sim = fresh();
    let root = tempfile::tempdir().unwrap();
    let ctx = Ctx::live_with_files_in(root.path(), Redactor::default());
    let path = fixture("advanced-zone.toml");
    let mut p = profile("advanced-zone.toml");
    let m = p.management.as_mut().unwrap();
    m.endpoint = Some(sim.url());
    m.admin_password = Some(NEW_PASSWORD.into());

    let mut h = ApiHandoff::from_profile(&p, &path).unwrap();
    h.options.poll_interval = Duration::from_millis(5);
    h.options.client = fast();
    assert!(!h.is_done(&ctx).unwrap());
    let mut rec = Record::default();
    h.prepare(&ctx, &mut rec).unwrap();
    h.execute(&ctx, &mut rec).unwrap();
    h.verify(&ctx).unwrap();
    assert!(rec.note.as_deref().unwrap().starts_with("CloudStack UI: http://"), "{rec:?}");
    // Undone from the record: the keys file and cmk's config it created go; the server's state stays.
    let kinds: Vec<String> = rec.undo.iter().map(|u| serde_json::to_value(u).unwrap()["undo"].as_str().unwrap().to_string()).collect();
    assert!(kinds.iter().filter(|k| *k == "remove-file").count() == 2 && kinds.last().map(String::as_str) == Some("kept"), "{rec:?}");
    assert!(!format!("{rec:?}").contains(NEW_PASSWORD));

    let z = ZoneDeploy {
        profile: p.clone(),
        profile_path: path.clone(),
        options: DeployOptions { poll_interval: Duration::from_millis(1), profile_dir: fixture(""), ..DeployOptions::default() },
    };
    assert!(!z.is_done(&ctx).unwrap());
    z.execute(&ctx, &mut Record::default()).unwrap();
    z.verify(&ctx).unwrap();
    assert_eq!(sim.sim.objects("host").len(), 2);

    let mut agent_profile = p.clone();
    agent_profile.host.address = "10.0.0.9/24".into();
    let a = AgentRegister {
        profile: agent_profile,
        profile_path: path.clone(),
        options: RegisterOptions { host_wait: Duration::from_secs(10), poll_interval: Duration::from_millis(1), lost_answer_wait: Duration::from_secs(10), client: fast() },
    };
    assert!(!a.is_done(&ctx).unwrap());
    a.execute(&ctx, &mut Record::default()).unwrap();
    a.verify(&ctx).unwrap();
    assert_eq!(sim.sim.objects("host").len(), 3);

    // Reverting the hand-off removes the files it created.
    h.revert(&ctx, &rec).unwrap();
    assert!(walk(root.path()).is_empty(), "{:?}", walk(root.path()));
}

/// After `reset` recreates the databases, the server refuses the stored keys: the hand-off is no longer
/// done and runs again (here the stored secret is made one the server never issued).
#[test]
fn the_hand_off_is_due_again_when_the_server_refuses_the_stored_keys() {
    use cloudstrap::action::{Action, Ctx, Record};
    use cloudstrap::cloudstack::actions::ApiHandoff;
    use cloudstrap::run::Redactor;

    let sim = fresh();
    let root = tempfile::tempdir().unwrap();
    let ctx = Ctx::live_with_files_in(root.path(), Redactor::default());
    let path = fixture("advanced-zone.toml");
    let mut p = profile("advanced-zone.toml");
    let m = p.management.as_mut().unwrap();
    m.endpoint = Some(sim.url());
    m.admin_password = Some(NEW_PASSWORD.into());
    let mut h = ApiHandoff::from_profile(&p, &path).unwrap();
    h.options.poll_interval = Duration::from_millis(5);
    h.options.client = fast();

    h.execute(&ctx, &mut Record::default()).unwrap();
    assert!(h.is_done(&ctx).unwrap());

    let keys = root.path().join(KEYS_FILE.trim_start_matches('/'));
    let secret = stored(root.path()).unwrap().unwrap().secret;
    let text = std::fs::read_to_string(&keys).unwrap();
    std::fs::write(&keys, text.replace(&secret, "not-a-secret-the-server-issued")).unwrap();
    assert!(!h.is_done(&ctx).unwrap(), "stored keys the server refuses must not count as done");

    h.execute(&ctx, &mut Record::default()).unwrap();
    assert!(h.is_done(&ctx).unwrap());
}

// --- Against a server with a real one's timings, hardening and clock (scaled).

fn config(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config { admin_keys: Some((KEY.into(), SECRET.into())), job_polls: 2, host_up_polls: 2, systemvm_polls: 2, ..Config::default() };
    f(&mut c);
    c
}

/// A KVM host registers itself when addHost takes longer than an ordinary call may (within its own limit, or
/// beyond it, when the host is looked up instead of added again), with POST enforced, and with the server's
/// clock 15 minutes ahead or behind.
#[test]
fn an_agent_registers_itself_against_slow_hardened_and_skewed_servers() {
    let ms = Duration::from_millis;
    let cases: Vec<(&str, Config, Duration)> = vec![
        ("slow addHost", config(|c| c.latency = vec![("addHost".into(), ms(900))]), Duration::from_secs(10)),
        ("addHost beyond its limit", config(|c| c.latency = vec![("addHost".into(), ms(1200))]), ms(250)),
        ("POST enforced", config(|c| c.enforce_post = true), Duration::from_secs(10)),
        ("clock 15 min ahead", config(|c| c.clock_offset = chrono::Duration::minutes(15)), Duration::from_secs(10)),
        ("clock 15 min behind", config(|c| c.clock_offset = chrono::Duration::minutes(-15)), Duration::from_secs(10)),
    ];
    for (name, cfg, slow) in cases {
        let sim = simulator_with(cfg);
        let options = cloudstrap::cloudstack::Options { request_timeout: ms(300), ..fast() }.with_slow_calls(slow);
        let c = Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, options.clone()).unwrap();
        let mut p = profile("advanced-zone.toml");
        zone_without_hosts(&c, &p);
        p.host.address = "10.0.0.7/24".into();
        let opts = RegisterOptions { host_wait: Duration::from_secs(10), poll_interval: ms(1), lost_answer_wait: Duration::from_secs(10), client: options };
        let h = register(&c, &p, &fixture(""), &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((h.ipaddress.as_str(), h.state.as_str()), ("10.0.0.7", "Up"), "{name}");
        assert_eq!(sim.sim.requests().iter().filter(|r| r.command == "addHost").count(), 1, "{name}: addHost sent once");
        assert_eq!(sim.sim.objects("storagepool").len(), 1, "{name}");
    }
}

/// The management hand-off (login, password, keys) with POST enforced, with the server's clock 15 minutes off
/// either way, and against 4.23, whose registerUserKeys answers with an async job.
#[test]
fn the_handoff_against_hardened_skewed_and_4_23_servers() {
    let cases: Vec<(&str, Config)> = vec![
        ("POST enforced", Config { enforce_post: true, ..Config::default() }),
        ("clock 15 min ahead", Config { clock_offset: chrono::Duration::minutes(15), ..Config::default() }),
        ("clock 15 min behind", Config { clock_offset: chrono::Duration::minutes(-15), ..Config::default() }),
        ("4.23", Config { version: "4.23".into(), ..Config::default() }),
    ];
    for (name, cfg) in cases {
        let sim = simulator_with(cfg);
        let root = tempfile::tempdir().unwrap();
        let r = run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.password_changed && r.keys_created, "{name}");
        let c = stored(root.path()).unwrap().unwrap();
        assert_eq!(c.secret, sim.sim.state().users[0].secretkey.clone().unwrap(), "{name}");
        Client::new(&c.endpoint, Auth::Keys { api_key: c.api_key, secret: c.secret }, fast()).unwrap().execute("listZones", &[]).unwrap();
        if name == "4.23" {
            let calls = sim.sim.calls();
            let at = calls.iter().position(|c| c == "registerUserKeys").unwrap();
            assert_eq!(calls[at + 1], "queryAsyncJobResult", "the keys came through the job: {calls:?}");
        }
        // Again: the stored keys still work, nothing is registered twice.
        let again = run(&options(&sim.url(), root.path()), &mut |_| {}).unwrap_or_else(|e| panic!("{name} again: {e}"));
        assert!(!again.keys_created, "{name}");
    }
}

/// At the end of the install's hand-off the zone step waits for the system VMs: a template copy the server only
/// logged fails the step with the fix, and the step is due again until the system VMs run.
#[test]
fn the_install_zone_step_fails_on_a_failed_template_copy_and_finishes_after_the_fix() {
    use cloudstrap::action::{Action, Ctx, Record};
    use cloudstrap::cloudstack::actions::{ApiHandoff, ZoneDeploy};
    use cloudstrap::run::Redactor;

    let sim = simulator_with(Config { template_copy_fails: true, ..Config::default() });
    let root = tempfile::tempdir().unwrap();
    let mut ctx = Ctx::live_with_files_in(root.path(), Redactor::default());
    // The install's plain display: what the step waits for shows there as it happens.
    let shown = Shared::default();
    ctx.progress = Some(std::sync::Arc::new(cloudstrap::action::progress::Lines::new(Box::new(shown.clone()))));
    let path = fixture("advanced-zone.toml");
    let mut p = profile("advanced-zone.toml");
    let m = p.management.as_mut().unwrap();
    m.endpoint = Some(sim.url());
    m.admin_password = Some(NEW_PASSWORD.into());
    let mut h = ApiHandoff::from_profile(&p, &path).unwrap();
    h.options.client = fast();
    h.execute(&ctx, &mut Record::default()).unwrap();

    let z = ZoneDeploy {
        profile: p.clone(),
        profile_path: path.clone(),
        options: DeployOptions { poll_interval: Duration::from_millis(1), system_vm_wait: Some(Duration::from_millis(300)), profile_dir: fixture(""), ..DeployOptions::default() },
    };
    let e = z.execute(&ctx, &mut Record::default()).unwrap_err().to_string();
    assert!(e.contains("the KVM system VM template systemvm-kvm-4.22 is not Ready") && e.contains("management-server.log"), "{e}");
    assert!(!z.is_done(&ctx).unwrap(), "an enabled zone without system VMs is not done");
    let text = shown.text();
    assert!(text.contains(" ... zone deploy: waiting up to 300 ms for the system VMs (secondary storage VM, console proxy) to be Running"), "{text}");
    sim.sim.repair_template();
    z.execute(&ctx, &mut Record::default()).unwrap();
    assert!(z.is_done(&ctx).unwrap());
}

/// A display's output, kept for the test to read.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

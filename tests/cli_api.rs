//! `cloudstrap api` and `cloudstrap zone deploy` as an operator runs them, against the simulator.

#[path = "common/cloudstack.rs"]
mod common;
#[path = "common/json_shape.rs"]
mod json_shape;

use std::path::Path;
use std::process::{Command, Output};

use cloudstrap::cloudstack::{Auth, Client};
use common::*;
use serde_json::Value;

fn cloudstrap(args: &[&str], endpoint: Option<&str>, root: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudstrap"));
    c.args(args).arg("--root").arg(root).env_remove("CLOUDSTACK_ENDPOINT").env_remove("CLOUDSTACK_KEY").env_remove("CLOUDSTACK_SECRET");
    if let Some(e) = endpoint {
        c.env("CLOUDSTACK_ENDPOINT", e).env("CLOUDSTACK_KEY", KEY).env("CLOUDSTACK_SECRET", SECRET);
    }
    let out = c.output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains(SECRET), "the secret was printed: {all}");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn api_prints_the_json_answer_and_waits_for_jobs() {
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    let url = sim.url();
    let o = cloudstrap(&["api", "listZones"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&o)).unwrap(), serde_json::json!({"listzonesresponse": {}}));

    let o = cloudstrap(&["api", "createZone", "name=Z 1", "networktype=Advanced", "dns1=8.8.8.8", "internaldns1=8.8.4.4"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let zid = v["createzoneresponse"]["zone"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["createzoneresponse"]["zone"]["name"], "Z 1");

    let o = cloudstrap(&["api", "createPhysicalNetwork", &format!("zoneid={zid}"), "name=pn"], Some(&url), root.path());
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["queryasyncjobresultresponse"]["jobstatus"], 1, "{v}");
    assert_eq!(v["queryasyncjobresultresponse"]["jobresult"]["physicalnetwork"]["name"], "pn");

    let o = cloudstrap(&["api", "--no-wait", "createPhysicalNetwork", &format!("zoneid={zid}"), "name=pn2"], Some(&url), root.path());
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["createphysicalnetworkresponse"]["jobid"].is_string(), "{v}");

    // An API error: exit 1, the server's code and text in one sentence.
    let o = cloudstrap(&["api", "createZone", "name=Z 1", "networktype=Advanced", "dns1=8.8.8.8", "internaldns1=8.8.4.4"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "cloudstrap: CloudStack refused createZone (error 431): A zone with that name already exists. Please specify a unique zone name.\n");
}

#[test]
fn print_url_with_a_fixed_expiry_is_the_signed_request() {
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    let o = cloudstrap(&["api", "listZones", "name=a b~", "--print-url", "--expires", "2099-01-01T00:00:00+0000"], Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed = stdout(&o).trim().to_string();
    let expected = Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, fast()).unwrap().signed_url(
        "listZones",
        &[("name", "a b~")],
        Some("2099-01-01T00:00:00+0000"),
    );
    assert_eq!(printed, expected);
    assert!(sim.sim.calls().is_empty(), "--print-url sends nothing");
    assert_eq!(reqwest::blocking::get(&printed).unwrap().status().as_u16(), 200);

    // An expiry in the past: the server refuses it.
    let o = cloudstrap(&["api", "listZones", "--expires", "2001-01-01T00:00:00+0000"], Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("cloudstrap: CloudStack refused listZones (error 401): unable to verify user credentials and/or request signature"), "{}", stderr(&o));
}

#[test]
fn bad_input_exits_2_and_sends_nothing() {
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    let o = cloudstrap(&["api", "listZones", "name"], Some(&sim.url()), root.path());
    assert_eq!((o.status.code(), stderr(&o)), (Some(2), "cloudstrap: \"name\" is not NAME=VALUE\n".to_string()));
    let o = cloudstrap(&["api", "listZones", "--expires", "tomorrow"], Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--expires \"tomorrow\" is not a timestamp"));
    let o = cloudstrap(&["api", "listZones"], None, root.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("cloudstrap: no API credentials: set CLOUDSTACK_ENDPOINT, CLOUDSTACK_KEY and CLOUDSTACK_SECRET"), "{}", stderr(&o));
    // A profile with a mistake: located, exit 2, nothing sent.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, std::fs::read_to_string(fixture("basic-zone.toml")).unwrap().replace("type = \"basic\"", "type = \"basc\"")).unwrap();
    let o = cloudstrap(&["zone", "deploy", "--profile", bad.to_str().unwrap()], Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with(&format!("{}:", bad.display())) && stderr(&o).contains("zone.type"), "{}", stderr(&o));
    assert!(sim.sim.calls().is_empty());
}

#[test]
fn api_with_credentials_from_a_profile() {
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), format!("{SECRET}\n")).unwrap();
    let text = std::fs::read_to_string(fixture("advanced-zone.toml"))
        .unwrap()
        .replace("endpoint = \"http://10.0.0.4:8080/client/api\"", &format!("endpoint = \"{}\"\napi-key = \"{KEY}\"\nsecret-key-file = \"secret\"", sim.url()));
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, text).unwrap();
    let o = cloudstrap(&["api", "listZones", "--profile", profile.to_str().unwrap()], None, root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(sim.sim.calls(), ["listZones"]);
}

#[test]
fn zone_deploy_command_reports_each_step_and_continues_on_rerun() {
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    let profile = fixture("basic-zone.toml");
    let args = ["zone", "deploy", "--profile", profile.to_str().unwrap(), "--poll-interval", "0.001", "--wait-system-vms"];
    let o = cloudstrap(&args, Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for line in ["  zone Zone1: created (", "  pod Pod1: created (", "  host 192.168.1.5 Up: ready (", "  zone Zone1 enabled: updated ("] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let o = cloudstrap(&json_args, Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_shape::assert_documented("zone-deploy", &o.stdout);
    let steps = v["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["outcome"] == "exists" || s["outcome"] == "ready"), "{v}");
    assert_eq!(sim.sim.objects("zone").len(), 1);

    // A failure stops with exit 1 and says that a re-run continues.
    let sim2 = simulator();
    sim2.sim.fail_once("addCluster", cloudstack_simulator::FaultMode::Before);
    let mut failing = args.to_vec();
    failing.extend(["--format", "json"]);
    let o = cloudstrap(&failing, Some(&sim2.url()), root.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("CloudStack refused addCluster (error 530)") && stderr(&o).contains("continues where it stopped"), "{}", stderr(&o));
    let v = json_shape::assert_documented("failed", &o.stdout);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("addCluster")), "{v}");
    let o = cloudstrap(&args, Some(&sim2.url()), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("  pod Pod1: exists ("));
}

#[test]
fn output_into_a_closed_pipe_is_not_a_crash() {
    // `cloudstrap api listZones | head -1`: the reader is gone before the answer is written.
    let sim = simulator();
    let root = tempfile::tempdir().unwrap();
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .args(["api", "listZones", "--root"])
        .arg(root.path())
        .env("CLOUDSTACK_ENDPOINT", sim.url())
        .env("CLOUDSTACK_KEY", KEY)
        .env("CLOUDSTACK_SECRET", SECRET)
        .stdout(std::process::Stdio::from(writer))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

/// `zone deploy --wait-system-vms` when the server's template copy failed (it only logged it): exit 1 with what
/// to read, what to check and the command to run; after the fix the same command finishes the zone.
#[test]
fn zone_deploy_explains_a_failed_template_copy_and_finishes_after_the_fix() {
    let sim = simulator_with(cloudstack_simulator::Config {
        admin_keys: Some((KEY.into(), SECRET.into())),
        template_copy_fails: true,
        ..cloudstack_simulator::Config::default()
    });
    let root = tempfile::tempdir().unwrap();
    let profile = fixture("basic-zone.toml");
    let args = ["zone", "deploy", "--profile", profile.to_str().unwrap(), "--poll-interval", "0.001", "--wait-system-vms", "--system-vm-timeout", "0.3"];
    let o = cloudstrap(&args, Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("cloudstrap: the system VMs of zone Zone1 Running (seen: none): the KVM system VM template systemvm-kvm-4.22 is not Ready."), "{err}");
    assert!(err.contains("/var/log/cloudstack/management/management-server.log") && err.contains("nfs://192.168.1.4/export/secondary"), "{err}");
    assert!(err.contains(&format!("`cloudstrap zone deploy --profile {} --wait-system-vms`", profile.display())), "{err}");
    assert!(stdout(&o).contains("... waiting up to 300 ms for the system VMs"), "{}", stdout(&o));
    sim.sim.repair_template();
    let o = cloudstrap(&args, Some(&sim.url()), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("(secondarystoragevm) Running: ready"), "{}", stdout(&o));
}

/// Against a hardened server `api` sends a state change as a POST form body (lists stay GET); `--print-url`
/// still prints a GET URL; a name given twice is refused, since GET and POST would keep different values.
#[test]
fn api_posts_state_changes_and_refuses_repeated_names() {
    let sim = simulator_with(cloudstack_simulator::Config { admin_keys: Some((KEY.into(), SECRET.into())), enforce_post: true, ..cloudstack_simulator::Config::default() });
    let root = tempfile::tempdir().unwrap();
    let url = sim.url();
    let o = cloudstrap(&["api", "createZone", "name=Z", "networktype=Basic", "dns1=8.8.8.8", "internaldns1=8.8.4.4"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = cloudstrap(&["api", "listZones", "name=Z"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let methods: Vec<(String, String)> = sim.sim.requests().iter().map(|r| (r.command.clone(), r.method.clone())).collect();
    assert_eq!(methods, [("createZone".to_string(), "POST".to_string()), ("listZones".into(), "GET".into())]);
    // A fixed expiry is sent as signed: POST for a state change too.
    let o = cloudstrap(&["api", "createZone", "name=Z2", "networktype=Basic", "dns1=8.8.8.8", "internaldns1=8.8.4.4", "--expires", "2099-01-01T00:00:00+0000"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = cloudstrap(&["api", "listZones", "--print-url"], Some(&url), root.path());
    assert!(stdout(&o).starts_with(&format!("{url}?command=listZones&")), "{}", stdout(&o));
    let n = sim.sim.requests().len();
    let o = cloudstrap(&["api", "listZones", "name=a", "name=b"], Some(&url), root.path());
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "cloudstrap: name is given twice; the server would keep the last value of a GET and the first of a POST, so give it once\n");
    assert_eq!(sim.sim.requests().len(), n, "nothing sent");
}

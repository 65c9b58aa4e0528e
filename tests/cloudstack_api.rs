//! The API client against the simulator: signatures (v2 and v3), bad keys, expired requests, login
//! sessions, error bodies, async jobs; and the Python `cs` client against both.

#[path = "common/cloudstack.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use cloudstack_simulator::Config;
use cloudstrap::cloudstack::{sign, ApiError, Auth, Client, Options};
use common::*;
use serde_json::{json, Value};

const UNAUTHORIZED: &str = "unable to verify user credentials and/or request signature";

fn raw_get(url: &str) -> (u16, Value) {
    let r = reqwest::blocking::get(url).unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().unwrap()).unwrap())
}

#[test]
fn signed_requests_v3_and_v2_are_accepted() {
    let sim = simulator();
    let c = client(&sim);
    let zones = c.execute("listZones", &[]).unwrap();
    assert_eq!(zones, json!({}), "an empty list is an empty object");
    let v2 = Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, Options { expires_after: None, ..fast() }).unwrap();
    assert!(v2.signed_url("listZones", &[], None).find("expires").is_none());
    v2.execute("listZones", &[]).unwrap();
    // Tricky values survive the round trip and the signature.
    let name = "Zone ~*+[0] é/?&=%";
    c.call("createZone", &[("name", name), ("networktype", "Basic"), ("dns1", "8.8.8.8"), ("internaldns1", "8.8.4.4")]).unwrap();
    let listed = c.execute("listZones", &[("name", name)]).unwrap();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["zone"][0]["name"], name);
}

#[test]
fn a_bad_key_or_secret_is_refused_with_401() {
    let sim = simulator();
    for (key, secret) in [("no-such-key", SECRET), (KEY, "wrong-secret")] {
        let c = Client::new(&sim.url(), Auth::Keys { api_key: key.into(), secret: secret.into() }, fast()).unwrap();
        let e = c.execute("listZones", &[]).unwrap_err();
        match &e {
            ApiError::Unauthorized { command, errortext } => assert_eq!((command.as_str(), errortext.as_str()), ("listZones", UNAUTHORIZED)),
            other => panic!("expected 401, got {other:?}"),
        }
        assert!(!e.to_string().contains(secret));
    }
    // The body and status are the server's: HTTP 401 = errorcode.
    let c = Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: "wrong".into() }, fast()).unwrap();
    let (status, body) = raw_get(&c.signed_url("listZones", &[], None));
    assert_eq!(status, 401);
    assert_eq!(body["listzonesresponse"]["errorcode"], 401);
    assert_eq!(body["listzonesresponse"]["errortext"], UNAUTHORIZED);
    // A signature of other parameters than those sent.
    let url = client(&sim).signed_url("listZones", &[("name", "a")], None).replace("name=a", "name=b");
    assert_eq!(raw_get(&url).0, 401);
}

#[test]
fn an_expired_request_is_refused_and_a_future_one_accepted() {
    let sim = simulator();
    let c = client(&sim);
    let (status, body) = raw_get(&c.signed_url("listZones", &[], Some("2001-01-01T00:00:00+0000")));
    assert_eq!((status, body["listzonesresponse"]["errortext"].as_str()), (401, Some(UNAUTHORIZED)));
    for future in ["2099-01-01T00:00:00+0000", "2099-01-01T00:00:00Z", "2099-01-01T05:30:00+05:30"] {
        assert_eq!(raw_get(&c.signed_url("listZones", &[], Some(future))).0, 200, "{future}");
    }
    // signatureversion=3 without expires is refused too.
    let mut p: Vec<(String, String)> = vec![("command".into(), "listZones".into()), ("response".into(), "json".into()), ("signatureversion".into(), "3".into())];
    sign::sign_params(&mut p, KEY, SECRET, None);
    assert_eq!(raw_get(&format!("{}?{}", sim.url(), sign::query_string(&p))).0, 401);
}

#[test]
fn login_session_with_cookie_and_sessionkey() {
    let sim = simulator();
    let (s, info) = Client::login(&sim.url(), "admin", "password", "/", fast()).unwrap();
    assert_eq!(info.username, "admin");
    let users = s.execute("listUsers", &[("username", "admin")]).unwrap();
    assert_eq!(users["user"][0]["id"], info.userid.as_str());
    // A session key that does not match the session is refused (and ends the session).
    let Auth::Session { jsessionid, .. } = s.auth().clone() else { panic!("a session") };
    let forged = Client::new(&sim.url(), Auth::Session { jsessionid: jsessionid.clone(), sessionkey: "forged".into() }, fast()).unwrap();
    let e = forged.execute("listUsers", &[]).unwrap_err();
    assert!(matches!(&e, ApiError::Unauthorized { errortext, .. } if errortext == "unable to verify user credentials"), "{e:?}");
    assert!(s.execute("listUsers", &[]).is_err(), "the session was invalidated");
    // A wrong password: error 531 with the server's text.
    let e = Client::login(&sim.url(), "admin", "nope", "/", fast()).unwrap_err();
    assert_eq!(e.errorcode(), Some(531));
    assert_eq!(e.to_string(), "CloudStack refused login (error 531): Failed to authenticate user admin in domain 1; please provide valid credentials");
    // login must be a POST.
    let (status, _) = raw_get(&format!("{}?command=login&username=admin&password=password&response=json", sim.url()));
    assert_eq!(status, 405);
}

#[test]
fn duplicates_fail_like_the_real_server() {
    let sim = simulator();
    let c = client(&sim);
    let p = [("name", "Z"), ("networktype", "Advanced"), ("dns1", "8.8.8.8"), ("internaldns1", "8.8.8.8")];
    c.call("createZone", &p).unwrap();
    let e = c.call("createZone", &p).unwrap_err();
    assert_eq!(e.errorcode(), Some(431));
    assert!(e.is_already_exists(), "{e}");
    assert_eq!(e.to_string(), "CloudStack refused createZone (error 431): A zone with that name already exists. Please specify a unique zone name.");
    // On the wire the HTTP status is the errorcode, and the body says it too.
    let (status, body) = raw_get(&c.signed_url("createZone", &p, None));
    assert_eq!((status, &body["createzoneresponse"]["errorcode"]), (431, &json!(431)));
    let e = c.call("createPod", &[("zoneid", "nope"), ("name", "p"), ("gateway", "1.1.1.1"), ("netmask", "255.0.0.0"), ("startip", "1.1.1.2")]).unwrap_err();
    assert_eq!(e.errorcode(), Some(431));
    assert!(e.to_string().contains("Invalid parameter zoneid value=nope"), "{e}");
}

#[test]
fn async_jobs_are_polled_to_their_result_or_failure_within_a_bound() {
    let sim = simulator_with(Config { admin_keys: Some((KEY.into(), SECRET.into())), job_polls: 3, ..Config::default() });
    let c = client(&sim);
    let z: Value = c.call_object("createZone", &[("name", "Z"), ("networktype", "Advanced"), ("dns1", "8.8.8.8"), ("internaldns1", "8.8.8.8")]).unwrap();
    let zid = z["id"].as_str().unwrap().to_string();
    let answer = c.execute("createPhysicalNetwork", &[("zoneid", &zid), ("name", "pn")]).unwrap();
    let jobid = answer["jobid"].as_str().unwrap().to_string();
    assert!(answer["id"].is_string(), "an async create answers with the job id and the new id: {answer}");
    let result = c.wait_job("createPhysicalNetwork", &jobid).unwrap();
    assert_eq!(result["physicalnetwork"]["name"], "pn");
    assert_eq!(sim.sim.calls().iter().filter(|c| *c == "queryAsyncJobResult").count(), 3, "polled until done");

    sim.sim.fail_once("createPhysicalNetwork", cloudstack_simulator::FaultMode::Before);
    let e = c.call("createPhysicalNetwork", &[("zoneid", &zid), ("name", "pn2")]).unwrap_err();
    assert!(matches!(&e, ApiError::JobFailed { errorcode: 530, .. }), "{e:?}");

    let slow = simulator_with(Config { admin_keys: Some((KEY.into(), SECRET.into())), job_polls: u32::MAX, ..Config::default() });
    let c = Client::new(&slow.url(), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, Options { job_timeout: Duration::from_millis(20), ..fast() }).unwrap();
    let z: Value = c.call_object("createZone", &[("name", "Z"), ("networktype", "Advanced"), ("dns1", "8.8.8.8"), ("internaldns1", "8.8.8.8")]).unwrap();
    let e = c.call("createPhysicalNetwork", &[("zoneid", z["id"].as_str().unwrap()), ("name", "pn")]).unwrap_err();
    assert!(matches!(e, ApiError::JobTimeout { .. }), "{e:?}");
    assert!(e.to_string().contains("cloudstrap api queryAsyncJobResult jobid="), "{e}");
}

#[test]
fn unreachable_server_is_a_transport_error_after_bounded_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = Client::new(&format!("http://127.0.0.1:{port}/client/api"), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, fast()).unwrap();
    let e = c.execute("listZones", &[]).unwrap_err();
    assert!(matches!(e, ApiError::Transport { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&format!("cannot reach the CloudStack API at http://127.0.0.1:{port}/client/api for listZones")), "{e}");
    // Nothing reached the server: a create is not awaited as if its answer were lost.
    let e = c.call("createZone", &[("name", "Z")]).unwrap_err();
    assert!(matches!(e, ApiError::Transport { sent: false, .. }) && !e.answer_lost(), "{e:?}");
    // A request that went out and got no answer in time may have done its work.
    let sim = simulator_with(Config { admin_keys: Some((KEY.into(), SECRET.into())), latency: vec![("createZone".into(), Duration::from_millis(600))], ..Config::default() });
    let slow = Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, Options { request_timeout: Duration::from_millis(100), ..fast() }).unwrap();
    let e = slow.call("createZone", &[("name", "Z"), ("networktype", "Basic"), ("dns1", "1.1.1.1"), ("internaldns1", "1.1.1.1")]).unwrap_err();
    assert!(e.answer_lost(), "{e:?}");
    assert!(e.to_string().ends_with("no answer within 100 ms"), "{e}");
    assert_eq!(sim.sim.calls(), ["createZone"], "not sent twice");
}

/// A server that reads each request and then either answers 503 or hangs up without an answer;
/// it counts the requests that reached it.
fn flaky_server(answer_503: bool) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/client/api", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if answer_503 {
                let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
            // Dropping the stream hangs up (without an answer unless one was written).
        }
    });
    (url, count)
}

#[test]
fn only_calls_safe_to_repeat_are_retried_once_sent() {
    for answer_503 in [true, false] {
        for (command, idempotent) in [("listZones", true), ("queryAsyncJobResult", true), ("createZone", false), ("deleteZone", false)] {
            let (url, count) = flaky_server(answer_503);
            let c = Client::new(&url, Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, fast()).unwrap();
            assert!(c.execute(command, &[("name", "Z")]).is_err());
            let sent = count.load(std::sync::atomic::Ordering::SeqCst);
            let expected = if idempotent { 1 + fast().retries as usize } else { 1 };
            assert_eq!(sent, expected, "{command} (503: {answer_503}) was sent {sent} times");
        }
    }
}

// ---- The Python `cs` client ----

const CS_SCRIPT: &str = r#"
import json, sys
from cs import CloudStack, CloudStackApiException
req = json.load(sys.stdin)
out = {}
if req["mode"] == "sign":
    c = CloudStack(endpoint="http://127.0.0.1/", key="unused", secret=req["secret"])
    sigs = []
    for params in req["cases"]:
        d = dict(params)
        c._sign(d)
        sigs.append(d["signature"])
    out["signatures"] = sigs
else:
    c = CloudStack(endpoint=req["endpoint"], key=req["key"], secret=req["secret"], method=req["method"])
    results = []
    for call in req["calls"]:
        try:
            results.append({"ok": getattr(c, call["command"])(**call["params"])})
        except CloudStackApiException as e:
            results.append({"status": e.response.status_code, "error": e.error})
    out["results"] = results
print(json.dumps(out))
"#;

/// Run the script with `cs`; CI installs it (scripts/test-env/services/python-cs.sh).
fn python_cs(input: Value) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", CS_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the cs comparison (scripts/test-env/packages/api.list)");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 with the cs client failed ({}); install it with scripts/test-env/services/python-cs.sh: {stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const TRICKY: &[&str] = &["plain", "a b", "a+b", "a*b", "[x]", "é ü 日本", "", "100%", "a=b&c", "/p?q:r", "MiXeD", "a~b"];

#[test]
fn signatures_equal_those_of_python_cs_except_for_tilde() {
    let cases: Vec<Vec<(String, String)>> = TRICKY
        .iter()
        .map(|v| {
            [("command", "listZones"), ("apikey", KEY), ("response", "json"), ("signatureversion", "3"), ("expires", "2030-01-01T00:00:00+0000"), ("name", v), ("details[0].key", v)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    let dicts: Vec<Value> = cases.iter().map(|c| Value::Object(c.iter().map(|(k, v)| (k.clone(), json!(v))).collect())).collect();
    let out = python_cs(json!({"mode": "sign", "secret": SECRET, "cases": dicts}));
    let theirs = out["signatures"].as_array().unwrap();
    for (i, v) in TRICKY.iter().enumerate() {
        let ours = sign::signature(SECRET, &cases[i]);
        if v.contains('~') {
            // cs leaves "~" as is; the server (and cloudstrap) encode it as %7E.
            assert_ne!(ours, theirs[i].as_str().unwrap(), "{v:?}");
            let cs_style = sign::string_to_sign(&cases[i]).replace("%7e", "~");
            assert_eq!(sign::sign_string(SECRET, &cs_style), theirs[i].as_str().unwrap(), "{v:?}");
        } else {
            assert_eq!(ours, theirs[i].as_str().unwrap(), "{v:?}");
        }
    }
}

#[test]
fn requests_signed_by_python_cs_are_accepted_by_the_simulator() {
    let sim = simulator();
    for method in ["get", "post"] {
        let calls: Vec<Value> = TRICKY
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"command": "createZone", "params": {"name": format!("{method}{i} {v}"), "networktype": "Advanced", "dns1": "8.8.8.8", "internaldns1": "8.8.4.4"}}))
            .chain([json!({"command": "listZones", "params": {}})])
            .collect();
        let out = python_cs(json!({"mode": "call", "endpoint": sim.url(), "key": KEY, "secret": SECRET, "method": method, "calls": calls}));
        let results = out["results"].as_array().unwrap();
        for (i, v) in TRICKY.iter().enumerate() {
            let r = &results[i];
            // cs signs "~" unencoded, so a value with "~" fails verification, as on the real server.
            if v.contains('~') {
                assert_eq!(r["status"], 401, "{method} {v:?}: {r}");
                assert_eq!(r["error"]["errortext"], UNAUTHORIZED);
            } else {
                assert_eq!(r["ok"]["zone"]["name"], format!("{method}{i} {v}"), "{method} {v:?}: {r}");
            }
        }
        assert_eq!(results.last().unwrap()["ok"]["count"], (TRICKY.len() - 1) * if method == "get" { 1 } else { 2 });
    }
    // And cloudstrap reads what cs created.
    let zones = client(&sim).execute("listZones", &[("name", "get5 é ü 日本")]).unwrap();
    assert_eq!(zones["count"], 1);
}

/// The server's rules the real one has: a repeated name keeps the last value in a GET and the first in a POST
/// body; createStoragePool with scope=cluster needs clusterid; createPod refuses a range in the guest CIDR.
#[test]
fn repeated_names_cluster_scope_and_pod_in_guest_cidr() {
    let sim = simulator_with(Config::default());
    let (s, _) = Client::login(&sim.url(), "admin", "password", "/", fast()).unwrap();
    // POST (a state change): the first of two names wins.
    s.call("createZone", &[("name", "first"), ("name", "second"), ("networktype", "Advanced"), ("dns1", "1.1.1.1"), ("internaldns1", "1.1.1.1")]).unwrap();
    assert_eq!(sim.sim.objects("zone")[0]["name"], "first");
    // GET (a list): the last wins.
    let v = s.execute("listZones", &[("name", "nothing"), ("name", "first")]).unwrap();
    assert_eq!(v["count"], 1, "{v}");
    let v = s.execute("listZones", &[("name", "first"), ("name", "nothing")]).unwrap();
    assert_eq!(v, json!({}));

    let zone = sim.sim.objects("zone")[0]["id"].as_str().unwrap().to_string();
    let e = s.call("createStoragePool", &[("zoneid", &zone), ("name", "p"), ("url", "nfs://10.0.0.1/p"), ("scope", "cluster")]).unwrap_err();
    assert_eq!(e.errorcode(), Some(431));
    assert!(e.to_string().contains("Cluster id is required"), "{e}");

    let e = s.call("createPod", &[("zoneid", &zone), ("name", "p"), ("gateway", "10.1.1.1"), ("netmask", "255.255.255.0"), ("startip", "10.1.1.100"), ("endip", "10.1.1.150")]).unwrap_err();
    assert!(e.to_string().contains("overlaps the zone's guest CIDR 10.1.1.0/24"), "{e}");
    assert!(sim.sim.objects("pod").is_empty());
}

/// A 401 from a server whose clock is far off, with keys that are wrong anyway: the error names the clock
/// difference instead of a bare 401 (after one attempt signed for the server's time).
#[test]
fn a_401_from_a_server_with_another_clock_says_by_how_much() {
    let sim = simulator_with(Config { admin_keys: Some((KEY.into(), SECRET.into())), clock_offset: chrono::Duration::minutes(-20), ..Config::default() });
    let c = Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: "wrong".into() }, fast()).unwrap();
    let e = c.execute("listZones", &[]).unwrap_err();
    assert!(matches!(e, ApiError::ClockSkew { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("the server's clock is 20 min behind this host's"), "{text}");
    assert_eq!(sim.sim.calls().len(), 2, "signed once more for the server's time, then stopped");
}

/// Job polls start soon and back off to the ceiling: a job done at once costs a fraction of a second, a long one
/// a poll every few seconds.
#[test]
fn polls_start_soon_and_back_off() {
    use cloudstrap::cloudstack::Backoff;
    let o = Options::default();
    assert!(o.poll_first >= Duration::from_millis(100) && o.poll_first <= Duration::from_millis(250), "{:?}", o.poll_first);
    let mut b = Backoff::new(o.poll_first, o.poll_interval);
    let gaps: Vec<Duration> = (0..12).map(|_| b.gap()).collect();
    assert_eq!(gaps[0], o.poll_first);
    assert!(gaps.windows(2).all(|w| w[0] <= w[1]), "{gaps:?}");
    assert_eq!(*gaps.last().unwrap(), o.poll_interval);
    assert!(o.poll_interval <= Duration::from_secs(5));
    // What the first 10 s of a job cost in polls, against the old fixed 5 s.
    let mut b = Backoff::new(o.poll_first, o.poll_interval);
    let (mut t, mut polls) = (Duration::ZERO, 0);
    while t < Duration::from_secs(10) {
        t += b.gap();
        polls += 1;
    }
    assert!((8..=14).contains(&polls), "{polls} polls in the first 10 s");
}

//! The `cloudstack-simulator` binary as the lab runs it: --listen, admin password from a file, state
//! kept in a file across restarts, faults injected through the control endpoint.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudstack-simulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // "cloudstack-simulator: serving http://127.0.0.1:PORT/client/api"
    let addr = line.trim().rsplit("http://").next().unwrap().trim_end_matches("/client/api").to_string();
    Server { child, addr }
}

/// One raw HTTP request; returns status, headers and body.
fn http(addr: &str, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

fn login(addr: &str, password: &str) -> (u16, String, String) {
    let body = format!("command=login&username=admin&password={password}&domain=%2F&response=json");
    let (status, head, body) = http(addr, "POST", "/client/api", &[("Content-Type", "application/x-www-form-urlencoded")], &body);
    if status != 200 {
        return (status, String::new(), body);
    }
    let cookie = head.lines().find_map(|l| l.strip_prefix("Set-Cookie: JSESSIONID=")).unwrap().split(';').next().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    (status, cookie, v["loginresponse"]["sessionkey"].as_str().unwrap().to_string())
}

fn call(addr: &str, session: &(u16, String, String), query: &str) -> (u16, serde_json::Value) {
    let cookie = format!("JSESSIONID={}", session.1);
    let target = format!("/client/api?{query}&response=json&sessionkey={}", percent_encoding::utf8_percent_encode(&session.2, percent_encoding::NON_ALPHANUMERIC));
    let (status, _, body) = http(addr, "GET", &target, &[("Cookie", &cookie)], "");
    (status, serde_json::from_str(&body).unwrap())
}

#[test]
fn state_survives_a_restart_and_faults_come_through_the_control_endpoint() {
    let dir = tempfile_dir();
    let pw = dir.join("admin-pw");
    std::fs::write(&pw, "lab-admin-pw\n").unwrap();
    let state = dir.join("state.json");
    let args = ["--admin-password-file", pw.to_str().unwrap(), "--state", state.to_str().unwrap(), "--job-polls", "0"];

    let s = start(&args);
    assert_eq!(login(&s.addr, "password").0, 531, "the default password is replaced by the file's");
    let session = login(&s.addr, "lab-admin-pw");
    assert_eq!(session.0, 200);
    let (status, v) = call(&s.addr, &session, "command=createZone&name=Lab&networktype=Basic&dns1=8.8.8.8&internaldns1=8.8.8.8");
    assert_eq!(status, 200, "{v}");
    // Fail the next listZones once.
    assert_eq!(http(&s.addr, "POST", "/simulator/fail?command=listZones", &[], "").0, 200);
    let (status, v) = call(&s.addr, &session, "command=listZones");
    assert_eq!((status, v["listzonesresponse"]["errorcode"].as_u64()), (530, Some(530)));
    assert_eq!(call(&s.addr, &session, "command=listZones").0, 200);
    drop(s);

    let s = start(&args);
    let session = login(&s.addr, "lab-admin-pw");
    let (_, v) = call(&s.addr, &session, "command=listZones&name=Lab");
    assert_eq!(v["listzonesresponse"]["count"], 1, "{v}");
    assert_eq!(std::fs::metadata(&state).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777).unwrap(), 0o600);
    // Without a session or signature: 401 with the server's text.
    let (status, _, body) = http(&s.addr, "GET", "/client/api?command=listZones&response=json", &[], "");
    assert_eq!(status, 401);
    assert!(body.contains("unable to verify user credentials and/or request signature"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cloudstack-simulator-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The real server's behaviours as flags: a slow command, POST enforcement, a clock ahead (the Date header),
/// a template copy that only logs, and its repair through the control endpoint.
#[test]
fn flags_for_latency_post_enforcement_clock_and_template_copy() {
    let s = start(&["--latency", "createZone=0.3", "--enforce-post", "--clock-offset", "900", "--template-copy-fails", "--job-polls", "0"]);
    let session = login(&s.addr, "password");
    let cookie = format!("JSESSIONID={}", session.1);
    let key = percent_encoding::utf8_percent_encode(&session.2, percent_encoding::NON_ALPHANUMERIC).to_string();
    // A state change as a GET is refused, and nothing is created.
    let (status, v) = call(&s.addr, &session, "command=createZone&name=Lab&networktype=Basic&dns1=8.8.8.8&internaldns1=8.8.8.8");
    assert_eq!(status, 405, "{v}");
    // As a POST form body it is taken, after its latency; the Date header is the server's clock.
    let body = format!("command=createZone&name=Lab&networktype=Basic&dns1=8.8.8.8&internaldns1=8.8.8.8&response=json&sessionkey={key}");
    let t = std::time::Instant::now();
    let (status, head, body) = http(&s.addr, "POST", "/client/api", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], &body);
    assert_eq!(status, 200, "{body}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    let date = head.lines().find_map(|l| l.strip_prefix("Date: ")).unwrap();
    let server = chrono::DateTime::parse_from_rfc2822(date).unwrap();
    let ahead = (server.to_utc() - chrono::Utc::now()).num_seconds();
    assert!((895..=901).contains(&ahead), "{ahead}");
    let zone: serde_json::Value = serde_json::from_str(&body).unwrap();
    let zid = zone["createzoneresponse"]["zone"]["id"].as_str().unwrap();
    let pod = format!("command=createPod&zoneid={zid}&name=P&gateway=10.0.0.1&netmask=255.255.255.0&startip=10.0.0.10&endip=10.0.0.20&response=json&sessionkey={key}");
    let (status, _, body) = http(&s.addr, "POST", "/client/api", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], &pod);
    assert_eq!(status, 200, "{body}");
    let podid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["createpodresponse"]["pod"]["id"].as_str().unwrap().to_string();
    let cl = format!("command=addCluster&zoneid={zid}&podid={podid}&clustername=C&hypervisor=KVM&clustertype=CloudManaged&response=json&sessionkey={key}");
    assert_eq!(http(&s.addr, "POST", "/client/api", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], &cl).0, 200);
    let st = format!("command=addImageStore&provider=NFS&zoneid={zid}&url=nfs%3A%2F%2F10.0.0.1%2Fs&response=json&sessionkey={key}");
    assert_eq!(http(&s.addr, "POST", "/client/api", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], &st).0, 200);
    let (_, v) = call(&s.addr, &session, &format!("command=listTemplates&templatefilter=system&zoneid={zid}"));
    assert_eq!(v["listtemplatesresponse"]["template"][0]["isready"], false, "{v}");
    let (_, _, log) = http(&s.addr, "GET", "/simulator/log", &[], "");
    assert!(log.contains("Failed to register the systemvm-kvm-4.22 template"), "{log}");
    assert_eq!(http(&s.addr, "POST", "/simulator/repair-template", &[], "").0, 200);
    let (_, v) = call(&s.addr, &session, &format!("command=listTemplates&templatefilter=system&zoneid={zid}"));
    assert_eq!(v["listtemplatesresponse"]["template"][0]["isready"], true, "{v}");
}

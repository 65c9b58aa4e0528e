//! The live installer's network mode against a real HTTP server on 127.0.0.1 laid out like the provisioning
//! node's tree: the profile is found by MAC address among several interfaces, the secret files land 0600
//! beside it and are DELETEd only once all arrived, unsafe secret paths are refused before any request, a
//! server error names the URL, and the installed state is PUT with the host name. (Bringing up the address
//! and route needs root and a real interface: the lab covers it.)

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudstrap::media::netboot::{self, Fleet, NetbootError};

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    body: String,
}

/// What the server holds: files by path (GET, PUT, DELETE) and paths that answer 500; every request logged.
#[derive(Default)]
struct Tree {
    files: BTreeMap<String, Vec<u8>>,
    broken: BTreeSet<String>,
    log: Vec<Req>,
}

struct Server {
    addr: SocketAddr,
    tree: Arc<Mutex<Tree>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tree = Arc::new(Mutex::new(Tree::default()));
        let t = tree.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &t);
            }
        });
        Server { addr, tree }
    }

    fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr)).unwrap()
    }

    fn fleet(&self) -> Fleet {
        Fleet::new(&self.url()).unwrap().attempts(1, Duration::ZERO)
    }

    fn put(&self, path: &str, body: &str) {
        self.tree.lock().unwrap().files.insert(path.to_string(), body.as_bytes().to_vec());
    }

    fn log(&self) -> Vec<Req> {
        self.tree.lock().unwrap().log.clone()
    }

    fn requests(&self) -> Vec<String> {
        self.log().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }
}

/// One request per connection (`Connection: close`), which is all the installer needs.
fn serve(stream: TcpStream, tree: &Mutex<Tree>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string());
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (status, reason, out) = {
        let mut t = tree.lock().unwrap();
        t.log.push(Req { method: method.clone(), path: path.clone(), body: String::from_utf8_lossy(&body).into_owned() });
        if t.broken.contains(&path) {
            (500, "Internal Server Error", Vec::new())
        } else {
            match method.as_str() {
                "GET" => match t.files.get(&path) {
                    Some(b) => (200, "OK", b.clone()),
                    None => (404, "Not Found", Vec::new()),
                },
                "DELETE" => match t.files.remove(&path) {
                    Some(_) => (204, "No Content", Vec::new()),
                    None => (404, "Not Found", Vec::new()),
                },
                "PUT" => {
                    t.files.insert(path.clone(), body);
                    (201, "Created", Vec::new())
                }
                _ => (405, "Method Not Allowed", Vec::new()),
            }
        }
    };
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", out.len())?;
    stream.write_all(&out)?;
    stream.flush()
}

const MAC: &str = "52:54:00:AA:BB:01";
const MAC_PATH: &str = "52-54-00-aa-bb-01";

/// A host's profile as the node serves it: no secret in it, its secrets named relative to it.
fn profile_text(root_password_file: &str) -> String {
    format!(
        "[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"kvm-agent\"]\nplatform = \"debian-12\"\nhostname = \"kvm1\"\nfqdn = \"kvm1.example.org\"\naddress = \"10.77.0.21/24\"\ngateway = \"10.77.0.1\"\ndns = [\"10.77.0.1\"]\ninterface = \"ens3\"\nmac = \"52:54:00:aa:bb:01\"\n\n[management]\nendpoint = \"http://10.77.0.1:8080/client/api\"\nsecret-key-file = \"secrets/api-secret-key\"\n\n[agent]\nroot-password-file = \"{root_password_file}\"\n\n[disk]\ndevice = \"largest\"\nwipe = true\n"
    )
}

fn interfaces() -> Vec<(String, String)> {
    [("eth0", "52:54:00:00:00:09"), ("ens3", MAC), ("ens4", "52:54:00:00:00:0a")].iter().map(|(n, m)| (n.to_string(), m.to_string())).collect()
}

fn load(path: &Path) -> cloudstrap::profile::Profile {
    cloudstrap::profile::load(path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_profile_is_found_by_mac_among_the_interfaces() {
    let s = Server::start();
    s.put(&format!("/hosts/{MAC_PATH}/profile.toml"), &profile_text("secrets/root-password"));
    let found = s.fleet().find_profile(&interfaces()).unwrap().expect("found");
    assert_eq!((found.interface.as_str(), found.mac.as_str()), ("ens3", MAC_PATH));
    assert_eq!(found.text, profile_text("secrets/root-password"));
    // The first answer wins: the interface after it is not asked.
    assert_eq!(s.requests(), ["GET /hosts/52-54-00-00-00-09/profile.toml", &format!("GET /hosts/{MAC_PATH}/profile.toml")]);

    let others = vec![("eth0".to_string(), "52:54:00:00:00:09".to_string())];
    assert_eq!(s.fleet().find_profile(&others).unwrap(), None, "a machine the node does not know is not in the fleet");
}

#[test]
fn secrets_land_0600_beside_the_profile_and_are_deleted_once_all_arrived() {
    let s = Server::start();
    s.put(&format!("/hosts/{MAC_PATH}/profile.toml"), &profile_text("secrets/root-password"));
    s.put(&format!("/secrets/{MAC_PATH}/api-secret-key"), "the-api-secret\n");
    s.put(&format!("/secrets/{MAC_PATH}/root-password"), "Root-Pass-1\n");
    let fleet = s.fleet();
    let found = fleet.find_profile(&interfaces()).unwrap().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fleet");
    let path = netboot::save_profile(&dir, &found.text).unwrap();
    assert_eq!(path, dir.join("profile.toml"));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let profile = load(&path);

    let before = s.log().len();
    let files = fleet.fetch_secrets(&found.mac, &profile, &dir).unwrap();
    assert_eq!(files, [dir.join("secrets/api-secret-key"), dir.join("secrets/root-password")]);
    assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), "the-api-secret\n");
    assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), "Root-Pass-1\n");
    for f in &files {
        assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
    }
    let requests = s.requests()[before..].to_vec();
    assert_eq!(
        requests,
        [
            format!("GET /secrets/{MAC_PATH}/api-secret-key"),
            format!("GET /secrets/{MAC_PATH}/root-password"),
            format!("DELETE /secrets/{MAC_PATH}/api-secret-key"),
            format!("DELETE /secrets/{MAC_PATH}/root-password"),
        ]
    );
    assert!(!s.tree.lock().unwrap().files.keys().any(|k| k.starts_with("/secrets/")), "the node holds no secret any more");
    // The secrets resolve from where they landed, as the install reads them.
    let secrets = cloudstrap::profile::Secrets::resolve(&profile, &dir).unwrap();
    assert_eq!(secrets.agent_root_password.unwrap().expose(), "Root-Pass-1");

    // One-shot: a second fetch finds them gone, says so and names the URL, never a value.
    let e = fleet.fetch_secrets(&found.mac, &profile, &dir).unwrap_err().to_string();
    assert!(e.starts_with(&format!("GET {}secrets/{MAC_PATH}/api-secret-key: 404 Not Found", s.url())), "{e}");
    assert!(e.contains("served once"), "{e}");
}

#[test]
fn a_secret_outside_the_profile_directory_is_refused_before_any_request() {
    let s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["/etc/cloudstrap/root-password", "../root-password", "secrets/../../root-password"] {
        let path = netboot::save_profile(tmp.path(), &profile_text(bad)).unwrap();
        let profile = load(&path);
        let e = s.fleet().fetch_secrets(MAC, &profile, tmp.path()).unwrap_err();
        assert!(matches!(e, NetbootError::SecretPath(_)), "{bad}: {e:?}");
        let e = e.to_string();
        assert!(e.contains("agent.root-password-file") && e.contains("relative to the profile"), "{bad}: {e}");
    }
    assert_eq!(s.requests(), Vec::<String>::new(), "nothing was asked of the node");
}

#[test]
fn a_server_error_or_no_answer_is_a_clear_error_naming_the_url() {
    let s = Server::start();
    let profile_path = format!("/hosts/{MAC_PATH}/profile.toml");
    s.tree.lock().unwrap().broken.insert(profile_path.clone());
    let one = vec![("ens3".to_string(), MAC.to_string())];
    let e = s.fleet().find_profile(&one).unwrap_err();
    assert_eq!(e.to_string(), format!("GET http://{}{profile_path}: 500 Internal Server Error", s.addr));

    // A secret the node fails to serve: nothing is deleted, the others stay for the next try.
    s.tree.lock().unwrap().broken.clear();
    s.put(&format!("/secrets/{MAC_PATH}/api-secret-key"), "the-api-secret\n");
    s.tree.lock().unwrap().broken.insert(format!("/secrets/{MAC_PATH}/root-password"));
    let tmp = tempfile::tempdir().unwrap();
    let path = netboot::save_profile(tmp.path(), &profile_text("secrets/root-password")).unwrap();
    let e = s.fleet().fetch_secrets(MAC, &load(&path), tmp.path()).unwrap_err().to_string();
    assert_eq!(e, format!("GET http://{}/secrets/{MAC_PATH}/root-password: 500 Internal Server Error", s.addr));
    assert!(!e.contains("the-api-secret"));
    assert!(!s.requests().iter().any(|r| r.starts_with("DELETE")), "{:?}", s.requests());

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let fleet = Fleet::new(&url::Url::parse(&format!("http://{closed}/")).unwrap()).unwrap().attempts(2, Duration::from_millis(10));
    let e = fleet.find_profile(&one).unwrap_err().to_string();
    assert!(e.starts_with(&format!("GET http://{closed}/hosts/{MAC_PATH}/profile.toml: no answer (cannot connect")), "{e}");
}

#[test]
fn the_installed_state_is_put_with_the_host_name() {
    let s = Server::start();
    s.fleet().mark_installed(MAC, "kvm1").unwrap();
    let log = s.log();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].method.as_str(), log[0].path.as_str()), ("PUT", "/state/52-54-00-aa-bb-01/installed"));
    assert!(log[0].body.starts_with("kvm1 20") && log[0].body.ends_with('\n'), "{:?}", log[0].body);
    assert!(s.tree.lock().unwrap().files.contains_key("/state/52-54-00-aa-bb-01/installed"));

    s.tree.lock().unwrap().broken.insert("/state/52-54-00-aa-bb-01/installed".into());
    let e = s.fleet().mark_installed(MAC, "kvm1").unwrap_err().to_string();
    assert_eq!(e, format!("PUT http://{}/state/52-54-00-aa-bb-01/installed: 500 Internal Server Error", s.addr));
}

#[test]
fn the_command_line_selects_network_mode() {
    assert_eq!(netboot::fleet_url("boot=live components BOOTIF=01-52-54-00-aa-bb-01 console=ttyS0").unwrap(), None);
    let u = netboot::fleet_url("boot=live fetch=http://10.77.0.1:8090/media/cloudstrap.iso cloudstrap.fleet=http://10.77.0.1:8090 console=tty0").unwrap().unwrap();
    let f = Fleet::new(&u).unwrap();
    assert_eq!(f.url("hosts/x/profile.toml"), "http://10.77.0.1:8090/hosts/x/profile.toml");
}

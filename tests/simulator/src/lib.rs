//! A stand-in for the CloudStack management server's API, for cloudstrap's tests and lab.
//!
//! It authenticates exactly as ApiServlet/ApiServer do (login sessions; signed requests with
//! signature version 3 and `expires`), answers the calls cloudstrap makes with the real JSON shapes
//! (`{"<command>response": ...}`, lists with `count` or `{}`, async job ids polled through
//! `queryAsyncJobResult`, error bodies whose HTTP status is the errorcode), refuses duplicates like
//! the real server, and fails a chosen call once on request (fault injection).
//!
//! Never part of the cloudstrap binary: tests use it in-process, the lab runs the
//! `cloudstack-simulator` binary.

pub mod api;
pub mod auth;
pub mod http;
pub mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

pub use state::{JsonFileStore, MemoryStore, State, Store, UserRec};

/// How the simulated server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub admin_username: String,
    pub admin_password: String,
    /// API keys the admin has from the start (a fresh server has none).
    pub admin_keys: Option<(String, String)>,
    /// `queryAsyncJobResult` polls that still answer "pending" before a job completes.
    pub job_polls: u32,
    /// `listHosts` calls a new host stays "Connecting" before it is "Up".
    pub host_up_polls: u32,
    /// `listSystemVms` calls a system VM stays "Starting" before it is "Running".
    pub systemvm_polls: u32,
    /// Time a command takes before it answers (addHost, addImageStore, createStoragePool take minutes on a
    /// real server; tests scale them down). The work is done at the end, as the real server does it.
    pub latency: Vec<(String, Duration)>,
    /// The global setting enforce.post.requests.and.timestamps: state changes only as POST with a form
    /// body, signed requests only with an expiry.
    pub enforce_post: bool,
    /// The server's clock minus the real one.
    pub clock_offset: chrono::Duration,
    /// The copy of the bundled system VM template after addImageStore fails; the server only logs it.
    pub template_copy_fails: bool,
    /// The release the server plays: from "4.20" it registers its bundled template with the first image
    /// store (for the hypervisors of existing clusters); from "4.23" registerUserKeys is asynchronous.
    pub version: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            admin_username: "admin".into(),
            admin_password: "password".into(),
            admin_keys: None,
            job_polls: 1,
            host_up_polls: 1,
            systemvm_polls: 1,
            latency: vec![],
            enforce_post: false,
            clock_offset: chrono::Duration::zero(),
            template_copy_fails: false,
            version: "4.22".into(),
        }
    }
}

impl Config {
    /// The server's idea of now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.clock_offset
    }

    /// True when the played release is `v` or later ("4.20" style numbers).
    pub fn at_least(&self, v: &str) -> bool {
        let n = |s: &str| s.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>();
        n(&self.version) >= n(v)
    }
}

/// When an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// The call fails and changes nothing.
    Before,
    /// The call does its work, then reports a failure (as after a lost answer).
    After,
    /// The call does its work, then the connection is closed without an answer.
    Drop,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub command: String,
    pub mode: FaultMode,
}

pub struct Simulator {
    pub config: Config,
    state: Mutex<State>,
    store: Mutex<Box<dyn Store>>,
    faults: Mutex<Vec<Fault>>,
    calls: Mutex<Vec<String>>,
    requests: Mutex<Vec<Logged>>,
    log: Mutex<Vec<String>>,
}

/// One request as it arrived: method, command, raw query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub command: String,
    pub query: String,
}

impl Simulator {
    /// A simulator whose state comes from `store` (or a fresh server: the admin user, the default
    /// network offerings).
    pub fn new(config: Config, mut store: Box<dyn Store>) -> std::io::Result<Simulator> {
        let state = match store.load()? {
            Some(s) => s,
            None => api::fresh_state(&config),
        };
        Ok(Simulator { config, state: Mutex::new(state), store: Mutex::new(store), faults: Mutex::new(vec![]), calls: Mutex::new(vec![]), requests: Mutex::new(vec![]), log: Mutex::new(vec![]) })
    }

    /// Make the next call of `command` fail once.
    pub fn fail_once(&self, command: &str, mode: FaultMode) {
        self.faults.lock().unwrap().push(Fault { command: command.to_ascii_lowercase(), mode });
    }

    /// A copy of the current state.
    pub fn state(&self) -> State {
        self.state.lock().unwrap().clone()
    }

    /// Objects of one kind ("zone", "pod", "host", ...).
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        self.state.lock().unwrap().list(kind).to_vec()
    }

    /// Commands received so far (authenticated or not), in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Requests received so far (what an access log or a proxy would see of them).
    pub fn requests(&self) -> Vec<Logged> {
        self.requests.lock().unwrap().clone()
    }

    /// What the server wrote to its management log (failures it does not return to the caller).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn log_line(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    /// The operator's fix after a failed template copy (the export repaired, the template put in place and
    /// the management server restarted): the zone's system VM templates become Ready.
    pub fn repair_template(&self) {
        let mut state = self.state.lock().unwrap();
        if let Some(ts) = state.objects.get_mut("template") {
            for t in ts.iter_mut() {
                t["isready"] = serde_json::json!(true);
                t["status"] = serde_json::json!("Download Complete");
            }
        }
        let zones: Vec<String> = state.list("zone").iter().filter_map(|z| z["id"].as_str().map(String::from)).collect();
        for z in zones {
            api::register_templates(self, &mut state, &z, true);
        }
        let _ = self.store.lock().unwrap().save(&state);
    }

    fn take_fault(&self, command: &str) -> Option<FaultMode> {
        let mut f = self.faults.lock().unwrap();
        let i = f.iter().position(|x| x.command == command.to_ascii_lowercase())?;
        Some(f.remove(i).mode)
    }

    /// Answer one HTTP request.
    pub fn handle(&self, req: http::Request) -> http::Response {
        let path = req.path.trim_end_matches('/');
        if path.starts_with("/simulator") {
            return self.control(&req);
        }
        if path == "/client" {
            return http::Response { status: 200, content_type: "text/html".into(), headers: vec![], body: "<html><body>CloudStack (simulator)</body></html>".into() };
        }
        if path != "/client/api" {
            return http::Response { status: 404, content_type: "text/plain".into(), headers: vec![], body: "not found".into() };
        }
        // A name given twice: a GET keeps the last value, a POST body the first (query string, then body).
        let mut params = auth::parse_form(&req.query);
        let form = req.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let body = if req.method == "POST" && form { auth::parse_form(&String::from_utf8_lossy(&req.body)) } else { vec![] };
        let in_query = params.iter().filter(|(k, _)| k != "command").count();
        params.extend(body);
        let params = auth::dedup(params, req.method != "POST");
        let command = params.iter().find(|(k, _)| k == "command").map(|(_, v)| v.clone()).unwrap_or_default();
        self.calls.lock().unwrap().push(command.clone());
        self.requests.lock().unwrap().push(Logged { method: req.method.clone(), command: command.clone(), query: req.query.clone() });
        // Slow commands take their time before the work is done, without holding up other requests.
        if let Some((_, d)) = self.config.latency.iter().find(|(c, _)| c.eq_ignore_ascii_case(&command)) {
            std::thread::sleep(*d);
        }
        let mut resp = if self.config.enforce_post && !api::may_get(&command) && (req.method != "POST" || in_query > 0) {
            api::error(&command, 405, &format!("{command} changes state: send it as a POST with the parameters in the form body (enforce.post.requests.and.timestamps is on)"))
        } else {
            let mut state = self.state.lock().unwrap();
            let before = state.clone();
            let resp = api::dispatch(self, &mut state, &req, &command, &params);
            if *state != before {
                let _ = self.store.lock().unwrap().save(&state);
            }
            resp
        };
        resp.headers.push(("Date".into(), self.config.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()));
        resp
    }

    /// Control endpoints for the standalone server (loopback only): `POST /simulator/fail?command=X[&mode=after|drop]`,
    /// `GET /simulator/state`, `GET /simulator/log`, `POST /simulator/repair-template`.
    fn control(&self, req: &http::Request) -> http::Response {
        if !req.peer.ip().is_loopback() {
            return http::Response::json(403, json!({"error": "control endpoints answer loopback only"}).to_string());
        }
        let q = auth::parse_form(&req.query);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match req.path.trim_end_matches('/') {
            "/simulator/fail" => match get("command") {
                Some(c) => {
                    let mode = match get("mode").as_deref() {
                        Some("after") => FaultMode::After,
                        Some("drop") => FaultMode::Drop,
                        _ => FaultMode::Before,
                    };
                    self.fail_once(&c, mode);
                    http::Response::json(200, json!({"fail": c}).to_string())
                }
                None => http::Response::json(400, json!({"error": "command= is required"}).to_string()),
            },
            "/simulator/state" => http::Response::json(200, serde_json::to_string_pretty(&self.state()).unwrap_or_default()),
            "/simulator/log" => http::Response::json(200, serde_json::to_string_pretty(&self.log()).unwrap_or_default()),
            "/simulator/repair-template" => {
                self.repair_template();
                http::Response::json(200, json!({"repaired": true}).to_string())
            }
            _ => http::Response::json(404, json!({"error": "unknown control endpoint"}).to_string()),
        }
    }
}

/// A simulator serving HTTP; stops when dropped.
pub struct Running {
    pub sim: Arc<Simulator>,
    pub server: http::Server,
}

impl Running {
    /// `http://ADDR/client/api`.
    pub fn url(&self) -> String {
        format!("http://{}/client/api", self.server.addr)
    }
}

/// Start serving on `listen` (e.g. "127.0.0.1:0").
pub fn start(listen: &str, sim: Simulator) -> std::io::Result<Running> {
    let sim = Arc::new(sim);
    let s2 = sim.clone();
    let server = http::Server::start(listen, move |req| s2.handle(req))?;
    Ok(Running { sim, server })
}

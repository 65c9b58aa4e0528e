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
        }
    }
}

/// When an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// The call fails and changes nothing.
    Before,
    /// The call does its work, then reports a failure (as after a lost answer).
    After,
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
        Ok(Simulator { config, state: Mutex::new(state), store: Mutex::new(store), faults: Mutex::new(vec![]), calls: Mutex::new(vec![]), requests: Mutex::new(vec![]) })
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
        let mut params = auth::parse_form(&req.query);
        let form = req.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if req.method == "POST" && form {
            params.extend(auth::parse_form(&String::from_utf8_lossy(&req.body)));
        }
        let command = params.iter().find(|(k, _)| k == "command").map(|(_, v)| v.clone()).unwrap_or_default();
        self.calls.lock().unwrap().push(command.clone());
        self.requests.lock().unwrap().push(Logged { method: req.method.clone(), command: command.clone(), query: req.query.clone() });
        let mut state = self.state.lock().unwrap();
        let before = state.clone();
        let resp = api::dispatch(self, &mut state, &req, &command, &params);
        if *state != before {
            let _ = self.store.lock().unwrap().save(&state);
        }
        resp
    }

    /// Control endpoints for the standalone server (loopback only): `POST /simulator/fail?command=X[&mode=after]`,
    /// `GET /simulator/state`.
    fn control(&self, req: &http::Request) -> http::Response {
        if !req.peer.ip().is_loopback() {
            return http::Response::json(403, json!({"error": "control endpoints answer loopback only"}).to_string());
        }
        let q = auth::parse_form(&req.query);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match req.path.trim_end_matches('/') {
            "/simulator/fail" => match get("command") {
                Some(c) => {
                    let mode = if get("mode").as_deref() == Some("after") { FaultMode::After } else { FaultMode::Before };
                    self.fail_once(&c, mode);
                    http::Response::json(200, json!({"fail": c}).to_string())
                }
                None => http::Response::json(400, json!({"error": "command= is required"}).to_string()),
            },
            "/simulator/state" => http::Response::json(200, serde_json::to_string_pretty(&self.state()).unwrap_or_default()),
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

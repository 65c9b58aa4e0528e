//! The simulator's state and where it is kept. The state is plain data (serde), so a store can put
//! it anywhere: memory, a JSON file, or (the lab's business) a database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user account with its login password and API keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRec {
    pub id: String,
    pub username: String,
    pub password: String,
    pub account: String,
    pub accountid: String,
    pub domainid: String,
    pub apikey: Option<String>,
    pub secretkey: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub userid: String,
    pub sessionkey: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub jobid: String,
    pub cmd: String,
    pub userid: String,
    /// 0 pending, 1 done, 2 failed.
    pub status: i64,
    /// Polls left before a pending job finishes.
    pub polls_left: u32,
    pub result: Value,
    pub resultcode: i64,
    pub instancetype: String,
    pub instanceid: String,
}

/// Everything the simulated management server knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub users: Vec<UserRec>,
    pub sessions: BTreeMap<String, Session>,
    pub jobs: BTreeMap<String, Job>,
    /// API objects by kind ("zone", "pod", ...), each the JSON the server would list.
    pub objects: BTreeMap<String, Vec<Value>>,
}

impl State {
    pub fn list(&self, kind: &str) -> &[Value] {
        self.objects.get(kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Add an object; like the real server's serializer, fields without a value are left out.
    pub fn push(&mut self, kind: &str, mut v: Value) {
        if let Some(o) = v.as_object_mut() {
            o.retain(|_, x| !x.is_null());
        }
        self.objects.entry(kind.into()).or_default().push(v);
    }

    pub fn find(&self, kind: &str, id: &str) -> Option<&Value> {
        self.list(kind).iter().find(|o| o["id"] == id)
    }

    pub fn find_mut(&mut self, kind: &str, id: &str) -> Option<&mut Value> {
        self.objects.get_mut(kind)?.iter_mut().find(|o| o["id"] == id)
    }
}

/// Where the state lives between requests (and runs).
pub trait Store: Send {
    /// The stored state, if any.
    fn load(&mut self) -> std::io::Result<Option<State>>;
    /// Keep this state (called after every request that changed it).
    fn save(&mut self, state: &State) -> std::io::Result<()>;
}

/// Nothing kept: the state dies with the process.
#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn load(&mut self) -> std::io::Result<Option<State>> {
        Ok(None)
    }
    fn save(&mut self, _: &State) -> std::io::Result<()> {
        Ok(())
    }
}

/// The state as a JSON file, replaced atomically on every change.
#[derive(Debug)]
pub struct JsonFileStore {
    pub path: PathBuf,
}

impl Store for JsonFileStore {
    fn load(&mut self) -> std::io::Result<Option<State>> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn save(&mut self, state: &State) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(serde_json::to_string_pretty(state)?.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

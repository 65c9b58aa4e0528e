//! The hand-off at the end of the management role: wait for the API, replace the default admin
//! password with the profile's, create (or reuse) the admin's API keys and leave them for root, as
//! cloudstrap's keys file and as a CloudMonkey (`cmk`) profile, then say where the UI is.
//! Every step checks first, so running it again is harmless.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Auth, Client, Options};
use super::credentials::{keys_file_text, profile_endpoint, secret_value, stored, Credentials, KEYS_FILE};
use super::error::ApiError;
use super::files::{under_root, write_private};
use super::types::{User, UserKeys};
use crate::profile::Profile;

/// A fresh management server's admin password.
pub const DEFAULT_ADMIN_PASSWORD: &str = "password";
/// The management server's log (4.x), whose tail explains an API that never came up.
pub const MANAGEMENT_LOG: &str = "/var/log/cloudstack/management/management-server.log";

/// The management server's log for a release line (3.0.2 logged under /var/log/cloud).
pub fn management_log(release: &str) -> &'static str {
    crate::platform::Release::get(release).map_or(MANAGEMENT_LOG, |r| r.paths.management_log)
}
/// CloudMonkey's configuration for root, and the profile cloudstrap keeps in it.
pub const CMK_CONFIG: &str = "/root/.cmk/config";
pub const CMK_PROFILE: &str = "cloudstrap";

#[derive(Clone)]
pub struct HandoffOptions {
    pub endpoint: String,
    /// Where files are written, as "/".
    pub root: PathBuf,
    pub admin_user: String,
    /// The password the admin gets (the profile's).
    pub admin_password: String,
    /// The longest wait for the API to answer.
    pub api_wait: Duration,
    pub poll_interval: Duration,
    pub client: Options,
    /// In-system path of the management server log, tailed when the API never answers.
    pub management_log: String,
}

impl std::fmt::Debug for HandoffOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffOptions").field("endpoint", &self.endpoint).field("root", &self.root).field("admin_password", &"<hidden>").finish()
    }
}

impl HandoffOptions {
    /// Options from a profile: its endpoint and admin password (inline, `-file` or `-env`).
    pub fn from_profile(profile: &Profile, profile_dir: &Path, root: &Path) -> Result<HandoffOptions, ApiError> {
        let pw = secret_value(profile, profile_dir, "management.admin-password")?.ok_or_else(|| ApiError::Input("management.admin-password: the profile gives no admin password (set admin-password-file or admin-password-env)".into()))?;
        Ok(HandoffOptions {
            endpoint: profile_endpoint(profile),
            root: root.to_path_buf(),
            admin_user: "admin".into(),
            admin_password: pw,
            api_wait: Duration::from_secs(900),
            poll_interval: Duration::from_secs(5),
            client: Options::for_profile(profile),
            management_log: management_log(&profile.cloudstack.release).into(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct HandoffReport {
    pub ui_url: String,
    pub keys_file: PathBuf,
    pub cmk_config: PathBuf,
    pub api_key: String,
    pub password_changed: bool,
    pub keys_created: bool,
    /// Files this run replaced, saved first (in-system paths under the root).
    pub backups: Vec<PathBuf>,
}

/// The UI's address for an API endpoint (`.../client/api` → `.../client/`).
pub fn ui_url(endpoint: &str) -> String {
    match endpoint.trim_end_matches('/').strip_suffix("/api") {
        Some(base) => format!("{base}/"),
        None => endpoint.to_string(),
    }
}

/// The last `n` lines of a file (empty when it cannot be read).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Wait until the API answers with its own JSON (a 401 counts: the servlet is up). On timeout, the
/// error carries the tail of the management server log under `root`.
pub fn wait_for_api(endpoint: &str, root: &Path, log: &str, wait: Duration, interval: Duration, mut report: impl FnMut(&str)) -> Result<(), ApiError> {
    let probe = Client::new(endpoint, Auth::Anonymous, Options { retries: 0, request_timeout: Duration::from_secs(10), ..Options::default() })?;
    let start = Instant::now();
    let mut said = false;
    loop {
        match probe.execute("listCapabilities", &[]) {
            Ok(_) | Err(ApiError::Unauthorized { .. }) | Err(ApiError::Api { .. }) => return Ok(()),
            Err(_) => {}
        }
        if start.elapsed() >= wait {
            let log = under_root(root, log);
            return Err(ApiError::Timeout { what: format!("the CloudStack API at {endpoint} answering"), waited: start.elapsed(), tail: Some(tail(&log, 20)) });
        }
        if !said {
            report(&format!("waiting for the CloudStack API at {endpoint} (up to {}s)", wait.as_secs()));
            said = true;
        }
        std::thread::sleep(interval);
    }
}

/// Run the hand-off. `report` gets one line per step; no line holds a secret.
pub fn run(opts: &HandoffOptions, report: &mut dyn FnMut(&str)) -> Result<HandoffReport, ApiError> {
    wait_for_api(&opts.endpoint, &opts.root, &opts.management_log, opts.api_wait, opts.poll_interval, &mut *report)?;
    report(&format!("the CloudStack API answers at {}", opts.endpoint));

    // The admin password: the default one still works on a fresh server; afterwards the profile's does.
    let (session, info, password_changed) = match Client::login(&opts.endpoint, &opts.admin_user, DEFAULT_ADMIN_PASSWORD, "/", opts.client.clone()) {
        Ok((s, info)) if opts.admin_password != DEFAULT_ADMIN_PASSWORD => {
            s.call("updateUser", &[("id", &info.userid), ("password", &opts.admin_password), ("currentpassword", DEFAULT_ADMIN_PASSWORD)])?;
            let (s, info) = Client::login(&opts.endpoint, &opts.admin_user, &opts.admin_password, "/", opts.client.clone())?;
            report(&format!("changed the password of {} from the default to the profile's", opts.admin_user));
            (s, info, true)
        }
        Ok((s, info)) => {
            report(&format!("warning: {} keeps the default password; set management.admin-password-file in the profile", opts.admin_user));
            (s, info, false)
        }
        Err(e) if e.errorcode() == Some(531) => match Client::login(&opts.endpoint, &opts.admin_user, &opts.admin_password, "/", opts.client.clone()) {
            Ok((s, info)) => {
                report(&format!("{} already has the profile's password", opts.admin_user));
                (s, info, false)
            }
            Err(e2) if e2.errorcode() == Some(531) => {
                return Err(ApiError::Input(format!(
                    "cannot log in as {} with the default password nor with the profile's: set management.admin-password to the current one",
                    opts.admin_user
                )))
            }
            Err(e2) => return Err(e2),
        },
        Err(e) => return Err(e),
    };

    let (keys, keys_created) = admin_keys(&session, &info.userid, opts)?;
    report(if keys_created { "created API keys for admin" } else { "reusing the API keys admin already has" });

    let keys_file = under_root(&opts.root, KEYS_FILE);
    let mut backups = vec![];
    backups.extend(
        write_private(&keys_file, &keys_file_text(&opts.endpoint, &keys.apikey, &keys.secretkey))
            .map_err(|e| ApiError::Input(format!("cannot write {}: {e}", keys_file.display())))?,
    );
    let cmk = under_root(&opts.root, CMK_CONFIG);
    let old = std::fs::read_to_string(&cmk).unwrap_or_default();
    backups.extend(
        write_private(&cmk, &cmk_config(&old, &opts.endpoint, &opts.admin_user, &keys.apikey, &keys.secretkey))
            .map_err(|e| ApiError::Input(format!("cannot write {}: {e}", cmk.display())))?,
    );
    let _ = std::fs::set_permissions(cmk.parent().unwrap_or(Path::new("/")), std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let ui = ui_url(&opts.endpoint);
    report(&format!("CloudStack UI: {ui} (user {}, the profile's admin password)", opts.admin_user));
    report(&format!("API keys: {KEYS_FILE} (0600) and CloudMonkey profile \"{CMK_PROFILE}\" in {CMK_CONFIG}; try `cmk list zones`"));
    Ok(HandoffReport { ui_url: ui, keys_file, cmk_config: cmk, api_key: keys.apikey, password_changed, keys_created, backups })
}

/// The admin's keys: the stored ones if they still work, the ones the server has, or new ones.
fn admin_keys(session: &Client, userid: &str, opts: &HandoffOptions) -> Result<(UserKeys, bool), ApiError> {
    if let Some(c) = stored(&opts.root)? {
        if keys_work(&c, opts) {
            return Ok((UserKeys { apikey: c.api_key, secretkey: c.secret }, false));
        }
    }
    let users = session.list::<User>("listUsers", &[("id", userid)])?;
    if users.iter().any(|u| u.id == userid && !u.apikey.is_empty()) {
        // The secret is not listed (4.x): ask for it; servers without getUserKeys get new keys.
        if let Ok(v) = session.execute("getUserKeys", &[("id", userid)]) {
            if let Some(k) = userkeys(&v) {
                return Ok((k, false));
            }
        }
    }
    let v = session.call("registerUserKeys", &[("id", userid)])?;
    let k = userkeys(&v).ok_or_else(|| ApiError::Protocol { command: "registerUserKeys".into(), status: 200, detail: "no userkeys in the answer".into() })?;
    Ok((k, true))
}

fn userkeys(v: &Value) -> Option<UserKeys> {
    let k: UserKeys = serde_json::from_value(v.get("userkeys").cloned()?).ok()?;
    (!k.apikey.is_empty() && !k.secretkey.is_empty()).then_some(k)
}

fn keys_work(c: &Credentials, opts: &HandoffOptions) -> bool {
    let auth = Auth::Keys { api_key: c.api_key.clone(), secret: c.secret.clone() };
    Client::new(&opts.endpoint, auth, opts.client.clone()).and_then(|k| k.execute("listUsers", &[("username", &opts.admin_user)])).is_ok()
}

/// CloudMonkey's config with cloudstrap's profile set and made current; everything else in an
/// existing file is kept. cmk keeps its core settings as top-level keys (the ini default section).
pub fn cmk_config(existing: &str, endpoint: &str, username: &str, apikey: &str, secretkey: &str) -> String {
    let mut top: Vec<(String, String)> = vec![];
    let mut sections: Vec<(String, Vec<String>)> = vec![];
    for line in existing.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            sections.push((t[1..t.len() - 1].trim().to_string(), vec![]));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push(line.to_string());
        } else if let Some((k, v)) = t.split_once('=') {
            top.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let defaults = [("prompt", "🐵"), ("asyncblock", "true"), ("timeout", "1800"), ("output", "json"), ("verifycert", "true"), ("autocomplete", "true"), ("postrequest", "true")];
    for (k, v) in defaults {
        if !top.iter().any(|(n, _)| n == k) {
            top.push((k.into(), v.into()));
        }
    }
    for (k, v) in &mut top {
        if k == "output" && v.is_empty() {
            *v = "json".into();
        }
    }
    top.retain(|(k, _)| k != "profile");
    top.push(("profile".into(), CMK_PROFILE.into()));
    sections.retain(|(n, _)| n != CMK_PROFILE);
    sections.push((
        CMK_PROFILE.into(),
        vec![
            format!("url = {endpoint}"),
            format!("username = {username}"),
            "password = ".into(),
            "domain = /".into(),
            format!("apikey = {apikey}"),
            format!("secretkey = {secretkey}"),
        ],
    ));
    let mut out = String::new();
    for (k, v) in &top {
        out.push_str(&format!("{k} = {v}\n"));
    }
    for (name, body) in &sections {
        out.push_str(&format!("\n[{name}]\n"));
        for l in body.iter().filter(|l| !l.trim().is_empty()) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_address() {
        assert_eq!(ui_url("http://10.0.0.4:8080/client/api"), "http://10.0.0.4:8080/client/");
        assert_eq!(ui_url("http://10.0.0.4:8080/client/api/"), "http://10.0.0.4:8080/client/");
    }

    #[test]
    fn logs_of_the_profile_release() {
        let text = include_str!("../../profiles/squirrel-server.toml").replace("admin-password-env = \"SQUIRREL_ADMIN_PASSWORD\"", "admin-password = \"Squirrel-Admin1\"");
        let p = Profile::from_toml_str(&text).unwrap();
        let o = HandoffOptions::from_profile(&p, Path::new("."), Path::new("/")).unwrap();
        assert_eq!(o.management_log, "/var/log/cloud/management/management-server.log");
        assert_eq!(super::super::zone::agent_log("3.0.2"), "/var/log/cloud/agent/agent.log");
        assert_eq!(management_log("4.22"), MANAGEMENT_LOG);
        assert_eq!(super::super::zone::agent_log("4.22"), "/var/log/cloudstack/agent/agent.log");
    }

    #[test]
    fn cmk_config_keeps_other_profiles() {
        let old = "prompt = >\noutput = table\nprofile = lab\n\n[lab]\nurl = http://lab/client/api\napikey = L\n\n[cloudstrap]\nurl = old\n";
        let new = cmk_config(old, "http://h:8080/client/api", "admin", "K", "S");
        assert!(new.starts_with("prompt = >\noutput = table\n"), "{new}");
        assert!(new.contains("\nprofile = cloudstrap\n"));
        assert!(!new.contains("profile = lab"));
        assert!(new.contains("[lab]\nurl = http://lab/client/api\napikey = L\n"));
        assert!(new.contains("[cloudstrap]\nurl = http://h:8080/client/api\nusername = admin\npassword = \ndomain = /\napikey = K\nsecretkey = S\n"));
        assert_eq!(new.matches("[cloudstrap]").count(), 1);
        let fresh = cmk_config("", "http://h/client/api", "admin", "K", "S");
        assert!(fresh.contains("output = json\n") && fresh.contains("asyncblock = true\n"));
    }
}

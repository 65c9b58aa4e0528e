//! A CloudStack API client: signed calls (or a login session), JSON answers, async jobs, safe retries.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::sign;
use crate::profile::{ApiTimeouts, Profile};

/// How requests are authenticated.
#[derive(Clone)]
pub enum Auth {
    /// API key and secret: every request signed (signature version 3 when `expires_after` is set).
    Keys { api_key: String, secret: String },
    /// A login session: the `JSESSIONID` cookie and the `sessionkey` the login returned.
    Session { jsessionid: String, sessionkey: String },
    /// Nothing (only `login` and probes).
    Anonymous,
}

impl fmt::Debug for Auth {
    // The secret and the session never reach a log through Debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Keys { api_key, .. } => write!(f, "Keys {{ api_key: {api_key:?}, secret: <hidden> }}"),
            Auth::Session { .. } => write!(f, "Session {{ <hidden> }}"),
            Auth::Anonymous => write!(f, "Anonymous"),
        }
    }
}

/// Where the client tells what it is waiting for (long calls, retries, clock corrections): the install log
/// always, and this callback when set (the console of `zone deploy`, the install's log lines).
#[derive(Clone, Default)]
pub struct Notice(Option<Arc<dyn Fn(&str) + Send + Sync>>);

impl Notice {
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Notice {
        Notice(Some(Arc::new(f)))
    }

    pub fn say(&self, msg: &str) {
        crate::log::line(&format!("api: {msg}"));
        if let Some(f) = &self.0 {
            f(msg);
        }
    }
}

impl fmt::Debug for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Notice(callback)" } else { "Notice(log only)" })
    }
}

/// Timing and retry knobs; tests shorten them.
#[derive(Debug, Clone)]
pub struct Options {
    /// One HTTP request, unless `slow_calls` names its command.
    pub request_timeout: Duration,
    /// Commands the server does slow work inside before it answers, each with its own limit.
    pub slow_calls: Vec<(String, Duration)>,
    /// The first `queryAsyncJobResult` poll comes this soon; later ones back off to `poll_interval`.
    pub poll_first: Duration,
    /// The longest gap between two polls.
    pub poll_interval: Duration,
    /// The longest wait for one async job (Marvin uses 3600 s).
    pub job_timeout: Duration,
    /// Extra attempts for a request that is safe to repeat.
    pub retries: u32,
    pub retry_delay: Duration,
    /// Validity of a signed request (signature version 3); `None` signs without `expires`.
    pub expires_after: Option<Duration>,
    pub notice: Notice,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            request_timeout: Duration::ZERO,
            slow_calls: vec![],
            poll_first: Duration::from_millis(150),
            poll_interval: Duration::from_secs(3),
            job_timeout: Duration::from_secs(3600),
            retries: 3,
            retry_delay: Duration::from_secs(2),
            expires_after: Some(Duration::from_secs(600)),
            notice: Notice::default(),
        }
        .with_timeouts(&ApiTimeouts::default())
    }
}

impl Options {
    /// The per-call limits of a profile's `[management.timeouts]`.
    pub fn with_timeouts(mut self, t: &ApiTimeouts) -> Options {
        self.request_timeout = Duration::from_secs(t.request);
        self.slow_calls = t.slow_calls().iter().map(|(c, s)| (c.to_string(), Duration::from_secs(*s))).collect();
        self
    }

    /// Every slow call limited to `d` (tests).
    pub fn with_slow_calls(mut self, d: Duration) -> Options {
        for (_, t) in &mut self.slow_calls {
            *t = d;
        }
        self
    }

    /// Defaults with the profile's timeouts.
    pub fn for_profile(profile: &Profile) -> Options {
        match &profile.management {
            Some(m) => Options::default().with_timeouts(&m.timeouts),
            None => Options::default(),
        }
    }

    /// How long to wait for the answer to `command`.
    pub fn timeout_for(&self, command: &str) -> Duration {
        self.slow_calls.iter().find(|(c, _)| c.eq_ignore_ascii_case(command)).map_or(self.request_timeout, |(_, d)| *d)
    }
}

/// Poll gaps that start short and grow by half each time up to a ceiling: a job the server finishes at once
/// costs a fraction of a second, a long one a poll every few seconds.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first.min(max), max }
    }

    /// The next gap.
    pub fn gap(&mut self) -> Duration {
        let g = self.next;
        self.next = (self.next.mul_f64(1.5)).min(self.max);
        g
    }
}

/// Whole seconds in words, for messages about waits and clocks: "45 s", "15 min", "1 h 5 min".
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..=119 => format!("{s} s"),
        120..=3599 if s % 60 == 0 => format!("{} min", s / 60),
        120..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Clock differences below this are the Date header's resolution and network delay, not skew.
const SKEW_TOLERANCE: i64 = 5;

/// What a login gave back.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct LoginInfo {
    pub userid: String,
    pub username: String,
    pub account: String,
    pub domainid: String,
    pub timeout: Value,
}

pub struct Client {
    endpoint: url::Url,
    auth: Auth,
    http: reqwest::blocking::Client,
    pub options: Options,
    /// The server's clock minus this host's, in seconds, from the `Date` of its last answer.
    skew: AtomicI64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("endpoint", &self.endpoint.as_str()).field("auth", &self.auth).finish()
    }
}

/// Parameters that carry a secret.
const SECRET_PARAMS: [&str; 3] = ["password", "currentpassword", "secretkey"];

/// Commands whose repetition changes nothing, so a failed attempt may be retried.
pub fn is_idempotent(command: &str) -> bool {
    command.starts_with("list") || command.starts_with("get") || command == "queryAsyncJobResult"
}

impl Client {
    pub fn new(endpoint: &str, auth: Auth, options: Options) -> Result<Client, ApiError> {
        let endpoint = url::Url::parse(endpoint).map_err(|e| {
            ApiError::Input(format!("\"{endpoint}\" is not an API endpoint URL ({e}); expected e.g. http://HOST:8080/client/api"))
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(ApiError::Input(format!("\"{endpoint}\" is not an http:// or https:// URL")));
        }
        // Each request gets its own timeout (see Options::timeout_for).
        let http = reqwest::blocking::Client::builder()
            .build()
            .map_err(|e| ApiError::Input(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { endpoint, auth, http, options, skew: AtomicI64::new(0) })
    }

    /// Log in with a user name and password (POST, as the server demands) and keep the session.
    pub fn login(endpoint: &str, username: &str, password: &str, domain: &str, options: Options) -> Result<(Client, LoginInfo), ApiError> {
        let mut client = Client::new(endpoint, Auth::Anonymous, options)?;
        let params: Vec<(String, String)> = vec![
            ("command".into(), "login".into()),
            ("username".into(), username.into()),
            ("password".into(), password.into()),
            ("domain".into(), domain.into()),
            ("response".into(), "json".into()),
        ];
        let resp = client.send_once("login", &params, true).map_err(|(e, _)| e)?;
        let cookies: Vec<String> = resp.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.clone()).collect();
        let inner = parse_body("login", resp.status, &resp.body)?;
        let sessionkey = inner.get("sessionkey").and_then(Value::as_str).unwrap_or_default().to_string();
        let jsessionid = cookies.iter().find_map(|c| cookie_value(c, "JSESSIONID")).unwrap_or_default();
        if sessionkey.is_empty() || jsessionid.is_empty() {
            return Err(ApiError::Protocol {
                command: "login".into(),
                status: resp.status,
                detail: "the login answer has no session key or JSESSIONID cookie".into(),
            });
        }
        let info: LoginInfo = serde_json::from_value(inner).unwrap_or_default();
        client.auth = Auth::Session { jsessionid, sessionkey };
        Ok((client, info))
    }

    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The full parameter list of a request, authenticated; `expires` overrides the computed one.
    pub fn request_params(&self, command: &str, params: &[(&str, &str)], expires: Option<&str>) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = vec![("command".into(), command.into())];
        all.extend(params.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("response")).map(|(k, v)| (k.to_string(), v.to_string())));
        all.push(("response".into(), "json".into()));
        match &self.auth {
            Auth::Keys { api_key, secret } => {
                let computed;
                let exp = match expires {
                    Some(e) => Some(e),
                    None => match self.options.expires_after {
                        Some(d) => {
                            let t = chrono::Utc::now() + chrono::Duration::seconds(self.skew()) + chrono::Duration::from_std(d).unwrap_or_default();
                            computed = sign::format_expires(&t);
                            Some(computed.as_str())
                        }
                        None => None,
                    },
                };
                sign::sign_params(&mut all, api_key, secret, exp);
            }
            Auth::Session { sessionkey, .. } => all.push(("sessionkey".into(), sessionkey.clone())),
            Auth::Anonymous => {}
        }
        all
    }

    /// The signed GET URL of a request (for `cloudstrap api --print-url`).
    pub fn signed_url(&self, command: &str, params: &[(&str, &str)], expires: Option<&str>) -> String {
        let q = sign::query_string(&self.request_params(command, params, expires));
        let mut u = self.endpoint.clone();
        u.set_query(None);
        format!("{u}?{q}")
    }

    /// One call; returns the object inside `<command>response`. Async commands return their job id
    /// here: use [`Client::call`] to wait for the result.
    pub fn execute(&self, command: &str, params: &[(&str, &str)]) -> Result<Value, ApiError> {
        let doc = self.execute_raw(command, params)?;
        Ok(unwrap_response(&doc).unwrap_or(Value::Null))
    }

    /// One call; returns the whole answer document (`{"<command>response": {...}}`).
    pub fn execute_raw(&self, command: &str, params: &[(&str, &str)]) -> Result<Value, ApiError> {
        let idempotent = is_idempotent(command);
        // Hardened servers (enforce.post.requests.and.timestamps) take state changes only as a POST with a
        // form body, as CloudMonkey and the Go SDK send them; lists stay GET. Passwords always go in a body,
        // never in a URL that proxies and access logs keep.
        let has_secret = params.iter().any(|(k, _)| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()));
        let post = !command.starts_with("list") || has_secret;
        let mut attempt = 0;
        let mut resigned = false;
        loop {
            let skew_used = self.skew();
            let all = self.request_params(command, params, None);
            let retry = |attempt: u32, why: &str| {
                self.options.notice.say(&format!(
                    "{command}: {why}; trying again in {} (attempt {} of {})",
                    span(self.options.retry_delay),
                    attempt + 1,
                    self.options.retries + 1
                ));
                std::thread::sleep(self.options.retry_delay);
            };
            match self.send_once(command, &all, post) {
                Ok(resp) => {
                    if resp.status == 503 && idempotent && attempt < self.options.retries {
                        retry(attempt, "the server answered 503 (busy)");
                        attempt += 1;
                        continue;
                    }
                    match parse_document(command, resp.status, &resp.body) {
                        Err(ApiError::Unauthorized { errortext, .. }) if self.signs_with_expiry() => {
                            let skew = self.skew();
                            // A refused request did nothing on the server, so signing it again for the
                            // server's clock is safe even for a command that changes something.
                            if !resigned && (skew - skew_used).abs() >= SKEW_TOLERANCE {
                                resigned = true;
                                self.options.notice.say(&format!("{command}: refused (401) while {}; signing again for the server's time", clock_words(skew)));
                                continue;
                            }
                            if skew.abs() >= SKEW_TOLERANCE {
                                return Err(ApiError::ClockSkew { command: command.into(), errortext, skew_secs: skew });
                            }
                            return Err(ApiError::Unauthorized { command: command.into(), errortext });
                        }
                        other => return other,
                    }
                }
                Err((e, before_send)) => {
                    // A request that never left may always be repeated; one that did only when idempotent
                    // (addHost and friends are looked up instead: see zone::ensure).
                    if (idempotent || before_send) && attempt < self.options.retries {
                        retry(attempt, &e.to_string());
                        attempt += 1;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    fn signs_with_expiry(&self) -> bool {
        matches!(self.auth, Auth::Keys { .. }) && self.options.expires_after.is_some()
    }

    /// The server's clock minus this host's, in whole seconds (0 until an answer carried a `Date`).
    pub fn skew(&self) -> i64 {
        self.skew.load(Ordering::Relaxed)
    }

    /// Tell the operator (and the log) what the client waits for.
    pub fn notice(&self, msg: &str) {
        self.options.notice.say(msg);
    }

    /// Remember the server's clock from an answer's `Date` header.
    fn learn_clock(&self, headers: &[(String, String)], received: chrono::DateTime<chrono::Utc>) {
        let Some(date) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("date")).and_then(|(_, v)| chrono::DateTime::parse_from_rfc2822(v).ok()) else {
            return;
        };
        // The header has whole seconds: round this host's time the same way before comparing.
        let diff = date.timestamp() - received.timestamp();
        let before = self.skew.swap(if diff.abs() >= SKEW_TOLERANCE { diff } else { 0 }, Ordering::Relaxed);
        if diff.abs() >= SKEW_TOLERANCE && (diff - before).abs() >= SKEW_TOLERANCE {
            self.options.notice.say(&format!("{}; signing requests for the server's time (set both clocks with NTP/chrony)", clock_words(diff)));
        }
    }

    /// A call that waits for its async job (when it has one) and returns the job's result object
    /// (or, for a synchronous command, the response object).
    pub fn call(&self, command: &str, params: &[(&str, &str)]) -> Result<Value, ApiError> {
        let inner = self.execute(command, params)?;
        match Client::job_of(command, &inner) {
            Some(jobid) => self.wait_job(command, &jobid),
            None => Ok(inner),
        }
    }

    /// Poll `queryAsyncJobResult` until the job is done (1) or failed (2), at most `job_timeout`;
    /// returns the job's result object.
    pub fn wait_job(&self, command: &str, jobid: &str) -> Result<Value, ApiError> {
        let doc = self.wait_job_document(command, jobid)?;
        Ok(unwrap_response(&doc).and_then(|r| r.get("jobresult").cloned()).unwrap_or(Value::Null))
    }

    /// As [`Client::wait_job`], returning the final `queryAsyncJobResult` answer document.
    pub fn wait_job_document(&self, command: &str, jobid: &str) -> Result<Value, ApiError> {
        let start = Instant::now();
        let mut backoff = Backoff::new(self.options.poll_first, self.options.poll_interval);
        let mut progress = Progress::new();
        loop {
            let doc = self.execute_raw("queryAsyncJobResult", &[("jobid", jobid)])?;
            let r = unwrap_response(&doc).unwrap_or(Value::Null);
            match r.get("jobstatus").and_then(Value::as_i64) {
                Some(1) => return Ok(doc),
                Some(2) => {
                    let jr = r.get("jobresult").cloned().unwrap_or(Value::Null);
                    return Err(ApiError::JobFailed {
                        command: command.into(),
                        jobid: jobid.into(),
                        errorcode: jr.get("errorcode").and_then(Value::as_u64).unwrap_or(530) as u16,
                        errortext: jr.get("errortext").and_then(Value::as_str).unwrap_or("no error text").to_string(),
                    });
                }
                _ => {}
            }
            if start.elapsed() >= self.options.job_timeout {
                return Err(ApiError::JobTimeout { command: command.into(), jobid: jobid.into(), waited: start.elapsed() });
            }
            if progress.due(start.elapsed()) {
                self.notice(&format!("{command}: job {jobid} still running after {} (waiting up to {})", span(start.elapsed()), span(self.options.job_timeout)));
            }
            std::thread::sleep(backoff.gap());
        }
    }

    /// The job id of an async command's answer (none for synchronous commands).
    pub fn job_of(command: &str, inner: &Value) -> Option<String> {
        match inner.get("jobid").and_then(Value::as_str) {
            Some(j) if command != "queryAsyncJobResult" && is_async_answer(inner) => Some(j.to_string()),
            _ => None,
        }
    }

    /// A list call parsed into typed items; an empty answer (`{}`) is an empty list.
    pub fn list<T: DeserializeOwned>(&self, command: &str, params: &[(&str, &str)]) -> Result<Vec<T>, ApiError> {
        let inner = self.execute(command, params)?;
        list_items(command, &inner)
    }

    /// The object of a create/update answer (`{"zone":{...}}` → the zone), typed.
    pub fn call_object<T: DeserializeOwned>(&self, command: &str, params: &[(&str, &str)]) -> Result<T, ApiError> {
        let v = self.call(command, params)?;
        object_of(command, v)
    }

    /// Send one HTTP request. On error, the flag says whether it failed before anything was sent.
    fn send_once(&self, command: &str, params: &[(String, String)], post: bool) -> Result<RawResponse, (ApiError, bool)> {
        let query = sign::query_string(params);
        let mut url = self.endpoint.clone();
        url.set_query(None);
        let timeout = self.options.timeout_for(command);
        let mut req = if post {
            self.http
                .post(url.clone())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(query)
        } else {
            self.http.get(format!("{url}?{query}"))
        };
        req = req.timeout(timeout);
        if let Auth::Session { jsessionid, sessionkey } = &self.auth {
            req = req.header("Cookie", format!("JSESSIONID={jsessionid}; sessionkey={sessionkey}"));
        }
        let slow = timeout > self.options.request_timeout;
        let resp = if slow {
            if let Some(why) = slow_call_reason(command) {
                self.notice(&format!("{command}: waiting up to {} for the answer ({why})", span(timeout)));
            }
            self.with_progress(command, timeout, || req.send())
        } else {
            req.send()
        };
        let received = chrono::Utc::now();
        let resp = resp.map_err(|e| {
            let before = e.is_connect() || e.is_builder();
            let reason = if e.is_timeout() { format!("no answer within {}", span(timeout)) } else { short_reason(&e) };
            (ApiError::Transport { command: command.into(), endpoint: url.to_string(), reason, sent: !before }, before)
        })?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        self.learn_clock(&headers, received);
        let body = resp.text().map_err(|e| {
            (ApiError::Transport { command: command.into(), endpoint: url.to_string(), reason: short_reason(&e), sent: true }, false)
        })?;
        Ok(RawResponse { status, headers, body })
    }

    /// Run `send`, saying every so often that `command` is still waiting (a long call is not silent).
    fn with_progress<T>(&self, command: &str, limit: Duration, send: impl FnOnce() -> T) -> T {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || {
                let start = Instant::now();
                let mut progress = Progress::new();
                loop {
                    let gap = progress.next_after(start.elapsed());
                    match wait.recv_timeout(gap) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            self.notice(&format!("{command}: still waiting for the answer after {} (up to {})", span(start.elapsed()), span(limit)))
                        }
                        _ => return,
                    }
                }
            });
            let r = send();
            let _ = done.send(());
            r
        })
    }
}

/// When to tell that a wait goes on: after 10 s, then every minute.
struct Progress {
    said: u32,
}

impl Progress {
    fn new() -> Progress {
        Progress { said: 0 }
    }

    fn mark(&self) -> Duration {
        Duration::from_secs(if self.said == 0 { 10 } else { 10 + 60 * self.said as u64 })
    }

    /// True (once per mark) when `elapsed` passed the next mark.
    fn due(&mut self, elapsed: Duration) -> bool {
        if elapsed >= self.mark() {
            self.said += 1;
            return true;
        }
        false
    }

    /// How long from `elapsed` until the next mark; counts that mark as said.
    fn next_after(&mut self, elapsed: Duration) -> Duration {
        let m = self.mark();
        self.said += 1;
        m.saturating_sub(elapsed)
    }
}

/// What the server does inside the calls that take minutes (for the console while it waits).
fn slow_call_reason(command: &str) -> Option<&'static str> {
    match command {
        "addHost" => Some("the management server logs in to the host over SSH, runs cloudstack-setup-agent and waits for the agent to connect"),
        "addImageStore" => Some("the management server mounts the NFS export and copies the system VM template into it"),
        "createStoragePool" => Some("the management server mounts the pool on the cluster's hosts"),
        _ => None,
    }
}

/// "the server's clock is 15 min ahead of this host's".
pub fn clock_words(skew_secs: i64) -> String {
    let d = span(Duration::from_secs(skew_secs.unsigned_abs()));
    if skew_secs > 0 {
        format!("the server's clock is {d} ahead of this host's")
    } else {
        format!("the server's clock is {d} behind this host's")
    }
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn short_reason(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

fn cookie_value(set_cookie: &str, name: &str) -> Option<String> {
    let first = set_cookie.split(';').next()?.trim();
    let (k, v) = first.split_once('=')?;
    (k.trim() == name).then(|| v.trim().to_string())
}

/// An async command answers with only its job id (and, for creates, the new object's id).
fn is_async_answer(inner: &Value) -> bool {
    inner.as_object().is_some_and(|o| o.keys().all(|k| k == "jobid" || k == "id"))
}

fn unwrap_response(doc: &Value) -> Option<Value> {
    doc.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("response")).map(|(_, v)| v.clone()))
}

/// Unwrap `{"<x>response": {...}}`, turning error bodies into [`ApiError`].
pub fn parse_body(command: &str, status: u16, body: &str) -> Result<Value, ApiError> {
    let doc = parse_document(command, status, body)?;
    Ok(unwrap_response(&doc).unwrap_or(Value::Null))
}

/// Check an answer document: JSON with a `...response` object and no error in it.
pub fn parse_document(command: &str, status: u16, body: &str) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_str(body).map_err(|_| ApiError::Protocol {
        command: command.into(),
        status,
        detail: format!("not JSON: {}", body.chars().take(200).collect::<String>().trim()),
    })?;
    let inner = unwrap_response(&v)
        .ok_or_else(|| ApiError::Protocol { command: command.into(), status, detail: "no \"...response\" object in the answer".into() })?;
    if let Some(code) = inner.get("errorcode").and_then(Value::as_u64) {
        let errortext = inner.get("errortext").and_then(Value::as_str).unwrap_or("no error text").to_string();
        if code == 401 {
            return Err(ApiError::Unauthorized { command: command.into(), errortext });
        }
        return Err(ApiError::Api {
            command: command.into(),
            errorcode: code as u16,
            cserrorcode: inner.get("cserrorcode").and_then(Value::as_u64).map(|c| c as u32),
            errortext,
        });
    }
    if !(200..300).contains(&status) {
        return Err(ApiError::Protocol { command: command.into(), status, detail: "an error status without an error body".into() });
    }
    Ok(v)
}

/// The items of a list answer: the one array beside `count`.
pub fn list_items<T: DeserializeOwned>(command: &str, inner: &Value) -> Result<Vec<T>, ApiError> {
    let Some(arr) = inner.as_object().and_then(|o| o.iter().find(|(k, v)| *k != "count" && v.is_array()).map(|(_, v)| v)) else {
        return Ok(vec![]);
    };
    let items: Vec<Value> = arr.as_array().into_iter().flatten().map(without_nulls).collect();
    serde_json::from_value(Value::Array(items))
        .map_err(|e| ApiError::Protocol { command: command.into(), status: 200, detail: format!("unexpected list items: {e}") })
}

/// The single object of a create/update answer, which wraps it in one key (`{"pod":{...}}`).
pub fn object_of<T: DeserializeOwned>(command: &str, v: Value) -> Result<T, ApiError> {
    let obj = match v.as_object() {
        Some(o) if o.len() == 1 && o.values().all(Value::is_object) => o.values().next().cloned().unwrap_or(Value::Null),
        _ => v,
    };
    serde_json::from_value(without_nulls(&obj))
        .map_err(|e| ApiError::Protocol { command: command.into(), status: 200, detail: format!("unexpected answer: {e}") })
}

/// Fields with a null value count as absent (typed fields then take their default).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), x.clone())).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_errors() {
        let e = parse_body("createZone", 431, r#"{"createzoneresponse":{"uuidList":[],"errorcode":431,"cserrorcode":4350,"errortext":"A zone with that name already exists"}}"#)
            .unwrap_err();
        assert_eq!(e.errorcode(), Some(431));
        assert!(e.is_already_exists());
        assert_eq!(e.to_string(), "CloudStack refused createZone (error 431): A zone with that name already exists");
        let e = parse_body("listZones", 401, r#"{"listzonesresponse":{"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}"#).unwrap_err();
        assert!(matches!(e, ApiError::Unauthorized { .. }));
        assert!(matches!(parse_body("x", 502, "<html>bad gateway</html>").unwrap_err(), ApiError::Protocol { status: 502, .. }));
    }

    #[test]
    fn lists_and_objects() {
        #[derive(serde::Deserialize)]
        struct Z {
            id: String,
        }
        let v = parse_body("listZones", 200, r#"{"listzonesresponse":{"count":1,"zone":[{"id":"a"}]}}"#).unwrap();
        assert_eq!(list_items::<Z>("listZones", &v).unwrap()[0].id, "a");
        let v = parse_body("listZones", 200, r#"{"listzonesresponse":{}}"#).unwrap();
        assert!(list_items::<Z>("listZones", &v).unwrap().is_empty());
        let z: Z = object_of("createZone", serde_json::json!({"zone": {"id": "b"}})).unwrap();
        assert_eq!(z.id, "b");
    }

    #[test]
    fn spans_and_clock_words() {
        assert_eq!(span(Duration::from_millis(250)), "250 ms");
        assert_eq!(span(Duration::from_secs(45)), "45 s");
        assert_eq!(span(Duration::from_secs(900)), "15 min");
        assert_eq!(span(Duration::from_secs(150)), "2 min 30 s");
        assert_eq!(span(Duration::from_secs(3900)), "1 h 5 min");
        assert_eq!(clock_words(900), "the server's clock is 15 min ahead of this host's");
        assert_eq!(clock_words(-62), "the server's clock is 62 s behind this host's");
    }

    #[test]
    fn long_waits_are_told_after_10_s_then_every_minute() {
        let mut p = Progress::new();
        assert!(!p.due(Duration::from_secs(9)));
        assert!(p.due(Duration::from_secs(10)));
        assert!(!p.due(Duration::from_secs(69)));
        assert!(p.due(Duration::from_secs(70)));
        let mut p = Progress::new();
        assert_eq!(p.next_after(Duration::ZERO), Duration::from_secs(10));
        assert_eq!(p.next_after(Duration::from_secs(10)), Duration::from_secs(60));
    }

    #[test]
    fn slow_calls_have_their_own_timeouts() {
        let o = Options::default();
        assert_eq!(o.timeout_for("listZones"), Duration::from_secs(60));
        assert_eq!(o.timeout_for("addHost"), Duration::from_secs(900));
        assert_eq!(o.timeout_for("addimagestore"), Duration::from_secs(1800));
        assert_eq!(o.timeout_for("createStoragePool"), Duration::from_secs(600));
    }

    #[test]
    fn signed_url_with_fixed_expiry() {
        let c = Client::new("http://127.0.0.1:8080/client/api", Auth::Keys { api_key: "k".into(), secret: "s".into() }, Options::default()).unwrap();
        let u = c.signed_url("listZones", &[("name", "a b~")], Some("2030-01-01T00:00:00+0000"));
        assert!(u.starts_with("http://127.0.0.1:8080/client/api?command=listZones&name=a%20b%7E&response=json&apikey=k&signatureversion=3&expires=2030-01-01T00%3A00%3A00%2B0000&signature="), "{u}");
        assert!(!format!("{c:?}").contains("\"s\""));
    }
}

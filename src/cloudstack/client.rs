//! A CloudStack API client: signed calls (or a login session), JSON answers, async jobs, safe retries.

use std::fmt;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::sign;

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

/// Timing and retry knobs; tests shorten them.
#[derive(Debug, Clone)]
pub struct Options {
    /// One HTTP request.
    pub request_timeout: Duration,
    /// Between two `queryAsyncJobResult` polls (Marvin uses 5 s).
    pub poll_interval: Duration,
    /// The longest wait for one async job (Marvin uses 3600 s).
    pub job_timeout: Duration,
    /// Extra attempts for a request that is safe to repeat.
    pub retries: u32,
    pub retry_delay: Duration,
    /// Validity of a signed request (signature version 3); `None` signs without `expires`.
    pub expires_after: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            request_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            job_timeout: Duration::from_secs(3600),
            retries: 3,
            retry_delay: Duration::from_secs(2),
            expires_after: Some(Duration::from_secs(600)),
        }
    }
}

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
        let http = reqwest::blocking::Client::builder()
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| ApiError::Input(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { endpoint, auth, http, options })
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
                            let t = chrono::Utc::now() + chrono::Duration::from_std(d).unwrap_or_default();
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
        // Passwords go in a POST body, never in a URL that proxies and access logs keep.
        let post = params.iter().any(|(k, _)| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()));
        let mut attempt = 0;
        loop {
            let all = self.request_params(command, params, None);
            match self.send_once(command, &all, post) {
                Ok(resp) => {
                    if resp.status == 503 && idempotent && attempt < self.options.retries {
                        attempt += 1;
                        std::thread::sleep(self.options.retry_delay);
                        continue;
                    }
                    return parse_document(command, resp.status, &resp.body);
                }
                Err((e, before_send)) => {
                    // A request that never left may always be repeated; one that did only when idempotent.
                    if (idempotent || before_send) && attempt < self.options.retries {
                        attempt += 1;
                        std::thread::sleep(self.options.retry_delay);
                        continue;
                    }
                    return Err(e);
                }
            }
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
            std::thread::sleep(self.options.poll_interval);
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
        let mut req = if post {
            self.http
                .post(url.clone())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(query)
        } else {
            self.http.get(format!("{url}?{query}"))
        };
        if let Auth::Session { jsessionid, sessionkey } = &self.auth {
            req = req.header("Cookie", format!("JSESSIONID={jsessionid}; sessionkey={sessionkey}"));
        }
        let resp = req.send().map_err(|e| {
            let before = e.is_connect() || e.is_builder();
            (ApiError::Transport { command: command.into(), endpoint: url.to_string(), reason: short_reason(&e) }, before)
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = resp.text().map_err(|e| {
            (ApiError::Transport { command: command.into(), endpoint: url.to_string(), reason: short_reason(&e) }, false)
        })?;
        Ok(RawResponse { status, headers, body })
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
    fn signed_url_with_fixed_expiry() {
        let c = Client::new("http://127.0.0.1:8080/client/api", Auth::Keys { api_key: "k".into(), secret: "s".into() }, Options::default()).unwrap();
        let u = c.signed_url("listZones", &[("name", "a b~")], Some("2030-01-01T00:00:00+0000"));
        assert!(u.starts_with("http://127.0.0.1:8080/client/api?command=listZones&name=a%20b%7E&response=json&apikey=k&signatureversion=3&expires=2030-01-01T00%3A00%3A00%2B0000&signature="), "{u}");
        assert!(!format!("{c:?}").contains("\"s\""));
    }
}

//! The download: a GET whose body is read in chunks and, when the connection drops or stalls, continued
//! with a `Range` request from the exact byte reached. The bytes handed out are therefore the file's bytes
//! in order, each once, whatever happened on the wire; the hash and the decoder downstream keep their state
//! across a resume and never see a byte twice.
//!
//! Retried with exponential backoff: connection errors, timeouts, 5xx, 408 and 429. Not retried: 404/410
//! and other 4xx. `If-Range` (ETag or Last-Modified) makes a server that changed the file answer 200
//! instead of splicing two versions; that ends the download with an error. A 200 carrying the same
//! validator is a server without range support: the body is read again and the known prefix skipped.

use std::io::Read;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use reqwest::StatusCode;
use url::Url;

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Consecutive failed attempts (connect, status, or a read) tolerated before giving up.
    pub attempts: u32,
    /// First wait; doubled after each failure, capped at `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Connect timeout, and the longest wait for response headers or for any single read.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 6, base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(30), timeout: Duration::from_secs(30) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: plain http is not allowed (use https, or allow http explicitly: --allow-http or cloudstack.allow-http = true)")]
    HttpNotAllowed { url: String },
    #[error("{url}: unsupported URL scheme {scheme:?} (expected https, http or file)")]
    Scheme { url: String, scheme: String },
    #[error("{url}: not found (HTTP {status})")]
    NotFound { url: String, status: u16 },
    #[error("{url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: gave up after {attempts} attempts: {last}")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("{url}: the file changed on the server during the download (its ETag/Last-Modified differ); run again")]
    Changed { url: String },
    #[error("{url}: the server resumed at the wrong place ({detail})")]
    BadRange { url: String, detail: String },
    #[error("{url}: larger than 4 MiB, not a checksum list")]
    TooLarge { url: String },
    #[error("{path}: {source}")]
    Local { path: std::path::PathBuf, source: std::io::Error },
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
}

/// Build the client: TLS verified (rustls), redirects followed only to URLs the scheme policy allows.
pub fn client(allow_http: bool, policy: &RetryPolicy) -> Result<Client, HttpError> {
    let redirect = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() == "http" && !allow_http {
            attempt.error("redirected to plain http, which is not allowed")
        } else {
            attempt.follow()
        }
    });
    Client::builder()
        .user_agent(concat!("cloudstrap/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(policy.timeout)
        // In the blocking client this bounds the wait for headers and every single body read,
        // not the whole transfer.
        .timeout(policy.timeout)
        .redirect(redirect)
        .build()
        .map_err(|e| HttpError::Client(e.to_string()))
}

/// Check the URL against the scheme policy before anything is sent.
pub fn check_url(url: &Url, allow_http: bool) -> Result<(), HttpError> {
    match url.scheme() {
        "https" | "file" => Ok(()),
        "http" if allow_http => Ok(()),
        "http" => Err(HttpError::HttpNotAllowed { url: url.to_string() }),
        other => Err(HttpError::Scheme { url: url.to_string(), scheme: other.to_string() }),
    }
}

/// A small file (a checksum list) read whole, with the same retries.
pub fn get_text(client: &Client, url: &Url, policy: &RetryPolicy) -> Result<String, HttpError> {
    let mut body = Source::open(client, url, policy)?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next_chunk(64 * 1024)? {
        out.extend_from_slice(&chunk);
        if out.len() > 4 << 20 {
            return Err(HttpError::TooLarge { url: url.to_string() });
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Where the compressed bytes come from: a resumable GET, or a local file (`file://`, for a mirror on
/// removable media at an air-gapped site).
pub enum Source {
    Http(Box<Download>),
    Local { file: std::fs::File, path: std::path::PathBuf, total: u64 },
}

impl Source {
    pub fn open(client: &Client, url: &Url, policy: &RetryPolicy) -> Result<Source, HttpError> {
        if url.scheme() != "file" {
            return Download::open(client.clone(), url.clone(), policy.clone()).map(|d| Source::Http(Box::new(d)));
        }
        let path = url.to_file_path().map_err(|_| HttpError::Scheme { url: url.to_string(), scheme: "file".into() })?;
        let local = |source| HttpError::Local { path: path.clone(), source };
        let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => HttpError::NotFound { url: url.to_string(), status: 404 },
            _ => local(e),
        })?;
        let total = file.metadata().map_err(local)?.len();
        Ok(Source::Local { file, path, total })
    }

    pub fn total(&self) -> Option<u64> {
        match self {
            Source::Http(d) => d.total(),
            Source::Local { total, .. } => Some(*total),
        }
    }

    pub fn resumes(&self) -> u32 {
        match self {
            Source::Http(d) => d.resumes,
            Source::Local { .. } => 0,
        }
    }

    pub fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, HttpError> {
        match self {
            Source::Http(d) => d.next_chunk(max),
            Source::Local { file, path, .. } => {
                let mut buf = Vec::with_capacity(max);
                (&mut *file).take(max as u64).read_to_end(&mut buf).map_err(|source| HttpError::Local { path: path.clone(), source })?;
                Ok((!buf.is_empty()).then_some(buf))
            }
        }
    }
}

/// A resumable GET.
pub struct Download {
    client: Client,
    url: Url,
    policy: RetryPolicy,
    resp: Option<Response>,
    /// Bytes handed out so far: where a resume starts.
    pos: u64,
    total: Option<u64>,
    validator: Option<String>,
    /// Resumes done (for the report).
    pub resumes: u32,
}

enum Attempt {
    Fatal(HttpError),
    Retry(String),
}

impl Download {
    /// Send the first request (retrying as the policy says) and read the response headers.
    pub fn open(client: Client, url: Url, policy: RetryPolicy) -> Result<Download, HttpError> {
        let mut d = Download { client, url, policy, resp: None, pos: 0, total: None, validator: None, resumes: 0 };
        d.connect_with_retries(None)?;
        Ok(d)
    }

    /// Length of the whole file, when the server said.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Up to `max` bytes, fewer only at the end; `None` at the end of the file.
    pub fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>, HttpError> {
        let mut buf = vec![0u8; max];
        let mut filled = 0;
        let mut failures = 0u32;
        let mut last = String::new();
        while filled < max {
            let Some(resp) = self.resp.as_mut() else {
                if self.total == Some(self.pos) {
                    break;
                }
                // Reconnect after a failure: wait, then continue from `pos`.
                failures += 1;
                if failures >= self.policy.attempts {
                    return Err(HttpError::GaveUp { url: self.url.to_string(), attempts: failures, last });
                }
                std::thread::sleep(self.delay(failures));
                match self.connect(Some(self.pos)) {
                    Ok(()) => self.resumes += 1,
                    Err(Attempt::Fatal(e)) => return Err(e),
                    Err(Attempt::Retry(why)) => last = why,
                }
                continue;
            };
            match resp.read(&mut buf[filled..]) {
                Ok(0) => {
                    match self.total {
                        // The connection ended early without an error: continue where it stopped.
                        Some(t) if self.pos < t => {
                            last = format!("connection closed at byte {} of {t}", self.pos);
                            self.resp = None;
                        }
                        Some(t) if self.pos > t => {
                            return Err(HttpError::BadRange {
                                url: self.url.to_string(),
                                detail: format!("the server sent {} bytes of a {t}-byte file", self.pos),
                            })
                        }
                        _ => {
                            self.total = Some(self.pos);
                            self.resp = None;
                            break;
                        }
                    }
                }
                Ok(n) => {
                    filled += n;
                    self.pos += n as u64;
                    failures = 0;
                }
                Err(e) => {
                    last = format!("read failed at byte {}: {}", self.pos, error_chain(&e));
                    self.resp = None;
                }
            }
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some(buf))
    }

    fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.policy.base_delay.saturating_mul(factor).min(self.policy.max_delay)
    }

    fn connect_with_retries(&mut self, from: Option<u64>) -> Result<(), HttpError> {
        let mut failures = 0;
        loop {
            match self.connect(from) {
                Ok(()) => return Ok(()),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(why)) => {
                    failures += 1;
                    if failures >= self.policy.attempts {
                        return Err(HttpError::GaveUp { url: self.url.to_string(), attempts: failures, last: why });
                    }
                    crate::log::line(&format!("template download: {why}; retrying"));
                    std::thread::sleep(self.delay(failures));
                }
            }
        }
    }

    /// One request: from the start, or a `Range` request from byte `from`.
    fn connect(&mut self, from: Option<u64>) -> Result<(), Attempt> {
        let url = self.url.to_string();
        let mut req = self.client.get(self.url.clone());
        if let Some(at) = from {
            req = req.header(RANGE, format!("bytes={at}-"));
            if let Some(v) = &self.validator {
                req = req.header(IF_RANGE, v.as_str());
            }
        }
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) => return Err(Attempt::Retry(format!("request failed: {}", error_chain(&e)))),
        };
        let status = resp.status();
        match status {
            StatusCode::OK => {
                if from.is_none() {
                    self.total = resp.content_length();
                    self.validator = validator(resp.headers());
                    self.resp = Some(resp);
                    return Ok(());
                }
                if self.validator.is_some() && validator(resp.headers()) != self.validator {
                    // If-Range was sent and the validator moved: not the file we were reading.
                    return Err(Attempt::Fatal(HttpError::Changed { url }));
                }
                // The same file from a server without range support: read it again and drop what we have.
                let mut resp = resp;
                let skip = from.unwrap_or(0);
                let copied = std::io::copy(&mut (&mut resp).take(skip), &mut std::io::sink())
                    .map_err(|e| Attempt::Retry(format!("re-reading the first {skip} bytes: {e}")))?;
                if copied < skip {
                    return Err(Attempt::Retry(format!("re-reading the first {skip} bytes: ended at {copied}")));
                }
                self.resp = Some(resp);
                Ok(())
            }
            StatusCode::PARTIAL_CONTENT if from.is_some() => {
                let at = from.unwrap_or(0);
                let range = resp.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let (start, total) = parse_content_range(&range).ok_or_else(|| {
                    Attempt::Fatal(HttpError::BadRange { url: url.clone(), detail: format!("Content-Range {range:?}") })
                })?;
                if start != at {
                    return Err(Attempt::Fatal(HttpError::BadRange {
                        url,
                        detail: format!("asked for byte {at}, got a part starting at {start}"),
                    }));
                }
                if let (Some(t), Some(known)) = (total, self.total) {
                    if t != known {
                        return Err(Attempt::Fatal(HttpError::Changed { url }));
                    }
                }
                self.resp = Some(resp);
                Ok(())
            }
            StatusCode::RANGE_NOT_SATISFIABLE if from.is_some() && self.total == from => {
                self.resp = None;
                Ok(())
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(Attempt::Fatal(HttpError::NotFound { url, status: status.as_u16() })),
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT || s == StatusCode::TOO_MANY_REQUESTS => {
                Err(Attempt::Retry(format!("HTTP {}", s.as_u16())))
            }
            s => Err(Attempt::Fatal(HttpError::Status { url, status: s.as_u16() })),
        }
    }
}

/// A strong ETag, else Last-Modified: what `If-Range` may carry.
fn validator(h: &HeaderMap) -> Option<String> {
    if let Some(etag) = h.get(ETAG).and_then(|v| v.to_str().ok()) {
        if !etag.starts_with("W/") {
            return Some(etag.to_string());
        }
    }
    h.get(LAST_MODIFIED).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) -> (START, TOTAL).
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, _end) = span.split_once('-')?;
    let total = if total == "*" { None } else { Some(total.parse().ok()?) };
    Some((start.parse().ok()?, total))
}

/// An error and its causes on one line (reqwest's Display alone hides the interesting part).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn scheme_policy() {
        let http = Url::parse("http://127.0.0.1/x").unwrap();
        assert!(matches!(check_url(&http, false), Err(HttpError::HttpNotAllowed { .. })));
        assert!(check_url(&http, true).is_ok());
        assert!(check_url(&Url::parse("https://example.org/x").unwrap(), false).is_ok());
        assert!(matches!(check_url(&Url::parse("ftp://h/x").unwrap(), true), Err(HttpError::Scheme { .. })));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let d = Download {
            client: Client::new(),
            url: Url::parse("https://example.org/").unwrap(),
            policy: RetryPolicy { base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(5), ..Default::default() },
            resp: None,
            pos: 0,
            total: None,
            validator: None,
            resumes: 0,
        };
        let got: Vec<u64> = (1..=5).map(|f| d.delay(f).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 5, 5]);
    }
}

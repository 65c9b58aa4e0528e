//! What can go wrong talking to the management server, each as one sentence an operator can act on.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an API error body (`errorcode`, `errortext`).
    #[error("CloudStack refused {command} (error {errorcode}): {errortext}")]
    Api { command: String, errorcode: u16, cserrorcode: Option<u32>, errortext: String },
    /// 401: bad key or signature, an expired request, or a session that is gone.
    #[error("CloudStack refused {command} (error 401): {errortext}; check the API key and secret (or the session) and that this host's clock is right")]
    Unauthorized { command: String, errortext: String },
    /// 401 from a server whose clock differs from this host's by more than the Date header's noise.
    #[error("CloudStack refused {command} (error 401): {errortext}; {}: cloudstrap signs for the server's time, so also check the API key and secret, and set both clocks with NTP (chrony)", super::client::clock_words(*skew_secs))]
    ClockSkew { command: String, errortext: String, skew_secs: i64 },
    /// An asynchronous job ended with `jobstatus` 2.
    #[error("CloudStack job {jobid} for {command} failed (error {errorcode}): {errortext}")]
    JobFailed { command: String, jobid: String, errorcode: u16, errortext: String },
    /// An asynchronous job still ran when the wait ended.
    #[error("CloudStack job {jobid} for {command} was still running after {}s; see it with `cloudstrap api queryAsyncJobResult jobid={jobid}`", waited.as_secs())]
    JobTimeout { command: String, jobid: String, waited: Duration },
    /// No HTTP answer (refused, timed out, DNS...). `sent`: the request may have reached the server (a
    /// timeout or a dropped connection), so it may have done its work.
    #[error("cannot reach the CloudStack API at {endpoint} for {command}: {reason}")]
    Transport { command: String, endpoint: String, reason: String, sent: bool },
    /// An answer that is not the API's JSON.
    #[error("unexpected answer from the CloudStack API to {command} (HTTP {status}): {detail}")]
    Protocol { command: String, status: u16, detail: String },
    /// A waited-for condition (host Up, API up, ...) did not come in time.
    #[error("{what} did not happen within {}s{}", waited.as_secs(), tail_suffix(.tail))]
    Timeout { what: String, waited: Duration, tail: Option<String> },
    /// Input that cannot be sent (bad endpoint, missing credentials, bad NAME=VALUE).
    #[error("{0}")]
    Input(String),
}

fn tail_suffix(tail: &Option<String>) -> String {
    match tail {
        Some(t) if !t.trim().is_empty() => format!("; last lines of the log:\n{}", t.trim_end()),
        _ => String::new(),
    }
}

impl ApiError {
    /// The API error code, when the server gave one.
    pub fn errorcode(&self) -> Option<u16> {
        match self {
            ApiError::Api { errorcode, .. } | ApiError::JobFailed { errorcode, .. } => Some(*errorcode),
            ApiError::Unauthorized { .. } | ApiError::ClockSkew { .. } => Some(401),
            _ => None,
        }
    }

    /// True when a request went out and no answer came back: the server may have done (or still be doing) the work.
    pub fn answer_lost(&self) -> bool {
        matches!(self, ApiError::Transport { sent: true, .. })
    }

    /// True when the error says the object exists already (the server's 431/530 "... already exists").
    pub fn is_already_exists(&self) -> bool {
        match self {
            ApiError::Api { errortext, .. } | ApiError::JobFailed { errortext, .. } => {
                let t = errortext.to_ascii_lowercase();
                t.contains("already exist") || t.contains("already in")
            }
            _ => false,
        }
    }
}

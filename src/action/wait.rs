//! Wait until a TCP port accepts connections or a URL answers (any HTTP status counts as an answer).

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Action, ActionError, Ctx, Record};

#[derive(Debug, Clone)]
pub enum Target {
    Port { host: String, port: u16 },
    Url(String),
}

pub struct WaitFor {
    pub target: Target,
    pub timeout: Duration,
}

impl WaitFor {
    fn probe(&self) -> bool {
        match &self.target {
            Target::Port { host, port } => (host.as_str(), *port)
                .to_socket_addrs()
                .map(|mut addrs| addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()))
                .unwrap_or(false),
            Target::Url(url) => reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                // An answer from the application: a server still starting says 503 (or 404 before its
                // web application is deployed); CloudStack's API answers an unsigned request with 401.
                .map(|c| c.get(url).send().is_ok_and(|r| !r.status().is_server_error() && r.status() != reqwest::StatusCode::NOT_FOUND))
                .unwrap_or(false),
        }
    }
}

impl Action for WaitFor {
    fn id(&self) -> String {
        match &self.target {
            Target::Port { host, port } => format!("wait:{host}:{port}"),
            Target::Url(u) => format!("wait:{u}"),
        }
    }

    fn describe(&self) -> String {
        match &self.target {
            Target::Port { host, port } => format!("Wait until {host}:{port} accepts connections"),
            Target::Url(u) => format!("Wait until {u} answers"),
        }
    }

    fn is_done(&self, _ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(self.probe())
    }

    fn execute(&self, _ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let start = Instant::now();
        while start.elapsed() < self.timeout {
            if self.probe() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        Err(ActionError::Failed(format!("{} did not answer within {} s", self.id().trim_start_matches("wait:"), self.timeout.as_secs())))
    }

}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-connection HTTP server on loopback answering with `status`; returns its URL.
    fn answer_once(status: &'static str) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/client/api", l.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
            }
        });
        url
    }

    #[test]
    fn a_url_answers_once_the_application_does() {
        let ctx = Ctx::live_with_files_in("/nonexistent", crate::run::Redactor::default());
        let w = |url: String| WaitFor { target: Target::Url(url), timeout: Duration::from_secs(1) };
        assert!(!w(answer_once("503 Service Unavailable")).is_done(&ctx).unwrap());
        assert!(!w(answer_once("404 Not Found")).is_done(&ctx).unwrap());
        assert!(w(answer_once("401 Unauthorized")).is_done(&ctx).unwrap());
        assert!(w(answer_once("200 OK")).is_done(&ctx).unwrap());
    }
}

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
                .map(|c| c.get(url).send().is_ok())
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

    fn revert(&self, _ctx: &Ctx, _record: &Record) -> Result<(), ActionError> {
        Ok(())
    }
}

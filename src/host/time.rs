//! Time service: which of chrony, ntpd and systemd-timesyncd is configured, whether it runs, and
//! (live root only) whether the clock is synchronised.

use std::time::Duration;

use serde::Serialize;

use super::Sysroot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeService {
    /// "chrony", "ntpd" or "systemd-timesyncd".
    pub name: String,
    /// Its configuration file, as on the host.
    pub config: String,
    /// Servers or pools it is configured with (empty: its built-in defaults).
    pub servers: Vec<String>,
    /// A process of it runs (None in a fixture without proc).
    pub running: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeFacts {
    pub services: Vec<TimeService>,
    /// Synchronised per `chronyc tracking` or `timedatectl`; None where it cannot be told.
    pub synchronised: Option<bool>,
}

/// (name, config files, process names).
const SERVICES: [(&str, &[&str], &[&str]); 3] = [
    ("chrony", &["/etc/chrony.conf", "/etc/chrony/chrony.conf"], &["chronyd"]),
    ("ntpd", &["/etc/ntp.conf", "/etc/ntpsec/ntp.conf"], &["ntpd"]),
    ("systemd-timesyncd", &["/etc/systemd/timesyncd.conf"], &["systemd-timesyn"]),
];

pub fn time_facts(sys: &Sysroot, procs: &[String], timeout: Duration) -> TimeFacts {
    let mut services = vec![];
    for (name, configs, comms) in SERVICES {
        for cfg in configs {
            let Ok(Some(text)) = sys.read_opt(cfg) else { continue };
            let servers: Vec<String> = text
                .lines()
                .filter_map(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    match w.as_slice() {
                        ["server" | "pool", s, ..] => Some(vec![s.to_string()]),
                        [kv] if kv.starts_with("NTP=") => Some(kv[4..].split_whitespace().map(String::from).collect()),
                        [k, rest @ ..] if k.starts_with("NTP=") => {
                            Some(std::iter::once(&k[4..]).chain(rest.iter().copied()).filter(|s| !s.is_empty()).map(String::from).collect())
                        }
                        _ => None,
                    }
                })
                .flatten()
                .collect();
            // timesyncd.conf ships on every systemd host; count it only when its daemon exists.
            if name == "systemd-timesyncd"
                && !["/lib/systemd/systemd-timesyncd", "/usr/lib/systemd/systemd-timesyncd"].iter().any(|p| sys.exists(p))
            {
                continue;
            }
            let running = (!procs.is_empty()).then(|| procs.iter().any(|p| comms.contains(&p.as_str())));
            services.push(TimeService { name: name.into(), config: cfg.to_string(), servers, running });
            break;
        }
    }
    let synchronised = if sys.is_live() { synchronised(timeout) } else { None };
    TimeFacts { services, synchronised }
}

fn synchronised(timeout: Duration) -> Option<bool> {
    let none = crate::run::Redactor::default();
    if let Ok(out) = crate::run::Cmd::new("chronyc").arg("tracking").timeout(timeout).run(&none) {
        if out.status == 0 {
            let leap = out.stdout.lines().find(|l| l.starts_with("Leap status"))?;
            return Some(!leap.contains("Not synchronised"));
        }
    }
    if let Ok(out) = crate::run::Cmd::new("timedatectl").args(["show", "-p", "NTPSynchronized", "--value"]).timeout(timeout).run(&none) {
        if out.status == 0 {
            return match out.stdout.trim() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
        }
    }
    None
}

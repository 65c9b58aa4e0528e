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
            return tracking_synchronised(&out.stdout);
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

/// `chronyc tracking`: "Leap status     : Normal" once synchronised, "Not synchronised" before.
pub fn tracking_synchronised(text: &str) -> Option<bool> {
    let leap = text.lines().find(|l| l.starts_with("Leap status"))?;
    Some(!leap.contains("Not synchronised"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::host::sysroot::fixture_tree as tree;

    #[test]
    fn chronyc_tracking_leap_status() {
        let synced = "Reference ID    : C0A80101 (gw)\nStratum         : 3\nLeap status     : Normal\n";
        let unsynced = "Reference ID    : 00000000 ()\nStratum         : 0\nLeap status     : Not synchronised\n";
        assert_eq!(tracking_synchronised(synced), Some(true));
        assert_eq!(tracking_synchronised(unsynced), Some(false));
        assert_eq!(tracking_synchronised("506 Cannot talk to daemon"), None);
    }

    #[test]
    fn configured_services_and_their_servers() {
        let (_d, s) = tree(&[("/etc/ntp.conf", "server 0.xenserver.pool.ntp.org\nserver 1.xenserver.pool.ntp.org iburst\n")]);
        let t = time_facts(&s, &["ntpd".to_string()], Duration::from_secs(1));
        assert_eq!(t.services.len(), 1);
        assert_eq!(t.services[0].servers, vec!["0.xenserver.pool.ntp.org", "1.xenserver.pool.ntp.org"]);
        assert_eq!(t.services[0].running, Some(true));
        assert_eq!(t.synchronised, None, "not asked in a fixture");
        // timesyncd.conf alone (its daemon absent) is not a time service.
        let (_d, s) = tree(&[("/etc/systemd/timesyncd.conf", "[Time]\nNTP=ntp.example.org\n")]);
        assert!(time_facts(&s, &[], Duration::from_secs(1)).services.is_empty());
        let (_d, s) = tree(&[("/etc/systemd/timesyncd.conf", "[Time]\nNTP=a.example.org b.example.org\n"), ("/lib/systemd/systemd-timesyncd", "")]);
        assert_eq!(time_facts(&s, &[], Duration::from_secs(1)).services[0].servers, vec!["a.example.org", "b.example.org"]);
    }
}

//! Which profile on the medium this machine installs: the one its boot entry or kernel command line names
//! (`cloudstrap.profile=NAME`), else the one whose `host.mac` is one of this machine's MAC addresses.

/// This machine's network interfaces (hardware ones: `lo`, bridges and the like left out) with their MAC
/// addresses, sorted by name.
pub fn interfaces() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let mac = std::fs::read_to_string(e.path().join("address")).ok()?.trim().to_string();
            (name != "lo" && e.path().join("device").exists()).then_some((name, mac))
        })
        .collect();
    v.sort();
    v
}

/// A profile on the medium: its name (file name without `.toml`) and the MAC address it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub mac: Option<String>,
}

/// The choice and why it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Named on the kernel command line (a boot-menu entry or a typed argument).
    Named(String),
    /// Its host.mac is this machine's.
    Mac { name: String, mac: String },
}

impl Choice {
    pub fn name(&self) -> &str {
        match self {
            Choice::Named(n) | Choice::Mac { name: n, .. } => n,
        }
    }
}

/// `cmdline` is /proc/cmdline; `macs` this machine's interfaces' addresses. `Ok(None)`: no profile for
/// this machine.
pub fn choose(cmdline: &str, macs: &[String], profiles: &[Candidate]) -> Result<Option<Choice>, String> {
    if let Some(name) = cmdline.split_whitespace().filter_map(|w| w.strip_prefix("cloudstrap.profile=")).last() {
        return if profiles.iter().any(|p| p.name == name) {
            Ok(Some(Choice::Named(name.to_string())))
        } else {
            Err(format!("the kernel command line names profile {name:?}, which is not on the medium (it has: {})", names(profiles)))
        };
    }
    let norm = |m: &str| m.to_ascii_lowercase();
    let hits: Vec<(&Candidate, &String)> =
        profiles.iter().filter_map(|p| p.mac.as_ref().and_then(|pm| macs.iter().find(|m| norm(m) == norm(pm)).map(|m| (p, m)))).collect();
    match hits.as_slice() {
        [] => Ok(None),
        [(p, m)] => Ok(Some(Choice::Mac { name: p.name.clone(), mac: norm(m) })),
        many => Err(format!(
            "several profiles name this machine's MAC addresses: {}; choose one in the boot menu",
            many.iter().map(|(p, m)| format!("{} ({m})", p.name)).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn names(profiles: &[Candidate]) -> String {
    if profiles.is_empty() {
        "none".into()
    } else {
        profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, mac: Option<&str>) -> Candidate {
        Candidate { name: name.into(), mac: mac.map(str::to_string) }
    }

    #[test]
    fn the_command_line_wins_then_the_mac_address() {
        let ps = [c("server", Some("52:54:00:00:00:04")), c("agent", Some("52:54:00:00:00:05"))];
        let macs = vec!["52:54:00:00:00:05".to_string()];
        assert_eq!(choose("boot=live cloudstrap.profile=server quiet", &macs, &ps).unwrap(), Some(Choice::Named("server".into())));
        assert_eq!(choose("boot=live", &["52:54:00:00:00:05".to_uppercase()], &ps).unwrap(), Some(Choice::Mac { name: "agent".into(), mac: "52:54:00:00:00:05".into() }));
        assert_eq!(choose("boot=live", &["52:54:00:00:00:99".into()], &ps).unwrap(), None);
        let e = choose("cloudstrap.profile=nope", &macs, &ps).unwrap_err();
        assert!(e.contains("\"nope\"") && e.contains("server, agent"), "{e}");
        let twice = [c("a", Some("52:54:00:00:00:05")), c("b", Some("52:54:00:00:00:05"))];
        assert!(choose("", &macs, &twice).unwrap_err().contains("a (52:54:00:00:00:05), b (52:54:00:00:00:05)"));
    }
}

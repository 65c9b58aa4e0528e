//! Ports in use: listening TCP sockets and bound UDP sockets from proc/net/{tcp,tcp6,udp,udp6},
//! with the process that holds each one when it can be found (proc/PID/fd, which needs root for others').

use std::collections::HashMap;

use serde::Serialize;

use super::Sysroot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortUse {
    pub proto: Proto,
    pub port: u16,
    /// Process name (comm) of the holder, when known.
    pub process: Option<String>,
}

/// Every listening TCP port and bound UDP port; None when proc/net/tcp cannot be read.
pub fn ports_in_use(sys: &Sysroot) -> Option<Vec<PortUse>> {
    if !sys.exists("/proc/net/tcp") {
        return None;
    }
    let mut found: Vec<(Proto, u16, u64)> = vec![];
    for (file, proto) in [("/proc/net/tcp", Proto::Tcp), ("/proc/net/tcp6", Proto::Tcp), ("/proc/net/udp", Proto::Udp), ("/proc/net/udp6", Proto::Udp)] {
        if let Ok(Some(text)) = sys.read_opt(file) {
            found.extend(parse_proc_net(&text, proto).into_iter().map(|(p, i)| (proto, p, i)));
        }
    }
    let inodes: Vec<u64> = found.iter().map(|f| f.2).filter(|i| *i != 0).collect();
    let owners = socket_owners(sys, &inodes);
    let mut out: Vec<PortUse> = vec![];
    for (proto, port, inode) in found {
        let process = owners.get(&inode).cloned();
        match out.iter_mut().find(|u| u.proto == proto && u.port == port) {
            Some(u) => {
                if u.process.is_none() {
                    u.process = process;
                }
            }
            None => out.push(PortUse { proto, port, process }),
        }
    }
    out.sort_by_key(|u| (u.proto, u.port));
    Some(out)
}

/// (local port, inode) of listening TCP sockets (state 0A) or of every UDP socket.
pub fn parse_proc_net(text: &str, proto: Proto) -> Vec<(u16, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 10 {
                return None;
            }
            if proto == Proto::Tcp && w[3] != "0A" {
                return None;
            }
            let port = u16::from_str_radix(w[1].rsplit(':').next()?, 16).ok()?;
            Some((port, w[9].parse().unwrap_or(0)))
        })
        .collect()
}

/// Map socket inodes to the name of a process holding them.
fn socket_owners(sys: &Sysroot, inodes: &[u64]) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    if inodes.is_empty() {
        return out;
    }
    for pid_dir in sys.list("/proc") {
        if !pid_dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(pid_dir.join("fd")) else { continue };
        let mut comm = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let Some(inode) = target.to_str().and_then(|t| t.strip_prefix("socket:[")).and_then(|t| t.strip_suffix(']')).and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            if inodes.contains(&inode) {
                let name = comm.get_or_insert_with(|| std::fs::read_to_string(pid_dir.join("comm")).unwrap_or_default().trim().to_string()).clone();
                out.entry(inode).or_insert(name);
            }
        }
    }
    out
}

/// Names of running processes (proc/PID/comm).
pub fn process_names(sys: &Sysroot) -> Vec<String> {
    sys.list("/proc")
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|p| std::fs::read_to_string(p.join("comm")).ok().map(|c| c.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_tcp_only() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n   1: 0100007F:0016 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 99 1\n";
        assert_eq!(parse_proc_net(t, Proto::Tcp), vec![(8080, 4242)]);
    }
}

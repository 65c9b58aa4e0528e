//! Whether a DHCP server answers on an interface: one DHCPDISCOVER broadcast from that interface (bound to
//! it, from port 68), and the servers whose DHCPOFFERs come back within the wait. Nothing is requested or
//! leased: a server only reserves an offered address for a short while. The provisioning role needs to know
//! (two servers answering the same machines race; proxy-DHCP needs the other one).

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum DhcpFacts {
    NotProbed { reason: String },
    /// The servers (their identifier, else the sender) that offered an address; empty when none answered.
    Offers { interface: String, servers: Vec<String> },
    Failed { interface: String, reason: String },
}

const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// A DHCPDISCOVER from `mac` with transaction id `xid`, asking for a broadcast answer.
pub fn discover(mac: [u8; 6], xid: u32) -> Vec<u8> {
    let mut p = vec![0u8; 236];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1; // Ethernet
    p[2] = 6;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    p[10] = 0x80; // broadcast flag: the client has no address yet
    p[28..34].copy_from_slice(&mac);
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(&[53, 1, 1]); // DHCPDISCOVER
    p.extend_from_slice(&[55, 3, 1, 3, 54]); // parameters: netmask, router, server id
    p.push(255);
    p
}

/// The offering server of a DHCPOFFER answering `xid` (option 54, else `siaddr`), if `packet` is one.
pub fn offer_server(packet: &[u8], xid: u32) -> Option<Ipv4Addr> {
    if packet.len() < 240 || packet[0] != 2 || packet[4..8] != xid.to_be_bytes() || packet[236..240] != MAGIC {
        return None;
    }
    let (mut kind, mut server) = (None, None);
    let mut i = 240;
    while i < packet.len() {
        match packet[i] {
            0 => i += 1,
            255 => break,
            code => {
                let len = *packet.get(i + 1)? as usize;
                let val = packet.get(i + 2..i + 2 + len)?;
                match (code, val) {
                    (53, [t]) => kind = Some(*t),
                    (54, [a, b, c, d]) => server = Some(Ipv4Addr::new(*a, *b, *c, *d)),
                    _ => {}
                }
                i += 2 + len;
            }
        }
    }
    let siaddr = Ipv4Addr::new(packet[20], packet[21], packet[22], packet[23]);
    (kind == Some(2)).then(|| server.unwrap_or(siaddr))
}

fn mac_of(interface: &str) -> Result<[u8; 6], String> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{interface}/address")).map_err(|e| format!("interface {interface}: {e}"))?;
    let bytes: Vec<u8> = text.trim().split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    bytes.try_into().map_err(|_| format!("interface {interface} has no Ethernet address"))
}

/// Broadcast one DISCOVER on `interface` and collect the offers for `wait`.
pub fn probe(interface: &str, wait: Duration) -> DhcpFacts {
    let failed = |reason: String| DhcpFacts::Failed { interface: interface.to_string(), reason };
    let mac = match mac_of(interface) {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let sock = match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 68)) {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot listen on port 68 ({e}): a DHCP client runs here")),
    };
    let device = std::ffi::OsString::from(interface);
    if let Err(e) = nix::sys::socket::setsockopt(&sock.as_fd(), nix::sys::socket::sockopt::BindToDevice, &device) {
        return failed(format!("cannot bind to {interface}: {e}"));
    }
    let xid = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]) ^ std::process::id();
    let sent = sock.set_broadcast(true).and_then(|_| sock.send_to(&discover(mac, xid), (Ipv4Addr::BROADCAST, 67)));
    if let Err(e) = sent {
        return failed(format!("cannot send on {interface}: {e}"));
    }
    let mut servers: Vec<String> = vec![];
    let end = Instant::now() + wait;
    let mut buf = [0u8; 1500];
    while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        let _ = sock.set_read_timeout(Some(left));
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                if let Some(s) = offer_server(&buf[..n], xid).map(|s| s.to_string()) {
                    if !servers.contains(&s) {
                        servers.push(s);
                    }
                }
            }
            Err(_) => break,
        }
    }
    DhcpFacts::Offers { interface: interface.to_string(), servers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_is_read_back_by_its_transaction_and_server_id() {
        let d = discover([0x52, 0x54, 0, 1, 2, 3], 7);
        assert_eq!((d[0], &d[28..34], &d[236..240], &d[240..243]), (1, &[0x52, 0x54, 0, 1, 2, 3][..], &MAGIC[..], &[53, 1, 1][..]));
        let mut o = d.clone();
        o[0] = 2;
        o.truncate(240);
        o.extend_from_slice(&[53, 1, 2, 54, 4, 10, 0, 0, 9, 255]);
        assert_eq!(offer_server(&o, 7), Some(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(offer_server(&o, 8), None, "another client's transaction");
        assert_eq!(offer_server(&d, 7), None, "a request is no offer");
    }
}

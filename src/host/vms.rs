//! Running virtual machines: asked from libvirt (the `virt` bindings with the `libvirt` feature, else
//! `virsh -c URI list --name`), and qemu processes that run outside libvirt.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum VmFacts {
    /// libvirt answered: the names of its running domains.
    Listed { uri: String, running: Vec<String> },
    /// libvirt could not be asked (client missing, daemon down, timeout).
    Unknown { uri: String, reason: String },
    /// Not probed (a fixture sysroot without an explicit --libvirt-uri).
    NotProbed { reason: String },
}

/// Running domains at `uri`.
pub fn running_domains(uri: &str, timeout: Duration) -> Result<Vec<String>, String> {
    #[cfg(feature = "libvirt")]
    {
        // The bindings block; a thread bounds the wait like the virsh timeout does.
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = uri.to_string();
        std::thread::spawn(move || {
            let _ = tx.send(native(&owned));
        });
        rx.recv_timeout(timeout).unwrap_or_else(|_| Err(format!("libvirt at {uri} did not answer within {} s", timeout.as_secs())))
    }
    #[cfg(not(feature = "libvirt"))]
    {
        virsh(uri, timeout)
    }
}

#[cfg(feature = "libvirt")]
fn native(uri: &str) -> Result<Vec<String>, String> {
    use virt::connect::Connect;
    let mut conn = Connect::open_read_only(Some(uri)).map_err(|e| e.to_string())?;
    let doms = conn.list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE).map_err(|e| e.to_string());
    let names = doms.map(|ds| ds.iter().filter_map(|d| d.get_name().ok()).collect());
    let _ = conn.close();
    names
}

#[cfg_attr(feature = "libvirt", allow(dead_code))]
fn virsh(uri: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let out = crate::run::Cmd::new("virsh")
        .args(["-c", uri, "list", "--name"])
        .timeout(timeout)
        .run(&Default::default())
        .map_err(|e| match e {
            crate::run::RunError::Spawn { .. } => "virsh is not installed".to_string(),
            other => other.to_string(),
        })?;
    if out.status != 0 {
        let msg = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("; ");
        return Err(format!("virsh -c {uri} list failed: {msg}"));
    }
    Ok(out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

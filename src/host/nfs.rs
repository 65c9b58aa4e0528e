//! NFS export visibility: what `showmount -e SERVER` lists (live root only).

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum NfsFacts {
    /// No NFS server to ask (no profile, or this host serves the exports itself).
    NotAsked { reason: String },
    /// The export list of `server`.
    Exports { server: String, exports: Vec<String> },
    /// showmount failed; `error` is its message ("RPC: Program not registered" ...).
    Failed { server: String, error: String },
}

/// Ask `server` for its exports.
pub fn exports(server: &str, timeout: Duration) -> NfsFacts {
    // showmount lives in sbin, which a non-root PATH may lack.
    let program = ["/usr/sbin/showmount", "/sbin/showmount"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap_or("showmount");
    let res = crate::run::Cmd::new(program).args(["-e", server]).timeout(timeout).run(&Default::default());
    match res {
        Err(crate::run::RunError::Spawn { .. }) => {
            NfsFacts::Failed { server: server.into(), error: "showmount is not installed (package nfs-utils or nfs-common)".into() }
        }
        Err(e) => NfsFacts::Failed { server: server.into(), error: e.to_string() },
        Ok(out) if out.status != 0 => {
            let msg = format!("{}{}", out.stderr, out.stdout).lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("; ");
            NfsFacts::Failed { server: server.into(), error: msg }
        }
        Ok(out) => NfsFacts::Exports {
            server: server.into(),
            // Skip the "Export list for SERVER:" header; export lines start with their path.
            exports: out.stdout.lines().filter(|l| l.starts_with('/')).filter_map(|l| l.split_whitespace().next()).map(String::from).collect(),
        },
    }
}

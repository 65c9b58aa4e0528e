//! The fleet: the hosts the management node's provisioning role installs over the network. A listed MAC
//! gets its address and iPXE from dnsmasq, a boot script from nginx, then the installer medium's own live
//! system (the ISO, fetched whole into memory by live-boot) and that medium's installer: the network is one
//! more medium. The per-host profile holds no secret; the host fetches its secrets once, from its own
//! address only, deletes them, and marks itself installed, after which its boot script hands the machine to
//! its disk.
//!
//! - [`answers`]: each host's profile and secrets, derived from the node's profile and its API keys.
//! - [`scripts`]: the iPXE scripts.
//! - [`tree`]: the HTTP tree (where each file lives) and what the node knows of each host from it.
//! - [`publish`]: the install action that fills the tree (installer, loaders, hosts) and `reinstall`.

pub mod answers;
pub mod publish;
pub mod scripts;
pub mod tree;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The profile or the medium cannot give a host what it needs; nothing was written.
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Failed(String),
}

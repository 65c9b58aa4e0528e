//! Parse, don't validate: a profile loaded once and resolved into the typed values every stage takes (the
//! host address and prefix, the platform and release rows, the secrets). Whatever cannot be resolved is
//! refused here, located in the file, before anything looks at the host.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{Profile, ProfileError, SecretError, Secrets};
use crate::platform::{Platform, PlatformId, Release};

/// A profile and everything resolved from it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub profile: Profile,
    /// The file it was read from (or is to be saved as: the guided install's answers).
    pub path: PathBuf,
    /// Relative `*-file` secrets are read from here.
    pub dir: PathBuf,
    /// `host.address` without its prefix, and the prefix.
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub platform: &'static Platform,
    pub release: &'static Release,
    pub secrets: Secrets,
}

/// Why a profile could not be resolved; each names the file (and the key, where one is at fault).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Load(#[from] ProfileError),
    /// `host.platform` is wrong, or not given and the host's could not be detected.
    #[error("{0}")]
    Platform(String),
    #[error("{0}")]
    Release(String),
    #[error("{0}")]
    Address(String),
    #[error("{0}")]
    Secrets(#[from] SecretError),
}

impl Resolved {
    /// Read, validate and resolve the profile at `path`. `detect` tells the host's platform; it is asked
    /// only when the profile names none.
    pub fn load(path: &Path, detect: impl FnOnce() -> Result<PlatformId, String>) -> Result<Resolved, ResolveError> {
        Resolved::new(super::load(path)?, path, detect)
    }

    /// Resolve an already loaded profile, as if read from `path`.
    pub fn new(profile: Profile, path: &Path, detect: impl FnOnce() -> Result<PlatformId, String>) -> Result<Resolved, ResolveError> {
        Resolved::without_secrets(profile, path, detect)?.with_secrets()
    }

    /// Read the secrets (files, environment) the profile refers to.
    pub fn with_secrets(mut self) -> Result<Resolved, ResolveError> {
        self.secrets = Secrets::resolve(&self.profile, &self.dir)?;
        Ok(self)
    }

    /// Everything but the secrets, which stay empty: for showing the rendered files (which hold none)
    /// of a profile whose secrets are supplied where it is installed. Never plan from it.
    pub fn without_secrets(profile: Profile, path: &Path, detect: impl FnOnce() -> Result<PlatformId, String>) -> Result<Resolved, ResolveError> {
        let id = match &profile.host.platform {
            Some(s) => s.parse::<PlatformId>().map_err(|e| ResolveError::Platform(profile.locate("host.platform", e)))?,
            None => detect().map_err(|e| {
                ResolveError::Platform(profile.locate(
                    "host.platform",
                    format!("is not given and {e} (expected host.platform, or a --sysroot to detect it from)"),
                ))
            })?,
        };
        let line = profile.cloudstack.release.as_str();
        let release = Release::get(line).ok_or_else(|| {
            ResolveError::Release(profile.locate(
                "cloudstack.release",
                format!("unknown release line {line:?} (expected one of {})", Release::lines().join(", ")),
            ))
        })?;
        let net: ipnet::Ipv4Net = profile.host.address.parse().map_err(|_| {
            ResolveError::Address(profile.locate("host.address", format!("{:?} is not an IPv4 address with a prefix", profile.host.address)))
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(Resolved {
            address: net.addr(),
            prefix: net.prefix_len(),
            platform: Platform::get(id),
            release,
            secrets: Secrets::default(),
            dir,
            path: path.to_path_buf(),
            profile,
        })
    }
}

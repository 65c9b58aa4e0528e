//! Supported platforms. Differences between distributions are data (the static table in `table.rs`
//! and the CloudStack release table in `release.rs`), not branches scattered through the code.
//! Adding a platform is a table row plus its templates.

mod release;
mod role;
mod table;

pub use role::Role;
pub use release::{Release, ReleaseCommands, ReleasePaths, ReleaseRole, TemplateSource};
pub use table::*;

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlatformId {
    /// CentOS/RHEL 6 (the seed article's CentOS 6.2 with CloudStack 3.0.2).
    El6,
    El8,
    El9,
    Ubuntu2204,
    Ubuntu2404,
    Debian12,
}

impl PlatformId {
    pub const ALL: [PlatformId; 6] = [
        PlatformId::El6,
        PlatformId::El8,
        PlatformId::El9,
        PlatformId::Ubuntu2204,
        PlatformId::Ubuntu2404,
        PlatformId::Debian12,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlatformId::El6 => "el6",
            PlatformId::El8 => "el8",
            PlatformId::El9 => "el9",
            PlatformId::Ubuntu2204 => "ubuntu-22.04",
            PlatformId::Ubuntu2404 => "ubuntu-24.04",
            PlatformId::Debian12 => "debian-12",
        }
    }
}

/// The platforms a release line runs on; `None` for a line cloudstrap does not know.
pub fn release_platforms(line: &str) -> Option<Vec<PlatformId>> {
    Release::get(line).map(Release::platforms)
}

/// The release lines that run on `id`, oldest first.
pub fn releases_for(id: PlatformId) -> Vec<&'static str> {
    Platform::get(id).releases.to_vec()
}

/// Every platform's name, joined for messages ("el6, el8, ...").
pub fn platform_names() -> String {
    PlatformId::ALL.map(PlatformId::as_str).join(", ")
}

impl fmt::Display for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlatformId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PlatformId::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown platform {s:?} (expected one of {})", platform_names()))
    }
}

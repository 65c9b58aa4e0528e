//! Memory (proc/meminfo) and free disk space (sysinfo on a live root; a fixture file or statvfs otherwise).
//!
//! A fixture sysroot may give free space in `.cloudstrap-fixture/disk`, one mount per line:
//! `MOUNT-POINT AVAILABLE [TOTAL]` with sizes in bytes or with a K/M/G/T suffix (powers of 1024), e.g. `/ 500G`.
//! Without that file the free space of the filesystem holding the fixture directory is used.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Sysroot;

/// Free space of the filesystem holding `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskSpace {
    /// The path asked about, as on the host.
    pub path: PathBuf,
    /// The mount point that holds it.
    pub mount: PathBuf,
    pub available_bytes: u64,
    pub total_bytes: u64,
}

/// MemTotal in bytes.
pub fn memory_total(sys: &Sysroot) -> Option<u64> {
    let text = sys.read("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Free space for each path (paths as on the host). Paths that do not exist yet are measured at their
/// nearest existing parent, which is where they will be created.
pub fn disk_space(sys: &Sysroot, paths: &[PathBuf]) -> Vec<DiskSpace> {
    let mounts = mounts(sys);
    paths
        .iter()
        .filter_map(|p| {
            let (mount, avail, total) = mounts
                .iter()
                .filter(|(m, _, _)| p.starts_with(m))
                .max_by_key(|(m, _, _)| m.as_os_str().len())
                .cloned()
                .or_else(|| statvfs_of(&existing_parent(&sys.path(p))).map(|(a, t)| (PathBuf::from("/"), a, t)))?;
            Some(DiskSpace { path: p.clone(), mount, available_bytes: avail, total_bytes: total })
        })
        .collect()
}

/// (mount point, available, total) of every filesystem.
fn mounts(sys: &Sysroot) -> Vec<(PathBuf, u64, u64)> {
    if sys.is_live() {
        let Ok(disks) = sysinfo::Disks::new_with_refreshed_list() else { return vec![] };
        return disks
            .iter()
            .map(|d| (d.mount_point().to_path_buf(), d.available_space(), d.total_space())).collect();
    }
    match sys.read_opt("/.cloudstrap-fixture/disk") {
        Ok(Some(text)) => text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let mount = PathBuf::from(w.next()?);
                let avail = parse_size(w.next()?)?;
                let total = w.next().and_then(parse_size).unwrap_or(avail);
                Some((mount, avail, total))
            })
            .collect(),
        _ => vec![],
    }
}

fn existing_parent(p: &Path) -> PathBuf {
    let mut p = p.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            return PathBuf::from("/");
        }
    }
    p
}

fn statvfs_of(p: &Path) -> Option<(u64, u64)> {
    let s = nix::sys::statvfs::statvfs(p).ok()?;
    let frag = s.fragment_size() as u64;
    Some((s.blocks_available() as u64 * frag, s.blocks() as u64 * frag))
}

/// "500G", "1.5T", "123456" (bytes).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 1u64 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let n: f64 = num.parse().ok()?;
    Some((n * mult as f64) as u64)
}

/// Bytes for people: "3.7 GiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500G"), Some(500 << 30));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("x"), None);
        assert_eq!(human(6 << 30), "6.0 GiB");
    }
}

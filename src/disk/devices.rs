//! The machine's block devices as `lsblk --json` reports them, which one a profile's `disk.device` names,
//! and what is on it (shown before anything is wiped).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One block device and what it holds.
#[derive(Debug, Clone, Deserialize)]
pub struct Device {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub fstype: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub mountpoints: Vec<Option<String>>,
    pub pttype: Option<String>,
    pub serial: Option<String>,
    #[serde(default)]
    pub rm: bool,
    #[serde(default)]
    pub ro: bool,
    #[serde(default)]
    pub children: Vec<Device>,
}

#[derive(Debug, Deserialize)]
struct Listing {
    blockdevices: Vec<Device>,
}

/// The columns `parse` expects (`lsblk --json --bytes --output` them).
pub use crate::host::LSBLK_COLUMNS;

pub fn parse(json: &str) -> Result<Vec<Device>, String> {
    serde_json::from_str::<Listing>(json).map(|l| l.blockdevices).map_err(|e| format!("cannot read lsblk's answer: {e}"))
}

/// Mount points that mean "this is what the machine runs from": never an install target.
const LIVE_MOUNTS: [&str; 5] = ["/", "/boot", "/boot/efi", "/run/live/medium", "/usr"];

impl Device {
    fn all(&self) -> Vec<&Device> {
        let mut v = vec![self];
        for c in &self.children {
            v.extend(c.all());
        }
        v
    }

    /// It, or something on it, is mounted where the running system lives (or is the live medium).
    pub fn is_boot_medium(&self) -> bool {
        self.all().iter().any(|d| d.mountpoints.iter().flatten().any(|m| LIVE_MOUNTS.contains(&m.as_str())))
    }

    /// It, or a partition of it, is mounted somewhere.
    pub fn is_mounted(&self) -> bool {
        self.all().iter().any(|d| d.mountpoints.iter().any(Option::is_some))
    }

    /// It holds a partition table, partitions or a file system.
    pub fn is_used(&self) -> bool {
        self.pttype.is_some() || self.fstype.is_some() || !self.children.is_empty()
    }

    /// What is on it, one line per partition or file system, for the operator.
    pub fn contents(&self) -> Vec<String> {
        let mut out = vec![];
        if let Some(t) = &self.pttype {
            out.push(format!("{} partition table", t.to_uppercase()));
        }
        for d in self.all() {
            let mut what = vec![];
            if let Some(f) = &d.fstype {
                what.push(f.clone());
            }
            if let Some(l) = &d.label {
                what.push(format!("label {l:?}"));
            }
            let mounts: Vec<&str> = d.mountpoints.iter().flatten().map(String::as_str).collect();
            if !mounts.is_empty() {
                what.push(format!("mounted on {}", mounts.join(", ")));
            }
            if d.kind == "part" || !what.is_empty() {
                out.push(format!("{} ({}): {}", d.path.display(), human(d.size), if what.is_empty() { "no file system".into() } else { what.join(", ") }));
            }
        }
        out
    }
}

/// 1.5 GiB, 20 GiB, 512 MiB.
pub fn human(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 1.0 { format!("{g:.1} GiB") } else { format!("{} MiB", bytes >> 20) }
}

/// The disk `spec` names among `devices` (whole disks, or a loop device named by its path): a path (symlinks such as /dev/disk/by-id are
/// followed), `serial:S`, or the smallest / largest fixed disk of at least `min` bytes that is not the
/// medium the machine runs from.
pub fn pick<'a>(spec: &str, devices: &'a [Device], min: u64) -> Result<&'a Device, String> {
    // A loop device (a disk image) only when named: it may also be the live system's own image.
    let disks: Vec<&Device> = devices.iter().filter(|d| (d.kind == "disk" || d.kind == "loop") && d.size > 0).collect();
    let found = match spec {
        "smallest" | "largest" => {
            let mut fit: Vec<&Device> =
                disks.iter().copied().filter(|d| d.kind == "disk" && !d.rm && !d.ro && d.size >= min && !d.is_boot_medium()).collect();
            fit.sort_by_key(|d| (d.size, d.path.clone()));
            let chosen = if spec == "smallest" { fit.first() } else { fit.last() };
            chosen.copied().ok_or_else(|| format!("no fixed disk of at least {} that is not the boot medium (disks: {})", human(min), list(&disks)))?
        }
        s if s.starts_with("serial:") => {
            let serial = &s["serial:".len()..];
            disks.iter().copied().find(|d| d.serial.as_deref() == Some(serial)).ok_or_else(|| format!("no disk has serial {serial:?} (disks: {})", list(&disks)))?
        }
        path => {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
            disks.iter().copied().find(|d| d.path == Path::new(path) || d.path == real).ok_or_else(|| format!("{path} is not a disk of this machine (disks: {})", list(&disks)))?
        }
    };
    Ok(found)
}

fn list(disks: &[&Device]) -> String {
    if disks.is_empty() {
        return "none".into();
    }
    disks.iter().map(|d| format!("{} {}{}", d.path.display(), human(d.size), d.serial.as_ref().map(|s| format!(" serial {s}")).unwrap_or_default())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LSBLK: &str = r#"{"blockdevices": [
      {"name":"sr0","path":"/dev/sr0","size":734003200,"type":"rom","fstype":"iso9660","label":"CLOUDSTRAP","mountpoints":["/run/live/medium"],"pttype":null,"serial":"QM1","rm":true,"ro":false},
      {"name":"vda","path":"/dev/vda","size":21474836480,"type":"disk","fstype":null,"label":null,"mountpoints":[null],"pttype":"gpt","serial":"old0","rm":false,"ro":false,
        "children":[{"name":"vda1","path":"/dev/vda1","size":21473787904,"type":"part","fstype":"ext4","label":"data","mountpoints":[null],"pttype":"gpt","serial":null,"rm":false,"ro":false}]},
      {"name":"vdb","path":"/dev/vdb","size":64424509440,"type":"disk","fstype":null,"label":null,"mountpoints":[null],"pttype":null,"serial":"target0","rm":false,"ro":false},
      {"name":"vdc","path":"/dev/vdc","size":4294967296,"type":"disk","fstype":null,"label":null,"mountpoints":[null],"pttype":null,"serial":"tiny","rm":false,"ro":false},
      {"name":"vdd","path":"/dev/vdd","size":85899345920,"type":"disk","fstype":null,"label":null,"mountpoints":[null],"pttype":"gpt","serial":"run","rm":false,"ro":false,
        "children":[{"name":"vdd1","path":"/dev/vdd1","size":85898297344,"type":"part","fstype":"ext4","label":null,"mountpoints":["/"],"pttype":"gpt","serial":null,"rm":false,"ro":false}]}
    ]}"#;

    #[test]
    fn disks_are_picked_by_path_serial_and_size_never_the_running_one() {
        let d = parse(LSBLK).unwrap();
        let min = 16 << 30;
        assert_eq!(pick("/dev/vda", &d, min).unwrap().name, "vda");
        assert_eq!(pick("serial:target0", &d, min).unwrap().name, "vdb");
        // vdc is too small, vdd holds the running root, sr0 is not a disk.
        assert_eq!(pick("smallest", &d, min).unwrap().name, "vda");
        assert_eq!(pick("largest", &d, min).unwrap().name, "vdb");
        assert!(pick("/dev/sr0", &d, min).unwrap_err().contains("is not a disk of this machine"));
        assert!(pick("serial:nope", &d, min).unwrap_err().contains("vdb 60.0 GiB serial target0"));
        assert!(pick("/dev/vdd", &d, min).unwrap().is_boot_medium());
        let vda = pick("/dev/vda", &d, min).unwrap();
        assert!(vda.is_used() && !vda.is_boot_medium());
        assert_eq!(vda.contents(), ["GPT partition table", "/dev/vda1 (20.0 GiB): ext4, label \"data\""]);
        assert!(!pick("/dev/vdb", &d, min).unwrap().is_used());
    }
}

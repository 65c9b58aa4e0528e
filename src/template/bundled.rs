//! The system VM template the management package bundles (4.20 and later): `metadata.ini` in the
//! package's template directory names, per hypervisor, the file beside it and its checksum. 4.20's
//! file has a `[kvm]` section (`arch = x86_64`); later ones `[kvm-x86_64]` and `[kvm-aarch64]`. Keys:
//! `templatename`, `checksum` (md5 up to 4.21, sha512 from 4.22: told apart by length), `downloadurl`,
//! `filename`, `arch`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::checksum::{Algo, Checksum};

/// The bundled KVM x86_64 template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundled {
    /// The compressed template (`<dir>/<filename>`).
    pub file: PathBuf,
    pub checksum: Checksum,
    /// Where upstream publishes the same file (recorded as the template's URL).
    pub download_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: section [{section}] has no {key}")]
    Missing { path: PathBuf, section: String, key: &'static str },
    #[error("{path}: [{section}] checksum {value:?} is not an md5, sha256 or sha512 hex digest")]
    Checksum { path: PathBuf, section: String, value: String },
}

/// `section -> key -> value` of an ini file (`key = value`, `#`/`;` comments).
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().trim_matches('"').to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone()).or_default().insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

/// The bundled KVM x86_64 template in `dir`: `Ok(None)` when there is no `metadata.ini`, no KVM x86_64
/// entry in it, or its file is missing (the caller then downloads).
pub fn find(dir: &Path) -> Result<Option<Bundled>, BundleError> {
    let path = dir.join("metadata.ini");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(BundleError::Read { path, source }),
    };
    let ini = parse_ini(&text);
    let x86 = |s: &HashMap<String, String>| s.get("arch").is_none_or(|a| a == "x86_64");
    let Some((section, keys)) = ["kvm-x86_64", "kvm"].iter().find_map(|n| ini.get(*n).filter(|s| x86(s)).map(|s| (*n, s))) else {
        return Ok(None);
    };
    let get = |key: &'static str| {
        keys.get(key).filter(|v| !v.is_empty()).ok_or_else(|| BundleError::Missing { path: path.clone(), section: section.into(), key })
    };
    let filename = get("filename")?;
    let hex = get("checksum")?;
    let bad = || BundleError::Checksum { path: path.clone(), section: section.into(), value: hex.clone() };
    let algo = Algo::from_hex_len(hex.len()).ok_or_else(bad)?;
    let checksum = Checksum::new(algo, hex).map_err(|_| bad())?;
    // The name only: a metadata file must not point outside its directory.
    let Some(name) = Path::new(filename).file_name() else { return Ok(None) };
    let file = dir.join(name);
    if !file.is_file() {
        return Ok(None);
    }
    Ok(Some(Bundled { file, checksum, download_url: keys.get("downloadurl").cloned() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn finds_the_4_20_and_the_later_layout() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(find(d.path()).unwrap(), None);
        std::fs::write(d.path().join("t-kvm.qcow2.bz2"), "x").unwrap();
        let ini = format!(
            "\n[default]\nversion = 4.20.2.0\n\n[kvm]\ntemplatename = systemvm-kvm-4.20.2-x86_64\nchecksum = {MD5}\n\
             downloadurl = https://d/t-kvm.qcow2.bz2\nfilename = t-kvm.qcow2.bz2\narch = x86_64\n\n[vmware]\nfilename = v.ova\n"
        );
        std::fs::write(d.path().join("metadata.ini"), ini).unwrap();
        let b = find(d.path()).unwrap().unwrap();
        assert_eq!((b.file, b.checksum.algo, b.download_url.as_deref()), (d.path().join("t-kvm.qcow2.bz2"), Algo::Md5, Some("https://d/t-kvm.qcow2.bz2")));

        let sha = "ab".repeat(64);
        let ini = format!("[kvm-aarch64]\nchecksum = {MD5}\nfilename = a.bz2\n[kvm-x86_64]\nchecksum = {sha}\nfilename = t-kvm.qcow2.bz2\n");
        std::fs::write(d.path().join("metadata.ini"), ini).unwrap();
        assert_eq!(find(d.path()).unwrap().unwrap().checksum.algo, Algo::Sha512);

        // Listed but not shipped: download instead. A broken entry is an error, not a silent download.
        std::fs::write(d.path().join("metadata.ini"), format!("[kvm-x86_64]\nchecksum = {MD5}\nfilename = gone.bz2\n")).unwrap();
        assert_eq!(find(d.path()).unwrap(), None);
        std::fs::write(d.path().join("metadata.ini"), "[kvm-x86_64]\nchecksum = 12\nfilename = t-kvm.qcow2.bz2\n").unwrap();
        assert!(matches!(find(d.path()), Err(BundleError::Checksum { .. })));
        std::fs::write(d.path().join("metadata.ini"), "[kvm-x86_64]\nfilename = t-kvm.qcow2.bz2\n").unwrap();
        assert!(find(d.path()).unwrap_err().to_string().contains("[kvm-x86_64] has no checksum"));
    }
}

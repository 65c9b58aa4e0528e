//! Architecture, CPU virtualisation flags and whether /dev/kvm can be used.

use serde::Serialize;

use super::Sysroot;

/// State of /dev/kvm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum Kvm {
    /// Opened read-write (live), or a regular file stands for it (fixture).
    Usable,
    Missing,
    /// Present but could not be opened; the error says why.
    Unusable(String),
}

/// The kernel's machine name: proc/sys/kernel/arch, else `uname -m` on a live root.
pub fn arch(sys: &Sysroot) -> Option<String> {
    if let Ok(Some(a)) = sys.read_opt("/proc/sys/kernel/arch") {
        let a = a.trim();
        if !a.is_empty() {
            return Some(a.to_string());
        }
    }
    if sys.is_live() {
        let out = std::process::Command::new("uname").arg("-m").output().ok()?;
        let a = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return (!a.is_empty()).then_some(a);
    }
    None
}

/// The virtualisation flag the CPU advertises ("vmx" for Intel VT-x, "svm" for AMD-V), if any.
pub fn virt_flag(sys: &Sysroot) -> Option<&'static str> {
    let text = sys.read("/proc/cpuinfo").ok()?;
    let flags = text.lines().find(|l| l.starts_with("flags") || l.starts_with("Features"))?;
    let (_, list) = flags.split_once(':')?;
    let mut words = list.split_whitespace();
    let list: Vec<&str> = words.by_ref().collect();
    ["vmx", "svm"].into_iter().find(|f| list.contains(f))
}

/// Whether /dev/kvm can be used. Live: opened read-write. Fixture: a regular file counts as usable.
pub fn kvm(sys: &Sysroot) -> Kvm {
    let path = sys.path("/dev/kvm");
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(_) => return Kvm::Missing,
    };
    if !sys.is_live() && meta.is_file() {
        return Kvm::Usable;
    }
    match std::fs::OpenOptions::new().read(true).write(true).open(&path) {
        Ok(_) => Kvm::Usable,
        Err(e) => Kvm::Unusable(e.to_string()),
    }
}

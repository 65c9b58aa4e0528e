//! Pieces the disk and medium tests share: a command that must succeed, a sparse file on a loop device, a
//! small system image, and qemu (TCG) booting a disk or CD until a text shows on its serial console.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run `program`, which must succeed; its stdout.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} is needed (scripts/test-env/packages/): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sparse file on a loop device (partitions shown), detached when dropped.
pub struct Loop {
    pub dev: String,
    pub file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Loop {
    pub fn new(gib: u64) -> Loop {
        let dir = tempfile::Builder::new().prefix("disk-install-").tempdir_in("/var/tmp").unwrap();
        let file = dir.path().join("disk.img");
        std::fs::File::create(&file).unwrap().set_len(gib << 30).unwrap();
        let dev = sh("losetup", &["--find", "--partscan", "--show", file.to_str().unwrap()]).trim().to_string();
        Loop { dev, file, _dir: dir }
    }
    pub fn part(&self, n: usize) -> String {
        format!("{}p{n}", self.dev)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["--detach", &self.dev]).status();
    }
}

/// A small system image in `dir/image`: a kernel and initrd (stand-in bytes: nothing boots them here),
/// os-release, and root's passwd and shadow lines (root's password is set in them).
pub fn image(dir: &Path) -> PathBuf {
    let img = dir.join("image");
    for (rel, text) in [
        ("boot/vmlinuz-6.1.0-99-amd64", "kernel"),
        ("boot/initrd.img-6.1.0-99-amd64", "initrd"),
        ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        ("etc/shadow", "root:*:20000:0:99999:7:::\n"),
    ] {
        std::fs::create_dir_all(img.join(rel).parent().unwrap()).unwrap();
        std::fs::write(img.join(rel), text).unwrap();
    }
    img
}

/// What qemu boots from.
pub enum Boot<'a> {
    /// A raw disk image (a USB stick an ISO was written to is one too).
    Disk(&'a Path),
    Cd(&'a Path),
}

/// Boot under qemu (TCG) with `firmware` ("bios": SeaBIOS; "uefi": OVMF with a fresh copy of its variables,
/// so no boot entry exists and the firmware takes the removable path) and wait for `wanted` on the serial
/// console; returns what the console showed.
pub fn boot_until(from: Boot, firmware: &str, wanted: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", "tcg", "-m", "512", "-nographic", "-display", "none", "-monitor", "none", "-no-reboot"]);
    match from {
        Boot::Disk(p) => cmd.arg("-drive").arg(format!("file={},format=raw,if=virtio,readonly=on", p.display())),
        Boot::Cd(p) => cmd.arg("-cdrom").arg(p),
    };
    cmd.arg("-serial").arg(format!("file:{}", serial.display()));
    if firmware == "uefi" {
        let vars = dir.path().join("vars.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).expect("OVMF (Debian package ovmf)");
        cmd.arg("-drive").arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd");
        cmd.arg("-drive").arg(format!("if=pflash,format=raw,file={}", vars.display()));
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("qemu-system-x86_64");
    // Under emulation on a busy machine GRUB's menu takes seconds (BIOS) to tens of seconds (UEFI).
    let mut seen = String::new();
    for _ in 0..800 {
        seen = String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).into_owned();
        if seen.contains(wanted) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

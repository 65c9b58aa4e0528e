//! The disk install itself, step by step (see the module's header).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{devices, offline};
use super::target::{self, Uuids};
use super::{DiskError, MIN_ROOT};
use crate::profile::Profile;
use crate::run::{Cmd, Redactor};

/// GPT type GUIDs: BIOS boot partition (GRUB's core image), EFI system partition, Linux file system.
const BIOS_BOOT: &str = "21686148-6248-6970-6E6F-744E65656446";
const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ESP_MIB: u64 = 256;

pub struct Options {
    /// The system image: a root directory, or a squashfs file.
    pub image: PathBuf,
    pub offline_repo: Option<PathBuf>,
    pub template: Option<PathBuf>,
    /// The installer ISO (file or device), kept as fleet.media on a provisioning node.
    pub medium_iso: Option<PathBuf>,
    /// The operator typed the disk's name at the console: a disk holding data may be wiped.
    pub operator_confirmed: bool,
    /// The cloudstrap binary to put on the new system when its image has none.
    pub binary: PathBuf,
    /// This run's log, copied to the new system's /var/log/cloudstrap/disk-install.log.
    pub log: Option<PathBuf>,
}

/// What will happen, shown before anything is written.
#[derive(Debug, Clone)]
pub struct DiskPlan {
    pub disk: PathBuf,
    pub size: u64,
    /// What is on the disk now (empty: nothing).
    pub contents: Vec<String>,
    /// The profile allows wiping a disk that holds data.
    pub wipe_allowed: bool,
    pub export: Option<u64>,
}

impl DiskPlan {
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![format!("install onto {} ({})", self.disk.display(), devices::human(self.size))];
        if self.contents.is_empty() {
            v.push("the disk is empty".into());
        } else {
            v.push("EVERYTHING ON IT IS ERASED:".into());
            v.extend(self.contents.iter().map(|c| format!("  {c}")));
        }
        v.push(format!(
            "partitions: BIOS boot 1 MiB, EFI system {ESP_MIB} MiB, {}root ext4 (the rest)",
            self.export.map(|e| format!("/export ext4 {}, ", devices::human(e))).unwrap_or_default()
        ));
        v
    }
}

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    pub disk: PathBuf,
    pub root_uuid: String,
}

/// Pick the profile's disk and check it may be used; nothing is written.
pub fn plan(p: &Profile, lsblk: &str) -> Result<DiskPlan, DiskError> {
    let d = p.disk.as_ref().ok_or_else(|| DiskError::Input("the profile has no [disk] section (which disk to install on)".into()))?;
    let export = d.export_size.as_deref().map(crate::profile::rules::size).transpose().map_err(DiskError::Input)?;
    let need = MIN_ROOT + export.unwrap_or(0) + ((ESP_MIB + 2) << 20);
    let all = devices::parse(lsblk).map_err(DiskError::Input)?;
    let disk = devices::pick(&d.device, &all, need).map_err(DiskError::Input)?;
    if disk.is_boot_medium() {
        return Err(DiskError::Input(format!(
            "{} is the disk this machine runs from (or the installer medium): pick another disk in disk.device",
            disk.path.display()
        )));
    }
    if disk.size < need {
        return Err(DiskError::Input(format!(
            "{} holds {}; the install needs at least {} (8 GiB root{})",
            disk.path.display(),
            devices::human(disk.size),
            devices::human(need),
            if export.is_some() { " plus disk.export-size" } else { "" }
        )));
    }
    if disk.ro {
        return Err(DiskError::Input(format!("{} is read-only", disk.path.display())));
    }
    Ok(DiskPlan {
        disk: disk.path.clone(),
        size: disk.size,
        contents: if disk.is_used() { disk.contents() } else { vec![] },
        wipe_allowed: d.wipe == Some(true),
        export,
    })
}

fn run(cmd: Cmd) -> Result<String, DiskError> {
    cmd.timeout(Duration::from_secs(1800)).run_ok(&Redactor::default()).map(|o| o.stdout).map_err(|e| DiskError::Failed(e.to_string()))
}

/// Mounts made by the install, undone (newest first) whatever happens.
struct Mounts(Vec<PathBuf>);

impl Mounts {
    fn mount(&mut self, dev: &Path, at: &Path) -> Result<(), DiskError> {
        std::fs::create_dir_all(at).map_err(|e| DiskError::Failed(format!("creating {}: {e}", at.display())))?;
        run(Cmd::new("mount").arg(dev.display().to_string()).arg(at.display().to_string()))?;
        self.0.push(at.to_path_buf());
        Ok(())
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for m in self.0.iter().rev() {
            let _ = Cmd::new("umount").arg(m.display().to_string()).run(&Redactor::default());
        }
        // The first mount point, only when empty (that is, unmounted).
        if let Some(top) = self.0.first() {
            let _ = std::fs::remove_dir(top);
        }
    }
}

/// Install onto the planned disk. `say` gets a line per step (the console shows them).
pub fn install(p: &Profile, profile_path: &Path, plan: &DiskPlan, opts: &Options, say: &mut dyn FnMut(&str)) -> Result<Installed, DiskError> {
    if !plan.contents.is_empty() && !plan.wipe_allowed && !opts.operator_confirmed {
        return Err(DiskError::Refused(format!(
            "{} holds data ({}); set disk.wipe = true in the profile, or run the install on the console and type the disk's name",
            plan.disk.display(),
            plan.contents.join("; ")
        )));
    }
    let image_is_dir = opts.image.is_dir();
    if !image_is_dir && !opts.image.is_file() {
        return Err(DiskError::Input(format!("{}: no such system image (a root directory or a squashfs file)", opts.image.display())));
    }
    let interface = p.host.interface.clone().ok_or_else(|| {
        DiskError::Input(format!("{}: host.interface is needed for a disk install (the new system's network interface, e.g. ens3)", profile_path.display()))
    })?;
    let secret_envs: Vec<String> = crate::profile::secret_refs(p).iter().filter(|r| r.env.is_some()).map(|r| format!("{}-env", r.path)).collect();
    if !secret_envs.is_empty() {
        return Err(DiskError::Input(format!(
            "{}: {} name environment variables; the first boot has none: give these secrets inline or as files",
            profile_path.display(),
            secret_envs.join(", ")
        )));
    }
    // Every secret resolved before the disk is touched (the root password goes on the new system).
    let secrets = crate::profile::Secrets::resolve(p, profile_path.parent().unwrap_or(Path::new(".")))
        .map_err(|e| DiskError::Input(format!("{}: {e}", profile_path.display())))?;
    let disk = plan.disk.display().to_string();

    say(&format!("Partitioning {disk} (GPT)"));
    run(Cmd::new("wipefs").args(["--all", "--force"]).arg(&disk))?;
    let mut script = format!("label: gpt\nsize=1MiB, type={BIOS_BOOT}, name=bios\nsize={ESP_MIB}MiB, type={ESP}, name=esp\n");
    if let Some(e) = plan.export {
        script.push_str(&format!("size={}MiB, type={LINUX}, name=export\n", e >> 20));
    }
    script.push_str(&format!("type={LINUX}, name=root\n"));
    run(Cmd::new("sfdisk").args(["--quiet", "--wipe", "always", "--wipe-partitions", "always"]).arg(&disk).stdin_bytes(script.into_bytes()))?;
    // The kernel learns the new table from sfdisk, but not always (loop devices): tell it, then let udev
    // (where there is one) make the device nodes.
    let _ = Cmd::new("partx").args(["--update"]).arg(&disk).run(&Redactor::default());
    let _ = Cmd::new("udevadm").arg("settle").run(&Redactor::default());
    let parts = partitions(&disk, if plan.export.is_some() { 4 } else { 3 })?;
    let (esp, root) = (&parts[1], parts.last().expect("a root partition"));
    let export = plan.export.map(|_| &parts[2]);

    say("Making the file systems");
    run(Cmd::new("mkfs.vfat").args(["-F", "32", "-n", "EFI"]).arg(esp))?;
    run(Cmd::new("mkfs.ext4").args(["-F", "-q", "-L", "cloudstrap-root"]).arg(root))?;
    if let Some(e) = export {
        run(Cmd::new("mkfs.ext4").args(["-F", "-q", "-L", "cloudstrap-export"]).arg(e))?;
    }
    let uuid = |dev: &str| run(Cmd::new("blkid").args(["-s", "UUID", "-o", "value", dev])).map(|s| s.trim().to_string());
    let uuids = Uuids { root: uuid(root)?, esp: uuid(esp)?, export: export.map(|e| uuid(e)).transpose()? };

    // Kept, not a self-deleting temporary directory: removing it recursively while a file system is still
    // mounted there would delete the new system. Mounts::drop removes it only once empty.
    let mnt = tempfile::Builder::new().prefix("cloudstrap-target-").tempdir().map_err(|e| DiskError::Failed(format!("a mount point: {e}")))?.keep();
    let mut mounts = Mounts(vec![]);
    mounts.mount(Path::new(root), &mnt)?;
    say(&format!("Writing the system image from {}", opts.image.display()));
    if image_is_dir {
        run(Cmd::new("cp").args(["-a", "--"]).arg(format!("{}/.", opts.image.display())).arg(mnt.display().to_string()))?;
    } else {
        run(Cmd::new("unsquashfs").args(["-f", "-n", "-d"]).arg(mnt.display().to_string()).arg(opts.image.display().to_string()))?;
    }
    // The EFI system partition is written with mtools (no FAT driver needed here); /boot/efi is its mount
    // point on the new system.
    std::fs::create_dir_all(mnt.join("boot/efi")).map_err(|e| DiskError::Failed(format!("/boot/efi: {e}")))?;
    if let Some(e) = export {
        mounts.mount(Path::new(e), &mnt.join("export"))?;
    }

    say("Writing fstab, the static network, the host name and /etc/hosts");
    let write = |rel: &str, text: &str, mode: u32| {
        let path = mnt.join(rel.trim_start_matches('/'));
        crate::atomic_file::replace(&path, text.as_bytes(), mode).map_err(|e| DiskError::Failed(format!("writing {rel}: {e}")))
    };
    write("/etc/fstab", &target::fstab(&uuids), 0o644)?;
    write("/etc/network/interfaces", &target::interfaces(p, &interface), 0o644)?;
    if let Some(r) = target::resolv_conf(p) {
        let _ = std::fs::remove_file(mnt.join("etc/resolv.conf"));
        write("/etc/resolv.conf", &r, 0o644)?;
    }
    write("/etc/hostname", &target::hostname(p), 0o644)?;
    write("/etc/hosts", &target::hosts(p), 0o644)?;

    say("Installing GRUB for BIOS and UEFI");
    let (kernel, initrd) = kernel_and_initrd(&mnt)?;
    std::fs::create_dir_all(mnt.join("boot/grub")).map_err(|e| DiskError::Failed(format!("/boot/grub: {e}")))?;
    bios_grub(&mnt, &disk, &uuids.root)?;
    efi_grub(&mnt, esp, &uuids.root)?;
    write("/boot/grub/grub.cfg", &target::grub_cfg(&uuids.root, &kernel, &initrd), 0o644)?;

    say("Copying the profile, the offline repository and the template");
    let binary = if mnt.join("usr/bin/cloudstrap").exists() { "/usr/bin/cloudstrap" } else { "/usr/local/bin/cloudstrap" };
    if binary == "/usr/local/bin/cloudstrap" {
        let bytes = std::fs::read(&opts.binary).map_err(|e| DiskError::Failed(format!("reading {}: {e}", opts.binary.display())))?;
        crate::atomic_file::replace(&mnt.join(binary.trim_start_matches('/')), &bytes, 0o755).map_err(|e| DiskError::Failed(format!("writing {binary}: {e}")))?;
    }
    let mut offline = offline::Offline::default();
    if let Some(repo) = &opts.offline_repo {
        copy_repo(repo, &mnt, &mut offline)?;
    }
    if let Some(t) = &opts.template {
        let name = t.file_name().and_then(|n| n.to_str()).ok_or_else(|| DiskError::Input(format!("{}: not a file", t.display())))?;
        let dir = "/var/lib/cloudstrap/templates";
        let sha512 = copy_hashing(t, &mnt.join(dir.trim_start_matches('/')).join(name))?;
        offline.template = Some((format!("file://{dir}/{name}"), sha512));
    }
    copy_profile(p, profile_path, &mnt, &offline)?;
    if let (Some(iso), Some(f)) = (&opts.medium_iso, p.fleet.as_ref().filter(|_| p.has_role(crate::profile::Role::Provisioning))) {
        say(&format!("Keeping the installer ISO as {} for the fleet's network installs", f.media));
        copy_iso(iso, &mnt.join(f.media.trim_start_matches('/')))?;
    }

    say("Setting root's login: password and SSH keys");
    root_login(p, &secrets, &mnt)?;
    write("/etc/systemd/system/cloudstrap-ssh-host-keys.service", target::SSH_HOST_KEYS_UNIT, 0o644)?;
    enable(&mnt, "cloudstrap-ssh-host-keys.service")?;

    say("Enabling the first-boot install");
    write(&format!("/etc/systemd/system/{}", target::FIRSTBOOT_UNIT), &target::firstboot_unit(binary), 0o644)?;
    enable(&mnt, target::FIRSTBOOT_UNIT)?;
    write(target::FIRSTBOOT_FLAG, "installed by cloudstrap disk install; removed once the first boot installed the roles\n", 0o644)?;

    if let Some(log) = opts.log.as_ref().filter(|l| l.is_file()) {
        say("Keeping this log on the new system: /var/log/cloudstrap/disk-install.log");
        let dest = mnt.join("var/log/cloudstrap");
        let _ = std::fs::create_dir_all(&dest);
        let _ = std::fs::copy(log, dest.join("disk-install.log"));
    }
    run(Cmd::new("sync"))?;
    drop(mounts);
    say(&format!("Installed onto {disk}; remove the installer medium and boot from the disk"));
    Ok(Installed { disk: plan.disk.clone(), root_uuid: uuids.root })
}

/// GRUB for BIOS: the core image (grub-mkimage, with a first config that finds the root file system by
/// UUID) in the BIOS boot partition and GRUB's boot sector in the MBR, the module directory in
/// /boot/grub/i386-pc. This is the embedding grub-bios-setup does; it is done here because GRUB's own tools
/// cannot map the partitions of a disk image on a loop device to a BIOS drive, and images are how
/// installs are built and tested. The MBR keeps its protective partition table.
fn bios_grub(mnt: &Path, disk: &str, root_uuid: &str) -> Result<(), DiskError> {
    let lib = Path::new("/usr/lib/grub/i386-pc");
    if !lib.join("boot.img").is_file() {
        return Err(DiskError::Failed("GRUB's i386-pc files are missing (Debian package grub-pc-bin)".into()));
    }
    let staging = tempfile::tempdir().map_err(|e| DiskError::Failed(format!("a staging directory: {e}")))?;
    let early = staging.path().join("early.cfg");
    std::fs::write(&early, target::early_cfg(root_uuid)).map_err(|e| DiskError::Failed(format!("{}: {e}", early.display())))?;
    let core_path = staging.path().join("core.img");
    run(Cmd::new("grub-mkimage")
        .args(["--format=i386-pc", "--prefix=/boot/grub", "--config"])
        .arg(early.display().to_string())
        .arg("--output")
        .arg(core_path.display().to_string())
        .args(target::BIOS_MODULES.iter().copied()))?;
    let mut core = std::fs::read(&core_path).map_err(|e| DiskError::Failed(format!("{}: {e}", core_path.display())))?;
    let boot = std::fs::read(lib.join("boot.img")).map_err(|e| DiskError::Failed(format!("boot.img: {e}")))?;
    let table: serde_json::Value = serde_json::from_str(&run(Cmd::new("sfdisk").args(["--json", disk]))?).map_err(|e| DiskError::Failed(format!("sfdisk --json: {e}")))?;
    let part = &table["partitiontable"]["partitions"][0];
    let (start, size) = (part["start"].as_u64().unwrap_or(0), part["size"].as_u64().unwrap_or(0));
    let (mbr, core) = target::embed_bios(&boot, &mut core, start, size).map_err(DiskError::Failed)?;
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut dev = std::fs::OpenOptions::new().read(true).write(true).open(disk).map_err(|e| DiskError::Failed(format!("{disk}: {e}")))?;
    let mut old = [0u8; 512];
    dev.read_exact(&mut old).map_err(|e| DiskError::Failed(format!("{disk}: {e}")))?;
    let mbr = target::merge_mbr(&mbr, &old);
    let io = |e: std::io::Error| DiskError::Failed(format!("writing GRUB to {disk}: {e}"));
    dev.seek(SeekFrom::Start(start * 512)).map_err(io)?;
    dev.write_all(core).map_err(io)?;
    dev.seek(SeekFrom::Start(0)).map_err(io)?;
    dev.write_all(&mbr).map_err(io)?;
    dev.sync_all().map_err(io)?;
    run(Cmd::new("cp").args(["-a", "--", "/usr/lib/grub/i386-pc"]).arg(mnt.join("boot/grub/").display().to_string()))?;
    Ok(())
}

/// GRUB for UEFI at the removable path (EFI/BOOT/BOOTX64.EFI, which firmware without boot entries loads):
/// an image holding the modules the menu needs and a first config that finds the root file system by UUID
/// and reads its /boot/grub/grub.cfg, put on the EFI system partition with mtools; the module directory
/// goes to /boot/grub/x86_64-efi as grub-install would put it.
fn efi_grub(mnt: &Path, esp: &str, root_uuid: &str) -> Result<(), DiskError> {
    let lib = Path::new("/usr/lib/grub/x86_64-efi");
    if !lib.is_dir() {
        return Err(DiskError::Failed("GRUB's x86_64-efi modules are missing (Debian package grub-efi-amd64-bin)".into()));
    }
    let staging = tempfile::tempdir().map_err(|e| DiskError::Failed(format!("a staging directory: {e}")))?;
    let early = staging.path().join("early.cfg");
    std::fs::write(&early, target::early_cfg(root_uuid)).map_err(|e| DiskError::Failed(format!("{}: {e}", early.display())))?;
    let image = staging.path().join("BOOTX64.EFI");
    run(Cmd::new("grub-mkimage")
        .args(["--format=x86_64-efi", "--prefix=/boot/grub", "--config"])
        .arg(early.display().to_string())
        .arg("--output")
        .arg(image.display().to_string())
        .args(target::EFI_MODULES.iter().copied()))?;
    run(Cmd::new("mmd").args(["-i", esp, "::/EFI", "::/EFI/BOOT"]))?;
    run(Cmd::new("mcopy").args(["-i", esp]).arg(image.display().to_string()).arg("::/EFI/BOOT/BOOTX64.EFI"))?;
    run(Cmd::new("cp").args(["-a", "--", "/usr/lib/grub/x86_64-efi"]).arg(mnt.join("boot/grub/").display().to_string()))?;
    Ok(())
}

/// The partitions of `disk` in order, once the kernel shows all `n`.
fn partitions(disk: &str, n: usize) -> Result<Vec<String>, DiskError> {
    for _ in 0..50 {
        let out = run(Cmd::new("lsblk").args(["--json", "--bytes", "--output", devices::LSBLK_COLUMNS]).arg(disk))?;
        let parts: Vec<String> = devices::parse(&out)
            .map_err(DiskError::Failed)?
            .into_iter()
            .flat_map(|d| d.children)
            .filter(|c| c.kind == "part")
            .map(|c| c.path.display().to_string())
            .collect();
        if parts.len() == n && parts.iter().all(|p| Path::new(p).exists()) {
            return Ok(parts);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(DiskError::Failed(format!("{disk}: the kernel does not show its {n} new partitions")))
}

/// The image's newest kernel and its initrd (in-system paths).
fn kernel_and_initrd(mnt: &Path) -> Result<(String, String), DiskError> {
    let mut kernels: Vec<String> = std::fs::read_dir(mnt.join("boot"))
        .map_err(|e| DiskError::Input(format!("the image has no /boot: {e}")))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("vmlinuz-")).map(str::to_string))
        .collect();
    kernels.sort();
    let v = kernels.pop().ok_or_else(|| DiskError::Input("the image has no kernel (/boot/vmlinuz-*)".into()))?;
    if !mnt.join(format!("boot/initrd.img-{v}")).exists() {
        return Err(DiskError::Input(format!("the image has no /boot/initrd.img-{v}")));
    }
    Ok((format!("/boot/vmlinuz-{v}"), format!("/boot/initrd.img-{v}")))
}

/// A unit of /etc/systemd/system wanted by multi-user.target, as `systemctl enable` links it.
fn enable(mnt: &Path, unit: &str) -> Result<(), DiskError> {
    let wants = mnt.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).map_err(|e| DiskError::Failed(format!("{}: {e}", wants.display())))?;
    let link = wants.join(unit);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(format!("/etc/systemd/system/{unit}"), &link).map_err(|e| DiskError::Failed(format!("{}: {e}", link.display())))
}

/// The profile at /etc/cloudstrap/profile.toml (0600), pointed at the offline copies, and the secret files
/// it names beside it.
fn copy_profile(p: &Profile, profile_path: &Path, mnt: &Path, offline: &offline::Offline) -> Result<(), DiskError> {
    let dir = mnt.join("etc/cloudstrap");
    let text = std::fs::read_to_string(profile_path).map_err(|e| DiskError::Input(format!("{}: {e}", profile_path.display())))?;
    let text = offline::rewrite(&text, offline).map_err(|e| DiskError::Input(format!("{}: {e}", profile_path.display())))?.unwrap_or(text);
    crate::atomic_file::replace(&dir.join("profile.toml"), text.as_bytes(), 0o600).map_err(|e| DiskError::Failed(format!("writing the profile: {e}")))?;
    let base = profile_path.parent().unwrap_or(Path::new("."));
    for f in crate::profile::secret_refs(p).iter().filter_map(|r| r.file.map(Path::to_path_buf)) {
        if f.is_absolute() {
            return Err(DiskError::Input(format!("{}: the secret file {} is named by an absolute path; name it relative to the profile so it travels with it", profile_path.display(), f.display())));
        }
        let bytes = std::fs::read(base.join(&f)).map_err(|e| DiskError::Input(format!("{}: {e}", base.join(&f).display())))?;
        crate::atomic_file::replace(&dir.join(&f), &bytes, 0o600).map_err(|e| DiskError::Failed(format!("writing {}: {e}", f.display())))?;
    }
    Ok(())
}

/// Root's password (disk.root-password, else agent.root-password, else this host's zone.hosts entry: the
/// one addHost logs in with, which then needs sshd to accept it) and authorized keys.
fn root_login(p: &Profile, secrets: &crate::profile::Secrets, mnt: &Path) -> Result<(), DiskError> {
    let own = p.zone.as_ref().and_then(|z| z.hosts.iter().position(|h| h.address == p.host.ip()));
    let password = secrets
        .disk_root_password
        .as_ref()
        .or(secrets.agent_root_password.as_ref())
        .or_else(|| own.and_then(|i| secrets.zone_host_passwords.get(i)).and_then(Option::as_ref));
    if let Some(pw) = password {
        // Hashed here (SHA-512 crypt) and set in the new system's shadow file, both through stdin, never on
        // a command line: chpasswd -e needs no PAM inside the new system, as a plain chpasswd would.
        let mut redactor = Redactor::default();
        secrets.values().into_iter().for_each(|v| redactor.add(v));
        let hash = Cmd::new("openssl")
            .args(["passwd", "-6", "-stdin"])
            .stdin_bytes(format!("{}\n", pw.expose()).into_bytes())
            .run_ok(&redactor)
            .map_err(|e| DiskError::Failed(format!("hashing root's password: {e}")))?
            .stdout;
        redactor.add(hash.trim());
        Cmd::new("chpasswd")
            .args(["-e", "--root"])
            .arg(mnt.display().to_string())
            .stdin_bytes(format!("root:{}\n", hash.trim()).into_bytes())
            .run_ok(&redactor)
            .map_err(|e| DiskError::Failed(format!("setting root's password: {e}")))?;
        crate::atomic_file::replace(
            &mnt.join("etc/ssh/sshd_config.d/50-cloudstrap.conf"),
            b"# Written by cloudstrap disk install: CloudStack's addHost logs in to a KVM host as root with its password.\nPermitRootLogin yes\n",
            0o644,
        )
        .map_err(|e| DiskError::Failed(format!("writing the sshd drop-in: {e}")))?;
    }
    if let Some(keys) = p.disk.as_ref().map(|d| &d.ssh_keys).filter(|k| !k.is_empty()) {
        let dir = mnt.join("root/.ssh");
        std::fs::create_dir_all(&dir).map_err(|e| DiskError::Failed(format!("{}: {e}", dir.display())))?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(|e| DiskError::Failed(format!("{}: {e}", dir.display())))?;
        let text: String = keys.iter().map(|k| format!("{}\n", k.trim())).collect();
        crate::atomic_file::replace(&dir.join("authorized_keys"), text.as_bytes(), 0o600).map_err(|e| DiskError::Failed(format!("writing authorized_keys: {e}")))?;
    }
    Ok(())
}

/// Copy `from` to `to`, returning the sha512 of what was written.
/// The ISO 9660 image at the start of `from` (a file, or a CD whose device reads past the image), exactly
/// its size as `isosize` reads it from the volume descriptor, written under a temporary name and renamed.
fn copy_iso(from: &Path, to: &Path) -> Result<(), DiskError> {
    use std::io::Read;
    let size: u64 = run(Cmd::new("isosize").arg(from.display().to_string()))?
        .trim()
        .parse()
        .map_err(|_| DiskError::Input(format!("{}: not an ISO 9660 image (isosize)", from.display())))?;
    let dir = to.parent().expect("an absolute path has a parent");
    std::fs::create_dir_all(dir).map_err(|e| DiskError::Failed(format!("creating {}: {e}", dir.display())))?;
    let src = std::fs::File::open(from).map_err(|e| DiskError::Failed(format!("{}: {e}", from.display())))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| DiskError::Failed(format!("{}: {e}", dir.display())))?;
    let copied = std::io::copy(&mut src.take(size), &mut tmp.as_file()).map_err(|e| DiskError::Failed(format!("copying {}: {e}", from.display())))?;
    if copied != size {
        return Err(DiskError::Failed(format!("{}: {copied} of {size} bytes read", from.display())));
    }
    tmp.persist(to).map_err(|e| DiskError::Failed(format!("{}: {e}", to.display())))?;
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o644)).map_err(|e| DiskError::Failed(format!("{}: {e}", to.display())))
}

fn copy_hashing(from: &Path, to: &Path) -> Result<String, DiskError> {
    use sha2::Digest;
    use std::io::{Read, Write};
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| DiskError::Failed(format!("{}: {e}", d.display())))?;
    }
    let mut src = std::fs::File::open(from).map_err(|e| DiskError::Input(format!("{}: {e}", from.display())))?;
    let mut dst = std::fs::File::create(to).map_err(|e| DiskError::Failed(format!("{}: {e}", to.display())))?;
    let mut hash = sha2::Sha512::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf).map_err(|e| DiskError::Failed(format!("{}: {e}", from.display())))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(|e| DiskError::Failed(format!("{}: {e}", to.display())))?;
    }
    dst.sync_all().map_err(|e| DiskError::Failed(format!("{}: {e}", to.display())))?;
    Ok(hex::encode(hash.finalize()))
}

/// The offline repository under /var/lib/cloudstrap/repo. Its `debian/` (or, for a plain repository, the
/// whole tree) becomes the system's only package source, each suite under its `dists/`; its `cloudstack/`
/// (laid out like download.cloudstack.org) is what the profile's CloudStack repository points at.
fn copy_repo(repo: &Path, mnt: &Path, offline: &mut offline::Offline) -> Result<(), DiskError> {
    let root = "/var/lib/cloudstrap/repo";
    let dest = mnt.join(root.trim_start_matches('/'));
    std::fs::create_dir_all(&dest).map_err(|e| DiskError::Failed(format!("{}: {e}", dest.display())))?;
    run(Cmd::new("cp").args(["-a", "--"]).arg(format!("{}/.", repo.display())).arg(dest.display().to_string()))?;
    let (debian, debian_dir) = if repo.join("debian/dists").is_dir() { (repo.join("debian"), format!("{root}/debian")) } else { (repo.to_path_buf(), root.to_string()) };
    let suites: Vec<String> = std::fs::read_dir(debian.join("dists"))
        .map_err(|e| DiskError::Input(format!("{}: not a package repository (no dists/): {e}", debian.display())))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    let mut list = String::from("# Written by cloudstrap disk install: the offline repository on this disk is the only source.\n");
    for s in suites {
        list.push_str(&format!("deb [trusted=yes] file:{debian_dir} {s} main\n"));
    }
    let _ = std::fs::remove_file(mnt.join("etc/apt/sources.list.d/debian.sources"));
    crate::atomic_file::replace(&mnt.join("etc/apt/sources.list"), list.as_bytes(), 0o644).map_err(|e| DiskError::Failed(format!("writing sources.list: {e}")))?;
    if repo.join("cloudstack/dists").is_dir() {
        offline.cloudstack = Some(format!("{root}/cloudstack"));
        if repo.join("cloudstack/release.asc").is_file() {
            offline.cloudstack_key = Some(format!("{root}/cloudstack/release.asc"));
        }
    }
    Ok(())
}

//! `cloudstrap media build`: the installer ISO, from Debian's mirror and the operator's CloudStack
//! repository, every stage cached under its inputs' digest so a rebuild with unchanged inputs only
//! repacks the medium.
//!
//! 1. system: mmdebstrap of Debian 12 with every role's Debian packages installed in the chroot (at build
//!    time, at native speed; their services disabled until cloudstrap enables what the profile's roles
//!    need), the kernel, and an initrd with live-boot for the live system; squashed.
//! 2. cloudstack: the release line's packages copied from the operator's repository, signed index as is.
//! 3. repository: the Debian packages every role needs (those the system image installed and those the
//!    CloudStack packages pull in, resolved by apt against the image's package state), indexed with
//!    apt-ftparchive.
//! 4. the medium: live system (image + installer layer), repository, template, profiles, boot menu;
//!    grub-mkrescue makes the hybrid ISO (BIOS and UEFI, CD and USB stick).

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::Digest;

use super::cloudstack_repo::{self, Source};
use super::{boot, iso, layout, run, MediaError};
use crate::platform::{Platform, PlatformId, Release, Role};
use crate::run::Cmd;

/// The Debian release the medium installs (the platform row gives its packages).
const PLATFORM: PlatformId = PlatformId::Debian12;
const CODENAME: &str = "bookworm";

/// Packages of the system beyond the roles': kernel and boot, network, SSH, and what the installer runs
/// (partitioning, file systems, unsquashfs, GRUB for both firmware kinds, eject).
const SYSTEM_PACKAGES: [&str; 18] = [
    "linux-image-amd64",
    "systemd-sysv",
    "initramfs-tools",
    "zstd",
    "ifupdown",
    "iproute2",
    "openssh-server",
    "ca-certificates",
    "fdisk",
    "dosfstools",
    "e2fsprogs",
    "mtools",
    "squashfs-tools",
    "grub-common",
    "grub-pc-bin",
    "grub-efi-amd64-bin",
    "eject",
    "apt-utils",
];

/// Bump when the steps below change what a stage produces (part of each stage's cache key).
const RECIPE: &str = "media-1";

pub struct BuildOptions {
    pub out: PathBuf,
    pub cache: PathBuf,
    /// Debian mirror (the system image and the Debian packages of the offline repository).
    pub mirror: String,
    /// The CloudStack repository: a directory or URL laid out like download.cloudstack.org.
    pub cloudstack_repo: String,
    pub cloudstack_key: Option<String>,
    pub release: &'static Release,
    pub template: Option<PathBuf>,
    pub profiles: Vec<PathBuf>,
    /// The cloudstrap binary the medium carries (a static build runs on any system).
    pub binary: PathBuf,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    pub iso: PathBuf,
    pub size: u64,
    /// Stages taken from the cache.
    pub reused: Vec<String>,
    /// Stages made in this run.
    pub built: Vec<String>,
    pub profiles: Vec<String>,
    pub elapsed_seconds: f64,
}

fn digest(parts: &[&str]) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..16].to_string()
}

fn fail(p: &Path, e: std::io::Error) -> MediaError {
    MediaError::Failed(format!("{}: {e}", p.display()))
}

/// The Debian packages the roles install on this platform, and the CloudStack packages of the line.
fn role_packages(release: &Release) -> (Vec<String>, Vec<String>) {
    let platform = Platform::get(PLATFORM);
    let mut debian: Vec<String> = platform.base.packages.iter().map(|s| s.to_string()).collect();
    let mut cloudstack = vec![];
    for role in Role::CONCRETE {
        debian.extend(platform.role(role).packages.iter().map(|s| s.to_string()));
        cloudstack.extend(release.role(role).packages.iter().map(|s| s.to_string()));
    }
    debian.extend(SYSTEM_PACKAGES.iter().map(|s| s.to_string()));
    debian.sort();
    debian.dedup();
    cloudstack.sort();
    cloudstack.dedup();
    (debian, cloudstack)
}

/// Services of the role packages, disabled in the image: a KVM host does not run MariaDB because the
/// image has it; cloudstrap enables each role's services.
fn role_services() -> Vec<String> {
    let platform = Platform::get(PLATFORM);
    let mut v: Vec<String> = [Role::Database, Role::Nfs, Role::KvmAgent, Role::Provisioning].iter().flat_map(|r| platform.role(*r).services.iter().map(|s| s.to_string())).collect();
    v.sort();
    v.dedup();
    v
}

pub fn build(o: &BuildOptions, say: &mut dyn FnMut(&str)) -> Result<Built, MediaError> {
    let started = Instant::now();
    if !nix::unistd::geteuid().is_root() {
        return Err(MediaError::Input("media build runs as root: mmdebstrap builds the system image in root mode, with a chroot".into()));
    }
    if PLATFORM != PlatformId::Debian12 || !Platform::get(PLATFORM).supports_release(o.release.line) {
        return Err(MediaError::Input(format!("release {} has no packages for Debian 12 (the medium's system)", o.release.line)));
    }
    if let Some(t) = &o.template {
        if !t.is_file() {
            return Err(MediaError::Input(format!("{}: no such template file", t.display())));
        }
    }
    let profiles = iso::check_profiles(&o.profiles)?;
    std::fs::create_dir_all(&o.cache).map_err(|e| fail(&o.cache, e))?;
    let (mut reused, mut built) = (vec![], vec![]);
    let (debian, cloudstack) = role_packages(o.release);

    // The CloudStack packages first: a wrong repository is said before minutes of image building.
    let src = Source::parse(&o.cloudstack_repo);
    let component = o.release.repo_version;
    let cs_stage = o.cache.join("cloudstack.tmp");
    let _ = std::fs::remove_dir_all(&cs_stage);
    say(&format!("CloudStack {component} packages from {}", o.cloudstack_repo));
    let copied = cloudstack_repo::copy(&src, CODENAME, component, o.cloudstack_key.as_deref(), &cs_stage)?;
    let missing: Vec<&String> = cloudstack.iter().filter(|p| !copied.packages.contains(p)).collect();
    if !missing.is_empty() {
        let _ = std::fs::remove_dir_all(&cs_stage);
        return Err(MediaError::Input(format!(
            "{}: release line {component} has no {} (it has: {})",
            o.cloudstack_repo,
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            copied.packages.join(", ")
        )));
    }
    let release_file = std::fs::read(cs_stage.join(format!("dists/{CODENAME}/Release"))).map_err(|e| fail(&cs_stage, e))?;
    let cs_key = digest(&[RECIPE, &hex::encode(sha2::Sha256::digest(&release_file)), &copied.packages.join(",")]);
    let cs_dir = o.cache.join(format!("cloudstack-{cs_key}"));
    if cs_dir.is_dir() {
        let _ = std::fs::remove_dir_all(&cs_stage);
    } else {
        std::fs::rename(&cs_stage, &cs_dir).map_err(|e| fail(&cs_dir, e))?;
    }

    // The system image.
    let system_key = digest(&[RECIPE, &o.mirror, &debian.join(","), &role_services().join(","), crate::disk::target::SSH_HOST_KEYS_UNIT]);
    let system = o.cache.join(format!("system-{system_key}"));
    if system.join("system.squashfs").is_file() {
        say(&format!("system image: reused {}", system.display()));
        reused.push("system".into());
    } else {
        say(&format!("system image: mmdebstrap {CODENAME} from {} with {} packages (a few minutes)", o.mirror, debian.len()));
        build_system(&o.mirror, &debian, &system)?;
        built.push("system".into());
    }

    // The Debian repository: the image's packages and the CloudStack packages' dependencies.
    let repo_key = digest(&[RECIPE, &system_key, &cs_key, &cloudstack.join(",")]);
    let repo = o.cache.join(format!("repo-{repo_key}"));
    if repo.join("dists").is_dir() {
        say(&format!("offline repository: reused {}", repo.display()));
        reused.push("repository".into());
    } else {
        say("offline repository: resolving the CloudStack packages' Debian dependencies");
        build_repo(&o.mirror, &system, &cs_dir, component, &cloudstack, &repo)?;
        built.push("repository".into());
    }

    // The medium.
    say("the medium: live system, repository, template, profiles, boot menu");
    let tree = o.cache.join("tree.tmp");
    let _ = std::fs::remove_dir_all(&tree);
    let link = |from: &Path, to: &str| -> Result<(), MediaError> {
        let to = tree.join(to);
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d).map_err(|e| fail(d, e))?;
        }
        std::fs::hard_link(from, &to).or_else(|_| std::fs::copy(from, &to).map(|_| ())).map_err(|e| fail(&to, e))
    };
    link(&system.join("system.squashfs"), layout::SYSTEM)?;
    link(&system.join("vmlinuz"), layout::KERNEL)?;
    link(&system.join("initrd.img"), layout::INITRD)?;
    installer_layer(&o.binary, &tree.join(layout::INSTALLER))?;
    std::fs::write(tree.join(layout::MODULE), "10-system.squashfs\n20-installer.squashfs\n").map_err(|e| fail(&tree, e))?;
    let repo_dest = tree.join(layout::REPO);
    std::fs::create_dir_all(&repo_dest).map_err(|e| fail(&repo_dest, e))?;
    run(Cmd::new("cp").args(["-al", "--"]).arg(repo.display().to_string()).arg(repo_dest.join("debian").display().to_string()))?;
    run(Cmd::new("cp").args(["-al", "--"]).arg(cs_dir.display().to_string()).arg(repo_dest.join("cloudstack").display().to_string()))?;
    if let Some(t) = &o.template {
        let name = t.file_name().and_then(|n| n.to_str()).unwrap_or("template.qcow2.bz2");
        link(t, &format!("{}/{name}", layout::TEMPLATES))?;
    }
    let pdir = tree.join(layout::PROFILES);
    iso::stage_profiles(&profiles, &pdir)?;
    let names = iso::staged_names(&pdir);
    run(Cmd::new("chmod").args(["-R", "go-rwx"]).arg(pdir.display().to_string()))?;
    std::fs::create_dir_all(tree.join("boot/grub")).map_err(|e| fail(&tree, e))?;
    std::fs::write(tree.join(layout::GRUB_CFG), boot::grub_cfg(&names)).map_err(|e| fail(&tree, e))?;
    let info = serde_json::json!({
        "cloudstrap": env!("CARGO_PKG_VERSION"),
        "platform": PLATFORM.as_str(),
        "release": o.release.line,
        "cloudstack_packages": copied.packages,
        "debian_mirror": o.mirror,
        "system": system_key,
        "repository": repo_key,
        "template": o.template.as_ref().and_then(|t| t.file_name()).map(|n| n.to_string_lossy().into_owned()),
    });
    std::fs::write(tree.join(layout::BUILD_INFO), serde_json::to_vec_pretty(&info).unwrap_or_default()).map_err(|e| fail(&tree, e))?;
    let part = o.out.with_extension("iso.part");
    let _ = std::fs::remove_file(&part);
    say(&format!("grub-mkrescue: {}", o.out.display()));
    run(Cmd::new("grub-mkrescue").arg("-o").arg(part.display().to_string()).arg(tree.display().to_string()).args(["--", "-volid", layout::VOLUME]))?;
    std::fs::rename(&part, &o.out).map_err(|e| fail(&o.out, e))?;
    let _ = std::fs::remove_dir_all(&tree);
    prune(&o.cache, &[&system, &cs_dir, &repo]);
    let size = std::fs::metadata(&o.out).map(|m| m.len()).unwrap_or(0);
    Ok(Built { iso: o.out.clone(), size, reused, built, profiles: names, elapsed_seconds: started.elapsed().as_secs_f64() })
}

/// The cache keeps the stages of the last build: others (older inputs, an interrupted build's leftovers) go.
fn prune(cache: &Path, keep: &[&Path]) {
    for e in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stage = ["system-", "cloudstack-", "repo-"].iter().any(|p| name.starts_with(p));
        if stage && !keep.iter().any(|k| *k == e.path()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// mmdebstrap the system into a temporary root, keep its packages, squash it.
fn build_system(mirror: &str, packages: &[String], dest: &Path) -> Result<(), MediaError> {
    let tmp = dest.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let root = tmp.join("root");
    std::fs::create_dir_all(tmp.join("debs")).map_err(|e| fail(&tmp, e))?;
    let out = tmp.display().to_string();
    // No service starts inside the chroot (policy-rc.d); the live initrd is made with live-boot installed,
    // which is then purged so the installed system boots a plain initrd; SSH host keys are made per host
    // at first boot.
    let policy = r#"printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d""#;
    let services = role_services().join(" ");
    let customize = format!(
        r#"set -e
chroot "$1" apt-get install -y -q --no-install-recommends live-boot
cp "$1"/boot/initrd.img-* "{out}/initrd.img"
cp "$1"/boot/vmlinuz-* "{out}/vmlinuz"
cp "$1"/var/cache/apt/archives/*.deb "{out}/debs/"
chroot "$1" apt-get purge -y -q live-boot live-boot-initramfs-tools
cp "$1"/var/lib/dpkg/status "{out}/status"
for s in {services}; do chroot "$1" systemctl disable "$s" >/dev/null 2>&1 || true; done
rm -f "$1"/usr/sbin/policy-rc.d "$1"/etc/ssh/ssh_host_*
printf 'auto lo\niface lo inet loopback\n' >"$1/etc/network/interfaces"
"#
    );
    run(Cmd::new("mmdebstrap")
        .args(["--mode=root", "--variant=important", "--components=main", "--skip=cleanup/apt/cache"])
        .arg(format!("--include={}", packages.join(",")))
        .arg(format!("--essential-hook={policy}"))
        .arg(format!("--customize-hook={customize}"))
        .arg(CODENAME)
        .arg(root.display().to_string())
        .arg(mirror)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    // Packages come from the disk's repository later: the image keeps no lists or cached packages.
    let _ = std::fs::remove_dir_all(root.join("var/cache/apt/archives"));
    let _ = std::fs::create_dir_all(root.join("var/cache/apt/archives/partial"));
    run(Cmd::new("mksquashfs")
        .arg(root.display().to_string())
        .arg(tmp.join("system.squashfs").display().to_string())
        .args(["-noappend", "-quiet", "-comp", "zstd", "-Xcompression-level", "6"]))?;
    std::fs::remove_dir_all(&root).map_err(|e| fail(&root, e))?;
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&tmp, dest).map_err(|e| fail(dest, e))
}

/// The Debian packages for the offline repository: the image's, and what apt (working against the image's
/// package state) downloads for the CloudStack packages; indexed as `deb file:DIR bookworm main`.
fn build_repo(mirror: &str, system: &Path, cs_dir: &Path, component: &str, cloudstack: &[String], dest: &Path) -> Result<(), MediaError> {
    let tmp = dest.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let apt = tmp.join("apt");
    for d in ["lists/partial", "archives/partial", "cache", "etc"] {
        std::fs::create_dir_all(apt.join(d)).map_err(|e| fail(&apt, e))?;
    }
    // apt checks the copied index against the repository's key here, as the hosts will.
    let cs_opt = format!("signed-by={}/release.asc", cs_dir.display());
    std::fs::write(
        apt.join("etc/sources.list"),
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {mirror} {CODENAME} main\ndeb [{cs_opt}] file:{} {CODENAME} {component}\n",
            cs_dir.display()
        ),
    )
    .map_err(|e| fail(&apt, e))?;
    let a = |p: &str| apt.join(p).display().to_string();
    let opts = [
        format!("Dir::State::status={}", system.join("status").display()),
        format!("Dir::Etc::SourceList={}", a("etc/sources.list")),
        format!("Dir::Etc::SourceParts={}", a("etc")),
        format!("Dir::Etc::Preferences={}", a("etc/preferences")),
        format!("Dir::Etc::PreferencesParts={}", a("etc")),
        format!("Dir::State::Lists={}", a("lists")),
        format!("Dir::Cache={}", a("cache")),
        format!("Dir::Cache::Archives={}", a("archives")),
        "Debug::NoLocking=true".into(),
        "APT::Architecture=amd64".into(),
        "Acquire::Languages=none".into(),
    ];
    let apt_get = || {
        let mut c = Cmd::new("apt-get").arg("-q");
        for o in &opts {
            c = c.arg("-o").arg(o);
        }
        c
    };
    run(apt_get().arg("update"))?;
    run(apt_get().args(["install", "-y", "--download-only", "--no-install-recommends"]).args(cloudstack.iter().cloned()))?;
    let pool = tmp.join("pool");
    std::fs::create_dir_all(&pool).map_err(|e| fail(&pool, e))?;
    for dir in [system.join("debs"), apt.join("archives")] {
        for e in std::fs::read_dir(&dir).map_err(|e| fail(&dir, e))?.flatten() {
            let name = e.file_name();
            let is_cloudstack = name.to_str().is_some_and(|n| cloudstack.iter().any(|c| n.starts_with(&format!("{c}_"))));
            if name.to_string_lossy().ends_with(".deb") && !is_cloudstack && !pool.join(&name).exists() {
                std::fs::hard_link(e.path(), pool.join(&name)).or_else(|_| std::fs::copy(e.path(), pool.join(&name)).map(|_| ())).map_err(|e| fail(&pool, e))?;
            }
        }
    }
    std::fs::remove_dir_all(&apt).map_err(|e| fail(&apt, e))?;
    let bin = tmp.join(format!("dists/{CODENAME}/main/binary-amd64"));
    std::fs::create_dir_all(&bin).map_err(|e| fail(&bin, e))?;
    let packages = run(Cmd::new("apt-ftparchive").args(["packages", "pool"]).dir(&tmp))?;
    std::fs::write(bin.join("Packages"), &packages).map_err(|e| fail(&bin, e))?;
    run(Cmd::new("gzip").args(["-k", "-9", "-n"]).arg(bin.join("Packages").display().to_string()))?;
    let release = run(Cmd::new("apt-ftparchive")
        .args(["-o", &format!("APT::FTPArchive::Release::Codename={CODENAME}"), "-o", &format!("APT::FTPArchive::Release::Suite={CODENAME}")])
        .args(["-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64", "-o", "APT::FTPArchive::Release::Origin=cloudstrap"])
        .args(["release", &format!("dists/{CODENAME}")])
        .dir(&tmp))?;
    std::fs::write(tmp.join(format!("dists/{CODENAME}/Release")), release).map_err(|e| fail(&tmp, e))?;
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&tmp, dest).map_err(|e| fail(dest, e))
}

/// The live system's upper layer: the installer unit (enabled), autologin on the consoles, this binary.
fn installer_layer(binary: &Path, out: &Path) -> Result<(), MediaError> {
    let stage = tempfile::tempdir().map_err(|e| MediaError::Failed(format!("a staging folder: {e}")))?;
    let r = stage.path();
    let put = |rel: &str, bytes: &[u8], mode: u32| -> Result<(), MediaError> {
        crate::atomic_file::replace(&r.join(rel), bytes, mode).map_err(|e| MediaError::Failed(format!("{rel}: {e}")))
    };
    let bin = std::fs::read(binary).map_err(|e| fail(binary, e))?;
    put("usr/local/bin/cloudstrap", &bin, 0o755)?;
    put("etc/systemd/system/cloudstrap-installer.service", include_bytes!("../../iso/live/cloudstrap-installer.service"), 0o644)?;
    for getty in ["getty@tty1.service.d", "serial-getty@ttyS0.service.d"] {
        put(&format!("etc/systemd/system/{getty}/autologin.conf"), include_bytes!("../../iso/live/autologin.conf"), 0o644)?;
    }
    put("root/.bash_profile", include_bytes!("../../iso/live/bash_profile"), 0o644)?;
    put("etc/hostname", b"cloudstrap-installer\n", 0o644)?;
    let wants = r.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).map_err(|e| fail(&wants, e))?;
    std::os::unix::fs::symlink("/etc/systemd/system/cloudstrap-installer.service", wants.join("cloudstrap-installer.service")).map_err(|e| fail(&wants, e))?;
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d).map_err(|e| fail(d, e))?;
    }
    run(Cmd::new("mksquashfs").arg(r.display().to_string()).arg(out.display().to_string()).args(["-noappend", "-quiet", "-all-root", "-comp", "zstd"]))?;
    Ok(())
}

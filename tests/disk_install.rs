//! `cloudstrap disk install` onto a real block device: a sparse file on a loop device, partitioned with
//! sfdisk, file systems made with mkfs, GRUB installed by grub-install for BIOS and UEFI (the machine's
//! grub-pc-bin and grub-efi-amd64-bin), a small system image copied in. What lands on the disk is read back
//! with sfdisk, blkid and a read-only mount. A disk holding data is refused without `wipe = true`, with
//! nothing written. (Booting such a disk under qemu belongs to the lab.)

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "common/machine.rs"]
mod machine;

use machine::{boot_until, image, sh, Boot, Loop};

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

/// A read-only mount, unmounted when dropped.
struct Mounted(tempfile::TempDir);

impl Mounted {
    fn new(dev: &str) -> Mounted {
        let d = tempfile::tempdir().unwrap();
        sh("mount", &["-o", "ro", dev, d.path().to_str().unwrap()]);
        Mounted(d)
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

fn profile(dir: &Path, disk: &str, extra: &str) -> PathBuf {
    let p = dir.join("storage.toml");
    std::fs::write(
        &p,
        format!(
            "[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"nfs\"]\nplatform = \"debian-12\"\nhostname = \"storage\"\n\
             fqdn = \"storage.example.org\"\naddress = \"10.0.0.20/24\"\ngateway = \"10.0.0.1\"\ndns = [\"10.0.0.1\"]\n\
             interface = \"ens3\"\n\n[nfs]\nserver = \"10.0.0.20\"\nclients = \"10.0.0.0/24\"\n\n[disk]\ndevice = \"{disk}\"\n{extra}"
        ),
    )
    .unwrap();
    p
}

fn install(profile: &Path, image: &Path) -> Output {
    Command::new(BIN).args(["disk", "install", "--yes", "--profile"]).arg(profile).arg("--image").arg(image).stdin(Stdio::null()).output().unwrap()
}

/// `preflight`'s disk.target check for the profile: (status, summary).
fn disk_check(profile: &Path) -> (String, String) {
    let out = Command::new(BIN).args(["preflight", "--format", "json", "--profile"]).arg(profile).stdin(Stdio::null()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "disk.target").expect("a disk.target check").clone();
    (c["status"].as_str().unwrap().to_string(), c["summary"].as_str().unwrap().to_string())
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// What a refused run must leave exactly as it was: the partition table and the start of every partition.
fn fingerprint(l: &Loop) -> String {
    let dump = Command::new("sfdisk").args(["--dump", &l.dev]).output().unwrap();
    let table = format!("{}{}", String::from_utf8_lossy(&dump.stdout), String::from_utf8_lossy(&dump.stderr));
    let head = Command::new("sh").arg("-c").arg(format!("head -c 67108864 {} | sha256sum", l.dev)).output().unwrap();
    format!("{table}{}", String::from_utf8_lossy(&head.stdout))
}

#[test]
fn a_blank_disk_gets_partitions_file_systems_the_image_grub_and_the_first_boot() {
    let l = Loop::new(10);
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let p = profile(dir.path(), &l.dev, "export-size = \"1G\"\n");

    // Preflight sees an empty disk of the right size.
    let (status, summary) = disk_check(&p);
    assert_eq!((status.as_str(), summary.contains("10.0 GiB) is empty")), ("pass", true), "{summary}");

    let out = install(&p, &img);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("the disk is empty"), "{}", text(&out));
    // Now it holds data, which the profile does not allow erasing.
    let (status, summary) = disk_check(&p);
    assert_eq!((status.as_str(), summary.contains("holds data")), ("fail", true), "{summary}");

    // GPT: BIOS boot, EFI system, /export, root.
    let table: serde_json::Value = serde_json::from_str(&sh("sfdisk", &["--json", &l.dev])).unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(table["partitiontable"]["label"], "gpt");
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["21686148-6248-6970-6E6F-744E65656446", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"]
    );
    let blkid = |dev: &str, tag: &str| sh("blkid", &["-s", tag, "-o", "value", dev]).trim().to_string();
    assert_eq!((blkid(&l.part(2), "TYPE").as_str(), blkid(&l.part(3), "TYPE").as_str(), blkid(&l.part(4), "TYPE").as_str()), ("vfat", "ext4", "ext4"));
    let (esp_uuid, export_uuid, root_uuid) = (blkid(&l.part(2), "UUID"), blkid(&l.part(3), "UUID"), blkid(&l.part(4), "UUID"));

    let root = Mounted::new(&l.part(4));
    assert_eq!(root.read("etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n", "the image was copied");
    let fstab = root.read("etc/fstab");
    for line in [format!("UUID={root_uuid} / ext4"), format!("UUID={esp_uuid} /boot/efi vfat"), format!("UUID={export_uuid} /export ext4")] {
        assert!(fstab.contains(&line), "{line:?} in\n{fstab}");
    }
    let net = root.read("etc/network/interfaces");
    assert!(net.contains("iface ens3 inet static") && net.contains("address 10.0.0.20/24") && net.contains("gateway 10.0.0.1"), "{net}");
    assert_eq!(root.read("etc/hostname"), "storage\n");
    assert!(root.read("etc/hosts").contains("10.0.0.20\tstorage.example.org storage"), "{}", root.read("etc/hosts"));
    // GRUB: the BIOS core image in place, the menu pointing at the root file system by UUID.
    assert!(root.path("boot/grub/i386-pc/normal.mod").exists(), "GRUB for BIOS");
    let cfg = root.read("boot/grub/grub.cfg");
    assert!(cfg.contains(&format!("linux /boot/vmlinuz-6.1.0-99-amd64 root=UUID={root_uuid} ro")) && cfg.contains("console=ttyS0,115200"), "{cfg}");
    // The MBR carries GRUB's boot code (its signature at 0x1FE and code in front of it).
    let mbr = Command::new("sh").arg("-c").arg(format!("head -c 512 {} | strings", l.dev)).output().unwrap();
    assert!(String::from_utf8_lossy(&mbr.stdout).contains("GRUB"), "no GRUB boot code in the MBR");
    // The profile (0600), the binary, the first-boot unit enabled and its flag.
    assert_eq!(std::fs::metadata(root.path("etc/cloudstrap/profile.toml")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(root.path("usr/local/bin/cloudstrap").exists());
    let link = std::fs::read_link(root.path("etc/systemd/system/multi-user.target.wants/cloudstrap-firstboot.service")).unwrap();
    assert_eq!(link, Path::new("/etc/systemd/system/cloudstrap-firstboot.service"));
    assert!(root.read("etc/systemd/system/cloudstrap-firstboot.service").contains("install --profile /etc/cloudstrap/profile.toml --yes"));
    assert!(root.path("var/lib/cloudstrap/firstboot").exists());
    drop(root);
    // UEFI: the removable path firmware without boot entries looks for (read with mtools: no FAT driver
    // is needed), a GRUB EFI image whose first config finds this root file system.
    let listing = sh("mdir", &["-b", "-i", &l.part(2), "::/EFI/BOOT"]);
    assert!(listing.contains("BOOTX64.EFI"), "{listing}");
    let efi = tempfile::tempdir().unwrap();
    let copy = efi.path().join("boot.efi");
    sh("mcopy", &["-i", &l.part(2), "::/EFI/BOOT/BOOTX64.EFI", copy.to_str().unwrap()]);
    let bytes = std::fs::read(&copy).unwrap();
    assert_eq!(&bytes[..2], b"MZ", "a PE/COFF image");
    assert!(String::from_utf8_lossy(&bytes).contains(&root_uuid), "the EFI image's first config names the root file system");

    // It boots: GRUB's menu from this disk on the serial console, from BIOS and from UEFI.
    sh("sync", &[]);
    for firmware in ["bios", "uefi"] {
        let console = boot_until(Boot::Disk(&l.file), firmware, "Debian GNU/Linux (cloudstrap)");
        assert!(console.contains("Debian GNU/Linux (cloudstrap)"), "{firmware}: no GRUB menu on the console:\n{console}");
        // The menu's commands load from the module directory (normal mode read its list): the `serial` line
        // ran before the menu, as `linux` runs when an entry boots.
        assert!(!console.contains("can't find command") && !console.contains("isn't found"), "{firmware}: GRUB could not load its commands:\n{console}");
    }

    // The disk now holds data: without wipe = true, refused (no terminal to type its name on), untouched.
    let before = fingerprint(&l);
    let out = install(&p, &img);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("EVERYTHING ON IT IS ERASED") && text(&out).contains("disk.wipe = true"), "{}", text(&out));
    assert_eq!(fingerprint(&l), before, "a refused install wrote to the disk");

    // With wipe = true it is installed again (fresh file systems).
    let p = profile(dir.path(), &l.dev, "wipe = true\n");
    let out = install(&p, &img);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table: serde_json::Value = serde_json::from_str(&sh("sfdisk", &["--json", &l.dev])).unwrap();
    assert_eq!(table["partitiontable"]["partitions"].as_array().unwrap().len(), 3, "no /export partition this time");
    assert_ne!(blkid(&l.part(3), "UUID"), root_uuid);
}

#[test]
fn the_medium_s_repository_template_and_root_login_land_on_the_disk_and_the_profile_points_at_them() {
    let l = Loop::new(10);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = image(d);
    // The medium's repository: Debian's packages under debian/, CloudStack's under cloudstack/ (laid out
    // like download.cloudstack.org, with its key).
    let repo = d.join("repo");
    for (rel, text) in [
        ("debian/dists/bookworm/Release", "Codename: bookworm\n"),
        ("debian/dists/bookworm/main/binary-amd64/Packages", ""),
        ("cloudstack/dists/bookworm/Release", "Codename: bookworm\n"),
        ("cloudstack/dists/bookworm/4.22/binary-amd64/Packages", ""),
        ("cloudstack/release.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"),
    ] {
        std::fs::create_dir_all(repo.join(rel).parent().unwrap()).unwrap();
        std::fs::write(repo.join(rel), text).unwrap();
    }
    let template = d.join("systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2");
    std::fs::write(&template, b"BZh9 not really a template").unwrap();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc0nK3yL4bQ2x9m0Wm1b7qk5u3f6r0cT2wS1aPq8e9Z admin@site";
    let p = profile(d, &l.dev, &format!("ssh-keys = [\"{key}\"]\nroot-password = \"disk-root-1\"\n"));
    let with_sources = std::fs::read_to_string(&p).unwrap().replace(
        "release = \"4.22\"\n",
        "release = \"4.22\"\nrepository = \"https://download.example.org/cloudstack\"\n\n# the operator's note\n[template]\nurl = \"https://download.example.org/t.qcow2.bz2\"\n",
    );
    std::fs::write(&p, with_sources).unwrap();
    let log = d.join("install.log");
    let out = Command::new(BIN)
        .args(["disk", "install", "--yes", "--profile"])
        .arg(&p)
        .arg("--image")
        .arg(&img)
        .arg("--offline-repo")
        .arg(&repo)
        .arg("--template")
        .arg(&template)
        .arg("--log-file")
        .arg(&log)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let root = Mounted::new(&l.part(3));
    // Debian's packages: the only apt source; CloudStack's: where the installed profile now points.
    let sources = root.read("etc/apt/sources.list");
    assert_eq!(sources.lines().filter(|l| l.starts_with("deb ")).collect::<Vec<_>>(), ["deb [trusted=yes] file:/var/lib/cloudstrap/repo/debian bookworm main"], "{sources}");
    assert!(root.path("var/lib/cloudstrap/repo/cloudstack/dists/bookworm/4.22/binary-amd64/Packages").exists());
    let installed = root.read("etc/cloudstrap/profile.toml");
    assert!(installed.contains("mirror = \"/var/lib/cloudstrap/repo/cloudstack\"") && !installed.contains("repository ="), "{installed}");
    assert!(installed.contains("gpg-key = \"/var/lib/cloudstrap/repo/cloudstack/release.asc\""), "{installed}");
    assert!(installed.contains("# the operator's note"), "comments are kept:\n{installed}");
    use sha2::Digest;
    let sum = hex::encode(sha2::Sha512::digest(std::fs::read(&template).unwrap()));
    assert!(installed.contains("url = \"file:///var/lib/cloudstrap/templates/systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2\""), "{installed}");
    assert!(installed.contains(&format!("checksum = \"sha512:{sum}\"")), "{installed}");
    assert_eq!(std::fs::read(root.path("var/lib/cloudstrap/templates/systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2")).unwrap(), std::fs::read(&template).unwrap());
    // The installed profile loads (the first boot runs `cloudstrap install` on it).
    let check = Command::new(BIN).args(["profile", "check"]).arg(root.path("etc/cloudstrap/profile.toml")).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    // Root's keys (0700/0600), its own SSH host keys made at first boot, and this run's log.
    assert_eq!(root.read("root/.ssh/authorized_keys"), format!("{key}\n"));
    assert_eq!(std::fs::metadata(root.path("root/.ssh")).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(root.path("root/.ssh/authorized_keys")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(root.read("etc/systemd/system/cloudstrap-ssh-host-keys.service").contains("ExecStart=/usr/bin/ssh-keygen -A"));
    assert!(root.path("etc/systemd/system/multi-user.target.wants/cloudstrap-ssh-host-keys.service").is_symlink());
    // Root's password: a SHA-512 crypt hash of it in the new system's shadow file, and sshd accepts it (addHost).
    let shadow = root.read("etc/shadow");
    let hash = shadow.lines().find_map(|l| l.strip_prefix("root:")).and_then(|r| r.split(':').next()).unwrap().to_string();
    let salt = hash.split('$').nth(2).unwrap();
    assert_eq!(sh("openssl", &["passwd", "-6", "-salt", salt, "disk-root-1"]).trim(), hash, "root's hash is not of its password");
    assert!(root.read("etc/ssh/sshd_config.d/50-cloudstrap.conf").contains("PermitRootLogin yes"));
    assert!(root.read("var/log/cloudstrap/disk-install.log").contains("Partitioning"), "the log is kept on the disk");
}

#[test]
fn bad_disk_sections_and_unusable_disks_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    // Located like every other key, exit 2.
    let p = profile(dir.path(), "vda", "export-size = \"12X\"\n");
    let out = Command::new(BIN).args(["profile", "check"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains(":19:10: disk.device: \"vda\" is not a disk") && said.contains(":20:15: disk.export-size: \"12X\" is not a size"), "{said}");

    // Too small: a 4 GiB disk.
    let small = Loop::new(4);
    let before = fingerprint(&small);
    let out = install(&profile(dir.path(), &small.dev, ""), &img);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("the install needs at least"), "{}", text(&out));
    assert_eq!(fingerprint(&small), before);
    let (status, summary) = disk_check(&profile(dir.path(), &small.dev, ""));
    assert_eq!((status.as_str(), summary.contains("the install needs at least")), ("fail", true), "{summary}");

    // The disk this machine runs from (when "/" is on a block device here).
    let source = sh("findmnt", &["--noheadings", "--output", "SOURCE", "/"]);
    let parent = Command::new("lsblk").args(["--noheadings", "--nodeps", "--output", "PKNAME", source.trim()]).output().unwrap();
    let parent = String::from_utf8_lossy(&parent.stdout).trim().to_string();
    let running = if source.trim().starts_with("/dev/") { Some(if parent.is_empty() { source.trim().to_string() } else { format!("/dev/{parent}") }) } else { None };
    match running {
        Some(disk) => {
            let out = install(&profile(dir.path(), &disk, "wipe = true\n"), &img);
            assert_eq!(out.status.code(), Some(2), "{}", text(&out));
            assert!(text(&out).contains("is the disk this machine runs from"), "{}", text(&out));
        }
        None => eprintln!("\"/\" is not on a block device here ({}): the running-disk refusal is not exercised", source.trim()),
    }
}

#[test]
fn a_provisioning_node_keeps_the_installer_iso_as_its_fleet_media() {
    let l = Loop::new(10);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = image(d);
    // The installer ISO as a CD device reads it: the image, then whatever follows on the device.
    let tree = d.join("iso-tree");
    std::fs::create_dir_all(tree.join("live")).unwrap();
    std::fs::write(tree.join("live/vmlinuz"), "kernel").unwrap();
    let iso = d.join("cloudstrap.iso");
    sh("xorriso", &["-as", "mkisofs", "-quiet", "-V", "CLOUDSTRAP", "-o", iso.to_str().unwrap(), tree.to_str().unwrap()]);
    let exact = std::fs::read(&iso).unwrap();
    let device = d.join("sr0");
    std::fs::write(&device, [exact.as_slice(), &[0u8; 8192]].concat()).unwrap();
    std::fs::write(d.join("fleet-root"), "fleet-root-1\n").unwrap();
    let p = profile(d, &l.dev, "");
    let node = std::fs::read_to_string(&p)
        .unwrap()
        .replace("roles = [\"nfs\"]", "roles = [\"management\", \"database\", \"nfs\", \"provisioning\"]")
        .replace("[disk]\n", "[database]\nroot-password = \"db-root-1\"\ncloud-password = \"db-cloud-1\"\n\n[fleet]\ninterface = \"ens3\"\nsubnet = \"10.0.0.0/24\"\nroot-password-file = \"fleet-root\"\n\n[disk]\n");
    std::fs::write(&p, node).unwrap();
    let out = Command::new(BIN)
        .args(["disk", "install", "--yes", "--profile"])
        .arg(&p)
        .arg("--image")
        .arg(&img)
        .arg("--medium-iso")
        .arg(&device)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let root = Mounted::new(&l.part(3));
    assert!(std::fs::read(root.path("var/lib/cloudstrap/cloudstrap.iso")).unwrap() == exact, "the ISO, exactly, without the device's tail");
    assert_eq!(root.read("etc/cloudstrap/fleet-root"), "fleet-root-1\n", "the profile's secret files travel with it");
}

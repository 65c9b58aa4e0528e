//! `cloudstrap media customize` and `media inspect` on a real hybrid ISO made by grub-mkrescue (the tool
//! `media build` uses): profiles go on and come back byte for byte, the boot records are the same before and
//! after, the new boot menu has an entry per profile and boots under SeaBIOS and OVMF, as a CD and as a disk
//! (a USB stick), the ISO given is never changed, and a bad profile is refused at its line and column with
//! nothing written.

#[path = "common/json_shape.rs"]
mod json_shape;
#[path = "common/machine.rs"]
mod machine;

use machine::{boot_until, Boot};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn cloudstrap(args: &[&str]) -> Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap()
}

/// A medium without a system on it: the boot menu, a stand-in kernel, a volume label; grub-mkrescue gives it
/// the El Torito BIOS and UEFI entries and the hybrid MBR/GPT that `media build` gets.
fn base_iso(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("boot/grub")).unwrap();
    std::fs::create_dir_all(tree.join("live")).unwrap();
    std::fs::write(tree.join("boot/grub/grub.cfg"), cloudstrap::media::boot::grub_cfg(&[])).unwrap();
    std::fs::write(tree.join("live/vmlinuz"), "not a kernel").unwrap();
    let iso = dir.join("base.iso");
    let out = Command::new("grub-mkrescue").arg("-o").arg(&iso).arg(&tree).args(["--", "-volid", "CLOUDSTRAP"]).output().unwrap();
    assert!(out.status.success(), "grub-mkrescue: {}", text(&out));
    iso
}

fn profile(dir: &Path, name: &str, host: &str, ip: &str, mac: &str, extra: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "#:schema /usr/share/doc/cloudstrap/profile.schema.json\n# {name}: installed from the medium\nversion = 1\n\n[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"nfs\"]\nplatform = \"debian-12\"\nhostname = \"{host}\"\nfqdn = \"{host}.example.org\"\naddress = \"{ip}/24\"\ngateway = \"10.0.0.1\"\ndns = [\"10.0.0.1\"]\ninterface = \"ens3\"\nmac = \"{mac}\"\n\n[nfs]\nserver = \"{ip}\"\nclients = \"10.0.0.0/24\"\n\n[disk]\ndevice = \"serial:target0\"\nwipe = true\n{extra}"
        ),
    )
    .unwrap();
    p
}

fn sha(p: &Path) -> String {
    String::from_utf8_lossy(&Command::new("sha256sum").arg(p).output().unwrap().stdout).split(' ').next().unwrap().to_string()
}

/// The boot records as they matter for booting: each El Torito entry (platform, emulation, load size,
/// image path and options) and the system area's kind, without block addresses (new files move them) and
/// without the Apple partition map (`customize` drops HFS+).
fn boot_records(v: &serde_json::Value) -> Vec<String> {
    let mut out = vec![];
    for l in v["el_torito"].as_array().unwrap().iter().chain(v["system_area"].as_array().unwrap()).map(|l| l.as_str().unwrap()) {
        if l.starts_with("El Torito boot img") {
            let w: Vec<&str> = l.split_whitespace().collect();
            out.push(w[..w.len() - 1].join(" "));
        } else if l.starts_with("El Torito img") || l.starts_with("El Torito images") || l.starts_with("El Torito cat path") {
            out.push(l.to_string());
        } else if let Some(s) = l.strip_prefix("System area summary:") {
            out.push(s.replace(" APM", ""));
        }
    }
    out
}

fn inspect(iso: &Path, extract: &Path) -> serde_json::Value {
    let out = cloudstrap(&["--format", "json", "media", "inspect", iso.to_str().unwrap(), "--extract", extract.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    json_shape::assert_documented("media-inspect", &out.stdout)
}

#[test]
fn profiles_go_on_an_iso_and_come_back_byte_for_byte_with_the_boot_records_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = base_iso(d);
    let base_sha = sha(&base);
    std::fs::create_dir_all(d.join("secrets")).unwrap();
    std::fs::write(d.join("secrets/root"), "medium-root-1\n").unwrap();
    let server = profile(d, "cloud-server", "cloud-server", "10.0.0.4", "52:54:00:00:00:04", "root-password-file = \"secrets/root\"\n");
    let agent = profile(d, "cloud-agent", "cloud-agent", "10.0.0.5", "52:54:00:00:00:05", "");

    let site = d.join("site.iso");
    let out = cloudstrap(&["media", "customize", base.to_str().unwrap(), "--profile", server.to_str().unwrap(), "--profile", agent.to_str().unwrap(), "--out", site.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(sha(&base), base_sha, "the ISO given was changed");

    let before = inspect(&base, &d.join("none"));
    let after = inspect(&site, &d.join("back"));
    assert_eq!(before["profiles"], serde_json::json!([]));
    // xorriso's report of the El Torito catalog (BIOS and UEFI entries) and of the system area (MBR, GPT).
    assert_eq!(boot_records(&after), boot_records(&before), "the boot records changed");
    let records = boot_records(&after).join("\n");
    for want in ["El Torito boot img : 1 BIOS y none 0x0000 0x00 4", "El Torito boot img : 2 UEFI y", "/boot/grub/i386-pc/eltorito.img", "boot-info-table grub2-boot-info", "/efi.img", "MBR protective-msdos-label grub2-mbr cyl-align-off GPT"] {
        assert!(records.contains(want), "{want:?} not in\n{records}");
    }
    assert_eq!(after["volume"], "CLOUDSTRAP");
    let names: Vec<&str> = after["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cloud-agent", "cloud-server"]);
    assert_eq!(after["profiles"][1]["mac"], "52:54:00:00:00:04");
    assert_eq!(after["profiles"][1]["disk"], "serial:target0");
    for (p, name) in [(&server, "cloud-server"), (&agent, "cloud-agent")] {
        assert_eq!(std::fs::read(d.join("back").join(format!("{name}.toml"))).unwrap(), std::fs::read(p).unwrap(), "{name} read back differs");
    }
    // The secret file travels beside its profile, readable by root only; so do the profiles.
    let ls = Command::new("xorriso").args(["-indev", site.to_str().unwrap(), "-lsdl", "/cloudstrap/profiles/secrets/root", "/cloudstrap/profiles/cloud-server.toml"]).output().unwrap();
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert_eq!(listing.lines().filter(|l| l.starts_with("-rw-------")).count(), 2, "{listing}");

    // A second customisation keeps what is there and replaces by name.
    let extra = profile(d, "storage2", "storage2", "10.0.0.6", "52:54:00:00:00:06", "");
    let agent2 = profile(&d.join("secrets"), "cloud-agent", "cloud-agent", "10.0.0.7", "52:54:00:00:00:07", "");
    let site2 = d.join("site2.iso");
    let out = cloudstrap(&["media", "customize", site.to_str().unwrap(), "--profile", extra.to_str().unwrap(), "--profile", agent2.to_str().unwrap(), "--out", site2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again = inspect(&site2, &d.join("back2"));
    let names: Vec<&str> = again["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cloud-agent", "cloud-server", "storage2"]);
    assert_eq!(std::fs::read(d.join("back2/cloud-agent.toml")).unwrap(), std::fs::read(&agent2).unwrap());
    assert_eq!(std::fs::read(d.join("back2/cloud-server.toml")).unwrap(), std::fs::read(&server).unwrap());
    assert_eq!(boot_records(&again), boot_records(&before));

    // The menu has an entry per profile, and the customised medium boots to it from BIOS and UEFI: the
    // EFI image finds the medium by its UUID (the volume date), which the customisation kept.
    // Written to a USB stick, the same image boots as a disk (its hybrid MBR and GPT).
    for (firmware, as_disk) in [("bios", false), ("uefi", false), ("bios", true), ("uefi", true)] {
        let from = if as_disk { Boot::Disk(&site2) } else { Boot::Cd(&site2) };
        let console = boot_until(from, firmware, "Install with profile storage2");
        assert!(
            console.contains("Install with profile storage2") && console.contains("Install with profile cloud-server"),
            "{firmware} ({}): no menu entry per profile:\n{console}",
            if as_disk { "disk" } else { "CD" }
        );
    }
}

#[test]
fn bad_profiles_are_refused_at_line_and_column_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = base_iso(d);
    let out_iso = d.join("new.iso");
    let customize = |p: &[&Path]| {
        let mut args = vec!["media".to_string(), "customize".into(), base.display().to_string(), "--out".into(), out_iso.display().to_string()];
        for x in p {
            args.push("--profile".into());
            args.push(x.display().to_string());
        }
        Command::new(BIN).args(&args).stdin(Stdio::null()).output().unwrap()
    };
    // A wrong value: located as `profile check` locates it.
    let bad = profile(d, "bad", "bad", "10.0.0.9", "52:54:00:00:00:09", "");
    let t = std::fs::read_to_string(&bad).unwrap().replace("mac = \"52:54:00:00:00:09\"", "mac = \"52:54:00:zz:00:09\"");
    std::fs::write(&bad, t).unwrap();
    let o = customize(&[&bad]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains(&format!("{}:17:7", bad.display())) && text(&o).contains("host.mac"), "{}", text(&o));
    // A secret from the environment: the installer has none.
    let env = profile(d, "env", "env", "10.0.0.8", "52:54:00:00:00:08", "root-password-env = \"ROOT_PW\"\n");
    let o = customize(&[&env]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("disk.root-password-env names an environment variable"), "{}", text(&o));
    // No [disk]: the installer would not know where to install.
    let nodisk = d.join("nodisk.toml");
    let t = std::fs::read_to_string(profile(d, "x", "x", "10.0.0.3", "52:54:00:00:00:03", "")).unwrap();
    std::fs::write(&nodisk, &t[..t.find("[disk]").unwrap()]).unwrap();
    let o = customize(&[&nodisk]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("has no [disk] section"), "{}", text(&o));
    // Two profiles for one MAC address.
    let a = profile(d, "a", "a", "10.0.0.11", "52:54:00:00:00:11", "");
    let b = profile(d, "b", "b", "10.0.0.12", "52:54:00:00:00:11", "");
    let o = customize(&[&a, &b]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("both name host.mac 52:54:00:00:00:11"), "{}", text(&o));
    assert!(!out_iso.exists() && !out_iso.with_extension("iso.part").exists(), "a refused customisation wrote an ISO");
    // Not an ISO.
    let o = cloudstrap(&["media", "inspect", d.join("missing.iso").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn media_build_says_what_is_wrong_with_its_inputs_before_building_anything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let out_iso = d.join("out.iso");
    let build = |extra: &[&str]| {
        let mut args = vec!["media", "build", "--out", out_iso.to_str().unwrap(), "--cache", cache.to_str().unwrap()];
        args.extend_from_slice(extra);
        cloudstrap(&args)
    };
    // A folder that is not a repository laid out like download.cloudstack.org.
    let o = build(&["--cloudstack-repo", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a repository laid out like download.cloudstack.org (deb URL bookworm 4.22)"), "{}", text(&o));
    // A bad profile, located.
    let bad = profile(d, "bad", "bad", "10.0.0.9", "52:54:00:00:00:09", "");
    std::fs::write(&bad, std::fs::read_to_string(&bad).unwrap().replace("wipe = true", "wipe = \"yes\"")).unwrap();
    let o = build(&["--cloudstack-repo", d.to_str().unwrap(), "--profile", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains(&format!("{}:", bad.display())) && text(&o).contains("disk.wipe"), "{}", text(&o));
    // A release line Debian 12 has no packages for.
    let o = build(&["--cloudstack-repo", d.to_str().unwrap(), "--release", "3.0.2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("release 3.0.2 has no packages for Debian 12"), "{}", text(&o));
    assert!(!out_iso.exists() && !cache.join("system.tmp").exists(), "nothing is built from bad inputs");
}

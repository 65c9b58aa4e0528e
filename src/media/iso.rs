//! Profiles on an existing ISO (`media customize`) and read back from it (`media inspect`), without a
//! rebuild: xorriso writes a new image with the same boot records (`-boot_image any replay`) and the same
//! volume date, which is the ISO's UUID that GRUB's images search for. Only the Apple partition map is
//! dropped (see `customize`).

use std::path::{Path, PathBuf};

use super::{boot, layout, run, select, MediaError};
use crate::profile::Profile;
use crate::run::Cmd;

/// A profile checked for the medium, with the secret files it names (relative to it).
#[derive(Debug, Clone)]
pub struct MediumProfile {
    /// The file name without `.toml`: what boot entries and `cloudstrap.profile=` name.
    pub name: String,
    pub path: PathBuf,
    pub profile: Profile,
    /// (path relative to the profile, path to read it from)
    pub files: Vec<(PathBuf, PathBuf)>,
}

/// Load and validate each profile as `profile check` does (located errors), and check that it can install
/// from a medium: a [disk] section, its secrets inline or in files beside it (the installer has no
/// environment), names and MAC addresses unique.
pub fn check_profiles(paths: &[PathBuf]) -> Result<Vec<MediumProfile>, MediaError> {
    let mut out: Vec<MediumProfile> = vec![];
    for path in paths {
        let profile = crate::profile::load(path).map_err(|e| MediaError::Input(e.to_string()))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(MediaError::Input(format!("{}: a profile on the medium needs a file name of letters, digits, '-', '_' or '.' (it becomes a boot entry)", path.display())));
        }
        if profile.disk.is_none() {
            return Err(MediaError::Input(format!("{}: has no [disk] section: the installer would not know which disk to install on", path.display())));
        }
        let mut files = vec![];
        for r in crate::profile::secret_refs(&profile) {
            if r.env.is_some() {
                return Err(MediaError::Input(format!(
                    "{}: {}-env names an environment variable; the installer has none: give the secret inline or in a file beside the profile",
                    path.display(),
                    r.path
                )));
            }
            if let Some(f) = r.file {
                if f.is_absolute() || f.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                    return Err(MediaError::Input(format!("{}: {}-file {} must be a path below the profile's folder to travel with it", path.display(), r.path, f.display())));
                }
                let from = path.parent().unwrap_or(Path::new(".")).join(f);
                if !from.is_file() {
                    return Err(MediaError::Input(format!("{}: {}-file {}: no such file", path.display(), r.path, from.display())));
                }
                files.push((f.to_path_buf(), from));
            }
        }
        if let Some(o) = out.iter().find(|o| o.name == name) {
            return Err(MediaError::Input(format!("{} and {}: two profiles named {name}", o.path.display(), path.display())));
        }
        if let Some(m) = &profile.host.mac {
            if let Some(o) = out.iter().find(|o| o.profile.host.mac.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(m))) {
                return Err(MediaError::Input(format!("{} and {}: both name host.mac {m}", o.path.display(), path.display())));
            }
        }
        out.push(MediumProfile { name, path: path.clone(), profile, files });
    }
    Ok(out)
}

/// Copy checked profiles into `dir` (the medium's profile folder), keeping what `dir` holds already unless
/// a profile of the same name replaces it. Secret files keep mode 0600.
pub fn stage_profiles(profiles: &[MediumProfile], dir: &Path) -> Result<(), MediaError> {
    let fail = |p: &Path, e: std::io::Error| MediaError::Failed(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    for p in profiles {
        let to = dir.join(format!("{}.toml", p.name));
        std::fs::copy(&p.path, &to).map_err(|e| fail(&to, e))?;
        for (rel, from) in &p.files {
            let to = dir.join(rel);
            let bytes = std::fs::read(from).map_err(|e| fail(from, e))?;
            if to.exists() && std::fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
                return Err(MediaError::Input(format!("{}: the secret file {} differs from another profile's file of that name", p.path.display(), rel.display())));
            }
            crate::atomic_file::replace(&to, &bytes, 0o600).map_err(|e| fail(&to, e))?;
        }
    }
    Ok(())
}

/// Names of the profiles in a staged folder, sorted.
pub fn staged_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".toml")).map(str::to_string))
        .collect();
    v.sort();
    v
}

/// What `media inspect` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    pub iso: PathBuf,
    pub volume: String,
    /// xorriso's report of the El Torito boot catalog.
    pub el_torito: Vec<String>,
    /// xorriso's report of the system area (MBR, GPT).
    pub system_area: Vec<String>,
    pub profiles: Vec<InspectedProfile>,
    /// What `media build` recorded (release, sizes), when present.
    pub build: Option<serde_json::Value>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InspectedProfile {
    pub name: String,
    pub hostname: Option<String>,
    pub mac: Option<String>,
    pub roles: Vec<String>,
    pub disk: Option<String>,
    /// The profile as stored, byte for byte.
    #[serde(skip)]
    pub text: Vec<u8>,
}

fn xorriso() -> Cmd {
    Cmd::new("xorriso").args(["-abort_on", "FAILURE", "-return_with", "FAILURE", "32"])
}

/// Files under `dir` on the ISO (absolute ISO paths); empty when `dir` is not there.
fn list(iso: &Path, dir: &str) -> Result<Vec<String>, MediaError> {
    let out = Cmd::new("xorriso")
        .arg("-indev")
        .arg(iso.display().to_string())
        .args(["-find", dir, "-type", "f", "--"])
        .run(&Default::default())
        .map_err(|e| MediaError::Failed(e.to_string()))?;
    Ok(out.stdout.lines().filter_map(|l| l.strip_prefix('\'').and_then(|l| l.strip_suffix('\''))).map(str::to_string).collect())
}

/// Copy `dir` of the ISO to `to` (nothing when it is not there).
fn extract(iso: &Path, dir: &str, to: &Path) -> Result<bool, MediaError> {
    if list(iso, dir)?.is_empty() {
        return Ok(false);
    }
    run(xorriso().args(["-osirrox", "on", "-indev"]).arg(iso.display().to_string()).args(["-extract", dir]).arg(to.display().to_string()))?;
    Ok(true)
}

fn check_iso(iso: &Path) -> Result<(), MediaError> {
    if !iso.is_file() {
        return Err(MediaError::Input(format!("{}: no such ISO image", iso.display())));
    }
    Ok(())
}

/// The volume date GRUB derives the ISO's UUID from (xorriso's "Modif. Time").
fn volume_date(iso: &Path) -> Result<String, MediaError> {
    let out = run(Cmd::new("xorriso").arg("-indev").arg(iso.display().to_string()).arg("-pvd_info"))?;
    out.lines()
        .find_map(|l| l.strip_prefix("Modif. Time  :").map(|t| t.trim().to_string()))
        .ok_or_else(|| MediaError::Input(format!("{}: not an ISO 9660 image (xorriso reports no volume date)", iso.display())))
}

/// Put `profiles` on a copy of `iso` at `out` (existing profiles stay unless replaced by name), with a boot
/// menu entry for each. The input ISO is not changed.
pub fn customize(iso: &Path, profiles: &[MediumProfile], out: &Path) -> Result<Vec<String>, MediaError> {
    check_iso(iso)?;
    if out.exists() && std::fs::canonicalize(out).ok() == std::fs::canonicalize(iso).ok() {
        return Err(MediaError::Input(format!("{}: --out must be a new file, not the ISO itself", out.display())));
    }
    let date = volume_date(iso)?;
    let stage = tempfile::tempdir().map_err(|e| MediaError::Failed(format!("a staging folder: {e}")))?;
    let dir = stage.path().join("profiles");
    let dest = format!("/{}", layout::PROFILES);
    let existed = extract(iso, &dest, &dir)?;
    if existed {
        // xorriso extracts read-only copies; the staging copy is rewritten below.
        let _ = Cmd::new("chmod").args(["-R", "u+w"]).arg(dir.display().to_string()).run(&Default::default());
    }
    stage_profiles(profiles, &dir)?;
    let names = staged_names(&dir);
    let cfg = stage.path().join("grub.cfg");
    std::fs::write(&cfg, boot::grub_cfg(&names)).map_err(|e| MediaError::Failed(format!("{}: {e}", cfg.display())))?;
    let tmp_out = out.with_extension("iso.part");
    let _ = std::fs::remove_file(&tmp_out);
    let mut cmd = xorriso()
        .arg("-indev")
        .arg(iso.display().to_string())
        .arg("-outdev")
        .arg(tmp_out.display().to_string())
        // HFS+ (with its Apple partition map, for Macs' firmware) is not carried over: with it, libisofs
        // cannot lay the replayed GPT out around the new files. BIOS, UEFI and the hybrid MBR/GPT stay.
        .args(["-boot_image", "any", "replay", "-hfsplus", "off", "-volume_date", "uuid", &date]);
    if existed {
        cmd = cmd.args(["-rm_r", &dest, "--"]);
    }
    cmd = cmd
        .arg("-map")
        .arg(dir.display().to_string())
        .arg(&dest)
        .arg("-map")
        .arg(cfg.display().to_string())
        .arg(format!("/{}", layout::GRUB_CFG))
        .args(["-chmod_r", "go-rwx", &dest, "--"]);
    run(cmd).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp_out);
    })?;
    std::fs::rename(&tmp_out, out).map_err(|e| MediaError::Failed(format!("{}: {e}", out.display())))?;
    Ok(names)
}

/// Copy files of the medium (paths relative to its root, e.g. `live/vmlinuz`) into `to` under their own
/// names; an error names the first one missing. What the provisioning role serves comes off the ISO this way.
pub fn extract_files(iso: &Path, files: &[&str], to: &Path) -> Result<(), MediaError> {
    check_iso(iso)?;
    for f in files {
        let name = Path::new(f).file_name().map(|n| n.to_os_string()).unwrap_or_default();
        if !extract(iso, &format!("/{f}"), &to.join(&name))? {
            return Err(MediaError::Input(format!("{}: no {f} on this ISO (not a medium made by cloudstrap media build)", iso.display())));
        }
    }
    Ok(())
}

/// Read the boot records and the profiles of `iso`.
pub fn inspect(iso: &Path) -> Result<Inspection, MediaError> {
    check_iso(iso)?;
    let report = |what: &str| -> Result<Vec<String>, MediaError> {
        let out = run(Cmd::new("xorriso").arg("-indev").arg(iso.display().to_string()).arg(what).arg("plain"))?;
        Ok(out.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
    };
    let el_torito = report("-report_el_torito")?;
    let system_area = report("-report_system_area")?;
    let info = run(Cmd::new("xorriso").arg("-indev").arg(iso.display().to_string()).arg("-pvd_info"))?;
    let volume = info.lines().find_map(|l| l.strip_prefix("Volume Id    :")).map(|v| v.trim().to_string()).unwrap_or_default();
    let stage = tempfile::tempdir().map_err(|e| MediaError::Failed(format!("a staging folder: {e}")))?;
    let dir = stage.path().join("profiles");
    let mut profiles = vec![];
    if extract(iso, &format!("/{}", layout::PROFILES), &dir)? {
        for name in staged_names(&dir) {
            let path = dir.join(format!("{name}.toml"));
            let text = std::fs::read(&path).map_err(|e| MediaError::Failed(format!("{}: {e}", path.display())))?;
            let parsed = crate::profile::load(&path).ok();
            profiles.push(InspectedProfile {
                hostname: parsed.as_ref().map(|p| p.host.fqdn.clone()),
                mac: parsed.as_ref().and_then(|p| p.host.mac.clone()),
                roles: parsed.as_ref().map(|p| p.host.roles.iter().map(|r| r.as_str().to_string()).collect()).unwrap_or_default(),
                disk: parsed.as_ref().and_then(|p| p.disk.as_ref().map(|d| d.device.clone())),
                name,
                text,
            });
        }
    }
    let build_json = stage.path().join("build.json");
    let build = if extract(iso, &format!("/{}", layout::BUILD_INFO), &build_json)? {
        std::fs::read(&build_json).ok().and_then(|b| serde_json::from_slice(&b).ok())
    } else {
        None
    };
    Ok(Inspection { iso: iso.to_path_buf(), volume, el_torito, system_area, profiles, build })
}

/// The profiles of a medium's folder as `select::choose` sees them (name and host.mac), sorted by name.
pub fn candidates(dir: &Path) -> Vec<select::Candidate> {
    staged_names(dir)
        .into_iter()
        .map(|name| {
            let mac = crate::profile::load(&dir.join(format!("{name}.toml"))).ok().and_then(|p| p.host.mac);
            select::Candidate { name, mac }
        })
        .collect()
}

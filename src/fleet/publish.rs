//! The provisioning role's install action: the HTTP tree the fleet boots and installs from (the installer
//! medium's kernel, initrd and ISO, the entry and host scripts, each host's profile, and the secrets of
//! every host not installed yet) and the iPXE loaders in the TFTP root. `reinstall` puts a host back to
//! "install on next network boot".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::answers::{self, Answer, NodeSecrets};
use super::{scripts, tree, FleetError};
use crate::action::{Action, ActionError, Ctx, Record};
use crate::profile::{FleetHost, Profile, Secret};

pub struct PublishFleet {
    /// The node's profile and where it was read from (its secrets resolve relative to it).
    pub profile: Profile,
    pub profile_path: PathBuf,
    /// In-system paths: the installer ISO, the document root, the TFTP root, the platform's iPXE loaders.
    pub media: PathBuf,
    pub www: PathBuf,
    pub tftp: PathBuf,
    pub bios_loader: PathBuf,
    pub efi_loader: PathBuf,
    pub web_user: String,
    pub base_url: String,
}

impl PublishFleet {
    /// The action for a node's profile on `platform`, with cloudstrap's paths and the platform's loaders;
    /// `None` without a [fleet] or where the role is not offered. The install plans it, `fleet` commands
    /// use it for the same paths and answers.
    pub fn for_profile(profile: &Profile, profile_path: &Path, platform: &crate::platform::Platform) -> Option<PublishFleet> {
        let f = profile.fleet.as_ref()?;
        let pv = platform.provisioning?;
        Some(PublishFleet {
            profile: profile.clone(),
            profile_path: profile_path.to_path_buf(),
            media: f.media.clone().into(),
            www: crate::profile::FLEET_WWW.into(),
            tftp: crate::profile::FLEET_TFTP.into(),
            bios_loader: pv.bios_loader.into(),
            efi_loader: pv.efi_loader.into(),
            web_user: pv.web_user.into(),
            base_url: tree::base_url(profile.host.ip(), f.http_port),
        })
    }
}

/// What the medium's files are recorded by: an unchanged ISO is not copied again.
const MEDIA_STAMP: &str = ".source";

impl PublishFleet {
    fn hosts(&self) -> &[FleetHost] {
        self.profile.fleet.as_ref().map(|f| f.hosts.as_slice()).unwrap_or_default()
    }

    fn media_stamp(&self, ctx: &Ctx) -> Result<String, ActionError> {
        let iso = ctx.path(&self.media);
        let m = std::fs::metadata(&iso).map_err(|e| ActionError::Failed(format!("{}: the installer ISO of fleet.media: {e}", self.media.display())))?;
        let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        Ok(format!("{} {} {mtime}\n", self.media.display(), m.len()))
    }

    /// The node's part of the answers: API keys (the profile's, else the hand-off's), the hosts' root
    /// password, and the platform the medium installs.
    fn node_secrets(&self, ctx: &Ctx) -> Result<NodeSecrets, FleetError> {
        let c = crate::cloudstack::credentials::from_profile(&self.profile, &self.profile_path, &ctx.root).map_err(|e| FleetError::Input(e.to_string()))?;
        let base = self.profile_path.parent().unwrap_or(Path::new("."));
        let root_password = crate::profile::Secrets::resolve_one(&self.profile, "fleet.root-password", base)
            .map_err(FleetError::Input)?
            .ok_or_else(|| FleetError::Input("fleet.root-password is not given (the installed hosts' root login)".into()))?;
        let platform = self.medium_platform(ctx)?;
        Ok(NodeSecrets { api_key: c.api_key, api_secret: Secret::new(c.secret), root_password, platform })
    }

    /// The platform in the medium's build record (as published, else read off the ISO).
    fn medium_platform(&self, ctx: &Ctx) -> Result<String, FleetError> {
        let published = ctx.path(self.www.join(tree::MEDIA).join("build.json"));
        let text = match std::fs::read(&published) {
            Ok(t) => t,
            Err(_) => {
                let dir = tempfile::tempdir().map_err(|e| FleetError::Failed(e.to_string()))?;
                crate::media::iso::extract_files(&ctx.path(&self.media), &[crate::media::layout::BUILD_INFO], dir.path()).map_err(|e| FleetError::Input(e.to_string()))?;
                std::fs::read(dir.path().join("build.json")).map_err(|e| FleetError::Failed(e.to_string()))?
            }
        };
        let v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| FleetError::Input(format!("{}: build record: {e}", self.media.display())))?;
        v["platform"].as_str().map(str::to_string).ok_or_else(|| FleetError::Input(format!("{}: its build record names no platform", self.media.display())))
    }

    fn answers(&self, ctx: &Ctx) -> Result<Vec<Answer>, ActionError> {
        let s = self.node_secrets(ctx).map_err(|e| ActionError::Failed(e.to_string()))?;
        answers::all(&self.profile, &s).map_err(|e| ActionError::Failed(e.to_string()))
    }

    /// Every small file of the tree with its content, mode and whether the web server's user owns it (what
    /// hosts may delete). Secrets only for hosts not marked installed.
    fn files(&self, ctx: &Ctx, answers: &[Answer]) -> Vec<(PathBuf, Vec<u8>, u32, bool)> {
        let mut v = vec![(self.www.join(tree::ENTRY), scripts::entry(&self.base_url).into_bytes(), 0o644, false)];
        for a in answers {
            let p = tree::host_paths(&self.www, &a.host.mac_path());
            v.push((p.dir.join(tree::HOST_SCRIPT), scripts::host(&self.base_url, &a.host).into_bytes(), 0o644, false));
            v.push((p.dir.join(tree::PROFILE), a.profile.clone().into_bytes(), 0o644, false));
            if !ctx.path(&p.installed).exists() {
                for (name, value) in &a.secrets {
                    v.push((p.secrets.join(name), value.expose().as_bytes().to_vec(), 0o600, true));
                }
            }
        }
        v
    }

    fn web_ids(&self) -> Result<(nix::unistd::Uid, nix::unistd::Gid), ActionError> {
        let u = nix::unistd::User::from_name(&self.web_user)
            .ok()
            .flatten()
            .ok_or_else(|| ActionError::Failed(format!("user {} (the web server's) does not exist: is nginx installed?", self.web_user)))?;
        Ok((u.uid, u.gid))
    }

    fn write_owned(&self, ctx: &Ctx, path: &Path, bytes: &[u8], mode: u32, web: bool) -> Result<(), ActionError> {
        let host = ctx.path(path);
        crate::atomic_file::replace(&host, bytes, mode).map_err(|e| ActionError::io(&host, e))?;
        if web {
            let (u, g) = self.web_ids()?;
            let dir = host.parent().expect("a file of the tree has a directory");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| ActionError::io(dir, e))?;
            for p in [dir, &host] {
                nix::unistd::chown(p, Some(u), Some(g)).map_err(|e| ActionError::Failed(format!("chown {}: {e}", p.display())))?;
            }
        }
        Ok(())
    }

    /// Folders of hosts no longer in the fleet.
    fn stale(&self, ctx: &Ctx) -> Vec<PathBuf> {
        let listed: Vec<String> = self.hosts().iter().map(FleetHost::mac_path).collect();
        [tree::HOSTS, tree::SECRETS]
            .iter()
            .flat_map(|d| std::fs::read_dir(ctx.path(self.www.join(d))).into_iter().flatten().flatten())
            .filter(|e| !listed.iter().any(|m| e.file_name().to_str() == Some(m)))
            .map(|e| e.path())
            .collect()
    }

    /// The state folder of each host, where its address may PUT the installed mark (owned by the web server).
    fn state_dirs_ready(&self, ctx: &Ctx) -> bool {
        let Ok((u, _)) = self.web_ids() else { return false };
        self.hosts().iter().all(|h| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(ctx.path(tree::host_paths(&self.www, &h.mac_path()).state)).is_ok_and(|m| m.is_dir() && m.uid() == u.as_raw())
        })
    }

    fn media_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let media = self.www.join(tree::MEDIA);
        let stamp = std::fs::read_to_string(ctx.path(media.join(MEDIA_STAMP))).unwrap_or_default();
        let all = [tree::KERNEL, tree::INITRD, tree::ISO, "build.json"].iter().all(|f| ctx.path(media.join(f)).is_file());
        Ok(all && stamp == self.media_stamp(ctx)?)
    }

    fn loaders_done(&self, ctx: &Ctx) -> bool {
        self.loaders().iter().all(|(from, to)| {
            let a = std::fs::read(ctx.path(from));
            a.is_ok() && a.ok() == std::fs::read(ctx.path(to)).ok()
        })
    }

    fn loaders(&self) -> [(PathBuf, PathBuf); 2] {
        [
            (self.bios_loader.clone(), self.tftp.join(crate::profile::FLEET_BIOS_LOADER)),
            (self.efi_loader.clone(), self.tftp.join(crate::profile::FLEET_EFI_LOADER)),
        ]
    }

    /// The kernel, initrd and build record off the ISO, and the ISO itself (copied under a temporary name,
    /// then renamed: a host never fetches half of it).
    fn publish_media(&self, ctx: &Ctx) -> Result<(), ActionError> {
        let iso = ctx.path(&self.media);
        let media = ctx.path(self.www.join(tree::MEDIA));
        std::fs::create_dir_all(&media).map_err(|e| ActionError::io(&media, e))?;
        let stage = tempfile::tempdir_in(&media).map_err(|e| ActionError::io(&media, e))?;
        use crate::media::layout::{BUILD_INFO, INITRD, KERNEL};
        crate::media::iso::extract_files(&iso, &[KERNEL, INITRD, BUILD_INFO], stage.path())
            .map_err(|e| ActionError::Failed(e.to_string()))?;
        let tmp = media.join(format!(".{}.partial", tree::ISO));
        std::fs::copy(&iso, &tmp).map_err(|e| ActionError::io(&tmp, e))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).map_err(|e| ActionError::io(&tmp, e))?;
        std::fs::rename(&tmp, media.join(tree::ISO)).map_err(|e| ActionError::io(media.join(tree::ISO), e))?;
        for f in [tree::KERNEL, tree::INITRD, "build.json"] {
            let from = stage.path().join(f);
            std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o644)).map_err(|e| ActionError::io(&from, e))?;
            std::fs::rename(&from, media.join(f)).map_err(|e| ActionError::io(media.join(f), e))?;
        }
        let stamp = self.media_stamp(ctx)?;
        crate::atomic_file::replace(&media.join(MEDIA_STAMP), stamp.as_bytes(), 0o644).map_err(|e| ActionError::io(media.join(MEDIA_STAMP), e))
    }

    /// Install `name` again on its next network boot: its installed mark goes, its secrets come back.
    pub fn reinstall(&self, ctx: &Ctx, name: &str) -> Result<FleetHost, FleetError> {
        let h = self.hosts().iter().find(|h| h.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = self.hosts().iter().map(|h| h.name.as_str()).collect();
            FleetError::Input(format!("{name} is not a host of the fleet (it has: {})", names.join(", ")))
        })?;
        let p = tree::host_paths(&self.www, &h.mac_path());
        match std::fs::remove_file(ctx.path(&p.installed)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(FleetError::Failed(format!("{}: {e}", p.installed.display()))),
            _ => {}
        }
        let s = self.node_secrets(ctx)?;
        let a = answers::all(&self.profile, &s)?.into_iter().find(|a| a.host.name == name).expect("answers follow the hosts");
        for (file, value) in &a.secrets {
            self.write_owned(ctx, &p.secrets.join(file), value.expose().as_bytes(), 0o600, true).map_err(|e| FleetError::Failed(e.to_string()))?;
        }
        Ok(h)
    }
}

impl Action for PublishFleet {
    fn id(&self) -> String {
        format!("fleet:{}", self.www.display())
    }

    fn describe(&self) -> String {
        format!(
            "Publish the fleet's network install ({} host(s)) at {} from {}, iPXE loaders in {}",
            self.hosts().len(),
            self.base_url,
            self.media.display(),
            self.tftp.display()
        )
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        if !self.media_done(ctx)? || !self.loaders_done(ctx) || !self.state_dirs_ready(ctx) || !self.stale(ctx).is_empty() {
            return Ok(false);
        }
        // Without keys yet (before the hand-off) the hosts' answers cannot be known: not done.
        let Ok(answers) = self.answers(ctx) else { return Ok(false) };
        Ok(self.files(ctx, &answers).iter().all(|(p, bytes, _, _)| std::fs::read(ctx.path(p)).ok().as_deref() == Some(bytes.as_slice())))
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        let mut created: Vec<String> = vec![];
        for d in [&self.www, &self.tftp] {
            for m in crate::action::undo::missing_dirs(ctx, d) {
                if !created.contains(&m) {
                    created.push(m);
                }
            }
        }
        if !created.is_empty() {
            // The tree is data the install made: `uninstall --purge-data` removes it, a plain uninstall keeps it.
            record.undo = vec![crate::action::undo::Undo::RemoveEmptyDirs { paths: created, data: true }];
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        let answers = self.answers(ctx)?;
        if !self.media_done(ctx)? {
            self.publish_media(ctx)?;
        }
        for (from, to) in self.loaders() {
            let bytes = std::fs::read(ctx.path(&from)).map_err(|e| ActionError::Failed(format!("{}: the iPXE loader (package ipxe): {e}", from.display())))?;
            crate::atomic_file::replace(&ctx.path(&to), &bytes, 0o644).map_err(|e| ActionError::io(ctx.path(&to), e))?;
        }
        for dir in self.stale(ctx) {
            std::fs::remove_dir_all(&dir).map_err(|e| ActionError::io(&dir, e))?;
        }
        let (u, g) = self.web_ids()?;
        for h in self.hosts() {
            let state = ctx.path(tree::host_paths(&self.www, &h.mac_path()).state);
            std::fs::create_dir_all(&state).map_err(|e| ActionError::io(&state, e))?;
            nix::unistd::chown(&state, Some(u), Some(g)).map_err(|e| ActionError::Failed(format!("chown {}: {e}", state.display())))?;
        }
        for (path, bytes, mode, web) in self.files(ctx, &answers) {
            if std::fs::read(ctx.path(&path)).ok().as_deref() != Some(bytes.as_slice()) {
                self.write_owned(ctx, &path, &bytes, mode, web)?;
            }
        }
        Ok(())
    }
}

//! Configure a package repository: its signing key and a metadata refresh after its file changed.
//! The repository file itself is a rendered file (a `WriteFile` before this action).

use std::path::PathBuf;
use std::time::Duration;

use super::atomic::write_atomic;
use super::packages::PackageManager;
use super::{stamp, Action, ActionError, Ctx, Record};

/// Where the repository's signing key comes from and where it goes.
#[derive(Debug, Clone)]
pub struct RepoKey {
    /// `https://...`, `http://...`, `file:///...` or an absolute path on this machine (offline mirror).
    pub source: String,
    /// In-system path (e.g. /usr/share/keyrings/cloudstack.asc or /etc/pki/rpm-gpg/RPM-GPG-KEY-cloudstack).
    pub dest: PathBuf,
}

pub struct ConfigureRepo {
    pub name: String,
    pub manager: PackageManager,
    /// In-system path of the repository definition.
    pub repo_file: PathBuf,
    pub key: Option<RepoKey>,
}

impl ConfigureRepo {
    fn stamp_name(&self) -> String {
        format!("repo-{}", self.name)
    }
    fn watched(&self) -> Vec<PathBuf> {
        let mut v = vec![self.repo_file.clone()];
        v.extend(self.key.iter().map(|k| k.dest.clone()));
        v
    }
}

fn fetch_key(source: &str) -> Result<Vec<u8>, ActionError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let resp = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .and_then(|c| c.get(source).send())
            .and_then(|r| r.error_for_status())
            .map_err(|e| ActionError::Failed(format!("could not download the repository key {source}: {e}")))?;
        Ok(resp.bytes().map_err(|e| ActionError::Failed(format!("could not download the repository key {source}: {e}")))?.to_vec())
    } else {
        let path = source.strip_prefix("file://").unwrap_or(source);
        std::fs::read(path).map_err(|e| ActionError::io(path, e))
    }
}

impl Action for ConfigureRepo {
    fn id(&self) -> String {
        format!("repo:{}", self.name)
    }

    fn describe(&self) -> String {
        match &self.key {
            Some(k) => format!("Configure the {} repository (key {}) and refresh package lists", self.name, k.dest.display()),
            None => format!("Refresh package lists for the {} repository", self.name),
        }
    }

    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        let key_ok = self.key.as_ref().is_none_or(|k| ctx.path(&k.dest).exists());
        Ok(key_ok && stamp::read(ctx, &self.stamp_name()).as_deref() == Some(stamp::files_digest(ctx, &self.watched()).as_str()))
    }

    fn prepare(&self, ctx: &Ctx, record: &mut Record) -> Result<(), ActionError> {
        record.undo = vec![super::undo::Undo::Stamp { name: self.stamp_name() }];
        if let Some(k) = &self.key {
            // A key already there (the operator's, or an older one) is replaced: keep it for the undo.
            record.undo.extend(super::undo::for_file(ctx, &k.dest)?);
        }
        Ok(())
    }

    fn execute(&self, ctx: &Ctx, _record: &mut Record) -> Result<(), ActionError> {
        if let Some(k) = &self.key {
            let bytes = fetch_key(&k.source)?;
            write_atomic(&ctx.path(&k.dest), &bytes, 0o644)?;
            if self.manager != PackageManager::Apt {
                ctx.run_ok(&ctx.cmd("rpm").arg("--import").arg(k.dest.display().to_string()))?;
            }
        }
        let refresh = super::packages::with_env(ctx.argv(self.manager.refresh_argv()), self.manager);
        ctx.run_ok(&refresh.timeout(Duration::from_secs(1800)))?;
        stamp::write(ctx, &self.stamp_name(), &stamp::files_digest(ctx, &self.watched()))
    }

    fn exclusive(&self) -> Option<&'static str> {
        Some("package-manager")
    }

}
